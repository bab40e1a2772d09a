// SPDX-License-Identifier: GPL-2.0

//! The M41T00 register map and the pure logic on it: time coding, the
//! consistent-read loop and calibration maths. Nothing here touches the bus.

use kernel::{
    bcd,
    prelude::*,
    rtc::{
        self,
        Time, //
    },
};

/// Number of time registers (0-6), read and written as one block.
pub(crate) const TIME_REGS: usize = 7;

/// Register 0: seconds, BCD in bits 6:0.
pub(crate) const REG_SEC: usize = 0;
/// Register 1: minutes, BCD in bits 6:0.
pub(crate) const REG_MIN: usize = 1;
/// Register 2: hours, BCD in bits 5:0, century bits above.
pub(crate) const REG_HOUR: usize = 2;
/// Register 3: day of the week, 1-7 in bits 2:0.
#[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
pub(crate) const REG_WDAY: usize = 3;
/// Register 4: day of the month, BCD in bits 5:0.
pub(crate) const REG_MDAY: usize = 4;
/// Register 5: month, BCD in bits 4:0.
pub(crate) const REG_MONTH: usize = 5;
/// Register 6: year in the century, BCD.
pub(crate) const REG_YEAR: usize = 6;
/// Register 7: control (OUT, FT, calibration sign and magnitude).
pub(crate) const REG_CTRL: u8 = 7;

/// Seconds register bit 7: the oscillator is stopped (ST).
pub(crate) const SEC_ST: u8 = 1 << 7;
/// Hours register bit 7: century enable (CEB); CB toggles when the year wraps.
pub(crate) const HOUR_CEB: u8 = 1 << 7;
/// Hours register bit 6: century bit (CB); set means 21xx while CEB is set.
pub(crate) const HOUR_CB: u8 = 1 << 6;

/// Control register bit 7: output level of the FT/OUT pin (OUT).
pub(crate) const CTRL_OUT: u8 = 1 << 7;
/// Control register bit 6: frequency test, 512 Hz on the FT/OUT pin (FT).
pub(crate) const CTRL_FT: u8 = 1 << 6;
/// Control register bit 5: calibration sign, set to speed the clock up (S).
pub(crate) const CTRL_CALIB_SIGN: u8 = 1 << 5;
/// Control register bits 4:0: calibration magnitude.
pub(crate) const CTRL_CALIB: u8 = 0x1f;

/// One negative calibration step slows the clock by 2.034 ppm.
pub(crate) const NEG_STEP_PPB: i64 = 2034;
/// One positive calibration step speeds the clock up by 4.068 ppm.
pub(crate) const POS_STEP_PPB: i64 = 4068;
/// Largest slowing offset, in ppb.
pub(crate) const MIN_OFFSET: i64 = -(CTRL_CALIB as i64) * NEG_STEP_PPB;
/// Largest speeding offset, in ppb.
pub(crate) const MAX_OFFSET: i64 = CTRL_CALIB as i64 * POS_STEP_PPB;

/// Bulk reads tried by [`read_consistent`] before it gives up.
pub(crate) const MAX_READS: u32 = 10;

/// Returns the range of times the chip can keep: 2000-2099, or 2000-2199 with the century bits.
pub(crate) const fn range(century: bool) -> (i64, i64) {
    if century {
        (rtc::TIMESTAMP_BEGIN_2000, rtc::TIMESTAMP_END_2199)
    } else {
        (rtc::TIMESTAMP_BEGIN_2000, rtc::TIMESTAMP_END_2099)
    }
}

/// Decodes the time registers.
///
/// With `century`, a set CB while CEB is set means 2100-2199; without, both bits are ignored.
/// Returns [`EINVAL`] if the oscillator is stopped (ST) or a field is not a valid BCD date.
pub(crate) fn decode(regs: &[u8; TIME_REGS], century: bool) -> Result<Time> {
    if regs[REG_SEC] & SEC_ST != 0 {
        return Err(EINVAL);
    }
    let hour_reg = regs[REG_HOUR];
    let mut year = 2000 + u32::from(bcd::to_bin(regs[REG_YEAR])?);
    if century && hour_reg & HOUR_CEB != 0 && hour_reg & HOUR_CB != 0 {
        year += 100;
    }
    Time::new(
        year,
        bcd::to_bin(regs[REG_MONTH] & 0x1f)?.into(),
        bcd::to_bin(regs[REG_MDAY] & 0x3f)?.into(),
        bcd::to_bin(hour_reg & 0x3f)?.into(),
        bcd::to_bin(regs[REG_MIN] & 0x7f)?.into(),
        bcd::to_bin(regs[REG_SEC] & 0x7f)?.into(),
    )
}

/// Encodes `time` for the time registers, with ST clear (a write restarts the oscillator).
///
/// With `century`, CEB is set and CB says 21xx; without, both are clear. Returns [`EINVAL`]
/// if `time` is outside [`range`].
pub(crate) fn encode(time: &Time, century: bool) -> Result<[u8; TIME_REGS]> {
    let secs = time.to_time64();
    let (min, max) = range(century);
    if secs < min || secs > max {
        return Err(EINVAL);
    }
    let byte = |v: u32| u8::try_from(v).map_err(|_| EINVAL);
    let year = time.year();
    let mut hour = bcd::from_bin(byte(time.hour())?)?;
    if century {
        hour |= HOUR_CEB;
        if year >= 2100 {
            hour |= HOUR_CB;
        }
    }
    Ok([
        bcd::from_bin(byte(time.second())?)?,
        bcd::from_bin(byte(time.minute())?)?,
        hour,
        byte(time.weekday() + 1)?,
        bcd::from_bin(byte(time.day())?)?,
        bcd::from_bin(byte(time.month())?)?,
        bcd::from_bin(byte(year % 100)?)?,
    ])
}

/// Reads the time registers with `read` until two consecutive reads agree.
///
/// The chip does not freeze its registers during a read, so one bulk read can
/// tear across a carry (for example 10:59:59 read as 10:00:59). Two identical
/// consecutive reads cannot both be torn. Normally this takes two reads; a
/// carry between them costs a third. Returns the registers and the number of
/// reads, [`EIO`] if [`MAX_READS`] reads never agreed, or the first error of
/// `read`.
pub(crate) fn read_consistent(
    mut read: impl FnMut(&mut [u8; TIME_REGS]) -> Result,
) -> Result<([u8; TIME_REGS], u32)> {
    let mut prev = [0u8; TIME_REGS];
    read(&mut prev)?;
    for n in 2..=MAX_READS {
        let mut cur = [0u8; TIME_REGS];
        read(&mut cur)?;
        if cur == prev {
            return Ok((cur, n));
        }
        prev = cur;
    }
    Err(EIO)
}

/// Reads the time registers with `read` until a read is known not to be torn.
///
/// Each call of `read` fills the seven time registers and then, in the same
/// bus transfer, the seconds register once more. The clock's registers only
/// change on a seconds tick, which always changes the seconds register, so if
/// both reads of the seconds register agree, no tick happened while the other
/// registers were read. That is the guarantee of [`read_consistent`] for one
/// transfer instead of two. Returns the registers and the number of reads,
/// [`EIO`] after [`MAX_READS`] reads that all saw a tick, or the first error
/// of `read`.
pub(crate) fn read_checked(
    mut read: impl FnMut(&mut [u8; TIME_REGS + 1]) -> Result,
) -> Result<([u8; TIME_REGS], u32)> {
    for n in 1..=MAX_READS {
        let mut buf = [0u8; TIME_REGS + 1];
        read(&mut buf)?;
        if buf[TIME_REGS] == buf[REG_SEC] {
            let mut regs = [0u8; TIME_REGS];
            regs.copy_from_slice(&buf[..TIME_REGS]);
            return Ok((regs, n));
        }
    }
    Err(EIO)
}

/// Returns the calibration offset in ppb set by the control register `ctrl`.
pub(crate) fn offset_from_ctrl(ctrl: u8) -> i64 {
    let steps = i64::from(ctrl & CTRL_CALIB);
    if ctrl & CTRL_CALIB_SIGN != 0 {
        steps * POS_STEP_PPB
    } else {
        -steps * NEG_STEP_PPB
    }
}

/// Returns the control register bits (sign and magnitude, bits 5:0) for the nearest
/// calibration to `offset` ppb.
///
/// Returns [`ERANGE`] if `offset` is outside [`MIN_OFFSET`]..=[`MAX_OFFSET`].
pub(crate) fn ctrl_from_offset(offset: i64) -> Result<u8> {
    if !(MIN_OFFSET..=MAX_OFFSET).contains(&offset) {
        return Err(ERANGE);
    }
    // Round to the nearest step like the C `DIV_ROUND_CLOSEST()`.
    let (steps, sign) = if offset >= 0 {
        ((offset + POS_STEP_PPB / 2) / POS_STEP_PPB, CTRL_CALIB_SIGN)
    } else {
        ((-offset + NEG_STEP_PPB / 2) / NEG_STEP_PPB, 0)
    };
    // CAST: `steps` is at most 31 because `offset` is in range.
    Ok(sign | steps as u8)
}

#[kunit_tests(rtc_m41t00_regs)]
mod tests {
    use super::*;

    const SECS_PER_DAY: i64 = 86400;

    fn regs_of(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, century: bool) -> Result<[u8; 7]> {
        encode(&Time::new(y, mo, d, h, mi, s)?, century)
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
            [0x00, 0x00, 0x23 | HOUR_CEB | HOUR_CB, 2, 0x01, 0x06, 0x50]
        );
        assert_eq!(regs_of(2099, 1, 1, 0, 0, 0, true)?[REG_HOUR], HOUR_CEB);
        Ok(())
    }

    #[test]
    fn every_day_round_trips_without_century() -> Result {
        let (min, max) = range(false);
        let mut secs = min;
        let mut days = 0u32;
        while secs <= max {
            // Walk the time of day too, so that every hour, minute and second value occurs.
            // 32-bit arithmetic: 32-bit ARM has no 64-bit division in modules.
            let t = Time::from_time64(secs + i64::from((days * 3607) % 86400))?;
            let regs = encode(&t, false)?;
            assert_eq!(regs[REG_HOUR] & (HOUR_CEB | HOUR_CB), 0);
            assert_eq!(decode(&regs, false)?, t);
            // A reader with century support sees the same time: CEB is clear.
            assert_eq!(decode(&regs, true)?, t);
            secs += SECS_PER_DAY;
            days += 1;
        }
        assert_eq!(days, 36525);
        Ok(())
    }

    #[test]
    fn every_day_round_trips_with_century() -> Result {
        let (min, max) = range(true);
        let mut secs = min;
        let mut days = 0u32;
        while secs <= max {
            // 32-bit arithmetic: 32-bit ARM has no 64-bit division in modules.
            let t = Time::from_time64(secs + i64::from((days * 3607) % 86400))?;
            let regs = encode(&t, true)?;
            assert_eq!(regs[REG_HOUR] & HOUR_CEB, HOUR_CEB);
            assert_eq!((regs[REG_HOUR] & HOUR_CB != 0), (t.year() >= 2100));
            assert_eq!(decode(&regs, true)?, t);
            secs += SECS_PER_DAY;
            days += 1;
        }
        assert_eq!(days, 73049);
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
        let mut regs = regs_of(2150, 6, 1, 23, 0, 0, true)?;
        assert_eq!(decode(&regs, false)?, Time::new(2050, 6, 1, 23, 0, 0)?);
        // CB without CEB means nothing, even with century support.
        regs[REG_HOUR] &= !HOUR_CEB;
        assert_eq!(decode(&regs, true)?, Time::new(2050, 6, 1, 23, 0, 0)?);
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
        let good = regs_of(2026, 11, 28, 17, 50, 35, false)?;
        let mut r = good;
        r[REG_SEC] |= SEC_ST;
        assert_eq!(decode(&r, false).err(), Some(EINVAL));
        // Bits outside the masks (other than ST) are ignored.
        let mut r = good;
        r[REG_MIN] |= 0x80;
        r[REG_WDAY] |= 0xf8;
        assert_eq!(decode(&r, false)?, decode(&good, false)?);
        for (reg, val) in [
            (REG_SEC, 0x5a),
            (REG_MIN, 0x60),
            (REG_HOUR, 0x24),
            (REG_MDAY, 0x00),
            (REG_MDAY, 0x31),
            (REG_MONTH, 0x00),
            (REG_MONTH, 0x13),
            (REG_YEAR, 0xa0),
        ] {
            let mut r = good;
            r[reg] = val;
            assert_eq!(decode(&r, false).err(), Some(EINVAL));
        }
        Ok(())
    }

    /// Returns a reader that plays `script` and counts the reads.
    fn scripted<'a>(
        script: &'a [Result<[u8; 7]>],
        reads: &'a mut usize,
    ) -> impl FnMut(&mut [u8; 7]) -> Result + 'a {
        move |buf| {
            let r = script.get(*reads).ok_or(EPIPE)?;
            *reads += 1;
            *buf = (*r)?;
            Ok(())
        }
    }

    #[test]
    fn consistent_read_takes_two_reads() -> Result {
        let a = regs_of(2026, 11, 28, 17, 50, 35, false)?;
        let script = [Ok(a), Ok(a)];
        let mut n = 0;
        assert_eq!(read_consistent(scripted(&script, &mut n))?, (a, 2));
        assert_eq!(n, 2);
        Ok(())
    }

    #[test]
    fn rollovers_cost_one_more_read() -> Result {
        // A torn read across the year wrap, then two good reads.
        let before = regs_of(2099, 12, 31, 23, 59, 59, true)?;
        let after = regs_of(2100, 1, 1, 0, 0, 0, true)?;
        let mut torn = after;
        torn[REG_SEC] = before[REG_SEC];
        for script in [
            [Ok(before), Ok(after), Ok(after)],
            [Ok(torn), Ok(after), Ok(after)],
        ] {
            let mut n = 0;
            let (regs, reads) = read_consistent(scripted(&script, &mut n))?;
            assert_eq!(reads, 3);
            assert_eq!(decode(&regs, true)?, Time::new(2100, 1, 1, 0, 0, 0)?);
        }
        // Minute, hour and day carries.
        for (x, y) in [
            ((2026, 1, 1, 10, 0, 59), (2026, 1, 1, 10, 1, 0)),
            ((2026, 1, 1, 10, 59, 59), (2026, 1, 1, 11, 0, 0)),
            ((2024, 2, 28, 23, 59, 59), (2024, 2, 29, 0, 0, 0)),
        ] {
            let a = regs_of(x.0, x.1, x.2, x.3, x.4, x.5, false)?;
            let b = regs_of(y.0, y.1, y.2, y.3, y.4, y.5, false)?;
            let script = [Ok(a), Ok(b), Ok(b)];
            let mut n = 0;
            let (regs, reads) = read_consistent(scripted(&script, &mut n))?;
            assert_eq!((regs, reads), (b, 3));
            // The result never goes backwards from the first read.
            assert!(decode(&regs, false)?.to_time64() >= decode(&a, false)?.to_time64());
        }
        Ok(())
    }

    #[test]
    fn persistent_disagreement_fails_with_eio() -> Result {
        let mut script = KVec::new();
        for s in 0..MAX_READS + 5 {
            script.push(Ok(regs_of(2026, 1, 1, 0, 0, s, false)?), GFP_KERNEL)?;
        }
        let mut n = 0;
        assert_eq!(read_consistent(scripted(&script, &mut n)).err(), Some(EIO));
        assert_eq!(n, MAX_READS as usize);
        Ok(())
    }

    #[test]
    fn bus_errors_stop_the_loop() -> Result {
        let a = regs_of(2026, 1, 1, 0, 0, 0, false)?;
        let script = [Ok(a), Err(ENXIO), Ok(a)];
        let mut n = 0;
        assert_eq!(
            read_consistent(scripted(&script, &mut n)).err(),
            Some(ENXIO)
        );
        assert_eq!(n, 2);
        Ok(())
    }

    /// Returns `regs` followed by `sec`, as one checked read returns them.
    fn checked(regs: [u8; 7], sec: u8) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..7].copy_from_slice(&regs);
        b[7] = sec;
        b
    }

    /// Returns a checked reader that plays `script` and counts the reads.
    fn scripted8<'a>(
        script: &'a [Result<[u8; 8]>],
        reads: &'a mut usize,
    ) -> impl FnMut(&mut [u8; 8]) -> Result + 'a {
        move |buf| {
            let r = script.get(*reads).ok_or(EPIPE)?;
            *reads += 1;
            *buf = (*r)?;
            Ok(())
        }
    }

    #[test]
    fn checked_read_takes_one_transfer() -> Result {
        let a = regs_of(2026, 11, 28, 17, 50, 35, false)?;
        let script = [Ok(checked(a, a[REG_SEC]))];
        let mut n = 0;
        assert_eq!(read_checked(scripted8(&script, &mut n))?, (a, 1));
        Ok(())
    }

    #[test]
    fn checked_read_retries_after_a_tick() -> Result {
        // Torn across the year wrap: seconds 59, the rest already 2100; the second seconds
        // read shows the tick, so the read is retried.
        let before = regs_of(2099, 12, 31, 23, 59, 59, true)?;
        let after = regs_of(2100, 1, 1, 0, 0, 0, true)?;
        let mut torn = after;
        torn[REG_SEC] = before[REG_SEC];
        let script = [
            Ok(checked(torn, after[REG_SEC])),
            Ok(checked(after, after[REG_SEC])),
        ];
        let mut n = 0;
        let (regs, reads) = read_checked(scripted8(&script, &mut n))?;
        assert_eq!(reads, 2);
        assert_eq!(decode(&regs, true)?, Time::new(2100, 1, 1, 0, 0, 0)?);
        // ST counts as part of the seconds register: a stop between the reads is a change.
        let a = regs_of(2026, 1, 1, 0, 0, 0, false)?;
        let script = [Ok(checked(a, SEC_ST)), Ok(checked(a, 0))];
        let mut n = 0;
        assert_eq!(read_checked(scripted8(&script, &mut n))?, (a, 2));
        Ok(())
    }

    #[test]
    fn checked_read_gives_up_with_eio() -> Result {
        let a = regs_of(2026, 1, 1, 0, 0, 0, false)?;
        let mut script = KVec::new();
        for _ in 0..MAX_READS + 2 {
            script.push(Ok(checked(a, 0x01)), GFP_KERNEL)?;
        }
        let mut n = 0;
        assert_eq!(read_checked(scripted8(&script, &mut n)).err(), Some(EIO));
        assert_eq!(n, MAX_READS as usize);
        let script = [Err(ETIMEDOUT)];
        let mut n = 0;
        assert_eq!(
            read_checked(scripted8(&script, &mut n)).err(),
            Some(ETIMEDOUT)
        );
        Ok(())
    }

    #[test]
    fn offset_maths() -> Result {
        assert_eq!(offset_from_ctrl(0), 0);
        assert_eq!(offset_from_ctrl(CTRL_CALIB_SIGN | 1), 4068);
        assert_eq!(offset_from_ctrl(1), -2034);
        assert_eq!(offset_from_ctrl(CTRL_CALIB), MIN_OFFSET);
        assert_eq!(offset_from_ctrl(CTRL_CALIB_SIGN | CTRL_CALIB), MAX_OFFSET);
        // FT and OUT do not change the offset.
        assert_eq!(offset_from_ctrl(CTRL_OUT | CTRL_FT | 3), -6102);
        // Every setting but "-0" survives a round trip.
        for ctrl in 0..=0x3fu8 {
            let back = ctrl_from_offset(offset_from_ctrl(ctrl))?;
            if ctrl == 0 {
                assert_eq!(back, CTRL_CALIB_SIGN);
            } else {
                assert_eq!(back, ctrl);
            }
        }
        // Nearest step, halves away from zero like DIV_ROUND_CLOSEST().
        assert_eq!(ctrl_from_offset(2033)?, CTRL_CALIB_SIGN);
        assert_eq!(ctrl_from_offset(2034)?, CTRL_CALIB_SIGN | 1);
        assert_eq!(ctrl_from_offset(-1016)?, 0);
        assert_eq!(ctrl_from_offset(-1017)?, 1);
        assert_eq!(ctrl_from_offset(MAX_OFFSET + 1).err(), Some(ERANGE));
        assert_eq!(ctrl_from_offset(MIN_OFFSET - 1).err(), Some(ERANGE));
        Ok(())
    }
}
