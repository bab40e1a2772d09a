// SPDX-License-Identifier: GPL-2.0

//! Splits a guest's serial log into the sections its /init framed.
//!
//! The guest prints `@@kt298 begin NAME`, the section's output, then
//! `@@kt298 end rc=N`; `@@kt298 exit rc=N` last, just before powering off.
//! Anything else on the console (the kernel's own messages, a panic) is kept
//! as the raw log, where splats are looked for too.
//!
//! A kernel module may print a section too (a test that runs at power-off,
//! after the guest's last word): its lines carry the printk timestamp and the
//! module's prefix, as its `begin` line does, and the section keeps only the
//! lines with that prefix, without it.

/// One framed section of guest output.
#[derive(Debug, Default)]
pub struct Section {
    pub name: String,
    pub text: String,
    /// The exit status of the section's command; `None` if it never ended.
    pub rc: Option<i32>,
}

/// A guest run's log.
#[derive(Debug, Default)]
pub struct Log {
    pub sections: Vec<Section>,
    /// The guest's final status; `None` if it never got there.
    pub exit: Option<i32>,
    /// Lines of the form `@@kt298 KEY VALUE` other than begin/end/exit.
    pub notes: Vec<(String, String)>,
    /// Everything outside sections.
    pub raw: String,
}

pub fn split(text: &str) -> Log {
    let mut log = Log::default();
    let mut current: Option<Section> = None;
    // The prefix of the current section's lines, if a kernel module prints it.
    let mut prefix: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        // A console line may carry kernel output before our marker.
        let Some(at) = line.find("@@kt298 ") else {
            let line = match prefix.as_deref() {
                Some(p) => match line.find(p) {
                    Some(i) => &line[i + p.len()..],
                    None => {
                        // Another kernel message, printed while the module's section is open.
                        log.raw.push_str(line);
                        log.raw.push('\n');
                        continue;
                    }
                },
                None => line,
            };
            match current.as_mut() {
                Some(s) => {
                    s.text.push_str(line);
                    s.text.push('\n');
                }
                None => {
                    log.raw.push_str(line);
                    log.raw.push('\n');
                }
            }
            continue;
        };
        let marker = &line[at + 8..];
        let (key, value) = marker.split_once(' ').unwrap_or((marker, ""));
        match key {
            "begin" => {
                if let Some(s) = current.take() {
                    log.sections.push(s);
                }
                current = Some(Section {
                    name: value.trim().to_string(),
                    ..Default::default()
                });
                // "[   12.345678] module: @@kt298 begin ...": lines go by "module: ".
                let before = &line[..at];
                let p = before.split_once("] ").map_or(before, |(_, p)| p);
                prefix = (!p.is_empty()).then(|| p.to_string());
            }
            "end" => {
                prefix = None;
                if let Some(mut s) = current.take() {
                    s.rc = value
                        .trim()
                        .strip_prefix("rc=")
                        .and_then(|v| v.parse().ok());
                    log.sections.push(s);
                }
            }
            "exit" => {
                log.exit = value
                    .trim()
                    .strip_prefix("rc=")
                    .and_then(|v| v.parse().ok())
            }
            _ => log.notes.push((key.to_string(), value.trim().to_string())),
        }
    }
    if let Some(s) = current.take() {
        log.sections.push(s);
    }
    log
}

/// Kernel log lines that mean something went wrong, whatever the tests said.
const SPLATS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "Kernel panic",
    "KASAN:",
    "UBSAN:",
    "kmemleak:",
    "unreferenced object",
    "possible circular locking",
    "possible recursive locking",
    "inconsistent lock state",
    "INFO: task",
    "blocked for more than",
    "rcu_sched detected stall",
    "rcu_preempt detected stall",
    "detected stalls on CPUs",
    "soft lockup",
    "hard LOCKUP",
    "general protection fault",
    "Unable to handle kernel",
    "Internal error:",
    "ODEBUG:",
    "list_add corruption",
    "list_del corruption",
    "refcount_t:",
    "Call Trace:",
];

/// Lines that match a splat pattern but are known to be harmless.
const BENIGN: &[&str] = &[
    // The boot banner of the lock validator.
    "Lock dependency validator",
    "kmemleak: Kernel memory leak detector initialized",
    "kmemleak: Automatic memory scanning thread",
];

/// One splat: its report, from the first matching line to the end of the trace.
#[derive(Debug, PartialEq, Eq)]
pub struct Splat {
    /// The indices of its first and last lines among the text's lines.
    pub start: usize,
    pub end: usize,
    /// Its whole report, the trace included.
    pub block: Vec<String>,
    /// The lines of the report that look like a splat: what the report shows.
    pub lines: Vec<String>,
}

/// The prefix of the lines the guest's /init and test scripts write to the kernel log to say
/// where the run is (see `klog`): never a kernel report, whatever a test's name says.
pub const MARK: &str = "kt298-test: ";

fn is_splat(line: &str) -> bool {
    SPLATS.iter().any(|p| line.contains(p))
        && !BENIGN.iter().any(|p| line.contains(p))
        && !line.contains(MARK)
}

/// The last line of a warning's trace or of a KASAN report.
fn ends_report(line: &str) -> bool {
    line.contains("---[ end trace") || line.contains("==========================")
}

/// Returns the splats in `text`: each starts at a line that looks like one
/// and runs to the trace's `---[ end trace` line, or the `=====` line that
/// closes a KASAN report (at most 100 lines).
pub fn splats(text: &str) -> Vec<Splat> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_splat(lines[i]) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end + 1 < lines.len() && end - i < 100 && !ends_report(lines[end]) {
            end += 1;
        }
        if !lines[i..=end].iter().any(|l| ends_report(l)) {
            // No trace follows: the splat is this line alone.
            end = i;
        }
        let block = &lines[i..=end];
        out.push(Splat {
            start: i,
            end,
            block: block.iter().map(|l| l.to_string()).collect(),
            lines: block
                .iter()
                .filter(|l| is_splat(l))
                .map(|l| l.to_string())
                .collect(),
        });
        i = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_exit() {
        let log = split(
            "boot noise\n@@kt298 begin guest:a\nKTAP version 1\n@@kt298 end rc=3\n@@kt298 modules x y\n[  1.0] @@kt298 exit rc=0\n",
        );
        assert_eq!(log.sections.len(), 1);
        assert_eq!(log.sections[0].name, "guest:a");
        assert_eq!(log.sections[0].rc, Some(3));
        assert_eq!(log.exit, Some(0));
        assert_eq!(log.notes, vec![("modules".into(), "x y".into())]);
        assert_eq!(log.raw, "boot noise\n");
    }

    #[test]
    fn section_printed_by_the_kernel() {
        let log = split(
            "@@kt298 exit rc=0\n[ 9.10] m: @@kt298 begin poweroff:a\n[ 9.11] m: KTAP version 1\n[ 9.12] other: BUG: x\n[ 9.13] m: ok 1 y\n[ 9.14] m: @@kt298 end rc=0\nafter\n",
        );
        assert_eq!(log.sections.len(), 1);
        assert_eq!(log.sections[0].name, "poweroff:a");
        assert_eq!(log.sections[0].text, "KTAP version 1\nok 1 y\n");
        assert_eq!(log.sections[0].rc, Some(0));
        assert_eq!(log.raw, "[ 9.12] other: BUG: x\nafter\n");
    }

    #[test]
    fn unfinished_section_has_no_rc() {
        let log = split("@@kt298 begin guest:a\nok 1 x\n");
        assert_eq!(log.sections[0].rc, None);
        assert_eq!(log.exit, None);
    }

    #[test]
    fn splat_lines() {
        let s = splats(
            "[ 0.1] Lock dependency validator: Copyright\nfine\n[ 2.0] BUG: KASAN: slab-use-after-free in x\n",
        );
        assert_eq!(
            s,
            vec![Splat {
                start: 2,
                end: 2,
                block: vec!["[ 2.0] BUG: KASAN: slab-use-after-free in x".to_string()],
                lines: vec!["[ 2.0] BUG: KASAN: slab-use-after-free in x".to_string()],
            }]
        );
    }

    #[test]
    fn a_warning_is_one_block_to_its_end_of_trace() {
        let s = splats(
            "ODEBUG: object 1 is on stack 2, but NOT annotated.\n[ cut here ]\nWARNING: lib/debugobjects.c:672\nCall Trace:\n ? _RNvXs1_rust_doctest_kernel_time_hrtimer_rs_04main+0x2d\n---[ end trace 0 ]---\nWARNING: ours\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].start, s[0].end), (0, 5));
        assert_eq!(s[0].lines.len(), 3);
        assert!(s[0].block[4].contains("hrtimer_rs"));
        assert_eq!(s[1].lines, vec!["WARNING: ours".to_string()]);
    }

    #[test]
    fn the_guests_markers_are_never_splats() {
        assert!(splats("[ 5.0] kt298-test: begin guest:no BUG: here\n").is_empty());
    }
}
