// SPDX-License-Identifier: GPL-2.0

//! `--probe`: bad inputs tried on one per-CPU file.

use crate::mmap;
use kt298_guest::{
    ioctl::{
        self,
        ior, //
    },
    map::Mapping,
    relayfs::RELAYFS_IOC_PADDING,
    sys::{
        MAP_SHARED,
        PROT_READ,
        PROT_WRITE, //
    },
};
use std::{
    fs::File,
    io, //
};

/// The name of the error of a failed call, or `ok`.
fn outcome(err: Option<io::Error>) -> String {
    let Some(e) = err else {
        return "ok".into();
    };
    let e = e.raw_os_error().unwrap_or(0);
    let names = [
        (1, "EPERM"),
        (2, "ENOENT"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (14, "EFAULT"),
        (16, "EBUSY"),
        (19, "ENODEV"),
        (22, "EINVAL"),
        (25, "ENOTTY"),
    ];
    names
        .iter()
        .find(|n| n.0 == e)
        .map_or(format!("errno{e}"), |n| n.1.into())
}

/// Tries the bad inputs on one CPU file and prints what each gave (`ok` or the errno name).
pub(crate) fn probe(path: &str) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let i = mmap::info(&f)?;
    let len = (i.subbuf_size * i.n_subbufs) as usize;
    println!(
        "subbuf_size={} n_subbufs={} produced={} consumed={}",
        i.subbuf_size, i.n_subbufs, i.produced, i.consumed
    );
    let tries = [
        ("mmap_size", len + 4096, PROT_READ, 0),
        ("mmap_offset", len, PROT_READ, 4096),
        ("mmap_write", len, PROT_READ | PROT_WRITE, 0),
        ("mmap_whole", len, PROT_READ, 0),
    ];
    for (name, len, prot, off) in tries {
        // Unmapped right away, if it maps.
        let m = Mapping::new(len, prot, MAP_SHARED, Some(&f), off);
        println!("{name}={}", outcome(m.err()));
    }
    let mut v = 0u64;
    // SAFETY: The kernel writes at most one u64 at the pointer (it knows no such ioctl).
    let r = unsafe { ioctl::call(&f, ior::<u64>(b'R', 0x7f), &mut v) };
    println!("ioctl_unknown={}", outcome(r.err()));
    // The sub-buffer being written (or the next one) is not complete.
    let mut k = i.produced;
    // SAFETY: RELAYFS_IOC_PADDING reads and writes one u64 at the pointer.
    let r = unsafe { ioctl::call(&f, RELAYFS_IOC_PADDING, &mut k) };
    println!("padding_future={}", outcome(r.err()));
    Ok(())
}
