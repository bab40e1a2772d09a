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
//! `kt298-report cmd LOG` prints the output of a `make run CMD=...` guest
//! command and exits with its status.
//!
//! `kt298-report bench x86_64=x86.log arm=arm.log` prints the benchmark table
//! (see `bench.rs`); it exits non-zero if a measurement failed.

mod bench;
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
    },
    /// Print a guest command's output and exit with its status.
    Cmd { log: PathBuf },
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

fn check(repo: &Path, runs: &[String]) -> Result<ExitCode> {
    let kunit = expected_kunit(repo)?;
    let mut t = Tally {
        passed: 0,
        failed: 0,
        skipped: Vec::new(),
        failures: Vec::new(),
    };
    for run in runs {
        let (machine, text) = split_run(run)?;
        let log = log::split(&text);
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
        let mut splats = log::splats(&log.raw);
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
                "dmesg" => splats.extend(log::splats(&s.text)),
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
        let (known, ours): (Vec<_>, Vec<_>) = splats.into_iter().partition(|s| s.known.is_some());
        for s in &known {
            t.record(
                &format!(
                    "{machine}: known upstream splat: {}",
                    s.known.unwrap_or_default()
                ),
                Outcome::Skip,
                &[],
            );
        }
        let lines: Vec<String> = ours.into_iter().flat_map(|s| s.lines).collect();
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

fn cmd(path: &Path) -> Result<ExitCode> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let log = log::split(&String::from_utf8_lossy(&text));
    let Some(s) = log.sections.iter().find(|s| s.name == "cmd") else {
        bail!("the guest never ran the command (see {})", path.display());
    };
    print!("{}", s.text);
    let splats = log
        .sections
        .iter()
        .filter(|s| s.name == "dmesg")
        .flat_map(|s| log::splats(&s.text))
        .chain(log::splats(&log.raw))
        .filter(|s| s.known.is_none())
        .flat_map(|s| s.lines)
        .collect::<Vec<_>>();
    for s in &splats {
        eprintln!("kernel splat: {s}");
    }
    match s.rc {
        Some(rc) => Ok(ExitCode::from(u8::try_from(rc).unwrap_or(1))),
        None => bail!("the command did not finish (see {})", path.display()),
    }
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Check { repo, runs } => check(&repo, &runs),
        Command::Cmd { log } => cmd(&log),
        Command::Bench { runs } => bench::report(&runs),
    }
}
