// SPDX-License-Identifier: GPL-2.0

//! kt298-report: turns the guests' serial logs into the suite's results.
//!
//! `kt298-report check --repo . x86_64=x86.log arm=arm.log` prints one line
//! per test, lists skips, and ends with `N passed, N failed, N skipped`; it
//! exits non-zero if anything failed. What must have run is taken from the
//! repository itself: every `#[kunit_tests(NAME)]` suite in our Rust code,
//! the kernel crate's doctests, every `tests/guest/*.sh` whose `# machines:`
//! line names the machine, and every section a guest script announced with
//! `@@kt298 expect NAME`. A missing suite is a failure.
//!
//! Each guest's kernel log, captured whole on the host (`--kernel-log
//! MACHINE=LOG`), is checked for splats from the boot's first message to
//! power-off, and must be whole itself. Known upstream reports
//! (`tests/known-upstream-splats`) are listed as skipped, each with where it
//! appeared.
//!
//! `kt298-report cmd LOG [--kernel-log MACHINE=LOG]` prints the output of a `make run
//! CMD=...` guest command and exits with its status. `kt298-report splats
//! MACHINE KERNEL_LOG` lists every splat of a kernel log, known or not.
//!
//! `kt298-report bench x86_64=x86.log arm=arm.log` prints the benchmark table
//! (see `bench.rs`); it exits non-zero if a measurement failed.

mod bench;
mod klog;
mod known;
mod ktap;
mod log;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ktap::Outcome;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report the results of `make check` runs.
    Check {
        /// The suite's checkout, to learn which suites and scripts must run.
        #[arg(long)]
        repo: PathBuf,
        /// MACHINE=LOG pairs, one per guest run.
        #[arg(required = true)]
        runs: Vec<String>,
        /// MACHINE=LOG: the machine's kernel log, captured whole; every guest needs one.
        #[arg(long = "kernel-log")]
        kernel_logs: Vec<String>,
    },
    /// Print a guest command's output and exit with its status.
    Cmd {
        log: PathBuf,
        /// The guest's kernel log, where splats are looked for: MACHINE=LOG.
        #[arg(long)]
        kernel_log: Option<String>,
    },
    /// List every splat of a kernel log with where it appeared and whether it is a known
    /// upstream report; exits non-zero if any is not.
    Splats {
        machine: String,
        kernel_log: PathBuf,
    },
    /// Print the benchmark table from `make bench` runs (MACHINE=LOG pairs); fails if a
    /// measurement failed.
    Bench {
        #[arg(required = true)]
        runs: Vec<String>,
    },
}

struct Tally {
    passed: usize,
    failed: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, outcome: Outcome, diag: &[String]) {
        match outcome {
            Outcome::Pass => {
                self.passed += 1;
                println!("ok      {name}");
            }
            Outcome::Skip => {
                self.skipped.push(name.to_string());
                println!("skip    {name}");
            }
            Outcome::Fail => {
                self.failed += 1;
                self.failures.push(name.to_string());
                println!("FAIL    {name}");
                for d in diag {
                    println!("        # {d}");
                }
            }
        }
    }
}

/// The KUnit suites our Rust code declares, plus the kernel crate doctests.
fn expected_kunit(repo: &Path) -> Result<BTreeSet<String>> {
    let mut suites = BTreeSet::from(["rust_doctests_kernel".to_string()]);
    for dir in ["rust", "drivers", "mm", "fs", "samples"] {
        let mut stack = vec![repo.join(dir)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    for part in text.split("kunit_tests(").skip(1) {
                        if let Some(name) = part.split(')').next() {
                            if !name.is_empty()
                                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                            {
                                suites.insert(name.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(suites)
}

/// The guest scripts in `dir` meant for `machine`.
fn expected_scripts(dir: &Path, machine: &str) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(names);
    };
    for e in entries {
        let p = e?.path();
        if p.extension().is_none_or(|x| x != "sh") {
            continue;
        }
        let text = fs::read_to_string(&p)?;
        let wanted = text
            .lines()
            .find_map(|l| l.strip_prefix("# machines:"))
            .is_some_and(|m| m.split_whitespace().any(|w| w == machine));
        if wanted {
            if let Some(stem) = p.file_stem() {
                names.insert(stem.to_string_lossy().into_owned());
            }
        }
    }
    Ok(names)
}

fn split_run(run: &str) -> Result<(&str, String)> {
    let Some((machine, path)) = run.split_once('=') else {
        bail!("'{run}' is not MACHINE=LOG");
    };
    let text = fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok((machine, String::from_utf8_lossy(&text).into_owned()))
}

/// A splat, with where it appeared and the known upstream report it is, if it is one.
struct Found {
    place: String,
    splat: log::Splat,
    known: Option<String>,
}

/// Finds the splats of a kernel log, with their places, and which are known upstream.
fn kernel_splats(machine: &str, k: &klog::KernelLog, list: &[known::Known]) -> Vec<Found> {
    let text = k.lines.join("\n");
    log::splats(&text)
        .into_iter()
        .map(|splat| {
            let place = k.place(splat.start, splat.end);
            let known = list
                .iter()
                .find(|e| e.matches(machine, Some(place.at_boot), &splat.block))
                .map(|e| e.name.clone());
            Found {
                place: place.to_string(),
                splat,
                known,
            }
        })
        .collect()
}

/// Splats of other text than a kernel log, where no place is known.
fn other_splats(text: &str, place: &str) -> Vec<Found> {
    log::splats(text)
        .into_iter()
        .map(|splat| Found {
            place: place.to_string(),
            splat,
            known: None,
        })
        .collect()
}

fn known_list() -> Result<Vec<known::Known>> {
    known::parse(known::LIST).map_err(|e| anyhow::anyhow!("tests/known-upstream-splats: {e}"))
}

fn check(repo: &Path, runs: &[String], kernel_logs: &[String]) -> Result<ExitCode> {
    let kunit = expected_kunit(repo)?;
    let list = known_list()?;
    let mut klogs = std::collections::BTreeMap::new();
    for k in kernel_logs {
        let Some((machine, path)) = k.split_once('=') else {
            bail!("--kernel-log '{k}' is not MACHINE=LOG");
        };
        klogs.insert(machine.to_string(), PathBuf::from(path));
    }
    let mut t = Tally {
        passed: 0,
        failed: 0,
        skipped: Vec::new(),
        failures: Vec::new(),
    };
    for run in runs {
        let (machine, text) = split_run(run)?;
        let mut log = log::split(&text);
        let mut seen = BTreeSet::new();
        let finished = log.exit.is_some();
        let fail_diag: Vec<String> = if finished {
            Vec::new()
        } else {
            let mut d = vec![format!(
                "the guest did not finish (last section: {})",
                log.sections.last().map_or("none", |s| s.name.as_str())
            )];
            d.extend(
                text.lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .map(str::to_string),
            );
            d
        };
        let what = if machine == "host" {
            "ran every host check"
        } else {
            "boot, run the tests and power off"
        };
        t.record(
            &format!("{machine}: {what}"),
            if finished {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            &fail_diag,
        );
        for (key, value) in &log.notes {
            if key == "modprobe-failed" {
                t.record(&format!("{machine}: modprobe {value}"), Outcome::Fail, &[]);
            }
        }
        // The kernel log: read it, and take the sections a kernel module printed in it.
        let kernel = if machine == "host" {
            None
        } else {
            let got = match klogs.get(machine) {
                None => Err(format!("no kernel log was given for {machine}")),
                Some(p) => fs::read(p)
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .map_err(|e| format!("reading {}: {e}", p.display())),
            };
            match got {
                Ok(t) => {
                    let printed = log::split(&t);
                    let k = klog::KernelLog::new(&t, &log.sections);
                    log.sections.extend(printed.sections);
                    log.notes.extend(printed.notes);
                    Some(k)
                }
                Err(e) => {
                    t.record(
                        &format!("{machine}: kernel log captured whole"),
                        Outcome::Fail,
                        &[e],
                    );
                    None
                }
            }
        };
        let mut dmesg: Option<String> = None;
        for s in &log.sections {
            let (kind, name) = s.name.split_once(':').unwrap_or((s.name.as_str(), ""));
            match kind {
                "kunit" | "guest" | "host" | "poweroff" => {
                    seen.insert(s.name.clone());
                    let doc = ktap::parse(&s.text);
                    for r in &doc.results {
                        t.record(
                            &format!("{machine}: {name}: {}", r.name),
                            r.outcome,
                            &r.diag,
                        );
                    }
                    if !doc.errors.is_empty() {
                        t.record(
                            &format!("{machine}: {name}: well-formed KTAP"),
                            Outcome::Fail,
                            &doc.errors,
                        );
                    }
                    if kind != "kunit" && s.rc != Some(0) {
                        t.record(
                            &format!("{machine}: {name}: script exit status"),
                            Outcome::Fail,
                            &[format!("exit status {:?}", s.rc)],
                        );
                    }
                }
                "cargo" => {
                    let mut ran = 0;
                    for line in s.text.lines() {
                        let Some(rest) = line.strip_prefix("test ") else {
                            continue;
                        };
                        let Some((test, result)) = rest.rsplit_once(" ... ") else {
                            continue;
                        };
                        let outcome = match result.trim() {
                            "ok" => Outcome::Pass,
                            "ignored" => Outcome::Skip,
                            _ => Outcome::Fail,
                        };
                        ran += 1;
                        t.record(&format!("{machine}: {name}: {test}"), outcome, &[]);
                    }
                    if ran == 0 || s.rc != Some(0) {
                        let tail: Vec<String> =
                            s.text.lines().rev().take(20).map(str::to_string).collect();
                        t.record(
                            &format!("{machine}: {name}: cargo test ran and passed"),
                            Outcome::Fail,
                            &tail.into_iter().rev().collect::<Vec<_>>(),
                        );
                    }
                }
                "dmesg" => dmesg = Some(s.text.clone()),
                "kmemleak" => {
                    let leaks: Vec<String> = s.text.lines().take(40).map(str::to_string).collect();
                    t.record(
                        &format!("{machine}: kmemleak finds no leaks"),
                        if leaks.is_empty() {
                            Outcome::Pass
                        } else {
                            Outcome::Fail
                        },
                        &leaks,
                    );
                }
                _ => {}
            }
        }
        if finished && machine != "host" {
            // Only the harness's own QEMU guests run the KUnit suites.
            let kunit = if machine == "vng" {
                BTreeSet::new()
            } else {
                kunit.clone()
            };
            let mut missing: Vec<String> = kunit
                .iter()
                .map(|k| format!("kunit:{k}"))
                .chain(
                    expected_scripts(&repo.join("tests/guest"), machine)?
                        .iter()
                        .map(|g| format!("guest:{g}")),
                )
                // Sections a guest script announced (`@@kt298 expect NAME`), such as one a
                // module prints at power-off.
                .chain(
                    log.notes
                        .iter()
                        .filter(|(k, _)| k == "expect")
                        .map(|(_, v)| v.clone()),
                )
                .filter(|n| !seen.contains(n))
                .collect();
            missing.sort();
            for m in missing {
                t.record(
                    &format!("{machine}: {m}"),
                    Outcome::Fail,
                    &["did not run".to_string()],
                );
            }
        }
        let mut found = other_splats(&log.raw, "on the test console, outside the sections");
        match &kernel {
            Some(k) => {
                let gaps = k.gaps(finished, dmesg.as_deref());
                t.record(
                    &format!("{machine}: kernel log captured whole"),
                    if gaps.is_empty() {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    &gaps,
                );
                found.extend(kernel_splats(machine, k, &list));
            }
            // Without a kernel log, what the guest's dmesg still held at the end.
            None => found.extend(other_splats(
                dmesg.as_deref().unwrap_or_default(),
                "in the guest's final dmesg",
            )),
        }
        let (known, ours): (Vec<_>, Vec<_>) = found.into_iter().partition(|f| f.known.is_some());
        for f in &known {
            t.record(
                &format!(
                    "{machine}: known upstream splat: {} ({})",
                    f.known.as_deref().unwrap_or_default(),
                    f.place
                ),
                Outcome::Skip,
                &[],
            );
        }
        let lines: Vec<String> = ours
            .into_iter()
            .flat_map(|f| {
                std::iter::once(format!("{}:", f.place))
                    .chain(f.splat.lines.into_iter().map(|l| format!("  {l}")))
            })
            .collect();
        t.record(
            &format!("{machine}: kernel log has no splat"),
            if lines.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            &lines,
        );
    }
    if !t.skipped.is_empty() {
        println!("\nskipped ({}):", t.skipped.len());
        for s in &t.skipped {
            println!("  {s}");
        }
    }
    if !t.failures.is_empty() {
        println!("\nfailed ({}):", t.failures.len());
        for s in &t.failures {
            println!("  {s}");
        }
    }
    println!(
        "\n{} passed, {} failed, {} skipped",
        t.passed,
        t.failed,
        t.skipped.len()
    );
    Ok(if t.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd(path: &Path, kernel_log: Option<&str>) -> Result<ExitCode> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let log = log::split(&String::from_utf8_lossy(&text));
    let Some(s) = log.sections.iter().find(|s| s.name == "cmd") else {
        bail!("the guest never ran the command (see {})", path.display());
    };
    print!("{}", s.text);
    let mut found = other_splats(&log.raw, "on the test console");
    match kernel_log {
        Some(arg) => {
            let Some((machine, p)) = arg.split_once('=') else {
                bail!("--kernel-log '{arg}' is not MACHINE=LOG");
            };
            let text = fs::read(p).with_context(|| format!("reading {p}"))?;
            let k = klog::KernelLog::new(&String::from_utf8_lossy(&text), &log.sections);
            found.extend(kernel_splats(machine, &k, &known_list()?));
        }
        None => {
            for d in log.sections.iter().filter(|s| s.name == "dmesg") {
                found.extend(other_splats(&d.text, "in the guest's final dmesg"));
            }
        }
    }
    for f in found.iter().filter(|f| f.known.is_none()) {
        eprintln!("kernel splat {}:", f.place);
        for l in &f.splat.lines {
            eprintln!("  {l}");
        }
    }
    match s.rc {
        Some(rc) => Ok(ExitCode::from(u8::try_from(rc).unwrap_or(1))),
        None => bail!("the command did not finish (see {})", path.display()),
    }
}

/// Lists a kernel log's splats: where each appeared and whether it is a known upstream
/// report. Fails if any is not.
fn list_splats(machine: &str, path: &Path) -> Result<ExitCode> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let k = klog::KernelLog::new(&String::from_utf8_lossy(&text), &[]);
    let found = kernel_splats(machine, &k, &known_list()?);
    for f in &found {
        match &f.known {
            Some(n) => println!("known   {} ({n})", f.place),
            None => println!("UNKNOWN {}", f.place),
        }
        for l in &f.splat.block {
            println!("        {l}");
        }
    }
    let gaps = k.gaps(false, None);
    for g in &gaps {
        println!("gap     {g}");
    }
    println!(
        "{} splat(s), {} known upstream",
        found.len(),
        found.iter().filter(|f| f.known.is_some()).count()
    );
    Ok(
        if gaps.is_empty() && found.iter().all(|f| f.known.is_some()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Check {
            repo,
            runs,
            kernel_logs,
        } => check(&repo, &runs, &kernel_logs),
        Command::Cmd { log, kernel_log } => cmd(&log, kernel_log.as_deref()),
        Command::Splats {
            machine,
            kernel_log,
        } => list_splats(&machine, &kernel_log),
        Command::Bench { runs } => bench::report(&runs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose kernel log holds an upstream splat at boot, the same report again later
    /// (then it is not known: the entry is for the boot only), and one of ours in a test
    /// script, long before the end: the guest's final dmesg no longer has it.
    const KLOG: &str = "\
[    0.000000] Linux version 7.2.12
[    1.000000]     ok 1 rust_doctest_kernel_time_hrtimer_rs_0
[    1.100000] ODEBUG: object 0000 is on stack 0000, but NOT annotated.
[    1.100000] WARNING: lib/debugobjects.c:672 at __debug_object_init+0x1
[    1.100000] Call Trace:
[    1.100000]  _RNvXs1_rust_doctest_kernel_time_hrtimer_rs_1+0x2d/0x40
[    1.100000] ---[ end trace 0000000000000000 ]---
[    1.200000]     ok 2 rust_doctest_kernel_time_hrtimer_rs_1
[    2.000000] kt298-test: step /init, mode check
[    3.000000] kt298-test: begin guest:relayfs
[    3.100000] kt298-test: result 1
[    3.200000] WARNING: CPU: 1 PID: 80 at fs/relayfs/file.rs:10 read+0x10/0x20
[    3.200000] Call Trace:
[    3.200000]  _RNvXs1_rust_doctest_kernel_time_hrtimer_rs_1+0x2d/0x40
[    3.200000] ---[ end trace 0000000000000000 ]---
[    3.300000] kt298-test: result 2
[    3.400000] kt298-test: end rc=0
[    9.000000] kt298-test: step dumping dmesg
[    9.100000] kt298-test: exit rc=0
";

    #[test]
    fn splats_anywhere_in_the_kernel_log_are_found_and_placed() {
        let test_log = "@@kt298 begin guest:relayfs\nKTAP version 1\nok 1 loads\nok 2 reads\n1..2\n@@kt298 end rc=0\n@@kt298 begin dmesg\n[    9.000000] kt298-test: step dumping dmesg\n@@kt298 end rc=0\n@@kt298 exit rc=0\n";
        let log = log::split(test_log);
        let dmesg = &log.sections[1].text;
        // The old check: the final dmesg, which the log buffer had long overwritten.
        assert!(other_splats(dmesg, "dmesg").is_empty());
        let k = klog::KernelLog::new(KLOG, &log.sections);
        assert!(k.gaps(true, Some(dmesg)).is_empty());
        let found = kernel_splats("x86_64", &k, &known_list().unwrap());
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].known.as_deref(),
            Some("ODEBUG: the hrtimer doc examples put timers on the stack")
        );
        assert_eq!(
            found[0].place,
            "in boot, after 'ok 1 rust_doctest_kernel_time_hrtimer_rs_0', \
             before 'ok 2 rust_doctest_kernel_time_hrtimer_rs_1'"
        );
        assert_eq!(found[1].known, None);
        assert_eq!(
            found[1].place,
            "in guest:relayfs, after 'ok 1 loads', before 'ok 2 reads'"
        );
        assert!(found[1].splat.lines[0].contains("fs/relayfs/file.rs"));
        // Known on x86_64, not on arm, where no entry names it.
        assert!(kernel_splats("arm", &k, &known_list().unwrap())
            .iter()
            .all(|f| f.known.is_none()));
    }
}
