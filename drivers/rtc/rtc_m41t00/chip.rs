// SPDX-License-Identifier: GPL-2.0

//! The RTC class operations of the M41T00.

use super::{
    bus::Bus,
    read,
    regs::{
        Ctrl,
        Sec,
        TimeRegs, //
    },
    time, //
};
use kernel::{
    device::{
        Bound,
        Device, //
    },
    i2c::I2cClient,
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
            last_error <- new_spinlock!(None, "rtc_m41t00::Chip::last_error"),
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
    fn read_regs(&self, parent: &Device<Bound>) -> Result<TimeRegs> {
        let client = Self::client(parent)?;
        let res = if self.bus == Bus::I2c && !self.double_read {
            read::read_checked(|| Bus::read_time_checked(client))
        } else {
            read::read_consistent(|| self.bus.read_time(client))
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
    fn read_ctrl(&self, parent: &Device<Bound>) -> Result<Ctrl> {
        self.bus.read(Self::client(parent)?)
    }

    /// Writes the control register.
    fn write_ctrl(&self, parent: &Device<Bound>, ctrl: Ctrl) -> Result {
        self.bus.write(Self::client(parent)?, ctrl)
    }

    /// Returns whether the frequency test output (FT: 512 Hz on the FT/OUT pin) is on.
    pub(crate) fn frequency_test(&self, parent: &Device<Bound>) -> Result<bool> {
        Ok(self.read_ctrl(parent)?.ft())
    }

    /// Turns the frequency test output on or off.
    pub(crate) fn set_frequency_test(&self, parent: &Device<Bound>, on: bool) -> Result {
        let ctrl = self.read_ctrl(parent)?;
        self.write_ctrl(parent, ctrl.with_ft(on))
    }
}

#[vtable]
impl rtc::Ops for Chip {
    fn read_time(&self, parent: &Device<Bound>) -> Result<Time> {
        let regs = self.read_regs(parent)?;
        if regs.sec.st() && self.stop_reported.xchg(1, Relaxed) == 0 {
            dev_warn!(
                parent,
                "oscillator stopped (ST set): time invalid until set\n"
            );
        }
        time::decode(&regs, self.century)
    }

    fn set_time(&self, parent: &Device<Bound>, tm: &Time) -> Result {
        let regs = time::encode(tm, self.century)?;
        // One block write: the chip never holds a mix of old and new fields, and the clear
        // ST bit restarts a stopped oscillator.
        self.bus
            .write_time(Self::client(parent)?, &regs)
            .inspect_err(|e| {
                if self.error_allowed() {
                    dev_err!(parent, "setting the time failed: {}\n", e.to_errno());
                }
            })?;
        self.stop_reported.store(0, Relaxed);
        Ok(())
    }

    fn read_offset(&self, parent: &Device<Bound>) -> Result<i64> {
        Ok(self.read_ctrl(parent)?.offset())
    }

    fn set_offset(&self, parent: &Device<Bound>, offset: i64) -> Result {
        // An offset out of range is refused before the bus is touched.
        let calib = Ctrl::for_offset(offset)?;
        let ctrl = self.read_ctrl(parent)?;
        self.write_ctrl(parent, ctrl.with_calibration_of(calib))
    }

    fn ioctl(&self, parent: &Device<Bound>, cmd: u32, arg: usize) -> Result<i32> {
        match cmd {
            rtc::VL_READ => {
                // Only the stop bit says anything about the data; the time itself is not needed.
                let sec: Sec = self.bus.read(Self::client(parent)?)?;
                let flags: u32 = if sec.st() { rtc::VL_DATA_INVALID } else { 0 };
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
        let ft = yes_no(ctrl.ft());
        let out = u8::from(ctrl.out());
        // An `i32` (the offset is at most 126108 ppb): 32-bit ARM's `core::fmt` cannot print
        // 64-bit integers.
        let offset = i32::try_from(ctrl.offset()).unwrap_or(0);
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
