// SPDX-License-Identifier: GPL-2.0

//! The channel's stats file (`BASE.stats`): the geometry, the mode and each CPU's lost
//! counts.

use std::{
    collections::BTreeMap,
    fs::File,
    io::Read,
    os::unix::fs::FileExt, //
};

/// Lost counts of one CPU in the stats file.
#[derive(Default, Debug, PartialEq)]
pub(crate) struct CpuStats {
    pub(crate) events: u64,
    /// lost_full + lost_too_big + lost_busy.
    pub(crate) lost: u64,
}

#[derive(Default, Debug, PartialEq)]
pub(crate) struct Stats {
    pub(crate) subbuf_size: Option<u64>,
    pub(crate) n_subbufs: Option<u64>,
    pub(crate) overwrite: Option<bool>,
    pub(crate) cpus: BTreeMap<u32, CpuStats>,
}

pub(crate) fn parse_stats(s: &str) -> Stats {
    let mut st = Stats::default();
    for line in s.lines() {
        let mut w = line.split_whitespace();
        let key = w.next().unwrap_or("");
        let num = |v: Option<&str>| v.and_then(|v| v.parse().ok());
        match key {
            "subbuf_size" => st.subbuf_size = num(w.next()),
            "n_subbufs" => st.n_subbufs = num(w.next()),
            "mode" => st.overwrite = w.next().map(|m| m == "overwrite"),
            _ => {
                let Some(cpu) = key.strip_prefix("cpu").and_then(|n| n.parse().ok()) else {
                    continue;
                };
                let c = st.cpus.entry(cpu).or_default();
                for (k, v) in w.filter_map(|kv| kv.split_once('=')) {
                    let Ok(v) = v.parse::<u64>() else { continue };
                    match k {
                        "events" => c.events = v,
                        "lost_full" | "lost_too_big" | "lost_busy" => c.lost += v,
                        _ => {}
                    }
                }
            }
        }
    }
    st
}

/// `BASE.stats`, held open from the start: it still reads after the channel closed and the
/// file went away.
pub(crate) struct StatsFile {
    path: String,
    file: Option<File>,
}

impl StatsFile {
    pub(crate) fn open(path: String) -> Self {
        let file = File::open(&path).ok();
        Self { path, file }
    }

    /// Reads the whole text in one read() (every read() makes it afresh).
    pub(crate) fn read(&self) -> Option<Stats> {
        let mut buf = vec![0u8; 1 << 16];
        let held = self.file.as_ref().and_then(|f| f.read_at(&mut buf, 0).ok());
        let n = held.or_else(|| {
            File::open(&self.path)
                .and_then(|mut f| f.read(&mut buf))
                .ok()
        })?;
        Some(parse_stats(&String::from_utf8_lossy(&buf[..n])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let s = parse_stats(
            "subbuf_size 16384\nn_subbufs 8\nmode no-overwrite\n\
             cpu0 events=123 bytes=7872 lost_full=2 lost_too_big=1 lost_busy=4 produced=3 consumed=2\n\
             cpu1 lost_busy=1 new=9 events=5 junk lost_full=x\n\
             something else\ncpux events=1\n",
        );
        assert_eq!(s.subbuf_size, Some(16384));
        assert_eq!(s.n_subbufs, Some(8));
        assert_eq!(s.overwrite, Some(false));
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(
            s.cpus[&0],
            CpuStats {
                events: 123,
                lost: 7
            }
        );
        assert_eq!(s.cpus[&1], CpuStats { events: 5, lost: 1 });
        assert_eq!(parse_stats("mode overwrite\n").overwrite, Some(true));
        assert_eq!(parse_stats(""), Stats::default());
    }
}
