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
    offload,
    power::Power,
    regs::{
        self,
        control,
        lcr,
        status,
        Layout,
        Reg,
        Regs, //
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
    /// The controller has the mv78230 offload engine (kept idle: see `offload.rs`).
    pub(crate) offload: bool,
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
/// If `msgs` is not NULL, it points to `num` messages that the `xfer` call which set it owns
/// and that stay valid until that call sets it back to NULL, which it does before returning.
struct Xfer {
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
            xfer <- new_spinlock_irqsave!(
                Xfer {
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
                },
                "mv64xxx_i2c_xfer"
            ),
            done <- Completion::new(),
            power,
        })
    }

    /// Resets and configures the controller.
    pub(crate) fn init_hw(&self, dev: &Device<Bound>) -> Result {
        let io = self.io.access(dev)?;
        let mut x = self.xfer.lock();
        self.hw_init(io, &mut x);
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
            self.hw_init(io, &mut x);
        }
        Ok(())
    }

    /// Returns a copy of the counters.
    pub(crate) fn stats(&self) -> Stats {
        self.xfer.lock().stats
    }

    fn hw_init(&self, io: &Regs, x: &mut Xfer) {
        let l = self.cfg.layout;
        if self.cfg.offload {
            // Keep the offload engine off (these registers are beyond the common window).
            for off in [
                offload::BRIDGE_CONTROL,
                offload::BRIDGE_TIMING,
                offload::BRIDGE_INTR_CAUSE,
                offload::BRIDGE_INTR_MASK,
            ] {
                let _ = io.try_write32(0, off);
            }
        }
        l.write(io, Reg::SoftReset, 0);
        l.write(io, Reg::Clock, self.cfg.baud);
        l.write(io, Reg::Addr, 0);
        l.write(io, Reg::ExtAddr, 0);
        l.write(io, Reg::Control, control::TWSIEN | control::STOP);
        self.errata_delay();
        x.fsm.state = State::Idle;
    }

    fn errata_delay(&self) {
        if self.cfg.errata_delay {
            udelay(Delta::from_micros(5));
        }
    }

    /// Runs the state machine while the controller waits for us. Returns `true` if it did.
    fn service(&self, dev: &Device, io: &Regs, x: &mut Xfer) -> bool {
        let l = self.cfg.layout;
        let mut handled = false;

        for _ in 0..MAX_STEPS {
            if l.read(io, Reg::Control) & control::IFLG == 0 {
                break;
            }
            handled = true;
            if x.fsm.atomic() {
                // Some controllers update the status a little after IFLG (C driver: 100 ns).
                udelay(Delta::from_micros(1));
            }
            let st = l.read(io, Reg::Status);
            // Read the data register once, and only when it holds a received byte: reading
            // it has side effects on some implementations.
            let data = if st == status::RD_DATA_ACK || st == status::RD_DATA_NO_ACK {
                l.read(io, Reg::Data) as u8
            } else {
                0
            };
            let idx = x.idx;
            let info = x.info(idx).unwrap_or_default();
            let action = x.fsm.next(st, data, &info);
            self.act(dev, io, x, action);
            if self.cfg.irq_clear_inverted {
                l.write(io, Reg::Control, x.fsm.cntl | control::IFLG);
            }
        }
        if handled {
            x.stats.irqs = x.stats.irqs.wrapping_add(1);
        }
        handled
    }

    /// Carries out `action` on the registers and the messages.
    fn act(&self, dev: &Device, io: &Regs, x: &mut Xfer, action: Action) {
        let l = self.cfg.layout;
        let idx = x.idx;

        match action {
            Action::RcvDataRestart { pos, byte } => {
                self.store(x, pos, byte, 0);
                self.restart(io, x);
            }
            Action::SendRestart => self.restart(io, x),
            Action::Continue => l.write(io, Reg::Control, x.fsm.cntl),
            Action::SendAddr1 | Action::SendAddr2 => {
                let byte = x.message(idx).map_or(0, |m| {
                    let (hi, lo) = m.ten_bit_addr();
                    match (action, m.is_ten_bit()) {
                        (Action::SendAddr2, _) => lo,
                        (_, true) => hi,
                        _ => m.addr_byte(),
                    }
                });
                l.write(io, Reg::Data, u32::from(byte));
                l.write(io, Reg::Control, x.fsm.cntl);
            }
            Action::SendData(pos) => {
                let byte = x
                    .message(idx)
                    .and_then(|m| m.buf().get(pos).copied())
                    .unwrap_or(0);
                x.stats.bytes = x.stats.bytes.wrapping_add(1);
                l.write(io, Reg::Data, u32::from(byte));
                l.write(io, Reg::Control, x.fsm.cntl);
            }
            Action::RcvData { pos, byte, grow } => {
                self.store(x, pos, byte, grow);
                l.write(io, Reg::Control, x.fsm.cntl);
            }
            Action::RcvDataStop { pos, byte } => {
                self.store(x, pos, byte, 0);
                l.write(io, Reg::Control, x.fsm.cntl | control::STOP);
                self.errata_delay();
                self.complete(x);
            }
            Action::SendStop => {
                if x.fsm.rc == Err(ENXIO) {
                    x.stats.nacks = x.stats.nacks.wrapping_add(1);
                }
                self.stop(io, x);
            }
            Action::Reset(st2) => {
                x.stats.errors = x.stats.errors.wrapping_add(1);
                let addr = x.message(idx).map_or(0, |m| m.addr());
                let what = if st2 == status::LOST_ARB {
                    "arbitration lost"
                } else {
                    "unexpected status"
                };
                if let Some(missed) = x.log.allow() {
                    dev_err!(
                        dev,
                        "controller error: {} {:#04x}, addr {:#x} ({} similar messages suppressed)\n",
                        what,
                        st2,
                        addr,
                        missed
                    );
                }
                self.hw_init(io, x);
                x.recover = true;
                self.stop(io, x);
            }
        }
    }

    /// Goes on to the next message with a repeated START.
    fn restart(&self, io: &Regs, x: &mut Xfer) {
        x.idx += 1;
        let next = x.idx;
        let is_last = next + 1 == x.num;
        match x.info(next) {
            Some(info) => {
                let start = x.fsm.restart(&info, is_last);
                self.cfg.layout.write(io, Reg::Control, start);
                self.errata_delay();
            }
            None => {
                // The state machine only restarts when a message follows.
                x.fsm.rc = Err(EIO);
                x.fsm.state = State::Idle;
                self.stop(io, x);
            }
        }
    }

    fn store(&self, x: &mut Xfer, pos: usize, byte: u8, grow: u8) {
        let idx = x.idx;
        x.stats.bytes = x.stats.bytes.wrapping_add(1);
        if let Some(m) = x.message(idx) {
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

    fn stop(&self, io: &Regs, x: &mut Xfer) {
        self.cfg
            .layout
            .write(io, Reg::Control, x.fsm.cntl | control::STOP);
        self.complete(x);
    }

    fn complete(&self, x: &mut Xfer) {
        if x.active {
            x.active = false;
            self.done.complete();
        }
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
        self.hw_init(io, x);
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
            // INVARIANT: `msgs` stays borrowed by this call until the pointer is cleared below.
            x.msgs = msgs.as_mut_ptr().cast();
            x.num = num;
            x.idx = 0;
            x.active = true;
            x.recover = false;
            x.stats.transfers = x.stats.transfers.wrapping_add(1);
            let info = x.info(0).unwrap_or_default();
            let start = x.fsm.begin(&info, num == 1, atomic);
            self.cfg.layout.write(io, Reg::Control, start);
        }

        if atomic {
            self.poll(dev, io);
        } else {
            self.wait(dev, io);
        }

        let (rc, recover) = {
            let mut x = self.xfer.lock();
            // The handler must not see the messages any more.
            x.msgs = core::ptr::null_mut();
            x.num = 0;
            x.active = false;
            if x.fsm.state != State::Idle {
                x.fsm.state = State::Idle;
            }
            (x.fsm.rc, core::mem::take(&mut x.recover))
        };

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
