// SPDX-License-Identifier: GPL-2.0

//! Registers of the MV64xxx TWSI controller and their two layouts.
//!
//! Marvell parts put the registers at 0x00 (address), 0x04 (data), 0x08 (control), 0x0c
//! (status on read, baud rate on write), 0x10 (extended address) and 0x1c (soft reset);
//! Allwinner parts at 0x00, 0x04 (extended address), 0x08, 0x0c, 0x10 (status), 0x14 (clock),
//! 0x18 (soft reset) and 0x20 (line control). Each register's value is a
//! [`bitfield!`](kernel::bitfield!) type that names it ([`Register::REG`]); where it lives is
//! written once per layout, in one function per layout that every access goes through
//! ([`Layout::read`], [`Layout::write`]), so the layout test, which drives the accessors the
//! driver calls, covers both tables. The line control register, Allwinner only and beyond the
//! window every variant maps, has accessors of its own.

use kernel::{
    io::{
        IoCapable,
        IoKnownSize,
        Mmio, //
    },
    num::Bounded,
    prelude::*, //
};

/// The part of the register window every variant has (Marvell device trees map 0x20 bytes).
pub(crate) const SIZE: usize = 0x20;

/// The mapped register window.
pub(crate) type Regs = Mmio<SIZE>;

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

/// The value of a register in the window every variant maps: its fields over 32 bits, and
/// which register it is.
pub(crate) trait Register: Copy + From<u32> + Into<u32> {
    /// The register.
    const REG: Reg;
}

/// Defines registers as 32-bit [`bitfield!`](kernel::bitfield!) types that also implement
/// [`Register`], in the shape of `kernel::io::register!` but without an offset: the layout
/// has it.
macro_rules! registers {
    ($($(#[$attr:meta])* $name:ident @ $reg:ident { $($fields:tt)* })*) => {
        $(
        kernel::bitfield! {
            $(#[$attr])*
            pub(crate) struct $name(u32) { $($fields)* }
        }

        impl Register for $name {
            const REG: Reg = Reg::$reg;
        }
        )*
    };
}

registers! {
    /// Own address, for target mode, which this driver does not use (it clears it).
    OwnAddr @ Addr {
        /// The 7-bit address the controller answers to as a target.
        7:1 addr;
        /// Answer the general call address too.
        0:0 general_call => bool;
    }

    /// Own extended address: the low byte of a 10-bit own address.
    OwnExtAddr @ ExtAddr {
        /// The low 8 bits of the own 10-bit address.
        7:0 addr;
    }

    /// Data: the byte to send, or the byte received.
    Data @ Data {
        /// The byte.
        7:0 byte => u8;
    }

    /// Control.
    Control @ Control {
        /// Interrupt enable: raise the interrupt line while IFLG is set.
        7:7 inten => bool;
        /// Enable the controller (TWSI enable, Allwinner's BUS_EN).
        6:6 twsien => bool;
        /// Send START (or a repeated START).
        5:5 start => bool;
        /// Send STOP.
        4:4 stop => bool;
        /// Interrupt flag: the controller waits for the driver. Writing 0 lets it go on
        /// (writing 1 does on Allwinner sun6i and later).
        3:3 iflg => bool;
        /// Acknowledge received bytes.
        2:2 ack => bool;
    }

    /// Status: what the controller did last.
    Status @ Status {
        /// The status code.
        7:0 code => StatusCode;
    }

    /// Baud rate: the bus clock is `tclk / (10 * (m + 1) * 2^(n + 1))` (Marvell) or
    /// `tclk / (10 * (m + 1) * 2^n)` (Allwinner); see `divider.rs`.
    Baud @ Clock {
        /// Divider factor M.
        6:3 m;
        /// Divider exponent N.
        2:0 n;
    }

    /// Soft reset: any write resets the controller.
    SoftReset @ SoftReset {}
}

impl Baud {
    /// Returns the value for divider factor `m` (0..=15) and exponent `n` (0..=7).
    ///
    /// Fails with `EOVERFLOW` if either is out of range.
    pub(crate) fn from_factors(m: u32, n: u32) -> Result<Self> {
        Self::zeroed().try_with_m(m)?.try_with_n(n)
    }
}

/// Defines [`StatusCode`] from one table of the codes and their values.
macro_rules! status_codes {
    ($($(#[$attr:meta])* $name:ident = $code:literal,)*) => {
        /// A status code: what the controller did last. The codes the state machine knows, and
        /// any other value.
        ///
        /// The discriminant of each known code is its register value (and that of `Other` one
        /// no status has: the low three bits of a status are always clear), so that turning a
        /// register value into a `StatusCode` and matching on it costs no more than matching
        /// on the value.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum StatusCode {
            $($(#[$attr])* $name = $code,)*
            /// A code this driver does not know.
            Other(u8) = 0x01,
        }

        impl StatusCode {
            /// Returns the status for register value `code`.
            #[inline(always)]
            pub(crate) const fn from_code(code: u8) -> Self {
                match code {
                    $($code => Self::$name,)*
                    other => Self::Other(other),
                }
            }

            /// Returns the register value of this status.
            #[inline(always)]
            pub(crate) const fn code(self) -> u8 {
                match self {
                    $(Self::$name => $code,)*
                    Self::Other(code) => code,
                }
            }
        }
    };
}

status_codes! {
    /// Bus error (illegal START or STOP).
    BusError = 0x00,
    /// START sent.
    Start = 0x08,
    /// Repeated START sent.
    RepeatStart = 0x10,
    /// Address + write sent, ACK received.
    WrAddrAck = 0x18,
    /// Address + write sent, no ACK.
    WrAddrNoAck = 0x20,
    /// Data byte sent, ACK received.
    WrAck = 0x28,
    /// Data byte sent, no ACK.
    WrNoAck = 0x30,
    /// Arbitration lost.
    LostArb = 0x38,
    /// Address + read sent, ACK received.
    RdAddrAck = 0x40,
    /// Address + read sent, no ACK.
    RdAddrNoAck = 0x48,
    /// Data byte received, ACK sent.
    RdDataAck = 0x50,
    /// Data byte received, no ACK sent.
    RdDataNoAck = 0x58,
    /// Second address byte + write sent, ACK received.
    WrAddr2Ack = 0xd0,
    /// Second address byte + write sent, no ACK.
    WrAddr2NoAck = 0xd8,
    /// Second address byte + read sent, ACK received.
    RdAddr2Ack = 0xe0,
    /// Second address byte + read sent, no ACK.
    RdAddr2NoAck = 0xe8,
    /// Nothing to report (idle).
    NoStatus = 0xf8,
}

impl From<Bounded<u32, 8>> for StatusCode {
    #[inline(always)]
    fn from(code: Bounded<u32, 8>) -> Self {
        Self::from_code(code.into())
    }
}

impl From<StatusCode> for Bounded<u32, 8> {
    #[inline(always)]
    fn from(status: StatusCode) -> Self {
        status.code().into()
    }
}

kernel::bitfield! {
    /// Allwinner line control, for bus recovery without GPIOs: the lines as sampled, and
    /// software control of each.
    pub(crate) struct LineControl(u32) {
        /// SCL as sampled.
        5:5 scl_state => bool;
        /// SDA as sampled.
        4:4 sda_state => bool;
        /// SCL level while [`Self::scl_ctl_en`] is set.
        3:3 scl_ctl => bool;
        /// Drive SCL from [`Self::scl_ctl`].
        2:2 scl_ctl_en => bool;
        /// SDA level while [`Self::sda_ctl_en`] is set.
        1:1 sda_ctl => bool;
        /// Drive SDA from [`Self::sda_ctl`].
        0:0 sda_ctl_en => bool;
    }
}

impl LineControl {
    /// Returns this value with software driving SCL `high` or low.
    pub(crate) fn drive_scl(self, high: bool) -> Self {
        self.with_scl_ctl_en(true).with_scl_ctl(high)
    }

    /// Returns this value with software driving SDA `high` or low.
    pub(crate) fn drive_sda(self, high: bool) -> Self {
        self.with_sda_ctl_en(true).with_sda_ctl(high)
    }

    /// Returns this value with both lines handed back to the controller.
    pub(crate) fn release(self) -> Self {
        self.with_scl_ctl_en(false).with_sda_ctl_en(false)
    }
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
    /// Reads register `R`.
    #[inline(always)]
    pub(crate) fn read<R: Register>(self, io: &impl Window) -> R {
        // One access per layout, each at an offset that is a constant (the register is a
        // type): the accessor checks it against the window's size at compile time.
        R::from(match self {
            Layout::Marvell => io.read32(marvell(R::REG)),
            Layout::Allwinner => io.read32(allwinner(R::REG)),
        })
    }

    /// Writes `value` to its register.
    #[inline(always)]
    pub(crate) fn write<R: Register>(self, io: &impl Window, value: R) {
        let value = value.into();
        match self {
            Layout::Marvell => io.write32(value, marvell(R::REG)),
            Layout::Allwinner => io.write32(value, allwinner(R::REG)),
        }
    }

    /// Reads the line control register; `None` if the layout has none or the window does
    /// not reach it.
    pub(crate) fn read_line_control(self, io: &impl Window) -> Option<LineControl> {
        let offset = self.line_control()?;
        io.try_read32(offset).ok().map(LineControl::from)
    }

    /// Changes the line control register with `f`, if the layout has one and the window
    /// reaches it.
    pub(crate) fn update_line_control(
        self,
        io: &impl Window,
        f: impl FnOnce(LineControl) -> LineControl,
    ) {
        if let (Some(offset), Some(value)) = (self.line_control(), self.read_line_control(io)) {
            let _ = io.try_write32(f(value).into(), offset);
        }
    }

    /// Returns the offset of the line control register, if the layout has one.
    const fn line_control(self) -> Option<usize> {
        match self {
            Layout::Marvell => None,
            // Beyond [`SIZE`]: Marvell device trees map only 0x20 bytes.
            Layout::Allwinner => Some(0x20),
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

    /// Calls `$f!(index, register)` for each register.
    macro_rules! each_reg {
        ($f:ident) => {
            $f!(0, OwnAddr);
            $f!(1, OwnExtAddr);
            $f!(2, Data);
            $f!(3, Control);
            $f!(4, Status);
            $f!(5, Baud);
            $f!(6, SoftReset);
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
                ($i:expr, $r:ty) => {
                    let value = 0x100 + $i;
                    l.write(&m, <$r>::from(value));
                    assert_eq!(landed(&m, value), want[$i]);
                    m.set(want[$i], !value);
                    assert_eq!(l.read::<$r>(&m).into_raw(), !value);
                    assert_eq!(m.reads(want[$i]), 1);
                };
            }
            each_reg!(check);
        }
        Ok(())
    }

    #[test]
    fn fields_match_upstream() -> Result {
        // MV64XXX_I2C_BAUD_DIV_M/N and MV64XXX_I2C_REG_CONTROL_* in i2c-mv64xxx.c.
        assert_eq!(Baud::from_factors(11, 1)?.into_raw(), 0x59);
        assert_eq!(Baud::from_factors(15, 7)?.into_raw(), 0x7f);
        assert_eq!(Baud::from_factors(16, 0).err(), Some(EOVERFLOW));
        assert_eq!(Baud::from_factors(0, 8).err(), Some(EOVERFLOW));
        let c = |f: fn(Control) -> Control| f(Control::zeroed()).into_raw();
        assert_eq!(c(|c| c.with_ack(true)), 0x04);
        assert_eq!(c(|c| c.with_iflg(true)), 0x08);
        assert_eq!(c(|c| c.with_stop(true)), 0x10);
        assert_eq!(c(|c| c.with_start(true)), 0x20);
        assert_eq!(c(|c| c.with_twsien(true)), 0x40);
        assert_eq!(c(|c| c.with_inten(true)), 0x80);
        assert_eq!(Data::from(0x1a5).byte(), 0xa5);
        Ok(())
    }

    #[test]
    fn status_codes_round_trip() -> Result {
        // MV64XXX_I2C_STATUS_* in i2c-mv64xxx.c.
        for (code, status) in [
            (0x00, StatusCode::BusError),
            (0x08, StatusCode::Start),
            (0x10, StatusCode::RepeatStart),
            (0x18, StatusCode::WrAddrAck),
            (0x20, StatusCode::WrAddrNoAck),
            (0x28, StatusCode::WrAck),
            (0x30, StatusCode::WrNoAck),
            (0x38, StatusCode::LostArb),
            (0x40, StatusCode::RdAddrAck),
            (0x48, StatusCode::RdAddrNoAck),
            (0x50, StatusCode::RdDataAck),
            (0x58, StatusCode::RdDataNoAck),
            (0xd0, StatusCode::WrAddr2Ack),
            (0xd8, StatusCode::WrAddr2NoAck),
            (0xe0, StatusCode::RdAddr2Ack),
            (0xe8, StatusCode::RdAddr2NoAck),
            (0xf8, StatusCode::NoStatus),
            (0x68, StatusCode::Other(0x68)),
        ] {
            assert_eq!(Status::from(code).code(), status);
            assert_eq!(Status::zeroed().with_code(status).into_raw(), code);
        }
        Ok(())
    }

    #[test]
    fn line_control_allwinner_only() -> Result {
        let m = Mem::new(None);
        // Allwinner: at 0x20, read-modify-write of the bits recovery drives.
        let sampled = LineControl::zeroed()
            .with_scl_state(true)
            .with_sda_ctl(true)
            .with_sda_ctl_en(true);
        m.set(0x20, sampled.into_raw());
        let l = Layout::Allwinner;
        assert_eq!(l.read_line_control(&m), Some(sampled));
        l.update_line_control(&m, |v| v.drive_scl(false));
        assert_eq!(m.take(0x20), Some(0x20 | 0x04 | 0x03));
        l.update_line_control(&m, |v| v.drive_scl(true));
        assert_eq!(m.take(0x20), Some(0x20 | 0x0c | 0x03));
        l.update_line_control(&m, |v| v.drive_sda(false));
        assert_eq!(m.take(0x20), Some(0x20 | 0x0c | 0x01));
        l.update_line_control(&m, LineControl::release);
        assert_eq!(m.take(0x20), Some(0x20 | 0x08));
        // Marvell: none, and nothing is touched.
        let l = Layout::Marvell;
        assert_eq!(l.read_line_control(&m), None);
        l.update_line_control(&m, LineControl::release);
        assert_eq!(m.reads(0x20), 5);
        for off in (0..0x40).step_by(4) {
            assert_eq!(m.take(off), None);
        }
        Ok(())
    }
}
