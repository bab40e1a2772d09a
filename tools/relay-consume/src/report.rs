// SPDX-License-Identifier: GPL-2.0

//! The summary printed at the end, and the checks the options ask for.

use crate::{
    args::Opts,
    consume::{
        producing,
        Cpu, //
    },
    stats::Stats,
};

/// Prints the summary and returns the failed checks.
pub(crate) fn report(o: &Opts, cpus: &[Cpu], stats: Option<&Stats>, stop: &str) -> Vec<String> {
    let mut fail = Vec::new();
    if stop == "timeout" {
        fail.push(format!("timeout after {} s", o.timeout));
    }
    if stats.is_none() && o.check_lost {
        fail.push("no stats file to check lost counts".into());
    }
    let (mut records, mut gaps, mut lost, mut bytes, mut skipped) = (0, 0, 0, 0, 0);
    for c in cpus {
        let (n, s) = (c.stream.cpu, &c.stream.seqs);
        let cs = c.stats(stats);
        let l = cs.map_or(0, |cs| cs.lost);
        let g = s.gaps(producing(s, cs));
        let b = c.stream.bytes;
        print!("cpu{n} records={} gaps={g} lost={l} bytes={b}", s.records);
        if o.mmap {
            print!(" skipped={}", c.skipped);
        }
        if o.overwrite {
            let seq = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            print!(" first_seq={} last_seq={}", seq(s.first), seq(s.last));
            if let (Some(want), Some(last)) = (o.count, s.last) {
                if last + 1 != want {
                    fail.push(format!(
                        "cpu{n}: newest record is seq {last}, not {}",
                        want - 1
                    ));
                }
            }
        }
        println!();
        if o.no_gaps && g > 0 {
            fail.push(format!("cpu{n}: {g} gaps"));
        }
        if o.check_lost {
            if let Some(cs) = cs {
                // Every stored event was read exactly once, and every missing number is a
                // lost event. Without --count, events lost after the last one read leave no
                // gap, so gaps may only fall short of the lost count.
                if s.records != cs.events {
                    fail.push(format!(
                        "cpu{n}: read {} records, {} stored",
                        s.records, cs.events
                    ));
                }
                if (o.count.is_some() && g != l) || g > l {
                    fail.push(format!("cpu{n}: gaps={g} but lost={l}"));
                }
            }
        }
        (records, gaps, lost, bytes) = (records + s.records, gaps + g, lost + l, bytes + b);
        skipped += c.skipped;
    }
    print!("total records={records} gaps={gaps} lost={lost} bytes={bytes}");
    if o.mmap {
        print!(" skipped={skipped}");
    }
    println!();
    println!("mode={}", if o.mmap { "mmap" } else { "read" });
    println!("stop={stop}");
    fail
}
