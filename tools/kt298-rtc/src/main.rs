// SPDX-License-Identifier: GPL-2.0

//! Guest tool for the RTC tests: what busybox cannot do with an RTC.
//!
//! ```text
//! kt298-rtc read DEV N   N RTC_RD_TIME ioctls; fails if the time ever goes
//!                        backwards or jumps further than the elapsed time
//!                        (a torn read); prints the counts and us per read
//! kt298-rtc steps DEV N  N RTC_RD_TIME ioctls on a clock that may run fast
//!                        (a test model ticking by reads); fails if a read is
//!                        before the one before it or more than one second
//!                        after it (a torn read); prints the counts
//! kt298-rtc vl DEV       prints the RTC_VL_READ flags (1 = data invalid)
//! ```
//!
//! Exits 0 on success, 1 on a failed check or ioctl (with the errno), 2 on
//! bad arguments.

use kt298_guest::{
    cli::{
        self,
        arg,
        Error, //
    },
    ioctl::{
        self,
        ior, //
    },
    sys::{
        c_int,
        c_uint,
        c_ulong, //
    },
    timing, //
};
use std::{fs::File, process::ExitCode, time::Instant};

/// `struct rtc_time` from `<uapi/linux/rtc.h>`.
#[repr(C)]
#[derive(Default, Clone, Copy, Debug)]
struct RtcTime {
    tm_sec: c_int,
    tm_min: c_int,
    tm_hour: c_int,
    tm_mday: c_int,
    tm_mon: c_int,
    tm_year: c_int,
    tm_wday: c_int,
    tm_yday: c_int,
    tm_isdst: c_int,
}

/// `RTC_RD_TIME` from `<uapi/linux/rtc.h>`: read the time.
const RTC_RD_TIME: c_ulong = ior::<RtcTime>(b'p', 0x09);
/// `RTC_VL_READ` from `<uapi/linux/rtc.h>`: read the voltage-low flags.
const RTC_VL_READ: c_ulong = ior::<c_uint>(b'p', 0x13);
const USAGE: &str = "usage: kt298-rtc read DEV N | kt298-rtc steps DEV N | kt298-rtc vl DEV";

/// Seconds since the epoch of a broken-down UTC time (days-from-civil).
fn to_secs(t: &RtcTime) -> i64 {
    let y = i64::from(t.tm_year) + 1900 - i64::from(t.tm_mon < 2);
    let m = i64::from(t.tm_mon) + 1;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(t.tm_mday) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + i64::from(t.tm_hour) * 3600 + i64::from(t.tm_min) * 60 + i64::from(t.tm_sec)
}

fn read_time(f: &File) -> std::io::Result<RtcTime> {
    let mut t = RtcTime::default();
    // SAFETY: RTC_RD_TIME writes one `struct rtc_time` to the pointer.
    unsafe { ioctl::call(f, RTC_RD_TIME, &mut t)? };
    Ok(t)
}

fn read_loop(dev: &str, n: u64) -> cli::Result {
    let f = File::open(dev).map_err(|e| format!("{dev}: {e}"))?;
    let start = Instant::now();
    let first = to_secs(&read_time(&f).map_err(|e| format!("RTC_RD_TIME: {e}"))?);
    let (mut prev, mut backwards, mut jumps) = (first, 0u64, 0u64);
    for i in 1..n {
        let t = read_time(&f).map_err(|e| format!("RTC_RD_TIME #{i}: {e}"))?;
        let s = to_secs(&t);
        if s < prev {
            backwards += 1;
            eprintln!("read {i}: {t:?} ({s}) is before {prev}");
        }
        // The clock may not advance faster than real time (plus one tick).
        let allowed = first + start.elapsed().as_secs() as i64 + 1;
        if s > allowed {
            jumps += 1;
            eprintln!("read {i}: {t:?} ({s}) is after {allowed}");
        }
        prev = s;
    }
    let us = timing::us_per(start.elapsed(), n);
    println!(
        "reads={n} backwards={backwards} jumps={jumps} us_per_read={us:.1} first={first} last={prev}"
    );
    if backwards + jumps > 0 {
        return Err(format!("{backwards} backwards, {jumps} jumps").into());
    }
    Ok(())
}

/// Counts the steps between consecutive times that no clock can make: backwards, or forward
/// by more than one second.
fn bad_steps(times: impl IntoIterator<Item = i64>) -> (u64, u64) {
    let (mut prev, mut backwards, mut leaps) = (None, 0u64, 0u64);
    for s in times {
        if let Some(p) = prev {
            if s < p {
                backwards += 1;
            } else if s > p + 1 {
                leaps += 1;
            }
        }
        prev = Some(s);
    }
    (backwards, leaps)
}

fn steps_loop(dev: &str, n: u64) -> cli::Result {
    let f = File::open(dev).map_err(|e| format!("{dev}: {e}"))?;
    let mut times = Vec::new();
    timing::repeat(n, "RTC_RD_TIME", |_| {
        times.push(to_secs(&read_time(&f)?));
        Ok::<_, std::io::Error>(())
    })?;
    let (backwards, leaps) = bad_steps(times.iter().copied());
    let (first, last) = (times.first().copied(), times.last().copied());
    println!(
        "reads={n} backwards={backwards} leaps={leaps} first={} last={}",
        first.unwrap_or(0),
        last.unwrap_or(0)
    );
    if backwards + leaps > 0 {
        return Err(format!("{backwards} backwards, {leaps} leaps").into());
    }
    Ok(())
}

fn vl_read(dev: &str) -> cli::Result {
    let f = File::open(dev).map_err(|e| format!("{dev}: {e}"))?;
    let mut flags: c_uint = 0;
    // SAFETY: RTC_VL_READ writes one `unsigned int` to the pointer.
    unsafe { ioctl::call(&f, RTC_VL_READ, &mut flags) }.map_err(|e| format!("RTC_VL_READ: {e}"))?;
    println!("{flags}");
    Ok(())
}

fn main() -> ExitCode {
    cli::main("kt298-rtc", USAGE, |args| match args {
        ["read", dev, n] => read_loop(dev, arg(n, "count")?),
        ["steps", dev, n] => steps_loop(dev, arg(n, "count")?),
        ["vl", dev] => vl_read(dev),
        _ => Err(Error::Usage(String::new())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32) -> RtcTime {
        RtcTime {
            tm_year: y - 1900,
            tm_mon: mo - 1,
            tm_mday: d,
            tm_hour: h,
            tm_min: mi,
            tm_sec: s,
            ..Default::default()
        }
    }

    #[test]
    fn epoch_conversions() {
        assert_eq!(to_secs(&tm(1970, 1, 1, 0, 0, 0)), 0);
        assert_eq!(to_secs(&tm(2000, 1, 1, 0, 0, 0)), 946684800);
        assert_eq!(to_secs(&tm(2031, 5, 6, 7, 8, 9)), 1935817689);
        assert_eq!(to_secs(&tm(2099, 12, 31, 23, 59, 59)), 4102444799);
        assert_eq!(to_secs(&tm(2024, 2, 29, 12, 0, 0)), 1709208000);
    }

    #[test]
    fn steps_a_clock_cannot_make() {
        assert_eq!(bad_steps([10, 10, 11, 11, 12]), (0, 0));
        // A read torn at a minute carry: 12:00:59 between 12:00:00 and 12:00:01.
        assert_eq!(bad_steps([100, 159, 101]), (1, 1));
        assert_eq!(bad_steps([5, 4]), (1, 0));
        assert_eq!(bad_steps([5, 7]), (0, 1));
        assert_eq!(bad_steps([]), (0, 0));
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(RTC_RD_TIME, 0x8024_7009);
        assert_eq!(RTC_VL_READ, 0x8004_7013);
    }
}
