// SPDX-License-Identifier: GPL-2.0

//! The controller: state shared by transfers and the interrupt handler, the transfer entry
//! points of the adapter, and bus recovery.
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
    io::mem::IoMem,
    irq::{
        self,
        IrqReturn, //
    },
    new_spinlock_irqsave,
    pm,
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
    types::ScopeGuard, //
};

use crate::{
    power::Power,
    regs::{
        self,
        Layout,
        LineControl,
        Regs,
        StatusCode, //
    },
    step::{
        Config,
        Hw, //
    },
    xfer::{
        Stats,
        Xfer, //
    },
};

/// How long to wait for a transfer, as the C driver (one second).
pub(crate) const TIMEOUT_MS: u32 = 1000;

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
            xfer <- new_spinlock_irqsave!(Xfer::new(), "i2c_mv64xxx_rs::Bus::xfer"),
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
            let what = if st == StatusCode::LostArb {
                "arbitration lost"
            } else {
                "unexpected status"
            };
            if let Some(missed) = x.log.allow() {
                dev_err!(
                    dev,
                    "controller error: {} {:#04x}, addr {:#x} ({} similar messages suppressed)\n",
                    what,
                    st.code(),
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

    /// Changes the line control register with `f` (Allwinner only).
    fn lcr_update(&self, f: impl FnOnce(LineControl) -> LineControl) {
        if let Some(io) = self.io.try_access() {
            let io: &Regs = &io;
            self.cfg.layout.update_line_control(io, f);
        }
    }

    /// Returns `f` of the line control register (Allwinner only), `false` if there is none.
    fn lcr_state(&self, f: impl FnOnce(LineControl) -> bool) -> bool {
        self.io
            .try_access()
            .and_then(|io| {
                let io: &Regs = &io;
                self.cfg.layout.read_line_control(io)
            })
            .is_some_and(f)
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
        self.0.lcr_state(LineControl::scl_state)
    }

    fn set_scl(&self, _adapter: &I2cAdapter, high: bool) {
        self.0.lcr_update(|v| v.drive_scl(high));
    }

    fn get_sda(&self, _adapter: &I2cAdapter) -> bool {
        self.0.lcr_state(LineControl::sda_state)
    }

    fn set_sda(&self, _adapter: &I2cAdapter, high: bool) {
        self.0.lcr_update(|v| v.drive_sda(high));
    }

    fn unprepare_recovery(&self, _adapter: &I2cAdapter) {
        // Hand both lines back to the controller.
        self.0.lcr_update(LineControl::release);
    }
}
