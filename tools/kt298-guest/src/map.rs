// SPDX-License-Identifier: GPL-2.0

//! A memory mapping, unmapped on drop, with the accesses the tools make to it.

use crate::sys::{
    self,
    c_int,
    c_long, //
};
use std::{
    io,
    ops::Range,
    os::fd::AsRawFd, //
};

/// A mapping of `len` bytes at `ptr`, from `mmap()`.
///
/// # Invariants
///
/// `ptr..ptr + len` is mapped, readable, and owned by this value until it drops.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// `mmap(NULL, len, prot, flags, fd, off)`, with no file (`fd` -1) if `file` is `None`.
    /// `prot` must include `PROT_READ`.
    pub fn new(
        len: usize,
        prot: c_int,
        flags: c_int,
        file: Option<&dyn AsRawFd>,
        off: c_long,
    ) -> io::Result<Self> {
        if prot & sys::PROT_READ == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let fd = file.map_or(-1, |f| f.as_raw_fd());
        // SAFETY: A fresh mapping at an address chosen by the kernel overlaps no memory of
        // this program.
        let ptr = unsafe { sys::mmap(std::ptr::null_mut(), len, prot, flags, fd, off) };
        if ptr == sys::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // INVARIANT: `mmap()` mapped `len` readable bytes at `ptr`.
        Ok(Self { ptr, len })
    }

    /// `len` bytes of private, writable anonymous memory (what `malloc()` builds on).
    pub fn anonymous(len: usize) -> io::Result<Self> {
        let rw = sys::PROT_READ | sys::PROT_WRITE;
        Self::new(len, rw, sys::MAP_PRIVATE | sys::MAP_ANONYMOUS, None, 0)
    }

    /// The size of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: `mmap()` refuses a zero length).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of byte `off` of the mapping.
    pub fn addr(&self, off: usize) -> *mut u8 {
        self.ptr.wrapping_add(off)
    }

    /// Checks that `r` is inside the mapping.
    fn inside(&self, r: Range<usize>) -> Range<usize> {
        assert!(
            r.start <= r.end && r.end <= self.len,
            "{r:?} is outside a mapping of {} bytes",
            self.len
        );
        r
    }

    /// Writes the byte `v` at `off` (the mapping must be writable).
    pub fn poke(&self, off: usize, v: u8) {
        self.inside(off..off + 1);
        // SAFETY: `off` is inside the mapping (by the type's invariant, mapped).
        unsafe { self.ptr.add(off).write_volatile(v) }
    }

    /// Reads the 8-byte aligned word at `off`.
    pub fn word(&self, off: usize) -> u64 {
        self.inside(off..off + 8);
        assert_eq!(self.addr(off) as usize % 8, 0, "unaligned word");
        // SAFETY: `off..off + 8` is inside the mapping, which is readable, and aligned.
        unsafe { self.ptr.add(off).cast::<u64>().read_volatile() }
    }

    /// Copies `r` out of the mapping (whoever else maps it may be changing it meanwhile).
    pub fn copy(&self, r: Range<usize>) -> Vec<u8> {
        let r = self.inside(r);
        let mut v = vec![0u8; r.len()];
        // SAFETY: `r` is inside the mapping, which is readable; `v` has `r.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(r.start), v.as_mut_ptr(), r.len()) };
        v
    }

    /// `madvise()` of `r` with `advice`.
    pub fn advise(&self, r: Range<usize>, advice: c_int) -> io::Result<()> {
        let r = self.inside(r);
        // SAFETY: `r` is inside the mapping; the advice the tools give changes no contents.
        match unsafe { sys::madvise(self.ptr.add(r.start), r.len(), advice) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// `mprotect()` of the whole mapping to `prot`, which must include `PROT_READ`.
    pub fn protect(&mut self, prot: c_int) -> io::Result<()> {
        if prot & sys::PROT_READ == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: The mapping is ours; it stays readable.
        match unsafe { sys::mprotect(self.ptr, self.len, prot) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: The mapping is ours, and nothing refers to it after this.
        unsafe { sys::munmap(self.ptr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_memory() {
        let m = Mapping::anonymous(3 * 4096).unwrap();
        assert_eq!(m.len(), 3 * 4096);
        assert_eq!(m.word(4096), 0);
        m.poke(4097, 0x5a);
        assert_eq!(m.word(4096), 0x5a00);
        assert_eq!(m.copy(4096..4099), [0, 0x5a, 0]);
        m.advise(0..4096, sys::MADV_HUGEPAGE).ok();
    }

    #[test]
    fn no_read_no_mapping() {
        let e = Mapping::new(4096, sys::PROT_WRITE, sys::MAP_SHARED, None, 0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let mut m = Mapping::anonymous(4096).unwrap();
        assert!(m.protect(0).is_err());
        m.protect(sys::PROT_READ).unwrap();
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn outside() {
        Mapping::anonymous(4096).unwrap().word(4096);
    }
}
