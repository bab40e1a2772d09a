// SPDX-License-Identifier: GPL-2.0

//! Guest-side checks and benchmark of kscrubd (std only, linked statically for the guest).
//!
//! ```text
//! kscrubd-test zero PAGES              map PAGES pages of /dev/kscrubd, check each reads zero
//! kscrubd-test hold PAGES SECONDS      map PAGES pages, dirty half, wait, fault the rest in
//! kscrubd-test pressure STATS MIB      allocate anonymous memory in 1 MiB steps until the pool
//!                                      (debugfs STATS file) is below half of what it was, or
//!                                      MIB MiB are allocated, or 8 MiB past MemAvailable 0
//! kscrubd-test private                try a private writable mapping (succeeds if allowed)
//! kscrubd-test bench PAGES             fault timing, device vs anonymous, and memset bandwidth
//! kscrubd-test memset                  memset bandwidth and the time to zero one page
//! kscrubd-test anon PAGES              fault PAGES pages of plain anonymous memory in, writing
//!                                      one byte of each; check the rest of each page reads zero
//! kscrubd-test anon-thp MIB [KIB]      the same with MADV_HUGEPAGE, one byte every KIB KiB
//!                                      (default 2048: one per PMD-size huge page)
//! kscrubd-test fault-time KIND PAGES   time per fault of plain anonymous memory: KIND sparse
//!                                      (one byte a page), dense (every line) or thp (one byte
//!                                      a 2 MiB huge page, PAGES in 4 KiB pages)
//! ```
//!
//! Output is `key=value` lines; errors go to stderr with exit status 1.

use kt298_guest::{
    cli::{
        self,
        arg,
        Error, //
    },
    map::Mapping,
    sys::{
        c_int,
        MADV_HUGEPAGE,
        MAP_PRIVATE,
        MAP_SHARED,
        PROT_READ,
        PROT_WRITE, //
    },
    timing, //
};
use std::{
    fs::{
        self,
        OpenOptions, //
    },
    hint::black_box,
    process::ExitCode,
    thread,
    time::{
        Duration,
        Instant, //
    },
};

const PAGE: usize = 4096;
const STATS: &str = "/sys/kernel/debug/kscrubd/stats";
const LINE: usize = 64;
const HUGE: usize = 2 << 20;
const USAGE: &str = "usage: kscrubd-test zero PAGES | hold PAGES SECONDS | pressure STATS MIB | \
                     private | private-ro | bench PAGES | memset | anon PAGES | \
                     anon-thp MIB [KIB] | fault-time sparse|dense|thp PAGES";

/// Opens `/dev/kscrubd`, for writing too if `write`.
fn open_device(write: bool) -> Result<fs::File, String> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .open("/dev/kscrubd")
        .map_err(|e| format!("open /dev/kscrubd: {e}"))
}

/// `pages` pages of anonymous memory.
fn anonymous(pages: usize) -> Result<Mapping, String> {
    let len = pages * PAGE;
    Mapping::anonymous(len).map_err(|e| format!("mmap of {len} bytes: {e}"))
}

/// `pages` pages of `/dev/kscrubd`, shared and writable; the open file goes with them.
fn device(pages: usize) -> Result<(Mapping, fs::File), String> {
    device_map(pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED)
}

/// `len` bytes of `/dev/kscrubd` with `prot` and `flags`; the open file goes with them.
fn device_map(len: usize, prot: c_int, flags: c_int) -> Result<(Mapping, fs::File), String> {
    let f = open_device(prot & PROT_WRITE != 0)?;
    let m = Mapping::new(len, prot, flags, Some(&f), 0)
        .map_err(|e| format!("mmap of {len} bytes: {e}"))?;
    Ok((m, f))
}

/// Plain anonymous memory of `len` bytes starting at a 2 MiB boundary, optionally with
/// `MADV_HUGEPAGE`: what any program gets from `mmap(MAP_ANONYMOUS)`.
struct Anon {
    map: Mapping,
    /// Where the aligned `len` bytes start in `map`.
    base: usize,
    len: usize,
}

impl Anon {
    fn new(len: usize, huge: bool) -> Result<Self, String> {
        let map = anonymous((len + HUGE) / PAGE)?;
        let base = map.addr(0).align_offset(HUGE);
        if huge {
            map.advise(base..base + len, MADV_HUGEPAGE)
                .map_err(|e| format!("madvise(MADV_HUGEPAGE): {e}"))?;
        }
        Ok(Self { map, base, len })
    }

    fn poke(&self, off: usize, v: u8) {
        debug_assert!(off < self.len);
        self.map.poke(self.base + off, v)
    }

    fn word(&self, off: usize) -> u64 {
        self.map.word(self.base + off)
    }

    /// Counts the `step`-sized pieces in which anything but the first byte is non-zero.
    fn dirty_pieces(&self, step: usize) -> usize {
        (0..self.len)
            .step_by(step)
            .filter(|&p| {
                // The first word holds the byte written to fault the piece in.
                (self.word(p) & !0xff) != 0 || (8..step).step_by(8).any(|o| self.word(p + o) != 0)
            })
            .count()
    }
}

/// Faults `pages` pages of plain anonymous memory in, writing one byte every `step` bytes,
/// then checks that the rest of every piece reads zero. With `huge`, with `MADV_HUGEPAGE`.
fn anon(pages: usize, huge: bool, step: usize) -> Result<(), String> {
    if step < PAGE || !step.is_power_of_two() {
        return Err(format!("bad step: {step} bytes"));
    }
    let a = Anon::new(pages * PAGE, huge)?;
    for off in (0..a.len).step_by(step) {
        a.poke(off, 0x5a);
    }
    let bad = a.dirty_pieces(step);
    let thp = meminfo("AnonHugePages:").unwrap_or(0);
    println!("faults={}", a.len / step);
    println!("nonzero={bad}");
    println!("anon_huge_kib={thp}");
    drop(a.map);
    if bad == 0 {
        Ok(())
    } else {
        Err(format!(
            "{bad} of {} pieces were not zero",
            pages * PAGE / step
        ))
    }
}

/// Times the faults of `pages` pages of fresh anonymous memory, best of 3 rounds.
fn fault_time(kind: &str, pages: usize) -> Result<(), String> {
    let (huge, step, dense) = match kind {
        "sparse" => (false, PAGE, false),
        "dense" => (false, PAGE, true),
        "thp" => (true, HUGE, false),
        _ => return Err(format!("bad KIND: {kind}")),
    };
    let best = timing::best_of(3, |_| {
        let a = Anon::new(pages * PAGE, huge)?;
        let t = Instant::now();
        for off in (0..a.len).step_by(step) {
            if dense {
                for l in (0..step).step_by(LINE) {
                    a.poke(off + l, 1);
                }
            } else {
                a.poke(off, 1);
            }
        }
        Ok::<_, String>(timing::ns_per(t.elapsed(), (a.len / step) as u64))
    })?;
    println!("{kind}_ns={best:.0}");
    Ok(())
}

/// Maps `pages` pages of the device and checks that every byte reads zero.
fn zero(pages: usize) -> Result<(), String> {
    let (m, _f) = device(pages)?;
    let mut bad = 0usize;
    for p in 0..pages {
        if !page_is_zero(&m, p) {
            bad += 1;
            if bad <= 5 {
                eprintln!("page {p} is not zero");
            }
        }
        // Dirty it, so a page that came back to the pool without zeroing would show.
        m.poke(p * PAGE + (p * 8) % PAGE, 0xa5);
    }
    println!("pages={pages}");
    nonzero(bad, || format!("{bad} of {pages} pages were not zero"))
}

/// Maps `pages` pages of the device, dirties the first half, waits `secs` seconds (the module
/// may be unloaded meanwhile), then faults in the second half and checks that it reads zero.
fn hold(pages: usize, secs: u64) -> Result<(), String> {
    let (m, _f) = device(pages)?;
    let half = pages / 2;
    for p in 0..half {
        m.poke(p * PAGE, 1);
    }
    println!("held={half}");
    thread::sleep(Duration::from_secs(secs));
    let mut bad = 0;
    for p in half..pages {
        if !page_is_zero(&m, p) {
            bad += 1;
        }
        m.poke(p * PAGE, 1);
    }
    println!("late={}", pages - half);
    nonzero(bad, || format!("{bad} late pages were not zero"))
}

/// Whether page `p` of `m` reads zero.
fn page_is_zero(m: &Mapping, p: usize) -> bool {
    (0..PAGE).step_by(8).all(|o| m.word(p * PAGE + o) == 0)
}

/// Prints the count of pieces that were not zero, and fails with `why()` if there are any.
fn nonzero(bad: usize, why: impl FnOnce() -> String) -> Result<(), String> {
    println!("nonzero={bad}");
    match bad {
        0 => Ok(()),
        _ => Err(why()),
    }
}

fn meminfo(key: &str) -> Option<u64> {
    let s = fs::read_to_string("/proc/meminfo").ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn pool_pages(stats: &str) -> Result<u64, String> {
    let s = fs::read_to_string(stats).map_err(|e| format!("{stats}: {e}"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("pages "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no 'pages' in {stats}"))
}

/// Allocates memory in 1 MiB steps until the pool shrinks to half, then lets it all go.
///
/// The pool is free memory held in reserve, so the page allocator only turns to it (through
/// its shrinker) once the rest is used up: allocation goes on up to 8 MiB past the point where
/// `MemAvailable` reads zero, which the pool's own pages more than cover.
fn pressure(stats: &str, max_mib: usize) -> Result<(), String> {
    let before = pool_pages(stats)?;
    let mut maps = Vec::new();
    let mut mib = 0;
    let mut past_zero = 0;
    let mut after = before;
    while mib < max_mib && past_zero < 8 {
        if meminfo("MemAvailable:").unwrap_or(0) < 1024 {
            past_zero += 1;
        }
        let m = anonymous(256)?;
        for p in 0..256 {
            m.poke(p * PAGE, 1);
        }
        maps.push(m);
        mib += 1;
        after = pool_pages(stats)?;
        if after * 2 < before {
            break;
        }
    }
    println!("pool_before={before}");
    println!("allocated_mib={mib}");
    println!("pool_during={after}");
    drop(maps);
    Ok(())
}

fn sysctl(name: &str) -> Option<u64> {
    fs::read_to_string(format!("/proc/sys/vm/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Waits until the pool is full, or `limit`; returns true if it is.
///
/// Full means within one block of order `vm.scrub_stop` of the target: kscrubd zeroes whole
/// blocks, and every process's faults take pages from the pool meanwhile.
fn wait_full(limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        let target = sysctl("scrub_pool_pages")
            .map(|t| t.saturating_sub(1 << sysctl("scrub_stop").unwrap_or(0).min(20)));
        if let (Some(target), Ok(pages)) = (target, pool_pages(STATS)) {
            if pages >= target {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Touches one byte of every page (sparse) or one byte of every cache line (dense).
fn touch(m: &Mapping, pages: usize, dense: bool) -> Duration {
    let t = Instant::now();
    for p in 0..pages {
        if dense {
            for l in (0..PAGE).step_by(LINE) {
                m.poke(p * PAGE + l, 1);
            }
        } else {
            m.poke(p * PAGE, 1);
        }
    }
    t.elapsed()
}

/// Runs `f` with kscrubd's background zeroing paused (`vm.scrub_load` 0), so that the
/// daemon refilling the pool on another CPU does not compete with the timed loop for the
/// emulator's host cores; the old value is put back afterwards.
fn paused<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    const LOAD: &str = "/proc/sys/vm/scrub_load";
    let old = fs::read_to_string(LOAD).map_err(|e| format!("{LOAD}: {e}"))?;
    fs::write(LOAD, "0").map_err(|e| format!("{LOAD}: {e}"))?;
    let r = f();
    fs::write(LOAD, old.trim()).map_err(|e| format!("{LOAD}: {e}"))?;
    Ok(r)
}

/// Fault timing on `pages` pages: device vs anonymous, sparse and dense, best of
/// `ROUNDS` rounds that alternate which mapping goes first, each device round starting
/// from a full pool; then memset bandwidth.
fn bench(pages: usize) -> Result<(), String> {
    const ROUNDS: usize = 3;
    for (name, dense) in [("sparse", false), ("dense", true)] {
        let (mut dev_best, mut anon_best) = (f64::MAX, f64::MAX);
        for round in 0..ROUNDS {
            let full = wait_full(Duration::from_secs(120));
            let (d, a) = paused(|| -> Result<_, String> {
                let time_dev = || -> Result<Duration, String> {
                    let (dev, _f) = device(pages)?;
                    Ok(touch(&dev, pages, dense))
                };
                let time_anon = || -> Result<Duration, String> {
                    let anon = anonymous(pages)?;
                    Ok(touch(&anon, pages, dense))
                };
                Ok(if round % 2 == 0 {
                    (time_dev()?, time_anon()?)
                } else {
                    let a = time_anon()?;
                    (time_dev()?, a)
                })
            })??;
            let (d, a) = (
                timing::ns_per(d, pages as u64),
                timing::ns_per(a, pages as u64),
            );
            println!("{name}_round{round}: pool_full={full} dev_ns={d:.0} anon_ns={a:.0}");
            dev_best = dev_best.min(d);
            anon_best = anon_best.min(a);
        }
        println!("{name}_dev_ns={dev_best:.0}");
        println!("{name}_anon_ns={anon_best:.0}");
    }
    wait_full(Duration::from_secs(60));
    memset()
}

/// memset bandwidth on memory that is already mapped, and the time to zero one page.
fn memset() -> Result<(), String> {
    /// The time `n` zeroings of `len` bytes take.
    fn zeroing(len: usize, n: u64) -> Duration {
        let mut buf = vec![1u8; len];
        timing::time(n, || {
            buf.fill(0);
            black_box(&mut buf);
        })
    }
    let (len, reps) = (64 << 20, 8);
    let secs = zeroing(len, reps).as_secs_f64();
    println!("memset_mbps={:.0}", (len as u64 * reps) as f64 / secs / 1e6);
    let n = 100_000;
    println!("memset_page_ns={:.0}", timing::ns_per(zeroing(PAGE, n), n));
    Ok(())
}

/// Maps one page of the device private with protection `prot`; the open file goes with it.
fn map_private(prot: c_int) -> Result<(Mapping, fs::File), String> {
    device_map(PAGE, prot, MAP_PRIVATE).map_err(|e| format!("refused: {e}"))
}

/// Tries a private writable mapping of the device, which it refuses.
fn private() -> Result<(), String> {
    map_private(PROT_READ | PROT_WRITE)?;
    println!("private=mapped");
    Ok(())
}

/// Maps the device private and read-only, which it allows, reads a page (zero), and tries to
/// make the mapping writable with `mprotect`, which must fail: a private writable mapping
/// would copy pages at their first write.
fn private_ro() -> Result<(), String> {
    let (mut m, _f) =
        map_private(PROT_READ).map_err(|e| format!("private read-only mapping {e}"))?;
    if m.word(0) != 0 {
        return Err("the page is not zero".into());
    }
    match m.protect(PROT_READ | PROT_WRITE) {
        Ok(()) => Err("mprotect(PROT_WRITE) of a private mapping succeeded".into()),
        Err(e) => {
            println!("mprotect={e}");
            Ok(())
        }
    }
}

fn run(args: &[&str]) -> cli::Result {
    let done = match *args {
        ["zero", pages] => zero(arg(pages, "PAGES")?),
        ["hold", pages, secs] => hold(arg(pages, "PAGES")?, arg(secs, "SECONDS")?),
        ["pressure", stats, mib] => pressure(stats, arg(mib, "MIB")?),
        ["private"] => private(),
        ["private-ro"] => private_ro(),
        ["bench", pages] => bench(arg(pages, "PAGES")?),
        ["memset"] => memset(),
        ["anon", pages] => anon(arg(pages, "PAGES")?, false, PAGE),
        ["anon-thp", mib] => anon(arg::<usize>(mib, "MIB")? * 256, true, HUGE),
        ["anon-thp", mib, kib] => anon(
            arg::<usize>(mib, "MIB")? * 256,
            true,
            arg::<usize>(kib, "KIB")? << 10,
        ),
        ["fault-time", kind, pages] => fault_time(kind, arg(pages, "PAGES")?),
        _ => return Err(Error::Usage(String::new())),
    };
    Ok(done?)
}

fn main() -> ExitCode {
    cli::main("kscrubd-test", USAGE, run)
}
