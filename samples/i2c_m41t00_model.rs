// SPDX-License-Identifier: GPL-2.0

//! Test module: an ST M41T00 real-time clock on an I2C adapter of its own, with faults on
//! demand.
//!
//! Like `i2c-stub`, but the chip behaves as the datasheet says, so that the M41T00 driver can
//! be tested where emulated hardware can't reach: registers 0-7 with the chip's bit layout
//! (seconds with ST, minutes, hours with CEB and CB, weekday, date, month, year, and the
//! control register with OUT, FT, S and the calibration), a clock that advances with the
//! kernel's, a register pointer that auto-increments and wraps at 8, and the century bit that
//! toggles when the year wraps while CEB is set (CB set means 21xx, as the driver reads it).
//! A set ST stops the clock; writing the seconds with ST clear starts it again.
//!
//! The adapter is named `i2c_m41t00_model adapter` and the chip answers at 0x68 (the `addr`
//! parameter).
//! Faults are injected through the files in `/sys/kernel/debug/i2c_m41t00_model/faults/`:
//!
//! - `tear_every` N and `tear_byte` K (1-6): while `tear_every` is set, the clock ticks once
//!   every N reads of the time registers from register 0 across register K, instead of once a
//!   second, and the tick falls between registers K-1 and K of that read: when it carries into
//!   register K, the read is torn (registers K and up from after the tick, the ones below from
//!   before it), as a read is when a real clock ticks in the middle of it. `tear_every` 0
//!   gives the clock back to the kernel's time, from where it was.
//! - `nack_addr`, `nack_data`, `timeout`, `arb_lost`, `short`: the next that many transfers
//!   fail with an address NACK (`ENXIO`), a data NACK (`EIO`), a timeout (`ETIMEDOUT`), a lost
//!   arbitration (`EAGAIN`), or stop one message short.
//!
//! What it served is counted in `stats`: transfers, reads of the time registers, the torn
//! ones among them, writes, and injected errors.

use kernel::{
    bindings,
    debugfs::{
        Dir,
        Scope, //
    },
    device::{
        Bound,
        Device, //
    },
    faux,
    i2c::{
        adapter::{
            self,
            Algorithm,
            Options, //
        },
        Function,
        Functionality,
        I2cAdapter,
        Message, //
    },
    new_spinlock,
    prelude::*,
    rtc::Time,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        SpinLock, //
    },
};

module! {
    type: M41t00Model,
    name: "i2c_m41t00_model",
    authors: ["kt298 developers"],
    description: "Test: an M41T00 RTC on an I2C adapter of its own, with injected faults",
    license: "GPL",
    params: {
        addr: u32 {
            default: 0x68,
            description: "I2C address of the modelled chip",
        },
    },
}

/// Number of registers; the pointer wraps here.
const NREGS: usize = 8;
/// Registers 0-6 hold the time.
const TIME_REGS: usize = 7;
const REG_SEC: usize = 0;
const REG_HOUR: usize = 2;
const REG_CTRL: usize = 7;
/// Seconds bit 7: the oscillator is stopped.
const ST: u8 = 1 << 7;
/// Hours bit 7: century enable.
const CEB: u8 = 1 << 7;
/// Hours bit 6: century bit.
const CB: u8 = 1 << 6;
/// Bits of each time register that hold the value (the rest read as zero).
const VALUE_MASK: [u8; TIME_REGS] = [0x7f, 0x7f, 0x3f, 0x07, 0x3f, 0x1f, 0xff];
/// The time a new chip shows: 2000-01-01 00:00:00.
const START: i64 = 946_684_800;

/// The knobs and counters of the debugfs directory, shared with the algorithm.
struct Faults {
    tear_byte: Atomic<u32>,
    tear_every: Atomic<u32>,
    nack_addr: Atomic<u32>,
    nack_data: Atomic<u32>,
    timeout: Atomic<u32>,
    arb_lost: Atomic<u32>,
    short: Atomic<u32>,
    transfers: Atomic<u32>,
    time_reads: Atomic<u32>,
    torn: Atomic<u32>,
    writes: Atomic<u32>,
    injected: Atomic<u32>,
}

impl Faults {
    fn new() -> Self {
        Self {
            tear_byte: Atomic::new(0),
            tear_every: Atomic::new(0),
            nack_addr: Atomic::new(0),
            nack_data: Atomic::new(0),
            timeout: Atomic::new(0),
            arb_lost: Atomic::new(0),
            short: Atomic::new(0),
            transfers: Atomic::new(0),
            time_reads: Atomic::new(0),
            torn: Atomic::new(0),
            writes: Atomic::new(0),
            injected: Atomic::new(0),
        }
    }

    /// Takes one injection from `knob` if it has any left.
    fn take(&self, knob: &Atomic<u32>) -> bool {
        let mut n = knob.load(Relaxed);
        while n > 0 {
            match knob.cmpxchg(n, n - 1, Relaxed) {
                Ok(_) => {
                    self.injected.add(1, Relaxed);
                    return true;
                }
                Err(now) => n = now,
            }
        }
        false
    }

    /// The error to fail the next transfer with, if one is injected.
    fn error(&self) -> Option<Error> {
        [
            (&self.nack_addr, ENXIO),
            (&self.nack_data, EIO),
            (&self.timeout, ETIMEDOUT),
            (&self.arb_lost, EAGAIN),
        ]
        .into_iter()
        .find_map(|(knob, e)| self.take(knob).then_some(e))
    }
}

impl core::fmt::Debug for Faults {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "transfers {}", self.transfers.load(Relaxed))?;
        writeln!(f, "time_reads {}", self.time_reads.load(Relaxed))?;
        writeln!(f, "torn {}", self.torn.load(Relaxed))?;
        writeln!(f, "writes {}", self.writes.load(Relaxed))?;
        writeln!(f, "injected {}", self.injected.load(Relaxed))
    }
}

/// Binary-coded decimal of `v` (0-99).
fn bcd(v: u32) -> u8 {
    // CAST: `v` is below 100, so both digits fit.
    ((v / 10) << 4 | (v % 10)) as u8
}

/// The value of the BCD byte `b`, if it is one.
fn from_bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (u32::from(b >> 4), u32::from(b & 0xf));
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

/// The chip's state.
struct Chip {
    /// The time shown at `since`, in seconds since the epoch.
    base: i64,
    /// The kernel's monotonic seconds when `base` was set.
    since: i64,
    /// The oscillator is stopped: the time stays `base`.
    stopped: bool,
    /// The clock ticks by reads (`tear_every`), not by the kernel's clock: the time is `base`.
    by_reads: bool,
    /// Reads from register 0 across register `tear_byte`, for the ticks of `by_reads`.
    spanning: u32,
    /// CEB, as last written.
    ceb: bool,
    /// The control register.
    ctrl: u8,
    /// The register pointer.
    ptr: usize,
}

/// The kernel's monotonic clock in whole seconds.
fn mono_secs() -> i64 {
    // SAFETY: Always safe to call.
    unsafe { bindings::ktime_get_seconds() }
}

impl Chip {
    fn now(&self) -> i64 {
        if self.stopped || self.by_reads {
            self.base
        } else {
            self.base + (mono_secs() - self.since)
        }
    }

    /// Switches between ticking by reads and by the kernel's clock, from the current time.
    fn set_by_reads(&mut self, by_reads: bool) {
        if by_reads != self.by_reads {
            self.base = self.now();
            self.since = mono_secs();
            self.by_reads = by_reads;
        }
    }

    /// Registers 0-7 as they read at time `t`.
    fn regs_at(&self, t: i64) -> [u8; NREGS] {
        let mut r = [0u8; NREGS];
        if let Ok(tm) = Time::from_time64(t) {
            r[0] = bcd(tm.second());
            r[1] = bcd(tm.minute());
            r[2] = bcd(tm.hour());
            if self.ceb {
                r[2] |= CEB;
                if (tm.year() / 100) % 2 == 1 {
                    r[2] |= CB;
                }
            }
            r[3] = bcd(tm.weekday() + 1);
            r[4] = bcd(tm.day());
            r[5] = bcd(tm.month());
            r[6] = bcd(tm.year() % 100);
        }
        if self.stopped {
            r[REG_SEC] |= ST;
        }
        r[REG_CTRL] = self.ctrl;
        r
    }

    /// Takes a write of the registers from `reg` on: the time registers as a whole (what the
    /// driver writes), the control register on its own.
    fn write(&mut self, first: usize, data: &[u8]) {
        let mut r = self.regs_at(self.now());
        for (i, b) in data.iter().enumerate() {
            r[(first + i) % NREGS] = *b;
        }
        self.ctrl = r[REG_CTRL];
        let touches_time = first < TIME_REGS || first + data.len() > NREGS;
        if !touches_time {
            return;
        }
        self.ceb = r[REG_HOUR] & CEB != 0;
        self.stopped = r[REG_SEC] & ST != 0;
        let f = |i: usize| from_bcd(r[i] & VALUE_MASK[i]);
        let century = if self.ceb && r[REG_HOUR] & CB != 0 {
            2100
        } else {
            2000
        };
        let time = match (f(6), f(5), f(4), f(2), f(1), f(0)) {
            (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
                Time::new(century + y, mo, d, h, mi, s).map(|t| t.to_time64())
            }
            _ => Err(EINVAL),
        };
        // A write the chip can't make sense of keeps the clock as it was.
        if let Ok(t) = time {
            self.base = t;
            self.since = mono_secs();
        }
    }
}

/// The adapter's algorithm: the chip at `addr`.
#[pin_data]
struct Model {
    addr: u16,
    #[pin]
    chip: SpinLock<Chip>,
    faults: Arc<Faults>,
}

impl Model {
    /// Serves a read of `buf.len()` registers from the pointer on.
    fn read(&self, chip: &mut Chip, buf: &mut [u8]) {
        let first = chip.ptr;
        let mut regs = chip.regs_at(chip.now());
        if first == REG_SEC {
            let f = &self.faults;
            f.time_reads.add(1, Relaxed);
            let every = f.tear_every.load(Relaxed);
            // CAST: A register index.
            let k = (f.tear_byte.load(Relaxed) as usize).clamp(1, TIME_REGS - 1);
            let end = buf.len().min(TIME_REGS);
            if chip.by_reads && every > 0 && k < end {
                chip.spanning = chip.spanning.wrapping_add(1);
                if chip.spanning % every == 0 {
                    // The tick, between registers `k - 1` and `k` of this read.
                    chip.base += 1;
                    let after = chip.regs_at(chip.base);
                    if regs[k..end] != after[k..end] {
                        f.torn.add(1, Relaxed);
                    }
                    regs[k..end].copy_from_slice(&after[k..end]);
                }
            }
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = regs[(first + i) % NREGS];
        }
        chip.ptr = (first + buf.len()) % NREGS;
    }
}

#[vtable]
impl Algorithm for Model {
    fn xfer(
        &self,
        _adapter: &I2cAdapter,
        _parent: &Device<Bound>,
        msgs: &mut [Message<'_>],
    ) -> Result<usize> {
        self.faults.transfers.add(1, Relaxed);
        if msgs.iter().any(|m| m.addr() != self.addr || m.is_ten_bit()) {
            return Err(ENXIO);
        }
        if let Some(e) = self.faults.error() {
            return Err(e);
        }
        let done = if self.faults.take(&self.faults.short) {
            msgs.len().saturating_sub(1)
        } else {
            msgs.len()
        };
        let mut chip = self.chip.lock();
        chip.set_by_reads(self.faults.tear_every.load(Relaxed) > 0);
        for m in msgs[..done].iter_mut() {
            if m.is_read() {
                self.read(&mut chip, m.buf_mut()?);
            } else if let Some((&reg, data)) = m.buf().split_first() {
                chip.ptr = usize::from(reg) % NREGS;
                if !data.is_empty() {
                    let first = chip.ptr;
                    chip.write(first, data);
                    chip.ptr = (first + data.len()) % NREGS;
                    self.faults.writes.add(1, Relaxed);
                }
            }
        }
        Ok(done)
    }

    fn functionality(&self) -> Functionality {
        Function::I2c | Function::SmbusEmul
    }
}

struct M41t00Model {
    /// Declared first: the adapter goes before its parent device.
    _adapter: Pin<KBox<adapter::Registration<Model>>>,
    _debugfs: Pin<KBox<Scope<Arc<Faults>>>>,
    _dir: Dir,
    _faux: faux::Registration,
}

impl kernel::Module for M41t00Model {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let addr = u16::try_from(*module_parameters::addr.value())
            .ok()
            .filter(|a| *a < 0x80)
            .ok_or(EINVAL)?;
        let faux = faux::Registration::new(c"i2c_m41t00_model", None)?;
        let faults = Arc::new(Faults::new(), GFP_KERNEL)?;
        let dir = Dir::new(c"i2c_m41t00_model");
        let debugfs = KBox::pin_init(
            dir.scope(
                Ok::<_, Error>(faults.clone()),
                c"faults",
                |f: &Arc<Faults>, d| {
                    d.read_write_file(c"tear_byte", &f.tear_byte);
                    d.read_write_file(c"tear_every", &f.tear_every);
                    d.read_write_file(c"nack_addr", &f.nack_addr);
                    d.read_write_file(c"nack_data", &f.nack_data);
                    d.read_write_file(c"timeout", &f.timeout);
                    d.read_write_file(c"arb_lost", &f.arb_lost);
                    d.read_write_file(c"short", &f.short);
                    d.read_only_file(c"stats", &**f);
                },
            ),
            GFP_KERNEL,
        )?;
        let model = try_pin_init!(Model {
            addr,
            chip <- new_spinlock!(Chip {
                base: START,
                since: mono_secs(),
                stopped: false,
                by_reads: false,
                spanning: 0,
                ceb: false,
                ctrl: 0,
                ptr: 0,
            }),
            faults,
        });
        let adapter = KBox::pin_init(
            adapter::Registration::new(
                faux.as_bound(),
                module,
                Options::new(c"i2c_m41t00_model adapter"),
                model,
            ),
            GFP_KERNEL,
        )?;
        pr_info!("an M41T00 at 0x{:02x}\n", addr);
        Ok(Self {
            _adapter: adapter,
            _debugfs: debugfs,
            _dir: dir,
            _faux: faux,
        })
    }
}
