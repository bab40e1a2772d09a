// SPDX-License-Identifier: GPL-2.0

//! Binary-coded decimal conversions.
//!
//! C header: [`include/linux/bcd.h`](srctree/include/linux/bcd.h)
//!
//! Real-time clocks and many other chips keep numbers as two BCD digits per
//! byte. Unlike the C macros, [`to_bin`] checks its input: a byte with a digit
//! above 9 is not BCD, and a driver reading one from hardware has found
//! corrupt state rather than a number.

use crate::error::{code::EINVAL, Result};

/// Converts a binary value in `0..=99` to two BCD digits.
///
/// Returns [`EINVAL`] if `value` has more than two decimal digits.
///
/// # Examples
///
/// ```
/// use kernel::bcd;
///
/// assert_eq!(bcd::from_bin(59)?, 0x59);
/// assert_eq!(bcd::from_bin(0)?, 0x00);
/// assert!(bcd::from_bin(100).is_err());
/// # Ok::<(), Error>(())
/// ```
pub const fn from_bin(value: u8) -> Result<u8> {
    if value > 99 {
        return Err(EINVAL);
    }
    Ok(((value / 10) << 4) | (value % 10))
}

/// Converts two BCD digits to their binary value.
///
/// Returns [`EINVAL`] if either nibble is above 9.
///
/// # Examples
///
/// ```
/// use kernel::bcd;
///
/// assert_eq!(bcd::to_bin(0x59)?, 59);
/// assert_eq!(bcd::to_bin(0x99)?, 99);
/// assert!(bcd::to_bin(0x5a).is_err());
/// assert!(bcd::to_bin(0xa0).is_err());
/// # Ok::<(), Error>(())
/// ```
pub const fn to_bin(bcd: u8) -> Result<u8> {
    let (hi, lo) = (bcd >> 4, bcd & 0xf);
    if hi > 9 || lo > 9 {
        return Err(EINVAL);
    }
    Ok(hi * 10 + lo)
}
