// SPDX-License-Identifier: GPL-2.0

//! The C library calls and constants of the guest tools.
//!
//! The values are the kernel's generic ones (`<uapi/asm-generic/mman-common.h>`,
//! `<uapi/asm-generic/poll.h>`, `<uapi/asm-generic/fcntl.h>`), which x86_64 and arm both use.

pub use std::os::raw::{
    c_int,
    c_long,
    c_uint,
    c_ulong, //
};

/// `PROT_READ`: the mapping may be read.
pub const PROT_READ: c_int = 1;
/// `PROT_WRITE`: the mapping may be written.
pub const PROT_WRITE: c_int = 2;
/// `MAP_SHARED`: stores reach the file.
pub const MAP_SHARED: c_int = 1;
/// `MAP_PRIVATE`: stores copy the page first.
pub const MAP_PRIVATE: c_int = 2;
/// `MAP_ANONYMOUS`: no file, zero-filled.
pub const MAP_ANONYMOUS: c_int = 0x20;
/// What `mmap()` returns on failure, `(void *)-1`.
pub const MAP_FAILED: *mut u8 = !0usize as *mut u8;
/// `MADV_HUGEPAGE`: back the range with transparent huge pages where possible.
pub const MADV_HUGEPAGE: c_int = 14;
/// `O_NONBLOCK`: `read()` fails with `EAGAIN` instead of waiting.
pub const O_NONBLOCK: c_int = 0o4000;
/// `POLLIN`: there is data to read.
pub const POLLIN: i16 = 0x1;
/// `POLLERR`: an error condition.
pub const POLLERR: i16 = 0x8;
/// `POLLHUP`: the other end hung up.
pub const POLLHUP: i16 = 0x10;
/// `POLLNVAL`: the descriptor is not open.
pub const POLLNVAL: i16 = 0x20;

/// `struct pollfd`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

extern "C" {
    pub fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    pub fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    // `off_t` is a `long` for both guests (64-bit on x86_64, 32-bit on arm without
    // `_FILE_OFFSET_BITS=64`).
    pub fn mmap(
        addr: *mut u8,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut u8;
    pub fn munmap(addr: *mut u8, len: usize) -> c_int;
    pub fn mprotect(addr: *mut u8, len: usize, prot: c_int) -> c_int;
    pub fn madvise(addr: *mut u8, len: usize, advice: c_int) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uapi_layout() {
        assert_eq!(std::mem::size_of::<PollFd>(), 8);
        assert_eq!(std::mem::offset_of!(PollFd, revents), 6);
    }
}
