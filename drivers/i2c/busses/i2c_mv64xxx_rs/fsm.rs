// SPDX-License-Identifier: GPL-2.0

//! The transfer state machine, free of I/O.
//!
//! The C driver's `mv64xxx_i2c_fsm()` decides what to do for each controller status; this is
//! the same decision table as a pure function: [`Fsm::next`] takes the status (and the data
//! byte the caller read for a data-received status) and returns the [`Action`] for the
//! register step to carry out. Beyond the C driver it handles `I2C_M_RECV_LEN`, treats a NACK
//! of a 10-bit address's second byte as a NACK, continues with a repeated START after a read
//! that is not the last message (the C driver stops there and silently drops the rest), and
//! never touches hardware, so every path is unit tested below.

use kernel::prelude::*;

use crate::regs::{
    Control,
    StatusCode, //
};

/// Where the transfer is, from the driver's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// No transfer in progress (or it was given up).
    Idle,
    /// START sent, waiting for it to complete.
    WaitingForStartCond,
    /// Repeated START sent between two messages.
    WaitingForRestart,
    /// The (first) address byte was sent.
    WaitingForAddr1Ack,
    /// The second byte of a 10-bit address was sent.
    WaitingForAddr2Ack,
    /// A data byte was sent.
    WaitingForTargetAck,
    /// Waiting for a data byte from the target.
    WaitingForTargetData,
}

/// What the register step must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Write the control register to let the controller go on.
    Continue,
    /// Go to the next message with a repeated START.
    SendRestart,
    /// Send the first address byte.
    SendAddr1,
    /// Send the second byte of a 10-bit address.
    SendAddr2,
    /// Send byte `pos` of the current message.
    SendData(usize),
    /// Store `byte` at `pos` and receive the next byte; `grow` is the block length an
    /// `I2C_M_RECV_LEN` message just announced (0 otherwise).
    RcvData {
        /// Position in the message's buffer.
        pos: usize,
        /// The byte received.
        byte: u8,
        /// How much the message grows.
        grow: u8,
    },
    /// Store `byte` at `pos`, the last one of a read that isn't the last message, and go to
    /// the next message with a repeated START.
    RcvDataRestart {
        /// Position in the message's buffer.
        pos: usize,
        /// The byte received.
        byte: u8,
    },
    /// Store `byte` at `pos`, the last one, and send STOP.
    RcvDataStop {
        /// Position in the message's buffer.
        pos: usize,
        /// The byte received.
        byte: u8,
    },
    /// Send STOP: the transfer is over (done or failed).
    SendStop,
    /// The controller reported an unexpected status: re-initialise it, recover the bus and
    /// finish with `EAGAIN`.
    Reset(StatusCode),
}

impl Action {
    /// Returns `true` if the transfer ends with this action.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) fn ends_transfer(self) -> bool {
        matches!(
            self,
            Action::SendStop | Action::RcvDataStop { .. } | Action::Reset(_)
        )
    }
}

/// What the state machine needs to know about the current message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MsgInfo {
    /// The message reads.
    pub(crate) read: bool,
    /// The message has a 10-bit address.
    pub(crate) ten_bit: bool,
    /// The first byte read is the length of the rest (`I2C_M_RECV_LEN`).
    pub(crate) recv_len: bool,
    /// Number of bytes.
    pub(crate) len: usize,
}

/// The state of one transfer (a sequence of messages with repeated STARTs).
#[derive(Debug)]
pub(crate) struct Fsm {
    /// Where the transfer is.
    pub(crate) state: State,
    /// The control register value to write (ACK, bus enable, interrupt enable).
    pub(crate) cntl: Control,
    /// Bytes of the current message still to move.
    bytes_left: usize,
    /// Next position in the current message's buffer.
    byte_posn: usize,
    /// Finish as soon as possible (the waiter timed out).
    pub(crate) aborting: bool,
    /// The current message is the last one: STOP after it.
    send_stop: bool,
    /// An `I2C_M_RECV_LEN` message hasn't received its length byte yet.
    len_pending: bool,
    /// Polling: keep the interrupt disabled.
    atomic: bool,
    /// The outcome so far.
    pub(crate) rc: Result,
}

impl Fsm {
    /// Returns an idle state machine.
    pub(crate) const fn new() -> Self {
        Self {
            state: State::Idle,
            cntl: Control::from_raw(0),
            bytes_left: 0,
            byte_posn: 0,
            aborting: false,
            send_stop: false,
            len_pending: false,
            atomic: false,
            rc: Ok(()),
        }
    }

    /// Sets up the first message of a transfer and returns the control value that sends
    /// START.
    pub(crate) fn begin(&mut self, msg: &MsgInfo, is_last: bool, atomic: bool) -> Control {
        self.state = State::WaitingForStartCond;
        self.atomic = atomic;
        self.start(msg, is_last)
    }

    /// Sets up the next message after [`Action::SendRestart`] and returns the control value
    /// that sends the repeated START.
    pub(crate) fn restart(&mut self, msg: &MsgInfo, is_last: bool) -> Control {
        self.start(msg, is_last)
    }

    fn start(&mut self, msg: &MsgInfo, is_last: bool) -> Control {
        self.byte_posn = 0;
        self.bytes_left = msg.len;
        self.aborting = false;
        self.rc = Ok(());
        self.send_stop = is_last;
        self.len_pending = msg.read && msg.recv_len;
        // Polling keeps the interrupt off.
        self.cntl = Control::zeroed()
            .with_ack(true)
            .with_twsien(true)
            .with_inten(!self.atomic);
        self.cntl.with_start(true)
    }

    /// Decides what to do for controller status `st`.
    ///
    /// `data` is the byte the caller read from the data register, which it must do (once)
    /// exactly when `st` is [`StatusCode::RdDataAck`] or [`StatusCode::RdDataNoAck`].
    // Inlined into the register step, where `st` was just decoded from the status register,
    // so that the decoding and this match fold into one dispatch on the register value.
    #[inline(always)]
    pub(crate) fn next(&mut self, st: StatusCode, data: u8, msg: &MsgInfo) -> Action {
        // Idle: the remnant of a transfer given up on. Stop and stay idle.
        if self.state == State::Idle {
            return self.finish(Action::SendStop);
        }

        match st {
            StatusCode::Start | StatusCode::RepeatStart => {
                self.state = State::WaitingForAddr1Ack;
                Action::SendAddr1
            }
            StatusCode::WrAddrAck | StatusCode::RdAddrAck if msg.ten_bit => {
                self.state = State::WaitingForAddr2Ack;
                Action::SendAddr2
            }
            StatusCode::WrAddrAck | StatusCode::WrAddr2Ack | StatusCode::WrAck => {
                if self.bytes_left == 0 || (self.aborting && self.byte_posn != 0) {
                    if self.send_stop || self.aborting {
                        self.finish(Action::SendStop)
                    } else {
                        self.state = State::WaitingForRestart;
                        Action::SendRestart
                    }
                } else {
                    self.state = State::WaitingForTargetAck;
                    self.bytes_left -= 1;
                    let pos = self.byte_posn;
                    self.byte_posn += 1;
                    Action::SendData(pos)
                }
            }
            StatusCode::RdAddrAck | StatusCode::RdAddr2Ack if self.bytes_left == 0 => {
                self.finish(Action::SendStop)
            }
            StatusCode::RdAddrAck | StatusCode::RdAddr2Ack | StatusCode::RdDataAck => {
                let action = if st == StatusCode::RdDataAck {
                    self.receive(data)
                } else {
                    Action::Continue
                };
                self.state = State::WaitingForTargetData;
                if (self.bytes_left <= 1 && !self.len_pending) || self.aborting {
                    self.cntl = self.cntl.with_ack(false);
                }
                action
            }
            StatusCode::RdDataNoAck => {
                let pos = self.byte_posn;
                self.byte_posn += 1;
                self.bytes_left = self.bytes_left.saturating_sub(1);
                if self.send_stop || self.aborting {
                    self.finish(Action::RcvDataStop { pos, byte: data })
                } else {
                    // The C driver sends STOP here and drops the messages that follow while
                    // reporting them done; go on with a repeated START instead.
                    self.state = State::WaitingForRestart;
                    Action::RcvDataRestart { pos, byte: data }
                }
            }
            StatusCode::WrAddrNoAck
            | StatusCode::WrNoAck
            | StatusCode::RdAddrNoAck
            | StatusCode::WrAddr2NoAck
            | StatusCode::RdAddr2NoAck => {
                // Nobody answers at the other end.
                self.rc = Err(ENXIO);
                self.finish(Action::SendStop)
            }
            other => {
                // Lost arbitration, bus error or a status that makes no sense here.
                self.rc = Err(EAGAIN);
                self.finish(Action::Reset(other))
            }
        }
    }

    fn receive(&mut self, byte: u8) -> Action {
        let pos = self.byte_posn;
        self.byte_posn += 1;
        self.bytes_left = self.bytes_left.saturating_sub(1);
        let mut grow = 0;
        if self.len_pending {
            self.len_pending = false;
            if byte == 0 || usize::from(byte) > kernel::i2c::SMBUS_BLOCK_MAX {
                // An impossible block length: NACK the next byte and stop.
                self.rc = Err(EPROTO);
                self.aborting = true;
            } else {
                grow = byte;
                self.bytes_left += usize::from(byte);
            }
        }
        Action::RcvData { pos, byte, grow }
    }

    fn finish(&mut self, action: Action) -> Action {
        self.state = State::Idle;
        if !self.atomic {
            self.cntl = self.cntl.with_inten(false);
        }
        action
    }

    /// Returns `true` if the transfer polls instead of using the interrupt.
    pub(crate) fn atomic(&self) -> bool {
        self.atomic
    }

    /// Returns the number of bytes moved in the current message.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) fn bytes_done(&self) -> usize {
        self.byte_posn
    }
}

#[kunit_tests(i2c_mv64xxx_rs_fsm)]
mod tests {
    use super::*;

    const W2: MsgInfo = MsgInfo {
        read: false,
        ten_bit: false,
        recv_len: false,
        len: 2,
    };

    fn rd(len: usize) -> MsgInfo {
        MsgInfo {
            read: true,
            len,
            ..MsgInfo::default()
        }
    }

    #[test]
    fn write_two_bytes() -> Result {
        let mut f = Fsm::new();
        let start = f.begin(&W2, true, false);
        assert_eq!(
            start,
            Control::zeroed()
                .with_start(true)
                .with_ack(true)
                .with_twsien(true)
                .with_inten(true)
        );
        assert_eq!(f.next(StatusCode::Start, 0, &W2), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &W2), Action::SendData(0));
        assert_eq!(f.next(StatusCode::WrAck, 0, &W2), Action::SendData(1));
        assert_eq!(f.next(StatusCode::WrAck, 0, &W2), Action::SendStop);
        assert_eq!(f.state, State::Idle);
        assert!(!f.cntl.inten());
        f.rc
    }

    #[test]
    fn write_then_read_with_repeated_start() -> Result {
        let w1 = MsgInfo { len: 1, ..W2 };
        let r2 = rd(2);
        let mut f = Fsm::new();
        f.begin(&w1, false, false);
        assert_eq!(f.next(StatusCode::Start, 0, &w1), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &w1), Action::SendData(0));
        assert_eq!(f.next(StatusCode::WrAck, 0, &w1), Action::SendRestart);
        assert_eq!(f.state, State::WaitingForRestart);
        let start = f.restart(&r2, true);
        assert!(start.start());
        assert_eq!(f.next(StatusCode::RepeatStart, 0, &r2), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::RdAddrAck, 0, &r2), Action::Continue);
        // Two bytes to come: ACK the first.
        assert!(f.cntl.ack());
        let a = f.next(StatusCode::RdDataAck, 0xa5, &r2);
        assert_eq!(
            a,
            Action::RcvData {
                pos: 0,
                byte: 0xa5,
                grow: 0
            }
        );
        // One byte left: NACK it.
        assert!(!f.cntl.ack());
        let a = f.next(StatusCode::RdDataNoAck, 0x5a, &r2);
        assert_eq!(a, Action::RcvDataStop { pos: 1, byte: 0x5a });
        assert!(a.ends_transfer());
        assert_eq!(f.bytes_done(), 2);
        f.rc
    }

    #[test]
    fn read_then_write_then_read() -> Result {
        let r1 = rd(1);
        let w1 = MsgInfo { len: 1, ..W2 };
        let mut f = Fsm::new();
        f.begin(&r1, false, false);
        f.next(StatusCode::Start, 0, &r1);
        assert_eq!(f.next(StatusCode::RdAddrAck, 0, &r1), Action::Continue);
        // A read that isn't the last message: repeated START, not STOP.
        assert_eq!(
            f.next(StatusCode::RdDataNoAck, 9, &r1),
            Action::RcvDataRestart { pos: 0, byte: 9 }
        );
        assert_eq!(f.state, State::WaitingForRestart);
        f.restart(&w1, false);
        assert_eq!(f.next(StatusCode::RepeatStart, 0, &w1), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &w1), Action::SendData(0));
        assert_eq!(f.next(StatusCode::WrAck, 0, &w1), Action::SendRestart);
        f.restart(&r1, true);
        f.next(StatusCode::RepeatStart, 0, &r1);
        f.next(StatusCode::RdAddrAck, 0, &r1);
        assert_eq!(
            f.next(StatusCode::RdDataNoAck, 7, &r1),
            Action::RcvDataStop { pos: 0, byte: 7 }
        );
        f.rc
    }

    #[test]
    fn single_byte_read_nacks_at_once() -> Result {
        let r1 = rd(1);
        let mut f = Fsm::new();
        f.begin(&r1, true, false);
        assert_eq!(f.next(StatusCode::Start, 0, &r1), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::RdAddrAck, 0, &r1), Action::Continue);
        assert!(!f.cntl.ack());
        assert_eq!(
            f.next(StatusCode::RdDataNoAck, 7, &r1),
            Action::RcvDataStop { pos: 0, byte: 7 }
        );
        f.rc
    }

    #[test]
    fn address_nack_is_enxio() -> Result {
        let mut f = Fsm::new();
        f.begin(&W2, true, false);
        f.next(StatusCode::Start, 0, &W2);
        assert_eq!(f.next(StatusCode::WrAddrNoAck, 0, &W2), Action::SendStop);
        assert_eq!(f.rc, Err(ENXIO));
        // A read NACKed on the address, and a data NACK, too.
        let r1 = rd(1);
        f.begin(&r1, true, false);
        f.next(StatusCode::Start, 0, &r1);
        assert_eq!(f.next(StatusCode::RdAddrNoAck, 0, &r1), Action::SendStop);
        assert_eq!(f.rc, Err(ENXIO));
        f.begin(&W2, true, false);
        f.next(StatusCode::Start, 0, &W2);
        f.next(StatusCode::WrAddrAck, 0, &W2);
        assert_eq!(f.next(StatusCode::WrNoAck, 0, &W2), Action::SendStop);
        assert_eq!(f.rc, Err(ENXIO));
        Ok(())
    }

    #[test]
    fn lost_arbitration_and_bus_error_reset() -> Result {
        for st in [
            StatusCode::LostArb,
            StatusCode::BusError,
            StatusCode::NoStatus,
            StatusCode::Other(0x68),
        ] {
            let mut f = Fsm::new();
            f.begin(&W2, true, false);
            f.next(StatusCode::Start, 0, &W2);
            assert_eq!(f.next(st, 0, &W2), Action::Reset(st));
            assert_eq!(f.rc, Err(EAGAIN));
            assert_eq!(f.state, State::Idle);
        }
        Ok(())
    }

    #[test]
    fn idle_remnant_stops() -> Result {
        let mut f = Fsm::new();
        assert_eq!(f.next(StatusCode::RdDataAck, 0, &W2), Action::SendStop);
        assert_eq!(f.state, State::Idle);
        Ok(())
    }

    #[test]
    fn zero_length_write_is_address_only() -> Result {
        let q = MsgInfo { len: 0, ..W2 };
        let mut f = Fsm::new();
        f.begin(&q, true, false);
        f.next(StatusCode::Start, 0, &q);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &q), Action::SendStop);
        f.rc
    }

    #[test]
    fn ten_bit_address() -> Result {
        let m = MsgInfo {
            ten_bit: true,
            len: 1,
            ..W2
        };
        let mut f = Fsm::new();
        f.begin(&m, true, false);
        assert_eq!(f.next(StatusCode::Start, 0, &m), Action::SendAddr1);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &m), Action::SendAddr2);
        assert_eq!(f.next(StatusCode::WrAddr2Ack, 0, &m), Action::SendData(0));
        assert_eq!(f.next(StatusCode::WrAck, 0, &m), Action::SendStop);
        f.begin(&m, true, false);
        f.next(StatusCode::Start, 0, &m);
        f.next(StatusCode::WrAddrAck, 0, &m);
        assert_eq!(f.next(StatusCode::WrAddr2NoAck, 0, &m), Action::SendStop);
        assert_eq!(f.rc, Err(ENXIO));
        Ok(())
    }

    #[test]
    fn recv_len_block_read() -> Result {
        let m = MsgInfo {
            recv_len: true,
            ..rd(1)
        };
        let mut f = Fsm::new();
        f.begin(&m, true, false);
        f.next(StatusCode::Start, 0, &m);
        assert_eq!(f.next(StatusCode::RdAddrAck, 0, &m), Action::Continue);
        // The length byte is still to come: keep ACKing.
        assert!(f.cntl.ack());
        assert_eq!(
            f.next(StatusCode::RdDataAck, 3, &m),
            Action::RcvData {
                pos: 0,
                byte: 3,
                grow: 3
            }
        );
        assert!(f.cntl.ack());
        assert!(matches!(
            f.next(StatusCode::RdDataAck, 0x11, &m),
            Action::RcvData { pos: 1, .. }
        ));
        assert!(matches!(
            f.next(StatusCode::RdDataAck, 0x22, &m),
            Action::RcvData { pos: 2, .. }
        ));
        assert!(!f.cntl.ack());
        assert_eq!(
            f.next(StatusCode::RdDataNoAck, 0x33, &m),
            Action::RcvDataStop { pos: 3, byte: 0x33 }
        );
        assert_eq!(f.bytes_done(), 4);
        f.rc
    }

    #[test]
    fn recv_len_bad_length_is_eproto() -> Result {
        for bad in [0u8, 33, 0xff] {
            let m = MsgInfo {
                recv_len: true,
                ..rd(1)
            };
            let mut f = Fsm::new();
            f.begin(&m, true, false);
            f.next(StatusCode::Start, 0, &m);
            f.next(StatusCode::RdAddrAck, 0, &m);
            f.next(StatusCode::RdDataAck, bad, &m);
            assert!(!f.cntl.ack());
            assert!(f.next(StatusCode::RdDataNoAck, 0, &m).ends_transfer());
            assert_eq!(f.rc, Err(EPROTO));
        }
        Ok(())
    }

    #[test]
    fn aborting_write_stops_after_current_byte() -> Result {
        let m = MsgInfo { len: 4, ..W2 };
        let mut f = Fsm::new();
        f.begin(&m, false, false);
        f.next(StatusCode::Start, 0, &m);
        assert_eq!(f.next(StatusCode::WrAddrAck, 0, &m), Action::SendData(0));
        f.aborting = true;
        // Not the last message, but aborting: STOP rather than a repeated START.
        assert_eq!(f.next(StatusCode::WrAck, 0, &m), Action::SendStop);
        Ok(())
    }

    #[test]
    fn atomic_keeps_interrupt_disabled() -> Result {
        let mut f = Fsm::new();
        let start = f.begin(&W2, true, true);
        assert!(!start.inten());
        Ok(())
    }
}
