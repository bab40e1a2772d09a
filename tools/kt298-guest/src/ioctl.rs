// SPDX-License-Identifier: GPL-2.0

//! ioctl numbers in the generic encoding (`<uapi/asm-generic/ioctl.h>`, used by x86 and arm)
//! and a call that turns the C convention into a [`std::io::Result`].

use crate::sys::{
    self,
    c_int,
    c_ulong, //
};
use std::{
    io,
    os::fd::AsRawFd, //
};

/// `_IOC_NONE`: no argument.
pub const NONE: c_ulong = 0;
/// `_IOC_WRITE`: user space writes the argument (the kernel reads it).
pub const WRITE: c_ulong = 1;
/// `_IOC_READ`: user space reads the argument (the kernel writes it).
pub const READ: c_ulong = 2;

/// `_IOC(dir, magic, nr, size)`.
pub const fn ioc(dir: c_ulong, magic: u8, nr: u8, size: usize) -> c_ulong {
    assert!(dir <= 3 && size < 1 << 14, "out of the encoding's range");
    (dir << 30) | ((size as c_ulong) << 16) | ((magic as c_ulong) << 8) | nr as c_ulong
}

/// `_IOR(magic, nr, T)`.
pub const fn ior<T>(magic: u8, nr: u8) -> c_ulong {
    ioc(READ, magic, nr, size_of::<T>())
}

/// `_IOW(magic, nr, T)`.
pub const fn iow<T>(magic: u8, nr: u8) -> c_ulong {
    ioc(WRITE, magic, nr, size_of::<T>())
}

/// `_IOWR(magic, nr, T)`.
pub const fn iowr<T>(magic: u8, nr: u8) -> c_ulong {
    ioc(READ | WRITE, magic, nr, size_of::<T>())
}

/// `ioctl(fd, req, arg)`: returns what the call returned (not negative), or the errno.
///
/// # Safety
///
/// The kernel's handler of `req` on this file must access nothing but one `T` at `arg`
/// (and memory that `arg`'s pointers, if any, point to and that lives until the return).
pub unsafe fn call<T>(fd: &impl AsRawFd, req: c_ulong, arg: &mut T) -> io::Result<c_int> {
    // SAFETY: The caller guarantees what `req` does with the pointer.
    match unsafe { sys::ioctl(fd.as_raw_fd(), req, arg as *mut T) } {
        r if r < 0 => Err(io::Error::last_os_error()),
        r => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        // Values from <linux/rtc.h> and <linux/fs.h> as C compiles them.
        assert_eq!(ior::<[i32; 9]>(b'p', 0x09), 0x8024_7009);
        assert_eq!(iow::<[i32; 9]>(b'p', 0x0a), 0x4024_700a);
        assert_eq!(ior::<u32>(b'p', 0x13), 0x8004_7013);
        assert_eq!(iowr::<u64>(b'R', 0x71), 0xc008_5271);
        assert_eq!(ioc(NONE, 0x12, 0x5f, 0), 0x125f);
    }
}
