// SPDX-License-Identifier: GPL-2.0

//! Registers of the MV64xxx TWSI controller and their two layouts.
//!
//! Marvell parts put the registers at 0x00 (address), 0x04 (data), 0x08 (control), 0x0c
//! (status on read, baud rate on write), 0x10 (extended address) and 0x1c (soft reset);
//! Allwinner parts at 0x00, 0x04 (extended address), 0x08, 0x0c, 0x10 (status), 0x14 (clock),
//! 0x18 (soft reset) and 0x20 (line control). Each layout's offsets are written once, in one
//! function per layout that every access goes through, so the layout test, which drives the
//! accessors the driver calls, covers both tables.

use kernel::{
    io::{
        IoCapable,
        IoKnownSize,
        Mmio, //
    },
    prelude::*, //
};

/// The part of the register window every variant has (Marvell device trees map 0x20 bytes).
pub(crate) const SIZE: usize = 0x20;

/// The mapped register window.
pub(crate) type Regs = Mmio<SIZE>;

/// Control register bits.
pub(crate) mod control {
    /// Acknowledge received bytes.
    pub(crate) const ACK: u32 = 1 << 2;
    /// Interrupt flag: the controller waits for the driver.
    pub(crate) const IFLG: u32 = 1 << 3;
    /// Send STOP.
    pub(crate) const STOP: u32 = 1 << 4;
    /// Send START (or a repeated START).
    pub(crate) const START: u32 = 1 << 5;
    /// Enable the controller (TWSI enable, Allwinner's BUS_EN).
    pub(crate) const TWSIEN: u32 = 1 << 6;
    /// Raise the interrupt line when IFLG is set.
    pub(crate) const INTEN: u32 = 1 << 7;
}

/// Status register values.
pub(crate) mod status {
    /// Bus error (illegal START or STOP).
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) const BUS_ERR: u32 = 0x00;
    /// START sent.
    pub(crate) const START: u32 = 0x08;
    /// Repeated START sent.
    pub(crate) const REPEAT_START: u32 = 0x10;
    /// Address + write sent, ACK received.
    pub(crate) const WR_ADDR_ACK: u32 = 0x18;
    /// Address + write sent, no ACK.
    pub(crate) const WR_ADDR_NO_ACK: u32 = 0x20;
    /// Data byte sent, ACK received.
    pub(crate) const WR_ACK: u32 = 0x28;
    /// Data byte sent, no ACK.
    pub(crate) const WR_NO_ACK: u32 = 0x30;
    /// Arbitration lost.
    pub(crate) const LOST_ARB: u32 = 0x38;
    /// Address + read sent, ACK received.
    pub(crate) const RD_ADDR_ACK: u32 = 0x40;
    /// Address + read sent, no ACK.
    pub(crate) const RD_ADDR_NO_ACK: u32 = 0x48;
    /// Data byte received, ACK sent.
    pub(crate) const RD_DATA_ACK: u32 = 0x50;
    /// Data byte received, no ACK sent.
    pub(crate) const RD_DATA_NO_ACK: u32 = 0x58;
    /// Second address byte + write sent, ACK received.
    pub(crate) const WR_ADDR_2_ACK: u32 = 0xd0;
    /// Second address byte + write sent, no ACK.
    pub(crate) const WR_ADDR_2_NO_ACK: u32 = 0xd8;
    /// Second address byte + read sent, ACK received.
    pub(crate) const RD_ADDR_2_ACK: u32 = 0xe0;
    /// Second address byte + read sent, no ACK.
    pub(crate) const RD_ADDR_2_NO_ACK: u32 = 0xe8;
    /// Nothing to report (idle).
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) const NO_STATUS: u32 = 0xf8;
}

/// Allwinner line control register (0x20) bits, for bus recovery without GPIOs.
pub(crate) mod lcr {
    /// Offset of the register (beyond [`super::SIZE`], so accessed with a runtime check).
    pub(crate) const OFFSET: usize = 0x20;
    /// SCL as sampled.
    pub(crate) const SCL_STATE: u32 = 1 << 5;
    /// SDA as sampled.
    pub(crate) const SDA_STATE: u32 = 1 << 4;
    /// SCL level when SCL control is enabled.
    pub(crate) const SCL_CTL: u32 = 1 << 3;
    /// Drive SCL from `SCL_CTL`.
    pub(crate) const SCL_CTL_EN: u32 = 1 << 2;
    /// SDA level when SDA control is enabled.
    pub(crate) const SDA_CTL: u32 = 1 << 1;
    /// Drive SDA from `SDA_CTL`.
    pub(crate) const SDA_CTL_EN: u32 = 1 << 0;
}

/// Returns the baud rate register value for divider exponent `n` and factor `m`.
pub(crate) const fn baud(m: u32, n: u32) -> u32 {
    ((m & 0xf) << 3) | (n & 0x7)
}

/// A register, independent of the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    /// Own (target mode) address.
    Addr,
    /// Own extended address.
    ExtAddr,
    /// Data.
    Data,
    /// Control.
    Control,
    /// Status (read only).
    Status,
    /// Baud rate / clock control (write only on Marvell, where it shares 0x0c with status).
    Clock,
    /// Soft reset.
    SoftReset,
}

/// Which register layout a controller uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Marvell MV64xxx, Orion, Armada.
    Marvell,
    /// Allwinner sun4i and later.
    Allwinner,
}

/// The register window a controller is driven through: its mapped registers ([`Regs`]), or in
/// tests a window in memory. Accesses within the first [`SIZE`] bytes are checked at compile
/// time, so the window must be at least that large.
pub(crate) trait Window: IoKnownSize + IoCapable<u32> {}

impl<T: IoKnownSize + IoCapable<u32>> Window for T {}

impl Layout {
    /// Reads register `reg`.
    #[inline(always)]
    pub(crate) fn read(self, io: &impl Window, reg: Reg) -> u32 {
        // One access per layout, each at an offset that is a constant wherever the caller
        // names a constant register (every caller does): the accessor checks it against the
        // window's size at compile time.
        match self {
            Layout::Marvell => io.read32(marvell(reg)),
            Layout::Allwinner => io.read32(allwinner(reg)),
        }
    }

    /// Writes `value` to register `reg`.
    #[inline(always)]
    pub(crate) fn write(self, io: &impl Window, reg: Reg, value: u32) {
        match self {
            Layout::Marvell => io.write32(value, marvell(reg)),
            Layout::Allwinner => io.write32(value, allwinner(reg)),
        }
    }
}

/// The Marvell layout (`mv64xxx_i2c_regs_mv64xxx` in the C driver).
#[inline(always)]
const fn marvell(reg: Reg) -> usize {
    match reg {
        Reg::Addr => 0x00,
        Reg::ExtAddr => 0x10,
        Reg::Data => 0x04,
        Reg::Control => 0x08,
        Reg::Status | Reg::Clock => 0x0c,
        Reg::SoftReset => 0x1c,
    }
}

/// The Allwinner layout (`mv64xxx_i2c_regs_sun4i` in the C driver).
#[inline(always)]
const fn allwinner(reg: Reg) -> usize {
    match reg {
        Reg::Addr => 0x00,
        Reg::ExtAddr => 0x04,
        Reg::Data => 0x08,
        Reg::Control => 0x0c,
        Reg::Status => 0x10,
        Reg::Clock => 0x14,
        Reg::SoftReset => 0x18,
    }
}

/// A register window in memory, for tests: reads return what [`Mem::set`] or the last write
/// put there, except at the offset given as write only (Marvell's status/baud register, where
/// writes go to the baud rate); writes are also recorded per offset. Offsets up to 0x40 are
/// backed, so accesses beyond [`SIZE`] (the line control register) work through the
/// runtime-checked accessors.
#[cfg(CONFIG_KUNIT)]
pub(crate) mod mem {
    use core::cell::Cell;

    use kernel::io::{
        Io,
        IoCapable,
        IoKnownSize, //
    };

    const WORDS: usize = 0x10;

    /// The window.
    pub(crate) struct Mem {
        read: [Cell<u32>; WORDS],
        written: [Cell<Option<u32>>; WORDS],
        reads: [Cell<u32>; WORDS],
        write_only: Option<usize>,
    }

    impl Mem {
        /// Returns a window of zeros whose register at `write_only` keeps its value on writes.
        pub(crate) fn new(write_only: Option<usize>) -> Self {
            Self {
                read: Default::default(),
                written: Default::default(),
                reads: Default::default(),
                write_only,
            }
        }

        /// Sets what reading `offset` returns.
        pub(crate) fn set(&self, offset: usize, value: u32) {
            if let Some(c) = self.read.get(offset / 4) {
                c.set(value);
            }
        }

        /// Returns the last value written to `offset` since the last call, if any.
        pub(crate) fn take(&self, offset: usize) -> Option<u32> {
            self.written.get(offset / 4).and_then(Cell::take)
        }

        /// Returns how often `offset` was read since the last call.
        pub(crate) fn reads(&self, offset: usize) -> u32 {
            self.reads.get(offset / 4).map_or(0, Cell::take)
        }
    }

    impl Io for Mem {
        /// Addresses are offsets.
        fn addr(&self) -> usize {
            0
        }

        fn maxsize(&self) -> usize {
            WORDS * 4
        }
    }

    impl IoKnownSize for Mem {
        const MIN_SIZE: usize = super::SIZE;
    }

    impl IoCapable<u32> for Mem {
        unsafe fn io_read(&self, address: usize) -> u32 {
            if let Some(c) = self.reads.get(address / 4) {
                c.set(c.get().wrapping_add(1));
            }
            self.read.get(address / 4).map_or(0, Cell::get)
        }

        unsafe fn io_write(&self, value: u32, address: usize) {
            if let Some(c) = self.written.get(address / 4) {
                c.set(Some(value));
            }
            if self.write_only != Some(address) {
                self.set(address, value);
            }
        }
    }
}

#[kunit_tests(i2c_mv64xxx_rs_regs)]
mod tests {
    use super::{
        mem::Mem,
        *, //
    };

    /// Calls `$f!(index, register)` for each register; the accessors need constant registers.
    macro_rules! each_reg {
        ($f:ident) => {
            $f!(0, Reg::Addr);
            $f!(1, Reg::ExtAddr);
            $f!(2, Reg::Data);
            $f!(3, Reg::Control);
            $f!(4, Reg::Status);
            $f!(5, Reg::Clock);
            $f!(6, Reg::SoftReset);
        };
    }

    /// Returns the offset `m` last saw `value` written to.
    fn landed(m: &Mem, value: u32) -> usize {
        let mut at = usize::MAX;
        for off in (0..0x40).step_by(4) {
            if m.take(off) == Some(value) {
                at = off;
            }
        }
        at
    }

    #[test]
    fn layouts_match_upstream() -> Result {
        // mv64xxx_i2c_regs_mv64xxx and mv64xxx_i2c_regs_sun4i in i2c-mv64xxx.c.
        let marvell = [0x00, 0x10, 0x04, 0x08, 0x0c, 0x0c, 0x1c];
        let sun4i = [0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18];
        for (l, want) in [(Layout::Marvell, marvell), (Layout::Allwinner, sun4i)] {
            let m = Mem::new(None);
            // The accessors the driver calls put each register where upstream has it, and
            // read it from there.
            macro_rules! check {
                ($i:expr, $r:expr) => {
                    let value = 0x100 + $i;
                    l.write(&m, $r, value);
                    assert_eq!(landed(&m, value), want[$i]);
                    m.set(want[$i], !value);
                    assert_eq!(l.read(&m, $r), !value);
                    assert_eq!(m.reads(want[$i]), 1);
                };
            }
            each_reg!(check);
        }
        assert_eq!(baud(11, 1), 0x59);
        assert_eq!(baud(15, 7), 0x7f);
        Ok(())
    }
}
