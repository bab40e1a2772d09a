// SPDX-License-Identifier: GPL-2.0

//! The command line.

/// The options (see the crate's documentation).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Opts {
    /// `--mmap`.
    pub(crate) mmap: bool,
    /// `--out DIR`.
    pub(crate) out: Option<String>,
    /// `--count N`.
    pub(crate) count: Option<u64>,
    /// `--duration SECS`.
    pub(crate) duration: Option<u64>,
    /// `--timeout SECS` (default 60).
    pub(crate) timeout: u64,
    /// `--slow USECS`.
    pub(crate) slow: u64,
    /// `--expect-no-gaps`.
    pub(crate) no_gaps: bool,
    /// `--check-lost`.
    pub(crate) check_lost: bool,
    /// `--overwrite`.
    pub(crate) overwrite: bool,
    /// `--probe`: `base` is one per-CPU file.
    pub(crate) probe: bool,
    /// BASE.
    pub(crate) base: String,
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(args: &[&str]) -> Result<Opts, String> {
    let mut o = Opts {
        timeout: 60,
        ..Default::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |what: &str| {
            it.next()
                .map(|v| v.to_string())
                .ok_or_else(|| format!("{a} needs {what}"))
        };
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("bad number for {a}: {v}"))
        };
        match *a {
            "--mmap" => o.mmap = true,
            "--out" => o.out = Some(val("DIR")?),
            "--count" => o.count = Some(num(val("N")?)?),
            "--duration" => o.duration = Some(num(val("SECS")?)?),
            "--timeout" => o.timeout = num(val("SECS")?)?,
            "--slow" => o.slow = num(val("USECS")?)?,
            "--expect-no-gaps" => o.no_gaps = true,
            "--check-lost" => o.check_lost = true,
            "--overwrite" => o.overwrite = true,
            "--probe" => o.probe = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if o.base.is_empty() => o.base = s.to_string(),
            s => return Err(format!("extra argument {s}")),
        }
    }
    if o.base.is_empty() {
        return Err("missing BASE".into());
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let a = |s: &str| parse(&s.split_whitespace().collect::<Vec<_>>());
        let o = a(
            "--mmap --count 100 --slow 50 --out /tmp/o --expect-no-gaps /mnt/relay/kt298/events",
        )
        .unwrap();
        assert_eq!(
            o,
            Opts {
                mmap: true,
                out: Some("/tmp/o".into()),
                count: Some(100),
                timeout: 60,
                slow: 50,
                no_gaps: true,
                base: "/mnt/relay/kt298/events".into(),
                ..Default::default()
            }
        );
        let o = a("--check-lost --overwrite --timeout 5 --duration 3 b").unwrap();
        assert!(o.check_lost && o.overwrite && o.timeout == 5 && !o.mmap);
        assert_eq!(o.duration, Some(3));
        assert!(a("--probe /mnt/relay/kt298/events0").unwrap().probe);
        assert!(a("").is_err());
        assert!(a("--count").is_err());
        assert!(a("--count x b").is_err());
        assert!(a("--bogus b").is_err());
        assert!(a("b c").is_err());
    }
}
