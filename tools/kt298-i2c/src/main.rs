// SPDX-License-Identifier: GPL-2.0

//! Guest tool for the I2C benchmarks: transfers timed inside one process, so that process
//! start-up (what one `i2ctransfer` per transfer would mostly measure) stays out.
//!
//! ```text
//! kt298-i2c xfer BUS ADDR N LEN   N I2C_RDWR ioctls on /dev/i2c-BUS, each one transfer of
//!                                 a 1-byte write (register or offset 0) and a LEN-byte
//!                                 read from ADDR (decimal or 0x hex); prints the count,
//!                                 the reads whose data differed from the read before, and
//!                                 us per transfer (CLOCK_MONOTONIC)
//! ```
//!
//! Exits 0 on success, 1 on a failed ioctl (with the errno, after which nothing is
//! printed on stdout), 2 on bad arguments.

use kt298_guest::{
    cli::{
        self,
        parse_num,
        Error, //
    },
    ioctl,
    sys::c_ulong,
    timing, //
};
use std::{
    fs::File,
    process::ExitCode, //
};

/// `struct i2c_msg` from `<uapi/linux/i2c.h>`.
#[repr(C)]
struct Msg {
    addr: u16,
    flags: u16,
    len: u16,
    buf: *mut u8,
}

/// `struct i2c_rdwr_ioctl_data` from `<uapi/linux/i2c-dev.h>`.
#[repr(C)]
struct RdwrData {
    msgs: *mut Msg,
    nmsgs: u32,
}

/// `I2C_RDWR` from `<uapi/linux/i2c-dev.h>`: a combined transfer, one START per message.
/// (An old number, outside the `_IOC` encoding.)
const I2C_RDWR: c_ulong = 0x0707;
/// `I2C_M_RD`: the message is a read.
const I2C_M_RD: u16 = 0x0001;
/// The largest read one message of this tool asks for (an AT24 page set, a 256-byte EEPROM).
const MAX_LEN: u16 = 4096;
const USAGE: &str = "usage: kt298-i2c xfer BUS ADDR N LEN";

/// One transfer: write `reg`, then read `buf.len()` bytes, with a repeated START between.
fn write_read(f: &File, addr: u16, reg: u8, buf: &mut [u8]) -> std::io::Result<()> {
    let mut w = [reg];
    let mut msgs = [
        Msg {
            addr,
            flags: 0,
            len: 1,
            buf: w.as_mut_ptr(),
        },
        Msg {
            addr,
            flags: I2C_M_RD,
            // The caller bounds the length by `MAX_LEN`.
            len: buf.len() as u16,
            buf: buf.as_mut_ptr(),
        },
    ];
    let mut data = RdwrData {
        msgs: msgs.as_mut_ptr(),
        nmsgs: msgs.len() as u32,
    };
    // SAFETY: I2C_RDWR reads `data` and its two messages, and writes at most `len` bytes to
    // each read message's buffer; all of them live until the call returns.
    let r = unsafe { ioctl::call(f, I2C_RDWR, &mut data)? };
    // The I2C core returns the number of messages it transferred.
    if r != 2 {
        return Err(std::io::Error::other(format!("{r} of 2 messages")));
    }
    Ok(())
}

fn xfer_loop(bus: &str, addr: &str, n: &str, len: &str) -> cli::Result {
    let addr = parse_num(addr)
        .filter(|a| *a <= 0x7f)
        .ok_or(Error::Usage(format!("bad 7-bit address '{addr}'")))? as u16;
    let n = parse_num(n)
        .filter(|n| *n > 0)
        .ok_or(Error::Usage(format!("bad count '{n}'")))?;
    let len = parse_num(len)
        .filter(|l| (1..=u64::from(MAX_LEN)).contains(l))
        .ok_or(Error::Usage(format!("bad length '{len}' (1 to {MAX_LEN})")))?
        as usize;
    let dev = format!("/dev/i2c-{bus}");
    let f = File::options()
        .read(true)
        .write(true)
        .open(&dev)
        .map_err(|e| format!("{dev}: {e}"))?;
    let (mut prev, mut buf) = (vec![0u8; len], vec![0u8; len]);
    let mut changed = 0u64;
    let t = timing::repeat(n, "I2C_RDWR", |i| {
        write_read(&f, addr, 0, &mut buf)?;
        if i > 0 && buf != prev {
            changed += 1;
        }
        std::mem::swap(&mut prev, &mut buf);
        Ok::<_, std::io::Error>(())
    })?;
    let us = timing::us_per(t, n);
    println!("xfers={n} len=1+{len} changed={changed} us_per_xfer={us:.1}");
    Ok(())
}

fn main() -> ExitCode {
    cli::main("kt298-i2c", USAGE, |args| match args {
        ["xfer", bus, addr, n, len] => xfer_loop(bus, addr, n, len),
        _ => Err(Error::Usage(String::new())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_fail_before_any_transfer() {
        for args in [
            ["0", "0x80", "1", "1"],
            ["0", "0x50", "0", "1"],
            ["0", "0x50", "1", "0"],
            ["0", "0x50", "1", "4097"],
        ] {
            let [bus, addr, n, len] = args;
            assert!(matches!(xfer_loop(bus, addr, n, len), Err(Error::Usage(_))));
        }
    }

    #[test]
    fn uapi_layout() {
        // `struct i2c_msg` is three u16 then a pointer; `struct i2c_rdwr_ioctl_data` a
        // pointer then a u32.
        let p = std::mem::size_of::<*mut u8>();
        assert_eq!(std::mem::offset_of!(Msg, buf), 8);
        assert_eq!(std::mem::size_of::<Msg>(), 8 + p);
        assert_eq!(std::mem::offset_of!(RdwrData, nmsgs), p);
    }
}
