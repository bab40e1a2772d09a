// SPDX-License-Identifier: GPL-2.0

//! The records of the relay sample producer (`samples/relay_producer.rs`, described in
//! `Documentation/filesystems/relayfs.rst`): 64 bytes, little endian.
//!
//! ```text
//! 0  u32 magic 0x59544b52    4  u32 cpu    8  u64 seq    16  u64 ktime_get() ns
//! 24 40 payload bytes, byte i = (seq as u8) + i
//! ```

use std::ops::Range;

/// The first word of every record.
pub const MAGIC: u32 = 0x5954_4b52;
/// The size of a record.
pub const SIZE: usize = 64;
/// Where the CPU number is.
const CPU: Range<usize> = 4..8;
/// Where the sequence number is.
const SEQ: Range<usize> = 8..16;
/// Where the time stamp is.
const TIME: Range<usize> = 16..24;
/// Where the payload is.
const PAYLOAD: Range<usize> = 24..SIZE;

/// The payload byte `i` of the record numbered `seq`.
fn payload_byte(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_add(i as u8)
}

/// Checks one record `r` (of [`SIZE`] bytes) from CPU `cpu`'s file and returns its seq.
pub fn parse(r: &[u8; SIZE], cpu: u32) -> Result<u64, String> {
    let le32 = |at: Range<usize>| u32::from_le_bytes(r[at].try_into().expect("4 bytes"));
    let le64 = |at: Range<usize>| u64::from_le_bytes(r[at].try_into().expect("8 bytes"));
    let magic = le32(0..4);
    if magic != MAGIC {
        return Err(format!("magic {magic:#x}"));
    }
    let c = le32(CPU);
    if c != cpu {
        return Err(format!("cpu {c} in cpu{cpu}'s file"));
    }
    let seq = le64(SEQ);
    if let Some(i) = (0..PAYLOAD.len()).find(|&i| r[PAYLOAD.start + i] != payload_byte(seq, i)) {
        return Err(format!(
            "seq {seq}: payload byte {i} is {:#x}",
            r[PAYLOAD.start + i]
        ));
    }
    Ok(seq)
}

/// The record that the producer writes on CPU `cpu` as number `seq` at time `ns`.
pub fn make(cpu: u32, seq: u64, ns: u64) -> [u8; SIZE] {
    let mut r = [0u8; SIZE];
    r[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    r[CPU].copy_from_slice(&cpu.to_le_bytes());
    r[SEQ].copy_from_slice(&seq.to_le_bytes());
    r[TIME].copy_from_slice(&ns.to_le_bytes());
    for (i, b) in r[PAYLOAD].iter_mut().enumerate() {
        *b = payload_byte(seq, i);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        assert_eq!(parse(&make(3, 0x1_0000_00ff, 5), 3), Ok(0x1_0000_00ff));
        let mut r = make(1, 7, 0);
        assert!(parse(&r, 2).unwrap_err().contains("cpu 1"));
        r[24 + 39] ^= 1;
        assert!(parse(&r, 1).unwrap_err().contains("payload byte 39"));
        r = make(1, 7, 0);
        r[0] = 0;
        assert!(parse(&r, 1).unwrap_err().contains("magic"));
    }

    /// The value of `const NAME: TYPE = VALUE;` in `text`, with `_` taken out.
    fn rust_const(text: &str, decl: &str) -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(decl))?;
        let v = line[decl.len()..]
            .trim()
            .strip_suffix(';')?
            .replace('_', "");
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        }
    }

    #[test]
    fn the_producer_writes_this_format() {
        let sample = include_str!("../../../samples/relay_producer.rs");
        assert_eq!(
            rust_const(sample, "const MAGIC: u32 ="),
            Some(u64::from(MAGIC))
        );
        assert_eq!(
            rust_const(sample, "const EVENT: usize ="),
            Some(SIZE as u64)
        );
        // The layout table of its documentation is the one above.
        assert!(sample.contains("0  u32 magic 0x59544b52    4  u32 cpu    8  u64 seq"));
        assert!(sample.contains("24 40 payload bytes, byte i = (seq as u8) + i"));
    }
}
