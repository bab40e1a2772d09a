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
    /// Print the benchmark table from `make bench` runs (MACHINE=LOG pairs).
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

/// Returns true if a bigger number is better in `unit` (rates); otherwise smaller is (times).
fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s") || unit == "x"
}

/// Checks `ratio` (ours / theirs) against a target such as `<=0.8` or `>=1.0`.
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

/// Benchmark scripts print `@bench GROUP | ROW | OURS | THEIRS | UNIT [| TARGET]` lines; the
/// table says which side is better and, where a row has a target for the ratio, whether it is
/// met.
fn bench(runs: &[String]) -> Result<ExitCode> {
    println!(
        "{:<8} {:<14} {:<52} {:>12} {:>12} {:>8}  {:<6} {:<8} {:<12}",
        "machine", "group", "measure", "ours", "upstream", "ratio", "unit", "better", "target"
    );
    let mut rows = 0;
    for run in runs {
        let (machine, text) = split_run(run)?;
        for line in text.lines() {
            let Some(rest) = line.trim_end_matches('\r').trim().strip_prefix("@bench ") else {
                continue;
            };
            let f: Vec<&str> = rest.split('|').map(str::trim).collect();
            if f.len() != 5 && f.len() != 6 {
                continue;
            }
            let (ratio, better, target) = match (f[2].parse::<f64>(), f[3].parse::<f64>()) {
                (Ok(a), Ok(b)) if b != 0.0 => {
                    let r = a / b;
                    let ours = if higher_is_better(f[4]) { a > b } else { a < b };
                    let better = if a == b {
                        "equal"
                    } else if ours {
                        "ours"
                    } else {
                        "upstream"
                    };
                    let target = match f.get(5).map(|t| (t, target_met(r, t))) {
                        Some((t, Some(true))) => format!("{t} met"),
                        Some((t, Some(false))) => format!("{t} MISSED"),
                        Some((t, None)) => format!("{t}?"),
                        None => "-".to_string(),
                    };
                    (format!("{r:.3}"), better, target)
                }
                _ => (
                    "-".to_string(),
                    "-",
                    f.get(5).map_or("-".into(), |t| format!("{t} n/a")),
                ),
            };
            println!(
                "{:<8} {:<14} {:<52} {:>12} {:>12} {:>8}  {:<6} {:<8} {:<12}",
                machine, f[0], f[1], f[2], f[3], ratio, f[4], better, target
            );
            rows += 1;
        }
    }
    if rows == 0 {
        println!("(no benchmark rows: no module has added any yet)");
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Check { repo, runs } => check(&repo, &runs),
        Command::Cmd { log } => cmd(&log),
        Command::Bench { runs } => bench(&runs),
    }
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
        assert!(!higher_is_better("ns"));
    }
}
