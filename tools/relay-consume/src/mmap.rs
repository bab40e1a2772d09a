// SPDX-License-Identifier: GPL-2.0

//! Reading a per-CPU file through `mmap()` and the `RELAYFS_IOC_*` ioctls: the mapping, and
//! which sub-buffers to take from it.

use kt298_guest::{
    ioctl,
    map::Mapping,
    relayfs::{
        Info,
        RELAYFS_IOC_INFO, //
    },
    sys::{
        c_ulong,
        MAP_SHARED,
        PROT_READ, //
    },
};
use std::{
    fs::File,
    ops::Range, //
};

/// The sub-buffers to take after an INFO: `(first, skipped)`. At most `n_subbufs` are left;
/// older ones (the writer lapped the reader in overwrite mode) are skipped.
pub(crate) fn to_take(i: &Info) -> Result<(u64, u64), String> {
    if i.produced < i.consumed {
        return Err(format!("produced {} < consumed {}", i.produced, i.consumed));
    }
    let first = i.consumed.max(i.produced.saturating_sub(i.n_subbufs));
    Ok((first, first - i.consumed))
}

/// Where the data of absolute sub-buffer `k` with `padding` bytes of padding is in the mapping.
pub(crate) fn subbuf_range(
    k: u64,
    padding: u64,
    size: u64,
    n: u64,
) -> Result<Range<usize>, String> {
    if padding > size {
        return Err(format!("sub-buffer {k}: padding {padding} > {size}"));
    }
    let off = (k % n) * size;
    Ok(off as usize..(off + size - padding) as usize)
}

/// Whether the writer may have started overwriting sub-buffer `k` (in overwrite mode) once
/// `produced` sub-buffers are complete: it writes sub-buffer `produced`, in `k`'s slot if
/// `produced` is `k + n` (or it has gone past).
pub(crate) fn overwritten(k: u64, produced: u64, n: u64) -> bool {
    produced >= k + n
}

/// The relayfs ioctl `req` (named `what` in errors) on the `T` (`Info` or `u64`) at `v`.
pub(crate) fn relay_ioctl<T>(f: &File, req: c_ulong, what: &str, v: &mut T) -> Result<(), String> {
    // SAFETY: Each relayfs ioctl reads and/or writes one `T` (the type its number encodes) at
    // the pointer, and the callers pass the `T` of `req`.
    unsafe { ioctl::call(f, req, v) }.map_err(|e| format!("{what}: {e}"))?;
    Ok(())
}

/// `RELAYFS_IOC_INFO`.
pub(crate) fn info(f: &File) -> Result<Info, String> {
    let mut i = Info::default();
    relay_ioctl(f, RELAYFS_IOC_INFO, "RELAYFS_IOC_INFO", &mut i)?;
    Ok(i)
}

/// A read-only shared mapping of a whole per-CPU file.
pub(crate) struct Map {
    pub(crate) mapping: Mapping,
    /// The sub-buffer size.
    pub(crate) size: u64,
    /// The number of sub-buffers.
    pub(crate) n: u64,
}

impl Map {
    /// Maps the buffer of `f`, with the geometry it reports.
    pub(crate) fn new(f: &File) -> Result<Self, String> {
        let i = info(f)?;
        let len = i.subbuf_size.checked_mul(i.n_subbufs).unwrap_or(0);
        if len == 0 || len > isize::MAX as u64 {
            return Err(format!("bad geometry {} x {}", i.subbuf_size, i.n_subbufs));
        }
        let len = len as usize;
        let mapping = Mapping::new(len, PROT_READ, MAP_SHARED, Some(f), 0)
            .map_err(|e| format!("mmap of {len} bytes: {e}"))?;
        Ok(Self {
            mapping,
            size: i.subbuf_size,
            n: i.n_subbufs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subbuf_walk() {
        let i = |produced, consumed| Info {
            subbuf_size: 4096,
            n_subbufs: 4,
            produced,
            consumed,
        };
        assert_eq!(to_take(&i(3, 1)), Ok((1, 0)));
        assert_eq!(to_take(&i(4, 0)), Ok((0, 0)));
        // Lapped: 0..=5 skipped, 6..10 left.
        assert_eq!(to_take(&i(10, 0)), Ok((6, 6)));
        assert_eq!(to_take(&i(10, 7)), Ok((7, 0)));
        assert!(to_take(&i(1, 2)).is_err());
        assert_eq!(subbuf_range(0, 0, 4096, 4), Ok(0..4096));
        assert_eq!(subbuf_range(6, 96, 4096, 4), Ok(8192..12192));
        assert_eq!(subbuf_range(7, 4096, 4096, 4), Ok(12288..12288));
        assert!(subbuf_range(7, 4097, 4096, 4).is_err());
        assert!(!overwritten(6, 9, 4));
        assert!(overwritten(6, 10, 4));
        assert!(overwritten(6, 11, 4));
    }
}
