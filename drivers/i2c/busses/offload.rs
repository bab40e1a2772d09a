// SPDX-License-Identifier: GPL-2.0

//! The mv78230 offload engine ("I2C bridge"): register encoding only.
//!
//! The mv78230 can run a whole transfer of one 1-8 byte message, or of a 1-8 byte write
//! followed by a 1-8 byte read with a repeated START, from its bridge registers (0xc0-0xe0)
//! without an interrupt per byte. This module computes what the C driver writes there
//! (`mv64xxx_i2c_can_offload()`, `mv64xxx_i2c_offload_xfer()`, `mv64xxx_i2c_prepare_tx()`)
//! and decodes what it reads back. The driver keeps the engine off: no emulator models it,
//! so the transfer path through it could not be tested; the encoding is tested below.

use kernel::prelude::*;

// Transmit data sits at 0xc0 (low word) and 0xc4, received data at 0xc8 and 0xcc.

/// Bridge control.
pub(crate) const BRIDGE_CONTROL: usize = 0xd0;
/// Bridge interrupt cause.
pub(crate) const BRIDGE_INTR_CAUSE: usize = 0xd8;
/// Bridge interrupt mask.
pub(crate) const BRIDGE_INTR_MASK: usize = 0xdc;
/// Bridge timing.
pub(crate) const BRIDGE_TIMING: usize = 0xe0;

/// Bridge control bits.
pub(crate) mod control {
    /// The transfer writes.
    pub(crate) const WR: u32 = 1 << 0;
    /// The transfer reads.
    pub(crate) const RD: u32 = 1 << 1;
    /// Shift of the target address.
    pub(crate) const ADDR_SHIFT: u32 = 2;
    /// The address has 10 bits.
    pub(crate) const ADDR_EXT: u32 = 1 << 12;
    /// Shift of the number of bytes written, minus one.
    pub(crate) const TX_SIZE_SHIFT: u32 = 13;
    /// Shift of the number of bytes read, minus one.
    pub(crate) const RX_SIZE_SHIFT: u32 = 16;
    /// Start the transfer.
    pub(crate) const ENABLE: u32 = 1 << 19;
    /// Repeated START between the write and the read.
    pub(crate) const REPEATED_START: u32 = 1 << 20;
}

/// One message as the offload engine sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Msg<'a> {
    /// Target address.
    pub(crate) addr: u16,
    /// 10-bit address.
    pub(crate) ten_bit: bool,
    /// The message reads (`len` bytes); otherwise it writes `data`.
    pub(crate) read: bool,
    /// Number of bytes.
    pub(crate) len: usize,
    /// The bytes to write (empty for a read).
    pub(crate) data: &'a [u8],
}

/// What to write to the bridge registers to start a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// Bridge control, with `ENABLE` set.
    pub(crate) control: u32,
    /// Transmit data, low and high word (bytes in little-endian order).
    pub(crate) tx: [u32; 2],
}

fn valid_size(m: &Msg<'_>) -> bool {
    (1..=8).contains(&m.len)
}

/// Returns `true` if the engine can run `msgs` (`mv64xxx_i2c_can_offload()`).
pub(crate) fn can_offload(msgs: &[Msg<'_>]) -> bool {
    match msgs {
        [m] => valid_size(m),
        [w, r] => valid_size(w) && valid_size(r) && !w.read && r.read,
        _ => false,
    }
}

fn tx_words(data: &[u8]) -> [u32; 2] {
    let mut buf = [0u8; 8];
    let n = data.len().min(8);
    buf[..n].copy_from_slice(&data[..n]);
    [
        u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]),
        u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]),
    ]
}

/// Returns the register values that run `msgs`, or `None` if the engine can't.
#[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
pub(crate) fn encode(msgs: &[Msg<'_>]) -> Option<Encoded> {
    if !can_offload(msgs) {
        return None;
    }
    let first = msgs.first()?;
    let mut ctrl = control::ENABLE | (u32::from(first.addr) << control::ADDR_SHIFT);
    if first.ten_bit {
        ctrl |= control::ADDR_EXT;
    }
    // Sizes are 1..=8 here, so `len - 1` fits the 3-bit fields.
    let size = |m: &Msg<'_>| (m.len - 1) as u32;
    let mut tx = [0, 0];
    match msgs {
        [m] if !m.read => {
            ctrl |= control::WR | (size(m) << control::TX_SIZE_SHIFT);
            tx = tx_words(m.data);
        }
        [m] => ctrl |= control::RD | (size(m) << control::RX_SIZE_SHIFT),
        [w, r] => {
            ctrl |= control::RD
                | control::WR
                | (size(w) << control::TX_SIZE_SHIFT)
                | (size(r) << control::RX_SIZE_SHIFT)
                | control::REPEATED_START;
            tx = tx_words(w.data);
        }
        _ => return None,
    }
    Some(Encoded { control: ctrl, tx })
}

/// Returns the bytes received, from the receive data registers' low and high words.
#[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
pub(crate) fn decode_rx(lo: u32, hi: u32) -> [u8; 8] {
    let (l, h) = (lo.to_le_bytes(), hi.to_le_bytes());
    [l[0], l[1], l[2], l[3], h[0], h[1], h[2], h[3]]
}

#[kunit_tests(i2c_mv64xxx_rs_offload)]
mod tests {
    use super::*;

    fn w(data: &[u8]) -> Msg<'_> {
        Msg {
            addr: 0x50,
            ten_bit: false,
            read: false,
            len: data.len(),
            data,
        }
    }

    fn r(len: usize) -> Msg<'static> {
        Msg {
            addr: 0x50,
            ten_bit: false,
            read: true,
            len,
            data: &[],
        }
    }

    #[test]
    fn single_write() -> Result {
        let e = encode(&[w(&[0x08, 0x11, 0x22])]).ok_or(EINVAL)?;
        // ENABLE | 0x50 << 2 | WR | (3 - 1) << 13
        assert_eq!(e.control, 0x0008_0000 | 0x140 | 0x1 | 0x4000);
        assert_eq!(e.tx, [0x0022_1108, 0]);
        Ok(())
    }

    #[test]
    fn single_read() -> Result {
        let e = encode(&[r(8)]).ok_or(EINVAL)?;
        assert_eq!(e.control, 0x0008_0000 | 0x140 | 0x2 | (7 << 16));
        assert_eq!(e.tx, [0, 0]);
        Ok(())
    }

    #[test]
    fn write_then_read() -> Result {
        let data = [1, 2, 3, 4, 5, 6, 7, 8];
        let e = encode(&[w(&data), r(4)]).ok_or(EINVAL)?;
        assert_eq!(
            e.control,
            (1 << 19) | 0x140 | 0x3 | (7 << 13) | (3 << 16) | (1 << 20)
        );
        assert_eq!(e.tx, [0x0403_0201, 0x0807_0605]);
        Ok(())
    }

    #[test]
    fn ten_bit() -> Result {
        let mut m = r(1);
        m.addr = 0x2a5;
        m.ten_bit = true;
        let e = encode(&[m]).ok_or(EINVAL)?;
        assert_eq!(e.control, (1 << 19) | (0x2a5 << 2) | (1 << 12) | 0x2);
        Ok(())
    }

    #[test]
    fn what_cannot_be_offloaded() -> Result {
        let nine = [0u8; 9];
        assert!(!can_offload(&[]));
        assert!(!can_offload(&[w(&nine)]));
        assert!(!can_offload(&[w(&[])]));
        assert!(!can_offload(&[r(0)]));
        assert!(!can_offload(&[r(1), w(&[1])]));
        assert!(!can_offload(&[w(&[1]), w(&[1])]));
        assert!(!can_offload(&[w(&[1]), r(9)]));
        assert!(!can_offload(&[w(&[1]), r(1), r(1)]));
        assert!(encode(&[w(&nine)]).is_none());
        Ok(())
    }

    #[test]
    fn rx_decoding() -> Result {
        assert_eq!(
            decode_rx(0x4433_2211, 0x8877_6655),
            [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        );
        Ok(())
    }
}
