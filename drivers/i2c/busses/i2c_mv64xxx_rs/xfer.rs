// SPDX-License-Identifier: GPL-2.0

//! The transfer in progress: the messages the state machine walks, where it is in them, and
//! the counters and the log limit that outlive a transfer.

use kernel::{
    i2c::adapter::Message,
    prelude::*,
    time::{
        Delta,
        Instant,
        Monotonic, //
    },
};

use crate::{
    fsm::{
        Fsm,
        MsgInfo,
        State, //
    },
    regs::Control,
};

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
pub(crate) struct RateLimit {
    last: Option<Instant<Monotonic>>,
    missed: u32,
}

impl RateLimit {
    const INTERVAL: Delta = Delta::from_secs(5);

    /// Returns the number of messages dropped since the last one if this one may be printed.
    pub(crate) fn allow(&mut self) -> Option<u32> {
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
    /// The state machine.
    pub(crate) fsm: Fsm,
    msgs: *mut Message<'static>,
    /// Number of messages.
    pub(crate) num: usize,
    /// The current message.
    pub(crate) idx: usize,
    /// The transfer has not finished yet.
    pub(crate) active: bool,
    /// The bus needs a recovery once the transfer is over.
    pub(crate) recover: bool,
    /// The counters.
    pub(crate) stats: Stats,
    /// The limit on error messages.
    pub(crate) log: RateLimit,
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
    pub(crate) unsafe fn start(&mut self, msgs: &mut [Message<'_>], atomic: bool) -> Control {
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
    pub(crate) fn finish(&mut self) -> (Result, bool) {
        self.msgs = core::ptr::null_mut();
        self.num = 0;
        self.active = false;
        self.fsm.state = State::Idle;
        (self.fsm.rc, core::mem::take(&mut self.recover))
    }

    /// Returns message `idx` of the transfer, if there is one.
    pub(crate) fn message(&mut self, idx: usize) -> Option<&mut Message<'static>> {
        if self.msgs.is_null() || idx >= self.num {
            return None;
        }
        // SAFETY: By the type invariant, `msgs` points to `num` valid messages and `idx` is in
        // range; `&mut self` (under the lock) makes this the only access.
        Some(unsafe { &mut *self.msgs.add(idx) })
    }

    /// Returns what the state machine needs to know about message `idx`, if there is one.
    pub(crate) fn info(&mut self, idx: usize) -> Option<MsgInfo> {
        self.message(idx).map(|m| MsgInfo {
            read: m.is_read(),
            ten_bit: m.is_ten_bit(),
            recv_len: m.is_recv_len(),
            len: m.len(),
        })
    }

    /// Stores received `byte` at `pos` of the current message, which first grows by `grow`.
    pub(crate) fn store(&mut self, pos: usize, byte: u8, grow: u8) {
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
