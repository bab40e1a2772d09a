// SPDX-License-Identifier: GPL-2.0

//! The register step: carries out the state machine's decisions on the registers.
//!
//! [`Hw`] sets the controller up, sends the START of a transfer, and runs the step that the
//! interrupt handler and the atomic poll loop run. It is generic over the register window, so
//! that the tests below drive the code the driver runs against registers in memory.

use kernel::{
    i2c::adapter::Message,
    prelude::*,
    time::{
        delay::udelay,
        Delta, //
    },
};

use crate::{
    fsm::{
        Action,
        State, //
    },
    regs::{
        Baud,
        Control,
        Data,
        Layout,
        OwnAddr,
        OwnExtAddr,
        Register,
        SoftReset,
        Status,
        StatusCode,
        Window, //
    },
    xfer::Xfer,
};

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
    pub(crate) baud: Baud,
}

/// What one run of [`Hw::service`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Serviced {
    /// The controller was waiting for the driver (IFLG set).
    pub(crate) handled: bool,
    /// A controller error (its status and the target's address): the controller was reset.
    pub(crate) error: Option<(StatusCode, u16)>,
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

    // Always inlined, as the layout's accessors: each register's offset is a constant.
    #[inline(always)]
    fn read<R: Register>(&self) -> R {
        self.cfg.layout.read(self.io)
    }

    #[inline(always)]
    fn write<R: Register>(&self, value: R) {
        self.cfg.layout.write(self.io, value)
    }

    /// Resets and configures the controller; the transfer state machine goes idle.
    pub(crate) fn init(&self, x: &mut Xfer) {
        self.write(SoftReset::zeroed());
        self.write(self.cfg.baud);
        self.write(OwnAddr::zeroed());
        self.write(OwnExtAddr::zeroed());
        self.write(Control::zeroed().with_twsien(true).with_stop(true));
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
        self.write(start);
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
            if !self.read::<Control>().iflg() {
                break;
            }
            out.handled = true;
            if x.fsm.atomic() {
                // Some controllers update the status a little after IFLG (C driver: 100 ns).
                udelay(Delta::from_micros(1));
            }
            let st = self.read::<Status>().code();
            // Read the data register once, and only when it holds a received byte: reading
            // it has side effects on some implementations.
            let data = match st {
                StatusCode::RdDataAck | StatusCode::RdDataNoAck => self.read::<Data>().byte(),
                _ => 0,
            };
            let idx = x.idx;
            let info = x.info(idx).unwrap_or_default();
            let action = x.fsm.next(st, data, &info);
            self.act(x, action, &mut out);
            if self.cfg.irq_clear_inverted {
                self.write(x.fsm.cntl.with_iflg(true));
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
            Action::Continue => self.write(x.fsm.cntl),
            Action::SendAddr1 | Action::SendAddr2 => {
                let byte = x.message(idx).map_or(0, |m| {
                    let (hi, lo) = m.ten_bit_addr();
                    match (action, m.is_ten_bit()) {
                        (Action::SendAddr2, _) => lo,
                        (_, true) => hi,
                        _ => m.addr_byte(),
                    }
                });
                self.write(Data::zeroed().with_byte(byte));
                self.write(x.fsm.cntl);
            }
            Action::SendData(pos) => {
                let byte = x
                    .message(idx)
                    .and_then(|m| m.buf().get(pos).copied())
                    .unwrap_or(0);
                x.stats.bytes = x.stats.bytes.wrapping_add(1);
                self.write(Data::zeroed().with_byte(byte));
                self.write(x.fsm.cntl);
            }
            Action::RcvData { pos, byte, grow } => {
                x.store(pos, byte, grow);
                self.write(x.fsm.cntl);
            }
            Action::RcvDataStop { pos, byte } => {
                x.store(pos, byte, 0);
                self.write(x.fsm.cntl.with_stop(true));
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
                self.write(start);
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
        self.write(x.fsm.cntl.with_stop(true));
        x.active = false;
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
        baud: Baud::from_raw(0x59),
    };

    /// The control value of an enabled controller.
    fn enabled() -> Control {
        Control::zeroed().with_twsien(true)
    }

    /// The control value while a transfer runs: enabled, interrupting, acknowledging.
    fn run() -> Control {
        enabled().with_inten(true).with_ack(true)
    }

    /// The control value that ends a write: STOP, with the interrupt off.
    fn stopped() -> Control {
        enabled().with_ack(true).with_stop(true)
    }

    /// Returns what was last written to control since the last call, if anything.
    fn control(m: &Mem) -> Option<Control> {
        m.take(CONTROL).map(Control::from)
    }

    /// What one step wrote to control and data, and how often it read data.
    type Wrote = (Option<Control>, Option<u32>, u32);

    /// Places status `st` and `data`, raises IFLG as the controller does, and runs the step
    /// the interrupt handler and the atomic poll loop run.
    fn step(m: &Mem, x: &mut Xfer, st: StatusCode, data: u32) -> (Wrote, Serviced) {
        m.set(STATUS, Status::zeroed().with_code(st).into());
        m.set(DATA, data);
        m.set(CONTROL, run().with_iflg(true).into());
        let out = Hw::new(&MARVELL, m).service(x);
        ((control(m), m.take(DATA), m.reads(DATA)), out)
    }

    #[test]
    fn marvell_write() -> Result {
        let m = Mem::new(Some(STATUS));
        let mut x = Xfer::new();
        let buf = [0x08, 0x11];
        let mut msgs = [Message::write(0x50, &buf)?];
        // SAFETY: `msgs` is left alone until `finish`.
        unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
        assert_eq!(control(&m), Some(run().with_start(true)));

        let (w, out) = step(&m, &mut x, StatusCode::Start, 0);
        assert!(out.handled);
        // The address byte, then continue.
        assert_eq!(w, (Some(run()), Some(0xa0), 0));
        let (w, _) = step(&m, &mut x, StatusCode::WrAddrAck, 0);
        assert_eq!(w, (Some(run()), Some(0x08), 0));
        let (w, _) = step(&m, &mut x, StatusCode::WrAck, 0);
        assert_eq!(w, (Some(run()), Some(0x11), 0));
        // All sent: STOP, with the interrupt off.
        let (w, out) = step(&m, &mut x, StatusCode::WrAck, 0);
        assert_eq!(w, (Some(stopped()), None, 0));
        assert!(out.error.is_none());
        assert!(!x.active);
        assert_eq!(x.finish(), (Ok(()), false));
        assert_eq!(x.stats.bytes, 2);

        // Idle: IFLG clear, nothing to do.
        m.set(CONTROL, enabled().into());
        assert!(!Hw::new(&MARVELL, &m).service(&mut x).handled);
        assert_eq!(control(&m), None);
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
            assert_eq!(control(&m), Some(run().with_start(true)));

            let (w, _) = step(&m, &mut x, StatusCode::Start, 0);
            assert_eq!(w, (Some(run()), Some(0xa0), 0));
            let (w, _) = step(&m, &mut x, StatusCode::WrAddrAck, 0);
            assert_eq!(w, (Some(run()), Some(0x08), 0));
            // The write is done: a repeated START for the read, not STOP.
            let (w, _) = step(&m, &mut x, StatusCode::WrAck, 0);
            assert_eq!(w, (Some(run().with_start(true)), None, 0));
            // The read address.
            let (w, _) = step(&m, &mut x, StatusCode::RepeatStart, 0);
            assert_eq!(w, (Some(run()), Some(0xa1), 0));
            // Two bytes to come: acknowledge the first...
            let (w, _) = step(&m, &mut x, StatusCode::RdAddrAck, 0);
            assert_eq!(w, (Some(run()), None, 0));
            // ...which reads the data register once, and NACK the second.
            let (w, _) = step(&m, &mut x, StatusCode::RdDataAck, 0x5a);
            assert_eq!(w, (Some(enabled().with_inten(true)), None, 1));
            // The last byte: STOP, with the interrupt off.
            let (w, out) = step(&m, &mut x, StatusCode::RdDataNoAck, 0xa5);
            assert_eq!(w, (Some(enabled().with_stop(true)), None, 1));
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
            let run = enabled().with_ack(true);
            assert_eq!(control(&m), Some(run.with_start(true)));
            let (w, _) = step(&m, &mut x, StatusCode::Start, 0);
            assert_eq!(w, (Some(run), Some(0xd1), 0));
            // One byte: NACK it at once.
            let (w, _) = step(&m, &mut x, StatusCode::RdAddrAck, 0);
            assert_eq!(w, (Some(enabled()), None, 0));
            let (w, _) = step(&m, &mut x, StatusCode::RdDataNoAck, 0x42);
            assert_eq!(w, (Some(enabled().with_stop(true)), None, 1));
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
        step(&m, &mut x, StatusCode::Start, 0);
        // Nobody at 0x51: STOP and ENXIO.
        let (w, _) = step(&m, &mut x, StatusCode::WrAddrNoAck, 0);
        assert_eq!(w, (Some(stopped()), None, 0));
        assert_eq!(x.finish(), (Err(ENXIO), false));
        assert_eq!(x.stats.nacks, 1);

        // Arbitration lost: the controller is reset and set up again, and the bus recovered.
        let mut msgs = [Message::write(0x50, &buf)?];
        // SAFETY: `msgs` is left alone until `finish`.
        unsafe { Hw::new(&MARVELL, &m).begin(&mut x, &mut msgs, false) };
        step(&m, &mut x, StatusCode::Start, 0);
        let (w, out) = step(&m, &mut x, StatusCode::LostArb, 0);
        assert_eq!(out.error, Some((StatusCode::LostArb, 0x50)));
        assert_eq!(m.take(SOFT_RESET), Some(0));
        // The baud rate goes to the status register's offset, which reads on unchanged.
        assert_eq!(m.take(STATUS), Some(0x59));
        assert_eq!(w, (Some(stopped()), None, 0));
        assert_eq!(x.finish(), (Err(EAGAIN), true));
        assert_eq!(x.stats.errors, 1);
        Ok(())
    }
}
