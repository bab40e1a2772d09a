// SPDX-License-Identifier: GPL-2.0

//! Consistent reads of the time registers: the retry loops, over a caller's read function.
//! Nothing here touches the bus.

use super::regs::{
    Sec,
    TimeRegs, //
};
use kernel::prelude::*;

/// Reads of the time registers tried by [`read_consistent`] and [`read_checked`] before they
/// give up.
pub(crate) const MAX_READS: u32 = 10;

/// Reads the time registers with `read` until two consecutive reads agree.
///
/// The chip does not freeze its registers during a read, so one bulk read can
/// tear across a carry (for example 10:59:59 read as 10:00:59). Two identical
/// consecutive reads cannot both be torn. Normally this takes two reads; a
/// carry between them costs a third. Returns the registers and the number of
/// reads, [`EIO`] if [`MAX_READS`] reads never agreed, or the first error of
/// `read`.
pub(crate) fn read_consistent(
    mut read: impl FnMut() -> Result<TimeRegs>,
) -> Result<(TimeRegs, u32)> {
    let mut prev = read()?;
    for n in 2..=MAX_READS {
        let cur = read()?;
        if cur == prev {
            return Ok((cur, n));
        }
        prev = cur;
    }
    Err(EIO)
}

/// Reads the time registers with `read` until a read is known not to be torn.
///
/// Each call of `read` returns the seven time registers and then, read in the
/// same bus transfer, the seconds register once more. The clock's registers
/// only change on a seconds tick, which always changes the seconds register, so
/// if both reads of the seconds register agree, no tick happened while the
/// other registers were read. That is the guarantee of [`read_consistent`] for
/// one transfer instead of two. Returns the registers and the number of reads,
/// [`EIO`] after [`MAX_READS`] reads that all saw a tick, or the first error of
/// `read`.
pub(crate) fn read_checked(
    mut read: impl FnMut() -> Result<(TimeRegs, Sec)>,
) -> Result<(TimeRegs, u32)> {
    for n in 1..=MAX_READS {
        let (regs, sec) = read()?;
        if regs.sec == sec {
            return Ok((regs, n));
        }
    }
    Err(EIO)
}

#[kunit_tests(rtc_m41t00_read)]
mod tests {
    use super::*;
    use crate::time::{
        decode,
        encode, //
    };
    use kernel::rtc::Time;

    fn regs_of(
        y: u32,
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        century: bool,
    ) -> Result<TimeRegs> {
        encode(&Time::new(y, mo, d, h, mi, s)?, century)
    }

    /// Returns `regs` with the seconds register of `from`, as a read torn by a tick after
    /// the seconds register and before the others returns them.
    fn torn(from: TimeRegs, regs: TimeRegs) -> TimeRegs {
        TimeRegs {
            sec: from.sec,
            ..regs
        }
    }

    /// Returns a reader that plays `script` and counts the reads.
    fn scripted<'a, T: Copy>(
        script: &'a [Result<T>],
        reads: &'a mut usize,
    ) -> impl FnMut() -> Result<T> + 'a {
        move || {
            let r = script.get(*reads).ok_or(EPIPE)?;
            *reads += 1;
            *r
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
        for script in [
            [Ok(before), Ok(after), Ok(after)],
            [Ok(torn(before, after)), Ok(after), Ok(after)],
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

    #[test]
    fn checked_read_takes_one_transfer() -> Result {
        let a = regs_of(2026, 11, 28, 17, 50, 35, false)?;
        let script = [Ok((a, a.sec))];
        let mut n = 0;
        assert_eq!(read_checked(scripted(&script, &mut n))?, (a, 1));
        Ok(())
    }

    #[test]
    fn checked_read_retries_after_a_tick() -> Result {
        // Torn across the year wrap: seconds 59, the rest already 2100; the second seconds
        // read shows the tick, so the read is retried.
        let before = regs_of(2099, 12, 31, 23, 59, 59, true)?;
        let after = regs_of(2100, 1, 1, 0, 0, 0, true)?;
        let script = [Ok((torn(before, after), after.sec)), Ok((after, after.sec))];
        let mut n = 0;
        let (regs, reads) = read_checked(scripted(&script, &mut n))?;
        assert_eq!(reads, 2);
        assert_eq!(decode(&regs, true)?, Time::new(2100, 1, 1, 0, 0, 0)?);
        // ST counts as part of the seconds register: a stop between the reads is a change.
        let a = regs_of(2026, 1, 1, 0, 0, 0, false)?;
        let script = [Ok((a, Sec::from(0x80))), Ok((a, Sec::from(0x00)))];
        let mut n = 0;
        assert_eq!(read_checked(scripted(&script, &mut n))?, (a, 2));
        Ok(())
    }

    #[test]
    fn checked_read_gives_up_with_eio() -> Result {
        let a = regs_of(2026, 1, 1, 0, 0, 0, false)?;
        let mut script = KVec::new();
        for _ in 0..MAX_READS + 2 {
            script.push(Ok((a, Sec::from(0x01))), GFP_KERNEL)?;
        }
        let mut n = 0;
        assert_eq!(read_checked(scripted(&script, &mut n)).err(), Some(EIO));
        assert_eq!(n, MAX_READS as usize);
        let script = [Err(ETIMEDOUT)];
        let mut n = 0;
        assert_eq!(
            read_checked(scripted::<(TimeRegs, Sec)>(&script, &mut n)).err(),
            Some(ETIMEDOUT)
        );
        Ok(())
    }
}
