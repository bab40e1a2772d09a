// SPDX-License-Identifier: GPL-2.0

//! The kernel's log as the host captured it: every message of the run, from the first of
//! the boot to power-off, on a serial port of its own (scripts/qemu.sh), or the console of
//! a vng guest.
//!
//! The guest's /init and the test scripts write where the run is into the kernel log
//! (`kt298-test: ` lines, through /dev/kmsg): `begin NAME` and `end rc=N` around each
//! section, `step WHAT` for what /init does between sections (loading a module, say),
//! `result N` after a test script's N-th result (its name is in the test output), and
//! `exit rc=N` last. From them and the KUnit results the kernel prints itself, each splat
//! gets a place: the phase of the run and the results just before and after it.

use crate::log::{Section, MARK};
use std::collections::HashSet;
use std::fmt;

/// Where in a run a kernel message appeared.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// The section or step of the run, or "boot" before /init's first marker.
    pub phase: String,
    /// Before /init's first marker: the kernel was booting (built-in KUnit suites included).
    pub at_boot: bool,
    /// The test results printed last before it and first after it, in the same phase.
    pub after: Option<String>,
    pub before: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {}", self.phase)?;
        if let Some(a) = &self.after {
            write!(f, ", after '{a}'")?;
        }
        if let Some(b) = &self.before {
            write!(f, ", before '{b}'")?;
        }
        Ok(())
    }
}

enum Event {
    Phase(String),
    Result(String),
}

/// The message of a console line: without the printk time stamp.
pub fn message(line: &str) -> &str {
    if line.starts_with('[') {
        if let Some((_, m)) = line.split_once("] ") {
            return m;
        }
    }
    line
}

/// The printk time stamp of a console line, in seconds.
fn stamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?
        .split_once(']')?
        .0
        .trim()
        .parse()
        .ok()
}

/// A KUnit result line (`ok 3 name`, `not ok 3 name`, indented by nesting).
fn kunit_result(msg: &str) -> Option<&str> {
    let m = msg.trim();
    let rest = m
        .strip_prefix("ok ")
        .or_else(|| m.strip_prefix("not ok "))?;
    rest.starts_with(|c: char| c.is_ascii_digit()).then_some(m)
}

/// The `N`-th top-level result of the test output's section `name`, if it has one.
fn result_in(sections: &[Section], name: &str, n: &str) -> Option<String> {
    let s = sections.iter().find(|s| s.name == name)?;
    s.text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| {
            let rest = l.strip_prefix("ok ").or_else(|| l.strip_prefix("not ok "));
            rest.is_some_and(|r| r == n || r.starts_with(&format!("{n} ")))
        })
        .map(str::to_string)
}

/// A captured kernel log, split into lines, with the run's markers found.
pub struct KernelLog {
    pub lines: Vec<String>,
    events: Vec<(usize, Event)>,
}

impl KernelLog {
    /// `sections` are the test output's sections, where a script's result names are.
    pub fn new(text: &str, sections: &[Section]) -> Self {
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        let mut events = Vec::new();
        let mut phase = String::from("boot");
        let mut section = String::new();
        for (i, line) in lines.iter().enumerate() {
            let msg = message(line);
            if let Some(at) = msg.find(MARK) {
                let mark = &msg[at + MARK.len()..];
                let (key, value) = mark.split_once(' ').unwrap_or((mark, ""));
                let value = value.trim();
                let next = match key {
                    "begin" => {
                        section = value.to_string();
                        Some(value.to_string())
                    }
                    "end" => Some(format!("the gap after {section}")),
                    "step" => Some(value.to_string()),
                    "exit" => Some("power-off, after the suite".to_string()),
                    "result" => {
                        let r = result_in(sections, &phase, value)
                            .unwrap_or_else(|| format!("result {value}"));
                        events.push((i, Event::Result(r)));
                        None
                    }
                    _ => None,
                };
                if let Some(p) = next {
                    phase.clone_from(&p);
                    events.push((i, Event::Phase(p)));
                }
            } else if let Some(r) = kunit_result(msg) {
                events.push((i, Event::Result(r.to_string())));
            }
        }
        KernelLog { lines, events }
    }

    /// The place of the message that spans lines `start..=end`.
    pub fn place(&self, start: usize, end: usize) -> Place {
        let mut place = Place {
            phase: "boot".to_string(),
            at_boot: true,
            ..Default::default()
        };
        for (i, e) in &self.events {
            if *i >= start {
                break;
            }
            match e {
                Event::Phase(p) => {
                    place.phase.clone_from(p);
                    place.at_boot = false;
                    place.after = None;
                }
                Event::Result(r) => place.after = Some(r.clone()),
            }
        }
        for (i, e) in &self.events {
            if *i <= end {
                continue;
            }
            match e {
                Event::Phase(_) => break,
                Event::Result(r) => {
                    place.before = Some(r.clone());
                    break;
                }
            }
        }
        place
    }

    /// What shows that the capture is not whole: it must start at the boot's first message,
    /// have no message dropped, reach /init's last marker if the guest `finished`, and hold
    /// every line of the `dmesg` the guest printed at the end, if it printed one.
    pub fn gaps(&self, finished: bool, dmesg: Option<&str>) -> Vec<String> {
        let mut gaps = Vec::new();
        if self.lines.iter().all(|l| l.trim().is_empty()) {
            return vec!["the kernel log is empty".to_string()];
        }
        match self.lines.iter().find_map(|l| stamp(l)) {
            Some(0.0) => {}
            Some(t) => gaps.push(format!(
                "it starts at {t:.6} s, not with the boot's first message"
            )),
            None => gaps.push("it has no time-stamped kernel message".to_string()),
        }
        if !self.lines.iter().any(|l| l.contains("Linux version ")) {
            gaps.push("it has no 'Linux version' line (the boot's first messages)".to_string());
        }
        for l in self
            .lines
            .iter()
            .filter(|l| l.contains("printk messages dropped"))
        {
            gaps.push(format!("the kernel dropped messages: {l}"));
        }
        let exit = format!("{MARK}exit");
        if finished && !self.lines.iter().any(|l| l.contains(&exit)) {
            gaps.push(format!(
                "it stops before /init's last marker ('{exit}'): truncated"
            ));
        }
        if let Some(d) = dmesg {
            let have: HashSet<&str> = self.lines.iter().map(|l| l.trim_end()).collect();
            let missing: Vec<&str> = d
                .lines()
                .map(|l| l.trim_end_matches('\r').trim_end())
                .filter(|l| !l.is_empty() && !have.contains(l))
                .collect();
            if !missing.is_empty() {
                gaps.push(format!(
                    "{} line(s) of the guest's final dmesg are not in it, the first: {}",
                    missing.len(),
                    missing[0]
                ));
            }
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log;

    const RUN: &str = "\
[    0.000000] Linux version 7.2.12
[    1.000000]     ok 40 rust_doctest_kernel_a
[    1.100000] WARNING: boot one
[    1.200000]     ok 41 rust_doctest_kernel_b
[    2.000000] kt298-test: step modprobe kscrubd
[    2.100000] BUG: in load
[    3.000000] kt298-test: begin guest:relayfs
[    3.100000] kt298-test: result 1
[    3.200000] WARNING: in test two
[    3.300000] kt298-test: result 2
[    3.400000] kt298-test: end rc=0
[    3.500000] WARNING: between
[    4.000000] kt298-test: exit rc=0
[    4.100000] reboot: Power down
";

    fn sections() -> Vec<Section> {
        log::split("@@kt298 begin guest:relayfs\nKTAP version 1\nok 1 loads\nnot ok 2 writes\n1..2\n@@kt298 end rc=0\n").sections
    }

    #[test]
    fn places_name_the_phase_and_the_results_around() {
        let k = KernelLog::new(RUN, &sections());
        let at = |i| k.place(i, i).to_string();
        assert_eq!(
            at(2),
            "in boot, after 'ok 40 rust_doctest_kernel_a', before 'ok 41 rust_doctest_kernel_b'"
        );
        assert!(k.place(2, 2).at_boot);
        assert_eq!(at(5), "in modprobe kscrubd");
        assert!(!k.place(5, 5).at_boot);
        assert_eq!(
            at(8),
            "in guest:relayfs, after 'ok 1 loads', before 'not ok 2 writes'"
        );
        assert_eq!(at(11), "in the gap after guest:relayfs");
        assert_eq!(at(13), "in power-off, after the suite");
    }

    #[test]
    fn a_whole_capture_has_no_gaps() {
        let k = KernelLog::new(RUN, &[]);
        assert!(k.gaps(true, None).is_empty());
        assert!(k
            .gaps(
                true,
                Some("[    2.100000] BUG: in load\r\n[    4.100000] reboot: Power down\n")
            )
            .is_empty());
    }

    #[test]
    fn a_truncated_capture_has_gaps() {
        let k = KernelLog::new(RUN, &[]);
        let gaps = k.gaps(true, Some("[    9.000000] later\n"));
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!(gaps[0].contains("1 line(s)"));
        // Cut at both ends.
        let cut: String = RUN
            .lines()
            .skip(1)
            .take(8)
            .map(|l| format!("{l}\n"))
            .collect();
        let gaps = KernelLog::new(&cut, &[]).gaps(true, None);
        assert_eq!(gaps.len(), 3, "{gaps:?}");
        assert!(gaps[0].contains("starts at 1.000000"));
        assert!(gaps[1].contains("Linux version"));
        assert!(gaps[2].contains("truncated"));
        // A guest that did not finish has no exit marker, and says so elsewhere.
        let head: String = RUN.lines().take(5).map(|l| format!("{l}\n")).collect();
        assert!(KernelLog::new(&head, &[]).gaps(false, None).is_empty());
        let dropped = format!("{RUN}[    4.2] ** 12 printk messages dropped **\n");
        assert_eq!(KernelLog::new(&dropped, &[]).gaps(true, None).len(), 1);
        assert_eq!(
            KernelLog::new("", &[]).gaps(false, None),
            vec!["the kernel log is empty"]
        );
    }
}
