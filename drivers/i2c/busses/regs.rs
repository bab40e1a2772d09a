// SPDX-License-Identifier: GPL-2.0

//! Registers of the MV64xxx TWSI controller and their two layouts.
//!
//! Marvell parts put the registers at 0x00 (address), 0x04 (data), 0x08 (control), 0x0c
//! (status on read, baud rate on write), 0x10 (extended address) and 0x1c (soft reset);
//! Allwinner parts at 0x00, 0x04 (extended address), 0x08, 0x0c, 0x10 (status), 0x14 (clock),
//! 0x18 (soft reset) and 0x20 (line control). Offsets differ per layout, so they are
//! resolved with one `match` per access in which every arm has a constant offset that the
//! compiler checks against the mapping's size.

use kernel::{
    io::{
        Io,
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

impl Layout {
    /// Returns the offset of `reg` (for messages; accesses go through [`Layout::read`]).
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) const fn offset(self, reg: Reg) -> usize {
        match (self, reg) {
            (_, Reg::Addr) => 0x00,
            (Layout::Marvell, Reg::ExtAddr) => 0x10,
            (Layout::Marvell, Reg::Data) => 0x04,
            (Layout::Marvell, Reg::Control) => 0x08,
            (Layout::Marvell, Reg::Status | Reg::Clock) => 0x0c,
            (Layout::Marvell, Reg::SoftReset) => 0x1c,
            (Layout::Allwinner, Reg::ExtAddr) => 0x04,
            (Layout::Allwinner, Reg::Data) => 0x08,
            (Layout::Allwinner, Reg::Control) => 0x0c,
            (Layout::Allwinner, Reg::Status) => 0x10,
            (Layout::Allwinner, Reg::Clock) => 0x14,
            (Layout::Allwinner, Reg::SoftReset) => 0x18,
        }
    }

    /// Reads register `reg`.
    #[inline]
    pub(crate) fn read(self, io: &Regs, reg: Reg) -> u32 {
        match (self, reg) {
            (_, Reg::Addr) => io.read32(0x00),
            (Layout::Marvell, Reg::ExtAddr) => io.read32(0x10),
            (Layout::Marvell, Reg::Data) => io.read32(0x04),
            (Layout::Marvell, Reg::Control) => io.read32(0x08),
            (Layout::Marvell, Reg::Status | Reg::Clock) => io.read32(0x0c),
            (Layout::Marvell, Reg::SoftReset) => io.read32(0x1c),
            (Layout::Allwinner, Reg::ExtAddr) => io.read32(0x04),
            (Layout::Allwinner, Reg::Data) => io.read32(0x08),
            (Layout::Allwinner, Reg::Control) => io.read32(0x0c),
            (Layout::Allwinner, Reg::Status) => io.read32(0x10),
            (Layout::Allwinner, Reg::Clock) => io.read32(0x14),
            (Layout::Allwinner, Reg::SoftReset) => io.read32(0x18),
        }
    }

    /// Writes `value` to register `reg`.
    #[inline]
    pub(crate) fn write(self, io: &Regs, reg: Reg, value: u32) {
        match (self, reg) {
            (_, Reg::Addr) => io.write32(value, 0x00),
            (Layout::Marvell, Reg::ExtAddr) => io.write32(value, 0x10),
            (Layout::Marvell, Reg::Data) => io.write32(value, 0x04),
            (Layout::Marvell, Reg::Control) => io.write32(value, 0x08),
            (Layout::Marvell, Reg::Status | Reg::Clock) => io.write32(value, 0x0c),
            (Layout::Marvell, Reg::SoftReset) => io.write32(value, 0x1c),
            (Layout::Allwinner, Reg::ExtAddr) => io.write32(value, 0x04),
            (Layout::Allwinner, Reg::Data) => io.write32(value, 0x08),
            (Layout::Allwinner, Reg::Control) => io.write32(value, 0x0c),
            (Layout::Allwinner, Reg::Status) => io.write32(value, 0x10),
            (Layout::Allwinner, Reg::Clock) => io.write32(value, 0x14),
            (Layout::Allwinner, Reg::SoftReset) => io.write32(value, 0x18),
        }
    }
}

#[kunit_tests(i2c_mv64xxx_rs_regs)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_upstream() -> Result {
        // mv64xxx_i2c_regs_mv64xxx and mv64xxx_i2c_regs_sun4i in i2c-mv64xxx.c.
        let regs = [
            Reg::Addr,
            Reg::ExtAddr,
            Reg::Data,
            Reg::Control,
            Reg::Status,
            Reg::Clock,
            Reg::SoftReset,
        ];
        let marvell = [0x00, 0x10, 0x04, 0x08, 0x0c, 0x0c, 0x1c];
        let sun4i = [0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18];
        for (i, r) in regs.iter().enumerate() {
            assert_eq!(Layout::Marvell.offset(*r), marvell[i]);
            assert_eq!(Layout::Allwinner.offset(*r), sun4i[i]);
        }
        assert_eq!(baud(11, 1), 0x59);
        assert_eq!(baud(15, 7), 0x7f);
        Ok(())
    }
}
