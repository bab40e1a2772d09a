// SPDX-License-Identifier: GPL-2.0

//! The controller: state shared by transfers and the interrupt handler, and the step that
//! carries out the state machine's decisions on the registers.
//!
//! As in the C driver, one transfer (all its messages, with repeated STARTs in between) runs
//! from the interrupt handler: the caller starts it and sleeps until the handler completes
//! it; atomic transfers poll the same handler. The transfer state lives under a spinlock
//! that disables interrupts, so process context and the handler never race.
//!
//! Every transfer holds a runtime PM usage reference, so the controller's clocks are on while
//! it runs; an atomic transfer, which can't wait for a resume, ungates the clocks itself if
//! the controller is suspended.

use kernel::{
    device::{
        Bound,
        Device, //
    },
    devres::Devres,
    i2c::{
        adapter::{
            Algorithm,
            Function,
            Functionality,
            Message, //
        },
        I2cAdapter,
    },
    io::{
        mem::IoMem,
        Io, //
    },
    irq::{
        self,
        IrqReturn, //
    },
    new_spinlock_irqsave, pm,
    prelude::*,
    sync::{
        irqs_disabled,
        Arc,
        Completion,
        SpinLockIrqSave, //
    },
    time::{
        delay::udelay,
        msecs_to_jiffies,
        Delta,
        Instant,
        Monotonic, //
    },
    types::ScopeGuard,
};

use crate::{
    fsm::{
        Action,
        Fsm,
        MsgInfo,
        State, //
    },
    power::Power,
    regs::{
        self,
        control,
        lcr,
        status,
        Layout,
        Reg,
        Regs,
        Window, //
    },
};

/// How long to wait for a transfer, as the C driver (one second).
pub(crate) const TIMEOUT_MS: u32 = 1000;

/// At most this many state machine steps per interrupt; a longer message continues on the
/// next interrupt (IFLG is still set), so a wedged controller can't lock the CPU up.
const MAX_STEPS: usize = 4096;

/// How a controller instance behaves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// Register layout.
    pub(crate) layout: Layout,
    /// IFLG is cleared by writing 1 (Allwinner sun6i and later).
    pub(crate) irq_clear_inverted: bool,
    /// Wait 5 us after START and STOP (mv78230 at 100 kHz and below).
    pub(crate) errata_delay: bool,
    /// Baud rate register value.
    pub(crate) baud: u32,
}

/// Transfer counters (shown in debugfs).
///
/// They are `u32` and wrap: 32-bit machines can't format a `u64` in the kernel (no 64-bit
/// division).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    /// Transfers started.
    pub(crate) transfers: u32,
    /// Bytes moved.
    pub(crate) bytes: u32,
    /// Transfers that ended with an address or data NACK.
    pub(crate) nacks: u32,
    /// Transfers that timed out.
    pub(crate) timeouts: u32,
    /// Controller errors (arbitration lost, bus error).
    pub(crate) errors: u32,
    /// Bus recoveries run.
    pub(crate) recoveries: u32,
    /// Interrupts that found work to do.
    pub(crate) irqs: u32,
    /// Atomic transfers: polled, with the controller's interrupt off (`xfer_atomic`, which
    /// the I2C core calls once the system is going down and preemption or interrupts are off).
    pub(crate) atomic: u32,
    /// Atomic transfers entered with interrupts enabled (the I2C core makes them from a
    /// section that only disables preemption; at power-off interrupts are off).
    pub(crate) atomic_irqs_on: u32,
}

/// Lets one message through every five seconds and counts the rest.
struct RateLimit {
    last: Option<Instant<Monotonic>>,
    missed: u32,
}

impl RateLimit {
    const INTERVAL: Delta = Delta::from_secs(5);

    /// Returns the number of messages dropped since the last one if this one may be printed.
    fn allow(&mut self) -> Option<u32> {
        if let Some(last) = &self.last {
            if last.elapsed() < Self::INTERVAL {
                self.missed = self.missed.saturating_add(1);
                return None;
            }
        }
        self.last = Some(Instant::now());
        Some(core::mem::take(&mut self.missed))
    }
}

/// The transfer in progress.
///
/// # Invariants
///
/// If `msgs` is not NULL, it points to `num` messages that the caller of [`Xfer::start`] owns
/// and keeps valid, and does not otherwise touch, until it calls [`Xfer::finish`].
pub(crate) struct Xfer {
    fsm: Fsm,
    msgs: *mut Message<'static>,
    num: usize,
    idx: usize,
    /// The transfer has not finished yet.
    active: bool,
    /// The bus needs a recovery once the transfer is over.
    recover: bool,
    stats: Stats,
    log: RateLimit,
}

// SAFETY: The message pointer is only dereferenced under the lock, while the `xfer` call that
// owns the messages waits for the transfer (see the type invariant); the rest is plain data.
unsafe impl Send for Xfer {}

impl Xfer {
    /// Returns the state of an idle controller.
    pub(crate) fn new() -> Self {
        Self {
            fsm: Fsm::new(),
            msgs: core::ptr::null_mut(),
            num: 0,
            idx: 0,
            active: false,
            recover: false,
            stats: Stats::default(),
            log: RateLimit {
                last: None,
                missed: 0,
            },
        }
    }

    /// Makes `msgs` the transfer in progress and returns the control value that starts it.
    ///
    /// # Safety
    ///
    /// `msgs` must stay valid, and the caller must not touch them, until it calls
    /// [`Xfer::finish`].
    unsafe fn start(&mut self, msgs: &mut [Message<'_>], atomic: bool) -> u32 {
        // INVARIANT: The caller keeps `msgs` until `finish`.
        self.msgs = msgs.as_mut_ptr().cast();
        self.num = msgs.len();
        self.idx = 0;
        self.active = true;
        self.recover = false;
        let info = self.info(0).unwrap_or_default();
        self.fsm.begin(&info, self.num == 1, atomic)
    }

    /// Ends the transfer: forgets the messages. Returns its outcome and whether the bus needs a
    /// recovery.
    fn finish(&mut self) -> (Result, bool) {
        self.msgs = core::ptr::null_mut();
        self.num = 0;
        self.active = false;
        self.fsm.state = State::Idle;
        (self.fsm.rc, core::mem::take(&mut self.recover))
    }

    fn message(&mut self, idx: usize) -> Option<&mut Message<'static>> {
        if self.msgs.is_null() || idx >= self.num {
            return None;
        }
        // SAFETY: By the type invariant, `msgs` points to `num` valid messages and `idx` is in
        // range; `&mut self` (under the lock) makes this the only access.
        Some(unsafe { &mut *self.msgs.add(idx) })
    }

    fn info(&mut self, idx: usize) -> Option<MsgInfo> {
        self.message(idx).map(|m| MsgInfo {
            read: m.is_read(),
            ten_bit: m.is_ten_bit(),
            recv_len: m.is_recv_len(),
            len: m.len(),
        })
    }

    fn store(&mut self, pos: usize, byte: u8, grow: u8) {
        let idx = self.idx;
        self.stats.bytes = self.stats.bytes.wrapping_add(1);
        if let Some(m) = self.message(idx) {
            if grow > 0 {
                // The state machine checked the length; this only fails for a message that
                // isn't `I2C_M_RECV_LEN`, which the state machine never grows.
                let _ = m.recv_len_extend(grow);
            }
            if let Some(slot) = m.buf_mut().ok().and_then(|b| b.get_mut(pos)) {
                *slot = byte;
            }
        }
    }
}

/// What one run of [`Hw::service`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Serviced {
    /// The controller was waiting for the driver (IFLG set).
    pub(crate) handled: bool,
    /// A controller error (its status and the target's address): the controller was reset.
    pub(crate) error: Option<(u32, u16)>,
}

/// The registers as the transfer logic drives them: the set-up, the START of a transfer and the
/// step that the interrupt handler and the atomic poll loop run. Generic over the register
/// window, so that tests drive it against registers in memory.
pub(crate) struct Hw<'a, I: Window> {
    cfg: &'a Config,
    io: &'a I,
}

impl<'a, I: Window> Hw<'a, I> {
    /// Returns the controller configured by `cfg` behind `io`.
    pub(crate) fn new(cfg: &'a Config, io: &'a I) -> Self {
        Self { cfg, io }
    }

    // Always inlined, as the layout's accessors: each caller names a constant register.
    #[inline(always)]
    fn read(&self, reg: Reg) -> u32 {
        self.cfg.layout.read(self.io, reg)
    }

    #[inline(always)]
    fn write(&self, reg: Reg, value: u32) {
        self.cfg.layout.write(self.io, reg, value)
    }

    /// Resets and configures the controller; the transfer state machine goes idle.
    pub(crate) fn init(&self, x: &mut Xfer) {
        self.write(Reg::SoftReset, 0);
        self.write(Reg::Clock, self.cfg.baud);
        self.write(Reg::Addr, 0);
        self.write(Reg::ExtAddr, 0);
        self.write(Reg::Control, control::TWSIEN | control::STOP);
        self.errata_delay();
        x.fsm.state = State::Idle;
    }

    /// Starts `msgs` as one transfer: sends START.
    ///
    /// # Safety
    ///
    /// As for [`Xfer::start`].
    pub(crate) unsafe fn begin(&self, x: &mut Xfer, msgs: &mut [Message<'_>], atomic: bool) {
        // SAFETY: The caller keeps `msgs` as `start` requires.
        let start = unsafe { x.start(msgs, atomic) };
        self.write(Reg::Control, start);
    }

    fn errata_delay(&self) {
        if self.cfg.errata_delay {
            udelay(Delta::from_micros(5));
        }
    }

    /// Runs the state machine while the controller waits for the driver.
    pub(crate) fn service(&self, x: &mut Xfer) -> Serviced {
        let mut out = Serviced::default();

        for _ in 0..MAX_STEPS {
            if self.read(Reg::Control) & control::IFLG == 0 {
                break;
            }
            out.handled = true;
            if x.fsm.atomic() {
                // Some controllers update the status a little after IFLG (C driver: 100 ns).
                udelay(Delta::from_micros(1));
            }
            let st = self.read(Reg::Status);
            // Read the data register once, and only when it holds a received byte: reading
            // it has side effects on some implementations.
            let data = if st == status::RD_DATA_ACK || st == status::RD_DATA_NO_ACK {
                self.read(Reg::Data) as u8
            } else {
                0
            };
            let idx = x.idx;
            let info = x.info(idx).unwrap_or_default();
            let action = x.fsm.next(st, data, &info);
            self.act(x, action, &mut out);
            if self.cfg.irq_clear_inverted {
                self.write(Reg::Control, x.fsm.cntl | control::IFLG);
            }
        }
        if out.handled {
            x.stats.irqs = x.stats.irqs.wrapping_add(1);
        }
        out
    }

    /// Carries out `action` on the registers and the messages.
    fn act(&self, x: &mut Xfer, action: Action, out: &mut Serviced) {
        let idx = x.idx;

        match action {
            Action::RcvDataRestart { pos, byte } => {
                x.store(pos, byte, 0);
                self.restart(x);
            }
            Action::SendRestart => self.restart(x),
            Action::Continue => self.write(Reg::Control, x.fsm.cntl),
            Action::SendAddr1 | Action::SendAddr2 => {
                let byte = x.message(idx).map_or(0, |m| {
                    let (hi, lo) = m.ten_bit_addr();
                    match (action, m.is_ten_bit()) {
                        (Action::SendAddr2, _) => lo,
                        (_, true) => hi,
                        _ => m.addr_byte(),
                    }
                });
                self.write(Reg::Data, u32::from(byte));
                self.write(Reg::Control, x.fsm.cntl);
            }
            Action::SendData(pos) => {
                let byte = x
                    .message(idx)
                    .and_then(|m| m.buf().get(pos).copied())
                    .unwrap_or(0);
                x.stats.bytes = x.stats.bytes.wrapping_add(1);
                self.write(Reg::Data, u32::from(byte));
                self.write(Reg::Control, x.fsm.cntl);
            }
            Action::RcvData { pos, byte, grow } => {
                x.store(pos, byte, grow);
                self.write(Reg::Control, x.fsm.cntl);
            }
            Action::RcvDataStop { pos, byte } => {
                x.store(pos, byte, 0);
                self.write(Reg::Control, x.fsm.cntl | control::STOP);
                self.errata_delay();
                x.active = false;
            }
            Action::SendStop => {
                if x.fsm.rc == Err(ENXIO) {
                    x.stats.nacks = x.stats.nacks.wrapping_add(1);
                }
                self.stop(x);
            }
            Action::Reset(st2) => {
                x.stats.errors = x.stats.errors.wrapping_add(1);
                out.error = Some((st2, x.message(idx).map_or(0, |m| m.addr())));
                self.init(x);
                x.recover = true;
                self.stop(x);
            }
        }
    }

    /// Goes on to the next message with a repeated START.
    fn restart(&self, x: &mut Xfer) {
        x.idx += 1;
        let next = x.idx;
        let is_last = next + 1 == x.num;
        match x.info(next) {
            Some(info) => {
                let start = x.fsm.restart(&info, is_last);
                self.write(Reg::Control, start);
                self.errata_delay();
            }
            None => {
                // The state machine only restarts when a message follows.
                x.fsm.rc = Err(EIO);
                x.fsm.state = State::Idle;
                self.stop(x);
            }
        }
    }

    fn stop(&self, x: &mut Xfer) {
        self.write(Reg::Control, x.fsm.cntl | control::STOP);
        x.active = false;
    }
}

/// One controller.
#[pin_data]
pub(crate) struct Bus {
    io: Devres<IoMem<'static, { regs::SIZE }>>,
    cfg: Config,
    #[pin]
    xfer: SpinLockIrqSave<Xfer>,
    #[pin]
    done: Completion,
    power: Power,
}

impl Bus {
    /// Returns the initialiser of a controller mapped at `io`.
    pub(crate) fn new(
        io: Devres<IoMem<'static, { regs::SIZE }>>,
        cfg: Config,
        power: Power,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            io,
            cfg,
            xfer <- new_spinlock_irqsave!(Xfer::new(), "mv64xxx_i2c_xfer"),
            done <- Completion::new(),
            power,
        })
    }

    fn hw<'a>(&'a self, io: &'a Regs) -> Hw<'a, Regs> {
        Hw::new(&self.cfg, io)
    }

    /// Resets and configures the controller.
    pub(crate) fn init_hw(&self, dev: &Device<Bound>) -> Result {
        let io = self.io.access(dev)?;
        let mut x = self.xfer.lock();
        self.hw(io).init(&mut x);
        Ok(())
    }

    /// Runtime PM: gates the clocks of the idle controller.
    pub(crate) fn suspend(&self) {
        self.power.gate();
    }

    /// Runtime PM: ungates the clocks and configures the controller again, unless an atomic
    /// transfer (which ungated them itself) is running on it. Balanced by [`Bus::suspend`].
    pub(crate) fn resume(&self, dev: &Device<Bound>) -> Result {
        let io = self.io.access(dev)?;
        self.power.ungate()?;
        let mut x = self.xfer.lock();
        if !x.active {
            self.hw(io).init(&mut x);
        }
        Ok(())
    }

    /// Returns a copy of the counters.
    pub(crate) fn stats(&self) -> Stats {
        self.xfer.lock().stats
    }

    /// Runs the register step, logs a controller error and wakes the waiter of a transfer
    /// that it finished. Returns `true` if the controller was waiting for us.
    fn service(&self, dev: &Device, io: &Regs, x: &mut Xfer) -> bool {
        let was_active = x.active;
        let out = self.hw(io).service(x);
        if let Some((st, addr)) = out.error {
            let what = if st == status::LOST_ARB {
                "arbitration lost"
            } else {
                "unexpected status"
            };
            if let Some(missed) = x.log.allow() {
                dev_err!(
                    dev,
                    "controller error: {} {:#04x}, addr {:#x} ({} similar messages suppressed)\n",
                    what,
                    st,
                    addr,
                    missed
                );
            }
        }
        if was_active && !x.active {
            self.done.complete();
        }
        out.handled
    }

    /// Gives up on the transfer in progress, if any: resets the controller and asks for a
    /// bus recovery. Returns `true` if there was one.
    fn give_up(&self, dev: &Device, io: &Regs, x: &mut Xfer) -> bool {
        if !x.active {
            return false;
        }
        x.stats.timeouts = x.stats.timeouts.wrapping_add(1);
        x.fsm.rc = Err(ETIMEDOUT);
        let state = x.fsm.state;
        if let Some(missed) = x.log.allow() {
            dev_err!(
                dev,
                "transfer timed out, bus locked in state {:?} ({} similar messages suppressed)\n",
                state,
                missed
            );
        }
        x.active = false;
        self.hw(io).init(x);
        x.recover = true;
        true
    }

    fn wait(&self, dev: &Device, io: &Regs) {
        let timeout = msecs_to_jiffies(TIMEOUT_MS);
        if self.done.wait_for_completion_timeout(timeout).is_ok() {
            return;
        }
        // Timed out: ask the state machine to wind down at the next byte boundary, as the C
        // driver does, and give it one more timeout to do so.
        {
            let mut x = self.xfer.lock();
            if !x.active {
                return;
            }
            x.fsm.aborting = true;
            x.fsm.rc = Err(ETIMEDOUT);
        }
        if self.done.wait_for_completion_timeout(timeout).is_ok() {
            let mut x = self.xfer.lock();
            x.stats.timeouts = x.stats.timeouts.wrapping_add(1);
            x.fsm.rc = Err(ETIMEDOUT);
            return;
        }
        let mut x = self.xfer.lock();
        self.give_up(dev, io, &mut x);
    }

    fn poll(&self, dev: &Device, io: &Regs) {
        let start = Instant::<Monotonic>::now();
        let limit = Delta::from_millis(i64::from(TIMEOUT_MS));
        loop {
            {
                let mut x = self.xfer.lock();
                if !x.active {
                    return;
                }
                if start.elapsed() > limit {
                    self.give_up(dev, io, &mut x);
                    return;
                }
            }
            udelay(Delta::from_micros(5));
            let mut x = self.xfer.lock();
            self.service(dev, io, &mut x);
        }
    }

    /// Carries out one transfer. Returns the number of messages done.
    fn transfer(
        &self,
        adapter: &I2cAdapter,
        parent: &Device<Bound>,
        msgs: &mut [Message<'_>],
        atomic: bool,
    ) -> Result<usize> {
        let num = msgs.len();
        if num == 0 {
            return Ok(0);
        }
        // Before the lock, which disables interrupts.
        let irqs_on = atomic && !irqs_disabled();
        let io = self.io.access(parent)?;
        let dev: &Device = parent;

        // Power for the transfer. An atomic caller can't wait for a resume: if the
        // controller is suspended (or on its way down or up), ungate the clocks here, for
        // this transfer only, and set the controller up.
        let usage = if atomic {
            pm::Usage::get_if_active(dev)
        } else {
            Some(pm::Usage::resume_and_get(dev)?)
        };
        let _ungated = if usage.is_none() {
            self.resume(parent)?;
            Some(ScopeGuard::new(|| self.suspend()))
        } else {
            None
        };

        self.done.reinit();
        {
            let mut x = self.xfer.lock();
            x.stats.transfers = x.stats.transfers.wrapping_add(1);
            if atomic {
                x.stats.atomic = x.stats.atomic.wrapping_add(1);
                if irqs_on {
                    x.stats.atomic_irqs_on = x.stats.atomic_irqs_on.wrapping_add(1);
                }
            }
            // SAFETY: `msgs` stays borrowed by this call, untouched, until `finish` below.
            unsafe { self.hw(io).begin(&mut x, msgs, atomic) };
        }

        if atomic {
            self.poll(dev, io);
        } else {
            self.wait(dev, io);
        }

        // The handler must not see the messages any more.
        let (rc, recover) = self.xfer.lock().finish();

        if recover && !atomic {
            self.recover(adapter);
        }
        rc.map(|()| num)
    }

    fn recover(&self, adapter: &I2cAdapter) {
        if self.cfg.layout != Layout::Allwinner {
            return;
        }
        let ok = adapter.recover_bus().is_ok();
        let mut x = self.xfer.lock();
        x.stats.recoveries = x.stats.recoveries.wrapping_add(1);
        if !ok {
            if let Some(_missed) = x.log.allow() {
                dev_warn!(adapter.device(), "bus recovery failed\n");
            }
        }
    }

    fn lcr_update(&self, mask: u32, value: u32) {
        if let Some(io) = self.io.try_access() {
            if let Ok(v) = io.try_read32(lcr::OFFSET) {
                let _ = io.try_write32((v & !mask) | value, lcr::OFFSET);
            }
        }
    }

    fn lcr_state(&self, bit: u32) -> bool {
        self.io
            .try_access()
            .and_then(|io| io.try_read32(lcr::OFFSET).ok())
            .is_some_and(|v| v & bit != 0)
    }
}

impl irq::Handler for Bus {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        let Ok(io) = self.io.access(dev) else {
            return IrqReturn::None;
        };
        let mut x = self.xfer.lock();
        if self.service(dev, io, &mut x) {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// The adapter's algorithm: transfers through the shared [`Bus`], bus recovery through the
/// Allwinner line control register.
pub(crate) struct Algo(pub(crate) Arc<Bus>);

#[vtable]
impl Algorithm for Algo {
    fn xfer(
        &self,
        adapter: &I2cAdapter,
        parent: &Device<Bound>,
        msgs: &mut [Message<'_>],
    ) -> Result<usize> {
        self.0.transfer(adapter, parent, msgs, false)
    }

    fn xfer_atomic(
        &self,
        adapter: &I2cAdapter,
        parent: &Device<Bound>,
        msgs: &mut [Message<'_>],
    ) -> Result<usize> {
        self.0.transfer(adapter, parent, msgs, true)
    }

    fn functionality(&self) -> Functionality {
        // Everything the core emulates, block reads included: I2C_M_RECV_LEN is supported.
        Function::I2c | Function::TenBitAddr | Function::SmbusEmulAll
    }

    fn get_scl(&self, _adapter: &I2cAdapter) -> bool {
        self.0.lcr_state(lcr::SCL_STATE)
    }

    fn set_scl(&self, _adapter: &I2cAdapter, high: bool) {
        let level = if high { lcr::SCL_CTL } else { 0 };
        self.0
            .lcr_update(lcr::SCL_CTL | lcr::SCL_CTL_EN, lcr::SCL_CTL_EN | level);
    }

    fn get_sda(&self, _adapter: &I2cAdapter) -> bool {
        self.0.lcr_state(lcr::SDA_STATE)
    }

    fn set_sda(&self, _adapter: &I2cAdapter, high: bool) {
        let level = if high { lcr::SDA_CTL } else { 0 };
        self.0
            .lcr_update(lcr::SDA_CTL | lcr::SDA_CTL_EN, lcr::SDA_CTL_EN | level);
    }

    fn unprepare_recovery(&self, _adapter: &I2cAdapter) {
        // Hand both lines back to the controller.
        self.0.lcr_update(lcr::SCL_CTL_EN | lcr::SDA_CTL_EN, 0);
    }
}

#[kunit_tests(i2c_mv64xxx_rs_step)]
mod tests {
    use super::*;
    use crate::regs::mem::Mem;

    // The Marvell layout's registers, as `mv64xxx_i2c_regs_mv64xxx` in the C driver has them.
    const DATA: usize = 0x04;
    const CONTROL: usize = 0x08;
    /// Status on read, baud rate on write.
    const STATUS: usize = 0x0c;
    const SOFT_RESET: usize = 0x1c;

    const MARVELL: Config = Config {
        layout: Layout::Marvell,
        irq_clear_inverted: false,
        errata_delay: false,
        baud: 0x59,
    };

    /// The control value while a transfer runs: enabled, interrupting, acknowledging.
    const RUN: u32 = control::TWSIEN | control::INTEN | control::ACK;

    /// The control value that ends a write: STOP, with the interrupt off.
    const STOPPED: u32 = control::TWSIEN | control::ACK | control::STOP;

    /// What one step wrote to control and data, and how often it read data.
    type Wrote = (Option<u32>, Option<u32>, u32);

    /// Places status `st` and `data`, raises IFLG as the controller does, and runs the step
    /// the interrupt handler and the atomic poll loop run.
    fn step(m: &Mem, x: &mut Xfer, st: u32, data: u32) -> (Wrote, Serviced) {
        m.set(STATUS, st);
        m.set(DATA, data);
        m.set(CONTROL, RUN | control::IFLG);
        let out = Hw::new(&MARVELL, m).service(x);
        ((m.take(CONTROL), m.take(DATA), m.reads(DATA)), out)
    }

    #[test]
    fn marvell_write() -> Result {
        let m = Mem::new(Some(STATUS));
        let mut x = Xfer::new();
        let buf = [0x08, 0x11];
        let mut msgs = [Message::write(0x50, &buf)?];
        // SAFETY: `msgs` is left alone until `finish`.
        unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
        assert_eq!(m.take(CONTROL), Some(RUN | control::START));

        let (w, out) = step(&m, &mut x, status::START, 0);
        assert!(out.handled);
        // The address byte, then continue.
        assert_eq!(w, (Some(RUN), Some(0xa0), 0));
        let (w, _) = step(&m, &mut x, status::WR_ADDR_ACK, 0);
        assert_eq!(w, (Some(RUN), Some(0x08), 0));
        let (w, _) = step(&m, &mut x, status::WR_ACK, 0);
        assert_eq!(w, (Some(RUN), Some(0x11), 0));
        // All sent: STOP, with the interrupt off.
        let (w, out) = step(&m, &mut x, status::WR_ACK, 0);
        assert_eq!(w, (Some(STOPPED), None, 0));
        assert!(out.error.is_none());
        assert!(!x.active);
        assert_eq!(x.finish(), (Ok(()), false));
        assert_eq!(x.stats.bytes, 2);

        // Idle: IFLG clear, nothing to do.
        m.set(CONTROL, control::TWSIEN);
        assert!(!Hw::new(&MARVELL, &m).service(&mut x).handled);
        assert_eq!(m.take(CONTROL), None);
        Ok(())
    }

    #[test]
    fn marvell_write_then_read_with_repeated_start() -> Result {
        let m = Mem::new(Some(STATUS));
        let mut x = Xfer::new();
        let reg = [0x08];
        let mut buf = [0u8; 2];
        {
            let mut msgs = [Message::write(0x50, &reg)?, Message::read(0x50, &mut buf)?];
            // SAFETY: `msgs` is left alone until `finish`.
            unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
            assert_eq!(m.take(CONTROL), Some(RUN | control::START));

            let (w, _) = step(&m, &mut x, status::START, 0);
            assert_eq!(w, (Some(RUN), Some(0xa0), 0));
            let (w, _) = step(&m, &mut x, status::WR_ADDR_ACK, 0);
            assert_eq!(w, (Some(RUN), Some(0x08), 0));
            // The write is done: a repeated START for the read, not STOP.
            let (w, _) = step(&m, &mut x, status::WR_ACK, 0);
            assert_eq!(w, (Some(RUN | control::START), None, 0));
            // The read address.
            let (w, _) = step(&m, &mut x, status::REPEAT_START, 0);
            assert_eq!(w, (Some(RUN), Some(0xa1), 0));
            // Two bytes to come: acknowledge the first...
            let (w, _) = step(&m, &mut x, status::RD_ADDR_ACK, 0);
            assert_eq!(w, (Some(RUN), None, 0));
            // ...which reads the data register once, and NACK the second.
            let (w, _) = step(&m, &mut x, status::RD_DATA_ACK, 0x5a);
            assert_eq!(w, (Some(control::TWSIEN | control::INTEN), None, 1));
            // The last byte: STOP, with the interrupt off.
            let (w, out) = step(&m, &mut x, status::RD_DATA_NO_ACK, 0xa5);
            assert_eq!(w, (Some(control::TWSIEN | control::STOP), None, 1));
            assert!(out.error.is_none());
            assert!(!x.active);
            assert_eq!(x.finish(), (Ok(()), false));
        }
        assert_eq!(buf, [0x5a, 0xa5]);
        Ok(())
    }

    #[test]
    fn marvell_atomic_read_polls_without_interrupt() -> Result {
        let m = Mem::new(Some(STATUS));
        let mut x = Xfer::new();
        let mut buf = [0u8; 1];
        {
            let mut msgs = [Message::read(0x68, &mut buf)?];
            // SAFETY: `msgs` is left alone until `finish`.
            unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, true) };
            let run = control::TWSIEN | control::ACK;
            assert_eq!(m.take(CONTROL), Some(run | control::START));
            let (w, _) = step(&m, &mut x, status::START, 0);
            assert_eq!(w, (Some(run), Some(0xd1), 0));
            // One byte: NACK it at once.
            let (w, _) = step(&m, &mut x, status::RD_ADDR_ACK, 0);
            assert_eq!(w, (Some(control::TWSIEN), None, 0));
            let (w, _) = step(&m, &mut x, status::RD_DATA_NO_ACK, 0x42);
            assert_eq!(w, (Some(control::TWSIEN | control::STOP), None, 1));
            assert_eq!(x.finish(), (Ok(()), false));
        }
        assert_eq!(buf, [0x42]);
        Ok(())
    }

    #[test]
    fn marvell_nack_and_lost_arbitration() -> Result {
        let m = Mem::new(Some(STATUS));
        let mut x = Xfer::new();
        let buf = [0x00];
        let mut msgs = [Message::write(0x51, &buf)?];
        // SAFETY: `msgs` is left alone until `finish`.
        unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
        step(&m, &mut x, status::START, 0);
        // Nobody at 0x51: STOP and ENXIO.
        let (w, _) = step(&m, &mut x, status::WR_ADDR_NO_ACK, 0);
        assert_eq!(w, (Some(STOPPED), None, 0));
        assert_eq!(x.finish(), (Err(ENXIO), false));
        assert_eq!(x.stats.nacks, 1);

        // Arbitration lost: the controller is reset and set up again, and the bus recovered.
        let mut msgs = [Message::write(0x50, &buf)?];
        // SAFETY: `msgs` is left alone until `finish`.
        unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
        step(&m, &mut x, status::START, 0);
        let (w, out) = step(&m, &mut x, status::LOST_ARB, 0);
        assert_eq!(out.error, Some((status::LOST_ARB, 0x50)));
        assert_eq!(m.take(SOFT_RESET), Some(0));
        // The baud rate goes to the status register's offset, which reads on unchanged.
        assert_eq!(m.take(STATUS), Some(0x59));
        assert_eq!(w, (Some(STOPPED), None, 0));
        assert_eq!(x.finish(), (Err(EAGAIN), true));
        assert_eq!(x.stats.errors, 1);
        Ok(())
    }
}
