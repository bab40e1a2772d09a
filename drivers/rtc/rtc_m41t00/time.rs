// SPDX-License-Identifier: GPL-2.0

//! Time coding: [`Time`] to and from the BCD time registers, with or without the century
//! bits. Nothing here touches the bus.

use super::regs::{
    Hour,
    Mday,
    Min,
    Month,
    Sec,
    TimeRegs,
    Wday,
    Year, //
};
use kernel::{
    bcd,
    num::Bounded,
    prelude::*,
    rtc::{
        self,
        Time, //
    },
};

/// Returns the range of times the chip can keep: 2000-2099, or 2000-2199 with the century bits.
pub(crate) const fn range(century: bool) -> (i64, i64) {
    if century {
        (rtc::TIMESTAMP_BEGIN_2000, rtc::TIMESTAMP_END_2199)
    } else {
        (rtc::TIMESTAMP_BEGIN_2000, rtc::TIMESTAMP_END_2099)
    }
}

/// Returns the value of the BCD field `field`, or [`EINVAL`] if it is not BCD.
fn from_bcd<const N: u32>(field: Bounded<u8, N>) -> Result<u32> {
    Ok(bcd::to_bin(field.get())?.into())
}

/// Returns `value` (0-99) in BCD, or [`EINVAL`] if it has more than two digits.
fn to_bcd(value: u32) -> Result<u8> {
    bcd::from_bin(u8::try_from(value).map_err(|_| EINVAL)?)
}

/// Decodes the time registers.
///
/// With `century`, a set CB while CEB is set means 2100-2199; without, both bits are ignored.
/// Returns [`EINVAL`] if the oscillator is stopped (ST) or a field is not a valid BCD date.
pub(crate) fn decode(regs: &TimeRegs, century: bool) -> Result<Time> {
    if regs.sec.st() {
        return Err(EINVAL);
    }
    let mut year = 2000 + from_bcd(regs.year.year())?;
    if century && regs.hour.ceb() && regs.hour.cb() {
        year += 100;
    }
    Time::new(
        year,
        from_bcd(regs.month.month())?,
        from_bcd(regs.mday.date())?,
        from_bcd(regs.hour.hours())?,
        from_bcd(regs.min.minutes())?,
        from_bcd(regs.sec.seconds())?,
    )
}

/// Encodes `time` for the time registers, with ST clear (a write restarts the oscillator).
///
/// With `century`, CEB is set and CB says 21xx; without, both are clear. Returns [`EINVAL`]
/// if `time` is outside [`range`].
pub(crate) fn encode(time: &Time, century: bool) -> Result<TimeRegs> {
    let secs = time.to_time64();
    let (min, max) = range(century);
    if secs < min || secs > max {
        return Err(EINVAL);
    }
    let year = time.year();
    // The `try_with_` setters cannot fail: a valid `Time` in range fits every field.
    Ok(TimeRegs {
        sec: Sec::zeroed()
            .with_st(false)
            .try_with_seconds(to_bcd(time.second())?)?,
        min: Min::zeroed().try_with_minutes(to_bcd(time.minute())?)?,
        hour: Hour::zeroed()
            .with_ceb(century)
            .with_cb(century && year >= 2100)
            .try_with_hours(to_bcd(time.hour())?)?,
        wday: Wday::zeroed().try_with_weekday(time.weekday() + 1)?,
        mday: Mday::zeroed().try_with_date(to_bcd(time.day())?)?,
        month: Month::zeroed().try_with_month(to_bcd(time.month())?)?,
        year: Year::zeroed().try_with_year(to_bcd(year % 100)?)?,
    })
}

#[kunit_tests(rtc_m41t00_time)]
mod tests {
    use super::*;

    const SECS_PER_DAY: i64 = 86400;

    fn regs_of(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, century: bool) -> Result<[u8; 7]> {
        Ok(encode(&Time::new(y, mo, d, h, mi, s)?, century)?.to_bytes())
    }

    fn decode_bytes(bytes: [u8; 7], century: bool) -> Result<Time> {
        decode(&TimeRegs::from_bytes(bytes), century)
    }

    #[test]
    fn known_encoding() -> Result {
        // Thursday 2005-02-24 12:34:56 (weekday register 1 = Sunday).
        assert_eq!(
            regs_of(2005, 2, 24, 12, 34, 56, false)?,
            [0x56, 0x34, 0x12, 5, 0x24, 0x02, 0x05]
        );
        // 2150 with the century bits: CEB and CB set above the hour.
        assert_eq!(
            regs_of(2150, 6, 1, 23, 0, 0, true)?,
            [0x00, 0x00, 0xe3, 2, 0x01, 0x06, 0x50]
        );
        // 2099 with the century bits: CEB alone.
        assert_eq!(
            regs_of(2099, 1, 1, 0, 0, 0, true)?,
            [0x00, 0x00, 0x80, 5, 0x01, 0x01, 0x99]
        );
        Ok(())
    }

    /// Encodes and decodes one time on every day of `range(century)`, and returns the number
    /// of days.
    fn round_trip_every_day(century: bool) -> Result<u32> {
        let (min, max) = range(century);
        let mut secs = min;
        let mut days = 0u32;
        while secs <= max {
            // Walk the time of day too, so that every hour, minute and second value occurs.
            // 32-bit arithmetic: 32-bit ARM has no 64-bit division in modules.
            let t = Time::from_time64(secs + i64::from((days * 3607) % 86400))?;
            let regs = encode(&t, century)?;
            assert_eq!(regs.hour.ceb(), century);
            assert_eq!(regs.hour.cb(), t.year() >= 2100);
            assert_eq!(decode(&regs, century)?, t);
            // Without the century bits, a reader with century support sees the same time:
            // CEB is clear.
            assert_eq!(decode(&regs, true)?, t);
            secs += SECS_PER_DAY;
            days += 1;
        }
        Ok(days)
    }

    #[test]
    fn every_day_round_trips_without_century() -> Result {
        assert_eq!(round_trip_every_day(false)?, 36525);
        Ok(())
    }

    #[test]
    fn every_day_round_trips_with_century() -> Result {
        assert_eq!(round_trip_every_day(true)?, 73049);
        Ok(())
    }

    #[test]
    fn every_second_of_a_day_round_trips() -> Result {
        let day = Time::new(2026, 11, 28, 0, 0, 0)?.to_time64();
        for s in 0..SECS_PER_DAY {
            let t = Time::from_time64(day + s)?;
            assert_eq!(decode(&encode(&t, false)?, false)?, t);
        }
        Ok(())
    }

    #[test]
    fn century_bits_ignored_when_disabled() -> Result {
        // 2150-06-01 23:00:00 with CEB and CB.
        let regs = [0x00, 0x00, 0xe3, 2, 0x01, 0x06, 0x50];
        assert_eq!(decode_bytes(regs, true)?, Time::new(2150, 6, 1, 23, 0, 0)?);
        assert_eq!(decode_bytes(regs, false)?, Time::new(2050, 6, 1, 23, 0, 0)?);
        // CB without CEB means nothing, even with century support.
        let regs = [0x00, 0x00, 0x63, 2, 0x01, 0x06, 0x50];
        assert_eq!(decode_bytes(regs, true)?, Time::new(2050, 6, 1, 23, 0, 0)?);
        Ok(())
    }

    #[test]
    fn out_of_range_refused() -> Result {
        assert_eq!(regs_of(2100, 1, 1, 0, 0, 0, false).err(), Some(EINVAL));
        assert_eq!(regs_of(1999, 12, 31, 23, 59, 59, false).err(), Some(EINVAL));
        assert_eq!(regs_of(2200, 1, 1, 0, 0, 0, true).err(), Some(EINVAL));
        assert!(regs_of(2199, 12, 31, 23, 59, 59, true).is_ok());
        Ok(())
    }

    #[test]
    fn stopped_or_corrupt_registers_refused() -> Result {
        // 2026-11-28 17:50:35, a Saturday.
        let good = [0x35, 0x50, 0x17, 7, 0x28, 0x11, 0x26];
        assert_eq!(regs_of(2026, 11, 28, 17, 50, 35, false)?, good);
        let want = Time::new(2026, 11, 28, 17, 50, 35)?;
        assert_eq!(decode_bytes(good, false)?, want);
        // ST set.
        let stopped = [0xb5, 0x50, 0x17, 7, 0x28, 0x11, 0x26];
        assert_eq!(decode_bytes(stopped, false).err(), Some(EINVAL));
        assert_eq!(decode_bytes(stopped, true).err(), Some(EINVAL));
        // Bits outside the fields (other than ST) are ignored.
        let noisy = [0x35, 0xd0, 0x17, 0xff, 0xe8, 0xf1, 0x26];
        assert_eq!(decode_bytes(noisy, false)?, want);
        for bad in [
            [0x5a, 0x50, 0x17, 7, 0x28, 0x11, 0x26],
            [0x35, 0x60, 0x17, 7, 0x28, 0x11, 0x26],
            [0x35, 0x50, 0x24, 7, 0x28, 0x11, 0x26],
            [0x35, 0x50, 0x17, 7, 0x00, 0x11, 0x26],
            [0x35, 0x50, 0x17, 7, 0x31, 0x11, 0x26],
            [0x35, 0x50, 0x17, 7, 0x28, 0x00, 0x26],
            [0x35, 0x50, 0x17, 7, 0x28, 0x13, 0x26],
            [0x35, 0x50, 0x17, 7, 0x28, 0x11, 0xa0],
        ] {
            assert_eq!(decode_bytes(bad, false).err(), Some(EINVAL));
        }
        Ok(())
    }
}
