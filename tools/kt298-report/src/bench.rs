// SPDX-License-Identifier: GPL-2.0

//! The benchmark table of `make bench`.
//!
//! Each guest script in `tests/bench/` runs in a section `bench:NAME` and prints rows
//!
//! ```text
//! @bench GROUP | MEASURE | OURS | BASELINE | UNIT [| TARGET]
//! ```
//!
//! measured side by side in one boot. BASELINE is the upstream C code unless MEASURE says
//! what else it is. The unit says which way is better: rates (`.../s`) and factors (`x`)
//! are better higher, everything else (times, counts per operation) lower. TARGET bounds
//! the ratio OURS / BASELINE: `<=0.8` or `>=1.0`.
//!
//! A measurement that failed must not read as a result: a row whose value is missing, not
//! a number, or not above zero is FAILED, and so is a line `# ... failed` that a script
//! prints instead of a row, and a script that did not exit 0. Any of them makes the report
//! exit non-zero, after the whole table.
//!
//! Runs of a machine whose name ends in `-icount` were booted with QEMU's
//! `-icount shift=0`: the guest's clock advances 1 ns per instruction executed, so their
//! times are instruction counts and are labelled so (`us` becomes `kinsn`).

use crate::{
    log,
    split_run, //
};
use anyhow::Result;
use std::process::ExitCode;

/// Returns true if a bigger number is better in `unit` (rates); otherwise smaller is (times).
fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s") || unit == "x"
}

/// Checks `ratio` (ours / baseline) against a target such as `<=0.8` or `>=1.0`.
///
/// Returns `None` if the target does not parse.
fn target_met(ratio: f64, target: &str) -> Option<bool> {
    if let Some(v) = target.strip_prefix("<=") {
        return Some(ratio <= v.trim().parse::<f64>().ok()?);
    }
    if let Some(v) = target.strip_prefix(">=") {
        return Some(ratio >= v.trim().parse::<f64>().ok()?);
    }
    None
}

/// What `unit` measures on a machine run under `-icount shift=0` (1 ns of guest time is one
/// instruction); units that are not times (counts, factors) stay as they are.
fn icount_unit(unit: &str) -> String {
    match unit {
        "ns" => "insn".into(),
        "us" => "kinsn".into(),
        "ms" => "Minsn".into(),
        "s" => "Ginsn".into(),
        "MB/s" => "B/kinsn".into(),
        _ => match unit.strip_suffix("/s") {
            Some(per) => format!("{per}/Ginsn"),
            None => unit.into(),
        },
    }
}

/// Parses one value of a row: a finite number above zero, or why it is not a measurement.
fn value(what: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err(format!("{what} is {v}, not a measurement")),
        Err(_) if v.is_empty() => Err(format!("{what} is missing")),
        Err(_) => Err(format!("{what} is '{v}', not a number")),
    }
}

/// One printed line of the table.
#[derive(Debug, PartialEq)]
struct Row {
    cells: [String; 10],
    /// Why the row is not a result, if it is not.
    failed: Option<String>,
}

const HEADER: [&str; 10] = [
    "machine", "group", "measure", "ours", "baseline", "ratio", "unit", "better", "winner",
    "target",
];

/// Judges the fields of one `@bench` line (split at `|`, trimmed) from `machine`.
fn row(machine: &str, f: &[&str]) -> Row {
    let icount = machine.ends_with("-icount");
    let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
    let unit = get(4);
    let shown_unit = if icount {
        icount_unit(&unit)
    } else {
        unit.clone()
    };
    let better = if higher_is_better(&unit) {
        "higher"
    } else {
        "lower"
    };
    let target = f.get(5).copied();
    let mut cells = [
        machine.to_string(),
        get(0),
        get(1),
        get(2),
        get(3),
        "FAILED".into(),
        shown_unit,
        better.into(),
        "-".into(),
        target.map_or("-".into(), |t| format!("{t} n/a")),
    ];
    let judged = if f.len() != 5 && f.len() != 6 {
        Err(format!(
            "{} fields, not GROUP | MEASURE | OURS | BASELINE | UNIT [| TARGET]",
            f.len()
        ))
    } else if unit.is_empty() {
        Err("the unit is missing".into())
    } else {
        value("ours", f[2]).and_then(|a| Ok((a, value("baseline", f[3])?)))
    };
    let (ours, base) = match judged {
        Ok(v) => v,
        Err(why) => {
            return Row {
                cells,
                failed: Some(why),
            }
        }
    };
    let r = ours / base;
    let ours_better = if higher_is_better(&unit) {
        ours > base
    } else {
        ours < base
    };
    cells[5] = format!("{r:.3}");
    cells[8] = if ours == base {
        "equal"
    } else if ours_better {
        "ours"
    } else {
        "baseline"
    }
    .into();
    cells[9] = match target.map(|t| (t, target_met(r, t))) {
        Some((t, Some(true))) => format!("{t} met"),
        Some((t, Some(false))) => format!("{t} MISSED"),
        Some((t, None)) => format!("{t}?"),
        None => "-".into(),
    };
    Row {
        cells,
        failed: None,
    }
}

/// The table's rows and the failures (rows, `# ... failed` lines, scripts) of the runs, each
/// a machine's name and its serial log.
fn table(runs: &[(&str, &str)]) -> (Vec<Row>, Vec<String>) {
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for (machine, text) in runs {
        for s in log::split(text).sections {
            let Some(script) = s.name.strip_prefix("bench:") else {
                continue;
            };
            for line in s.text.lines().map(str::trim) {
                if let Some(rest) = line.strip_prefix("@bench ") {
                    let f: Vec<&str> = rest.split('|').map(str::trim).collect();
                    let r = row(machine, &f);
                    if let Some(why) = &r.failed {
                        failures.push(format!("{machine}: {}: {}: {why}", f[0], r.cells[2]));
                    }
                    rows.push(r);
                } else if line.strip_prefix('#').is_some_and(|c| {
                    c.split(|ch: char| !ch.is_alphanumeric())
                        .any(|w| w == "failed")
                }) {
                    failures.push(format!("{machine}: {script}: {}", line[1..].trim()));
                }
            }
            match s.rc {
                Some(0) => {}
                Some(rc) => failures.push(format!("{machine}: {script}: exit status {rc}")),
                None => failures.push(format!("{machine}: {script}: did not finish")),
            }
        }
    }
    (rows, failures)
}

/// Prints the benchmark table of `make bench` runs (`MACHINE=LOG` pairs); fails if any
/// measurement failed.
pub fn report(runs: &[String]) -> Result<ExitCode> {
    let mut logs = Vec::new();
    for run in runs {
        logs.push(split_run(run)?);
    }
    let pairs: Vec<(&str, &str)> = logs.iter().map(|(m, t)| (*m, t.as_str())).collect();
    let (rows, failures) = table(&pairs);
    let mut width = HEADER.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(&r.cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            // Numbers right-aligned, text left.
            if (3..=5).contains(&i) {
                out.push_str(&format!("{c:>w$}  "));
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(&HEADER);
    for r in &rows {
        line(&r.cells.each_ref().map(String::as_str));
    }
    if rows.is_empty() {
        println!("(no benchmark rows)");
    }
    if pairs.iter().any(|(m, _)| m.ends_with("-icount")) {
        println!(
            "\n*-icount: booted with QEMU -icount shift=0; times are guest instruction counts \
             (1 ns = 1 instruction: insn, kinsn = 1000, Minsn = 10^6)"
        );
    }
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nfailed measurements ({}):", failures.len());
    for f in &failures {
        println!("  {f}");
    }
    Ok(ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target_met(0.7, "<=0.8"), Some(true));
        assert_eq!(target_met(0.9, "<=0.8"), Some(false));
        assert_eq!(target_met(3.5, ">=3"), Some(true));
        assert_eq!(target_met(2.0, ">= 3"), Some(false));
        assert_eq!(target_met(1.0, "~1"), None);
        assert!(higher_is_better("MB/s"));
        assert!(higher_is_better("x"));
        assert!(!higher_is_better("ns"));
        assert!(!higher_is_better("irq/byte"));
    }

    fn fields(s: &str) -> Vec<&str> {
        s.split('|').map(str::trim).collect()
    }

    #[test]
    fn rows_say_direction_winner_and_target() {
        let r = row("arm", &fields("i2c | xfer | 80 | 100 | us | <=1.0"));
        assert_eq!(r.failed, None);
        assert_eq!(
            r.cells[5..].to_vec(),
            ["0.800", "us", "lower", "ours", "<=1.0 met"]
        );
        let r = row("arm", &fields("rtc | read | 1821 | 1132.1 | us | <=1.0"));
        assert_eq!(r.cells[7..].to_vec(), ["lower", "baseline", "<=1.0 MISSED"]);
        let r = row("x86_64", &fields("k | zeroing | 3503 | 992 | MB/s | >=1.0"));
        assert_eq!(r.cells[7..].to_vec(), ["higher", "ours", ">=1.0 met"]);
        let r = row("x86_64", &fields("k | irqs | 2 | 2 | irq"));
        assert_eq!(
            r.cells[5..].to_vec(),
            ["1.000", "irq", "lower", "equal", "-"]
        );
    }

    #[test]
    fn zero_or_missing_values_fail() {
        for bad in [
            "i2c | xfer | 0 | 100 | us | <=1.0",
            "i2c | xfer | 80 | 0 | us",
            "i2c | xfer | 0.000 | 0.000 | us",
            "i2c | xfer |  | 100 | us",
            "i2c | xfer | failed | 100 | us",
            "i2c | xfer | -3 | 100 | us",
            "i2c | xfer | nan | 100 | us",
            "i2c | xfer | 80 | 100",
            "i2c | xfer | 80 | 100 | us | <=1.0 | extra",
            "i2c | xfer | 80 | 100 | ",
        ] {
            let r = row("arm", &fields(bad));
            assert!(r.failed.is_some(), "{bad}");
            assert_eq!(r.cells[5], "FAILED", "{bad}");
            assert_eq!(r.cells[8], "-", "{bad}");
        }
    }

    #[test]
    fn icount_rows_are_instruction_counts() {
        let r = row("arm-icount", &fields("i2c | xfer | 80 | 100 | us | <=1.0"));
        assert_eq!(r.cells[6], "kinsn");
        assert_eq!(r.cells[8], "ours");
        let r = row(
            "arm-icount",
            &fields("k | zeroing | 3503 | 992 | MB/s | >=1.0"),
        );
        assert_eq!(r.cells[6..9].to_vec(), ["B/kinsn", "higher", "ours"]);
        assert_eq!(icount_unit("ns"), "insn");
        assert_eq!(icount_unit("ms"), "Minsn");
        assert_eq!(icount_unit("pages/s"), "pages/Ginsn");
        assert_eq!(icount_unit("irq/byte"), "irq/byte");
        assert_eq!(row("arm", &fields("a | b | 1 | 2 | us")).cells[6], "us");
    }

    #[test]
    fn failures_from_rows_lines_and_scripts() {
        let good = "\
@@kt298 begin bench:i2c
@bench i2c | xfer | 80 | 100 | us | <=1.0
# round 1: 80 100
@@kt298 end rc=0
@@kt298 exit rc=0
";
        let (rows, failures) = table(&[("arm", good)]);
        assert_eq!(rows.len(), 1);
        assert!(failures.is_empty(), "{failures:?}");

        let bad = "\
@bench outside | any section | 0 | 1 | us
@@kt298 begin bench:i2c
@bench i2c | xfer | 0 | 100 | us | <=1.0
# modprobe i2c_mv64xxx_rs failed
# round 2: this is not a failure
# round 3, rtc_m41t00: kt298-rtc read /dev/rtc1 300 failed: read 125 is after 1796665643
@@kt298 end rc=0
@@kt298 begin bench:rtc
@bench rtc | read | 10 | 12 | us
@@kt298 end rc=1
@@kt298 begin bench:late
@@kt298 exit rc=0
";
        let (rows, failures) = table(&[("arm", bad)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            failures,
            [
                "arm: i2c: xfer: ours is 0, not a measurement",
                "arm: i2c: modprobe i2c_mv64xxx_rs failed",
                "arm: i2c: round 3, rtc_m41t00: kt298-rtc read /dev/rtc1 300 failed: read 125 is after 1796665643",
                "arm: rtc: exit status 1",
                "arm: late: did not finish",
            ]
        );
    }
}
