// SPDX-License-Identifier: GPL-2.0

//! The M41T00 register map: where each register is and what its bits mean, from the
//! datasheet.
//!
//! The chip has eight byte-wide registers behind an auto-incrementing register pointer:
//! seven BCD time registers (0-6) and a control register (7). They are reached over I2C,
//! not memory-mapped, so each one is a [`bitfield!`](kernel::bitfield!) type over its byte
//! with its address in [`Register::ADDR`]; the bus code in `bus.rs` moves them. BCD coding
//! is in `time.rs`; calibration maths is here, on [`Ctrl`], with the field it reads.

use kernel::prelude::*;

/// The address of a register in the chip: the value its register pointer is set to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reg(u8);

impl Reg {
    /// Returns the byte that sets the chip's register pointer to this register.
    pub(crate) const fn addr(self) -> u8 {
        self.0
    }
}

/// A register of the chip: its layout over one byte, and its address.
pub(crate) trait Register: Copy + From<u8> + Into<u8> {
    /// Where the register is.
    const ADDR: Reg;
}

/// Defines the registers of the chip as byte-wide [`bitfield!`](kernel::bitfield!) types
/// that also implement [`Register`], in the shape of `kernel::io::register!`.
macro_rules! registers {
    ($($(#[$attr:meta])* $name:ident @ $addr:literal { $($fields:tt)* })*) => {
        $(
        kernel::bitfield! {
            $(#[$attr])*
            pub(crate) struct $name(u8) { $($fields)* }
        }

        impl Register for $name {
            const ADDR: Reg = Reg($addr);
        }
        )*
    };
}

registers! {
    /// Seconds, and the oscillator stop bit.
    Sec @ 0 {
        /// Oscillator stopped (ST): the clock does not run; writing it clear restarts it.
        7:7 st => bool;
        /// Seconds, two BCD digits (00-59).
        6:0 seconds;
    }

    /// Minutes.
    Min @ 1 {
        /// Minutes, two BCD digits (00-59).
        6:0 minutes;
    }

    /// Hours, and the century bits.
    Hour @ 2 {
        /// Century enable (CEB): the chip toggles CB when the year wraps from 99 to 00.
        7:7 ceb => bool;
        /// Century bit (CB): while CEB is set, set means 21xx to this driver.
        6:6 cb => bool;
        /// Hours, two BCD digits (00-23).
        5:0 hours;
    }

    /// Day of the week.
    Wday @ 3 {
        /// Day of the week, 1-7 in binary (1 is Sunday to this driver).
        2:0 weekday;
    }

    /// Day of the month.
    Mday @ 4 {
        /// Day of the month, two BCD digits (01-31).
        5:0 date;
    }

    /// Month.
    Month @ 5 {
        /// Month, two BCD digits (01-12).
        4:0 month;
    }

    /// Year in the century.
    Year @ 6 {
        /// Year in the century, two BCD digits (00-99).
        7:0 year;
    }

    /// Control: the FT/OUT pin and the calibration.
    Ctrl @ 7 {
        /// Output level of the FT/OUT pin while FT is clear (OUT).
        7:7 out => bool;
        /// Frequency test (FT): 512 Hz on the FT/OUT pin.
        6:6 ft => bool;
        /// Calibration sign (S): set speeds the clock up, clear slows it down.
        5:5 sign => bool;
        /// Calibration magnitude, in steps of [`POS_STEP_PPB`] or [`NEG_STEP_PPB`].
        4:0 calibration;
    }
}

/// The seven time registers, from [`Sec`] to [`Year`], read and written as one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeRegs {
    /// Seconds and ST.
    pub(crate) sec: Sec,
    /// Minutes.
    pub(crate) min: Min,
    /// Hours, CEB and CB.
    pub(crate) hour: Hour,
    /// Day of the week.
    pub(crate) wday: Wday,
    /// Day of the month.
    pub(crate) mday: Mday,
    /// Month.
    pub(crate) month: Month,
    /// Year in the century.
    pub(crate) year: Year,
}

impl TimeRegs {
    /// Length of the block in bytes.
    pub(crate) const LEN: usize = 7;
    /// Address of the first register of the block.
    pub(crate) const ADDR: Reg = Sec::ADDR;

    /// Returns the registers held in `bytes`, as the chip sends them from [`Self::ADDR`] on.
    pub(crate) fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        let [sec, min, hour, wday, mday, month, year] = bytes;
        Self {
            sec: sec.into(),
            min: min.into(),
            hour: hour.into(),
            wday: wday.into(),
            mday: mday.into(),
            month: month.into(),
            year: year.into(),
        }
    }

    /// Returns the registers as the bytes written to the chip from [`Self::ADDR`] on.
    pub(crate) fn to_bytes(self) -> [u8; Self::LEN] {
        [
            self.sec.into(),
            self.min.into(),
            self.hour.into(),
            self.wday.into(),
            self.mday.into(),
            self.month.into(),
            self.year.into(),
        ]
    }
}

// The block is the registers from `Sec` to `Year`, in that order, with no gaps.
const _: () = {
    let addrs = [
        Sec::ADDR,
        Min::ADDR,
        Hour::ADDR,
        Wday::ADDR,
        Mday::ADDR,
        Month::ADDR,
        Year::ADDR,
    ];
    let mut i = 0;
    let mut want = TimeRegs::ADDR.0;
    while i < addrs.len() {
        assert!(addrs[i].0 == want);
        i += 1;
        want += 1;
    }
    assert!(addrs.len() == TimeRegs::LEN);
};

/// One negative calibration step slows the clock by 2.034 ppm.
pub(crate) const NEG_STEP_PPB: i64 = 2034;
/// One positive calibration step speeds the clock up by 4.068 ppm.
pub(crate) const POS_STEP_PPB: i64 = 4068;
/// Largest calibration magnitude.
// CAST: the mask of a 5-bit field at bit 0 is 31, which any `i64` holds.
const MAX_STEPS: i64 = (Ctrl::CALIBRATION_MASK >> Ctrl::CALIBRATION_SHIFT) as i64;
/// Largest slowing offset, in ppb.
pub(crate) const MIN_OFFSET: i64 = -MAX_STEPS * NEG_STEP_PPB;
/// Largest speeding offset, in ppb.
pub(crate) const MAX_OFFSET: i64 = MAX_STEPS * POS_STEP_PPB;

impl Ctrl {
    /// Returns the calibration offset in ppb that this control register sets.
    pub(crate) fn offset(self) -> i64 {
        let steps = i64::from(self.calibration().get());
        if self.sign() {
            steps * POS_STEP_PPB
        } else {
            -steps * NEG_STEP_PPB
        }
    }

    /// Returns a control register with the calibration (sign and magnitude) nearest to
    /// `offset` ppb, and OUT and FT clear.
    ///
    /// Returns [`ERANGE`] if `offset` is outside [`MIN_OFFSET`]..=[`MAX_OFFSET`].
    pub(crate) fn for_offset(offset: i64) -> Result<Self> {
        if !(MIN_OFFSET..=MAX_OFFSET).contains(&offset) {
            return Err(ERANGE);
        }
        // Round to the nearest step like the C `DIV_ROUND_CLOSEST()`.
        let steps = if offset >= 0 {
            (offset + POS_STEP_PPB / 2) / POS_STEP_PPB
        } else {
            (-offset + NEG_STEP_PPB / 2) / NEG_STEP_PPB
        };
        // `steps` is at most `MAX_STEPS` because `offset` is in range.
        Self::zeroed()
            .with_sign(offset >= 0)
            .try_with_calibration(steps)
    }

    /// Returns this control register with the calibration (sign and magnitude) of `other`,
    /// and its own OUT and FT.
    pub(crate) fn with_calibration_of(self, other: Self) -> Self {
        self.with_sign(other.sign())
            .with_calibration(other.calibration())
    }
}

#[kunit_tests(rtc_m41t00_regs)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_raw_block() -> Result {
        // Registers 0-7 as the chip sends them: 21:23:56 with ST set, CEB and CB set, Friday
        // (6), the 31st of December, year 99; control with OUT, FT and S set, 17 steps.
        let raw: [u8; 8] = [0xd6, 0xa3, 0xe1, 0xfe, 0xf1, 0xf2, 0x99, 0xf1];
        let [time @ .., ctrl] = raw;
        let regs = TimeRegs::from_bytes(time);
        assert!(regs.sec.st());
        assert_eq!(regs.sec.seconds(), 0x56);
        // Bit 7 of the minutes is no field: it does not show in the minutes.
        assert_eq!(regs.min.minutes(), 0x23);
        assert!(regs.hour.ceb());
        assert!(regs.hour.cb());
        assert_eq!(regs.hour.hours(), 0x21);
        assert_eq!(regs.wday.weekday(), 6);
        assert_eq!(regs.mday.date(), 0x31);
        assert_eq!(regs.month.month(), 0x12);
        assert_eq!(regs.year.year(), 0x99);
        let ctrl = Ctrl::from(ctrl);
        assert!(ctrl.out());
        assert!(ctrl.ft());
        assert!(ctrl.sign());
        assert_eq!(ctrl.calibration(), 17);
        // The block goes back to the bus as it came, bits outside the fields included.
        assert_eq!(regs.to_bytes(), time);

        // Clear century and stop bits leave the other fields alone.
        let regs = TimeRegs::from_bytes([0x56, 0x23, 0x21, 6, 0x31, 0x12, 0x99]);
        assert!(!regs.sec.st());
        assert_eq!(regs.sec.seconds(), 0x56);
        assert!(!regs.hour.ceb());
        assert!(!regs.hour.cb());
        assert_eq!(regs.hour.hours(), 0x21);
        Ok(())
    }

    #[test]
    fn setters_place_the_bits() -> Result {
        assert_eq!(Sec::zeroed().with_st(true).into_raw(), 0x80);
        assert_eq!(
            Sec::from(0x80).with_const_seconds::<0x59>().into_raw(),
            0xd9
        );
        let hour = Hour::zeroed().with_ceb(true).with_cb(true);
        assert_eq!(hour.with_const_hours::<0x23>().into_raw(), 0xe3);
        assert_eq!(Hour::from(0xe3).with_cb(false).into_raw(), 0xa3);
        let ctrl = Ctrl::zeroed().with_out(true).with_ft(true).with_sign(true);
        assert_eq!(ctrl.into_raw(), 0xe0);
        assert_eq!(ctrl.with_const_calibration::<0x1f>().into_raw(), 0xff);
        assert_eq!(Ctrl::from(0xff).with_ft(false).into_raw(), 0xbf);
        Ok(())
    }

    #[test]
    fn offset_maths() -> Result {
        let off = |raw: u8| Ctrl::from(raw).offset();
        let ctrl = |offset: i64| -> Result<u8> { Ok(Ctrl::for_offset(offset)?.into()) };
        assert_eq!(off(0), 0);
        assert_eq!(off(0x21), 4068);
        assert_eq!(off(0x01), -2034);
        assert_eq!(off(0x1f), MIN_OFFSET);
        assert_eq!(off(0x3f), MAX_OFFSET);
        assert_eq!((MIN_OFFSET, MAX_OFFSET), (-63054, 126108));
        // FT and OUT do not change the offset, and setting the offset keeps them.
        assert_eq!(off(0xc3), -6102);
        let keep = |raw: u8, offset: i64| -> Result<u8> {
            Ok(Ctrl::from(raw)
                .with_calibration_of(Ctrl::for_offset(offset)?)
                .into())
        };
        assert_eq!(keep(0xc3, 4068)?, 0xe1);
        assert_eq!(keep(0xff, -2034)?, 0xc1);
        assert_eq!(keep(0x3f, 0)?, 0x20);
        // Every setting but "-0" survives a round trip.
        for raw in 0..=0x3fu8 {
            let back = ctrl(off(raw))?;
            if raw == 0 {
                assert_eq!(back, 0x20);
            } else {
                assert_eq!(back, raw);
            }
        }
        // Nearest step, halves away from zero like DIV_ROUND_CLOSEST().
        assert_eq!(ctrl(2033)?, 0x20);
        assert_eq!(ctrl(2034)?, 0x21);
        assert_eq!(ctrl(-1016)?, 0x00);
        assert_eq!(ctrl(-1017)?, 0x01);
        assert_eq!(ctrl(MAX_OFFSET + 1).err(), Some(ERANGE));
        assert_eq!(ctrl(MIN_OFFSET - 1).err(), Some(ERANGE));
        Ok(())
    }
}
