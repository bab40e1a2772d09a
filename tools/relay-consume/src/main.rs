// SPDX-License-Identifier: GPL-2.0

//! User-space consumer of a relayfs channel that checks the sample producer's records (std
//! only, linked statically for the guest).
//!
//! ```text
//! relay-consume [--mmap] [--out DIR] [--count N] [--duration SECS] [--timeout SECS]
//!               [--slow USECS] [--expect-no-gaps] [--check-lost] [--overwrite] BASE
//! relay-consume --probe FILE
//! ```
//!
//! BASE is the channel's path in the mount, e.g. `/sys/kernel/relayfs/kt298/events`: the
//! per-CPU files `BASE0`, `BASE1`, ... (up to 256, missing ones skipped) are read with
//! non-blocking `read()` and `poll()`, or with `--mmap` through `mmap()`, `poll()` and the
//! `RELAYFS_IOC_*` ioctls (module `consume`, with `mmap`).
//! Every 64-byte record must have the magic, the file's cpu, the payload of its seq, and a seq
//! above the one before; missing seqs are gaps. `--out DIR` saves each CPU's stream as
//! `DIR/cpuN`; `--slow USECS` sleeps after each read or sub-buffer.
//!
//! Reading stops when every file has hung up and been drained (`stop=hup`); with `--count N`
//! when every producing CPU is through its N events (`stop=count`: seq N-1 arrived, or the
//! stats show all N tried and every stored one read); after `--duration` (`stop=duration`); or
//! at the timeout (default 60 s, `stop=timeout`, an error). Then `BASE.stats` (held open, so it
//! reads even after the channel closed) gives the kernel's lost counts:
//!
//! ```text
//! cpuN records=R gaps=G lost=L bytes=B [skipped=K] [first_seq=F last_seq=S]
//! total records=R gaps=G lost=L bytes=B [skipped=K]
//! mode=read|mmap
//! stop=hup|count|duration|timeout
//! ```
//!
//! `lost` is lost_full+lost_too_big+lost_busy (0 without stats), `skipped` (`--mmap`) the
//! sub-buffers given up because the writer lapped the reader, `first_seq`/`last_seq`
//! (`--overwrite`, `-` without records) the seqs received. With `--count N`, `gaps` counts the
//! seqs below N not received (those at the very end too) on a CPU that produced anything.
//! Checks: `--expect-no-gaps` (no gaps), `--check-lost` (on every CPU every stored event was
//! read, and gaps == lost; without `--count`, gaps <= lost, as trailing losses leave no gap),
//! `--overwrite` (gaps allowed; with `--count N` the newest record, seq N-1, must arrive).
//!
//! `--probe FILE` tries bad inputs on one CPU file and prints `ok` or the errno name for each:
//! `mmap_size` (a page too long), `mmap_offset` (offset 4096), `mmap_write` (`PROT_WRITE`),
//! `mmap_whole` (the right one), `ioctl_unknown` (`_IOR('R', 0x7f, u64)`), `padding_future`
//! (`RELAYFS_IOC_PADDING` of the sub-buffer `produced`), after the `RELAYFS_IOC_INFO` values.
//!
//! Errors go to stderr; exit status 1 on a bad record or a failed check, 2 on bad usage.
//!
//! The modules: `args` (the command line), `stream` (one CPU's records and their sequence
//! numbers), `stats` (the stats file), `mmap` (the mapping and the sub-buffers to take),
//! `consume` (the per-CPU files and the polling loop), `report` (the summary and the checks),
//! `probe` (`--probe`).

mod args;
mod consume;
mod mmap;
mod probe;
mod report;
mod stats;
mod stream;

use kt298_guest::cli::{
    self,
    Error, //
};
use std::process::ExitCode;

const USAGE: &str = "usage: relay-consume [--mmap] [--out DIR] [--count N] [--duration SECS] \
                     [--timeout SECS] [--slow USECS] [--expect-no-gaps] [--check-lost] \
                     [--overwrite] BASE | relay-consume --probe BASEn";

fn run(args: &[&str]) -> cli::Result {
    let o = args::parse(args).map_err(Error::Usage)?;
    if o.probe {
        return Ok(probe::probe(&o.base)?);
    }
    let sf = stats::StatsFile::open(format!("{}.stats", o.base));
    let mut cpus = consume::open_cpus(&o)?;
    let (stop, last) = consume::consume(&o, &mut cpus, &sf)?;
    let fail = report::report(&o, &cpus, sf.read().or(last).as_ref(), stop);
    match fail.len() {
        0 => Ok(()),
        _ => Err(fail.join("; ").into()),
    }
}

fn main() -> ExitCode {
    cli::main("relay-consume", USAGE, run)
}
