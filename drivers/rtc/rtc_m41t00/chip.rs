// SPDX-License-Identifier: GPL-2.0

//! The M41T00 on its bus: block transfers and the RTC class operations.

use super::regs;
use kernel::{
    device::{
        Bound,
        Device, //
    },
    i2c::{
        Function,
        I2cClient, //
    },
    new_spinlock,
    prelude::*,
    rtc::{
        self,
        Time, //
    },
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        SpinLock,
    },
    time::{
        Delta,
        Instant,
        Monotonic, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// How the time registers are moved as one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bus {
    /// Plain I2C: a register-address write and a read joined by a repeated start.
    I2c,
    /// SMBus I2C block commands (for example on `i2c-stub`).
    SmbusBlock,
}

impl Bus {
    /// Picks the way to move blocks on `client`'s adapter.
    ///
    /// Returns [`ENODEV`] if the adapter can do neither.
    pub(crate) fn for_client(client: &I2cClient<Bound>) -> Result<Self> {
        if client.check_functionality(Function::I2c) {
            Ok(Self::I2c)
        } else if client.check_functionality(Function::SmbusI2cBlock) {
            Ok(Self::SmbusBlock)
        } else {
            Err(ENODEV)
        }
    }

    /// Reads `buf.len()` registers from `reg` on in one bus transaction.
    pub(crate) fn read(self, client: &I2cClient<Bound>, reg: u8, buf: &mut [u8]) -> Result {
        match self {
            Self::I2c => {
                let addr = [reg];
                client.transfer(&mut [client.write_message(&addr)?, client.read_message(buf)?])
            }
            Self::SmbusBlock => {
                if client.smbus_read_i2c_block_data(reg, buf)? != buf.len() {
                    return Err(EIO);
                }
                Ok(())
            }
        }
    }

    /// Reads the seven time registers and then the seconds register again, in one transfer
    /// of four messages joined by repeated starts (for [`regs::read_checked`]).
    ///
    /// Only for [`Bus::I2c`].
    pub(crate) fn read_time_checked(
        client: &I2cClient<Bound>,
        buf: &mut [u8; regs::TIME_REGS + 1],
    ) -> Result {
        let addr = [0u8];
        let (time, sec) = buf.split_at_mut(regs::TIME_REGS);
        client.transfer(&mut [
            client.write_message(&addr)?,
            client.read_message(time)?,
            client.write_message(&addr)?,
            client.read_message(sec)?,
        ])
    }

    /// Writes `data` to the registers from `reg` on in one bus transaction.
    pub(crate) fn write(self, client: &I2cClient<Bound>, reg: u8, data: &[u8]) -> Result {
        match self {
            Self::I2c => {
                let mut buf = [0u8; 1 + regs::TIME_REGS + 1];
                let msg = buf.get_mut(..1 + data.len()).ok_or(EINVAL)?;
                msg[0] = reg;
                msg[1..].copy_from_slice(data);
                client.write(msg)
            }
            Self::SmbusBlock => client.smbus_write_i2c_block_data(reg, data),
        }
    }
}

/// Messages about failed reads are printed at most once per this interval.
const ERROR_INTERVAL: Delta = Delta::from_secs(5);

/// The RTC's data: what the class operations need.
#[pin_data]
pub(crate) struct Chip {
    /// Keep the century in CEB/CB (range 2000-2199) instead of ignoring it (2000-2099).
    pub(crate) century: bool,
    /// How blocks move on this client's adapter.
    pub(crate) bus: Bus,
    /// Compare two whole block reads (the default) rather than one checked transfer.
    pub(crate) double_read: bool,
    /// When the last "reads disagree" error was printed.
    #[pin]
    last_error: SpinLock<Option<Instant<Monotonic>>>,
    /// Whether "oscillator stopped" has been reported since the last set.
    stop_reported: Atomic<i32>,
    /// Bus transfers done by `read_time` (for the benchmark's transaction count; wraps).
    reads: Atomic<u32>,
    /// Calls of `read_time` (wraps).
    read_calls: Atomic<u32>,
}

impl Chip {
    pub(crate) fn new(century: bool, bus: Bus, double_read: bool) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            century,
            bus,
            double_read,
            last_error <- new_spinlock!(None, "m41t00::Chip::last_error"),
            stop_reported: Atomic::new(0),
            reads: Atomic::new(0),
            read_calls: Atomic::new(0),
        })
    }

    /// Returns whether a rate-limited error may be printed now.
    fn error_allowed(&self) -> bool {
        let now = Instant::<Monotonic>::now();
        let mut last = self.last_error.lock();
        match *last {
            Some(t) if now - t < ERROR_INTERVAL => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    fn client(parent: &Device<Bound>) -> Result<&I2cClient<Bound>> {
        parent.try_into()
    }

    /// Reads the time registers consistently.
    fn read_regs(&self, parent: &Device<Bound>) -> Result<[u8; regs::TIME_REGS]> {
        let client = Self::client(parent)?;
        let res = if self.bus == Bus::I2c && !self.double_read {
            regs::read_checked(|buf| Bus::read_time_checked(client, buf))
        } else {
            regs::read_consistent(|buf| self.bus.read(client, 0, buf))
        };
        self.read_calls.add(1, Relaxed);
        match res {
            Ok((regs, n)) => {
                self.reads.add(n, Relaxed);
                Ok(regs)
            }
            Err(e) => {
                // A bus error, or `EIO` when the reads never agreed (or the bus failed).
                if self.error_allowed() {
                    dev_err!(parent, "reading the time failed: {}\n", e.to_errno());
                }
                Err(e)
            }
        }
    }

    /// Reads the control register.
    fn read_ctrl(&self, parent: &Device<Bound>) -> Result<u8> {
        let mut ctrl = [0u8];
        self.bus
            .read(Self::client(parent)?, regs::REG_CTRL, &mut ctrl)?;
        Ok(ctrl[0])
    }

    /// Writes the control register.
    fn write_ctrl(&self, parent: &Device<Bound>, ctrl: u8) -> Result {
        self.bus
            .write(Self::client(parent)?, regs::REG_CTRL, &[ctrl])
    }

    /// Returns whether the frequency test output (FT: 512 Hz on the FT/OUT pin) is on.
    pub(crate) fn frequency_test(&self, parent: &Device<Bound>) -> Result<bool> {
        Ok(self.read_ctrl(parent)? & regs::CTRL_FT != 0)
    }

    /// Turns the frequency test output on or off.
    pub(crate) fn set_frequency_test(&self, parent: &Device<Bound>, on: bool) -> Result {
        let ctrl = self.read_ctrl(parent)? & !regs::CTRL_FT;
        self.write_ctrl(parent, if on { ctrl | regs::CTRL_FT } else { ctrl })
    }
}

#[vtable]
impl rtc::Ops for Chip {
    fn read_time(&self, parent: &Device<Bound>) -> Result<Time> {
        let regs = self.read_regs(parent)?;
        if regs[regs::REG_SEC] & regs::SEC_ST != 0 && self.stop_reported.xchg(1, Relaxed) == 0 {
            dev_warn!(
                parent,
                "oscillator stopped (ST set): time invalid until set\n"
            );
        }
        regs::decode(&regs, self.century)
    }

    fn set_time(&self, parent: &Device<Bound>, time: &Time) -> Result {
        let regs = regs::encode(time, self.century)?;
        // One block write: the chip never holds a mix of old and new fields, and the clear
        // ST bit restarts a stopped oscillator.
        self.bus
            .write(Self::client(parent)?, 0, &regs)
            .inspect_err(|e| {
                if self.error_allowed() {
                    dev_err!(parent, "setting the time failed: {}\n", e.to_errno());
                }
            })?;
        self.stop_reported.store(0, Relaxed);
        Ok(())
    }

    fn read_offset(&self, parent: &Device<Bound>) -> Result<i64> {
        Ok(regs::offset_from_ctrl(self.read_ctrl(parent)?))
    }

    fn set_offset(&self, parent: &Device<Bound>, offset: i64) -> Result {
        let calib = regs::ctrl_from_offset(offset)?;
        let ctrl = self.read_ctrl(parent)? & !(regs::CTRL_CALIB_SIGN | regs::CTRL_CALIB);
        self.write_ctrl(parent, ctrl | calib)
    }

    fn ioctl(&self, parent: &Device<Bound>, cmd: u32, arg: usize) -> Result<i32> {
        match cmd {
            rtc::VL_READ => {
                // Only the stop bit says anything about the data; the time itself is not needed.
                let mut sec = [0u8];
                self.bus.read(Self::client(parent)?, 0, &mut sec)?;
                let flags: u32 = if sec[0] & regs::SEC_ST != 0 {
                    rtc::VL_DATA_INVALID
                } else {
                    0
                };
                UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<u32>())
                    .writer()
                    .write(&flags)?;
                Ok(0)
            }
            _ => Err(ENOIOCTLCMD),
        }
    }

    fn proc(&self, parent: &Device<Bound>, m: &SeqFile) -> Result {
        let ctrl = self.read_ctrl(parent)?;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let century = yes_no(self.century);
        let ft = yes_no(ctrl & regs::CTRL_FT != 0);
        let out = u8::from(ctrl & regs::CTRL_OUT != 0);
        // An `i32` (the offset is at most 126108 ppb): 32-bit ARM's `core::fmt` cannot print
        // 64-bit integers.
        let offset = i32::try_from(regs::offset_from_ctrl(ctrl)).unwrap_or(0);
        let (reads, calls) = (self.reads.load(Relaxed), self.read_calls.load(Relaxed));
        seq_print!(m, "century bits\t: {}\n", century);
        seq_print!(m, "bus\t\t: {:?}\n", self.bus);
        seq_print!(m, "double read\t: {}\n", yes_no(self.double_read));
        seq_print!(m, "calibration\t: {} ppb\n", offset);
        seq_print!(m, "frequency test\t: {}\n", ft);
        seq_print!(m, "out\t\t: {}\n", out);
        seq_print!(m, "time reads\t: {} in {} calls\n", reads, calls);
        Ok(())
    }
}
