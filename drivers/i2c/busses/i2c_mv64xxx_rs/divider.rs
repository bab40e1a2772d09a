// SPDX-License-Identifier: GPL-2.0

//! The bus clock divider.
//!
//! The controller divides its input clock `tclk` by `10 * (m + 1) * 2^(n + 1)` (Marvell) or
//! `10 * (m + 1) * 2^n` (Allwinner), with `m` in 0..=15 and `n` in 0..=7. Like the C driver's
//! `mv64xxx_find_baud_factors()`, the search tries `n` then `m` in increasing order and keeps
//! the first pair whose rate is closest to the requested one without exceeding it.

use kernel::prelude::*;

/// Returns the bus rate for factors `m` (0..=15) and `n` (0..=7).
pub(crate) const fn rate(tclk: u32, m: u32, n: u32, n_base_0: bool) -> u32 {
    let shift = if n_base_0 { n } else { n + 1 };
    // At most 10 * 16 * 2^8: no overflow, and no 64-bit division (32-bit machines have none).
    // The divisor is never 0 for factors in range; `checked_div` keeps the compiler's
    // division-by-zero panic, which objtool does not know as `noreturn`, out of the object.
    let div = (10 * (m + 1)) << shift;
    match tclk.checked_div(div) {
        Some(rate) => rate,
        None => 0,
    }
}

/// Returns the divider factors `(m, n)` for the highest bus rate not above `req` Hz, or
/// `None` if even the slowest rate is too fast.
pub(crate) fn find_factors(tclk: u32, req: u32, n_base_0: bool) -> Option<(u32, u32)> {
    const NONE: i64 = i32::MAX as i64;
    let mut best = None;
    let mut best_delta = NONE;

    for n in 0..=7 {
        for m in 0..=15 {
            let delta = i64::from(req) - i64::from(rate(tclk, m, n, n_base_0));
            if delta >= 0 && delta < best_delta {
                best = Some((m, n));
                best_delta = delta;
            }
            if best_delta == 0 {
                return best;
            }
        }
    }
    best
}

#[kunit_tests(i2c_mv64xxx_rs_divider)]
mod tests {
    use super::*;

    /// `(tclk, requested rate, Allwinner, factors (m, n))`.
    type Case = (u32, u32, bool, Option<(u32, u32)>);

    /// The factors the C driver's `mv64xxx_find_baud_factors()` finds (compiled on the host
    /// from i2c-mv64xxx.c of Linux 7.2.12).
    #[rustfmt::skip]
    const UPSTREAM: [Case; 96] = [
        (24000000, 100000, false, Some((11, 0))),
        (24000000, 400000, false, Some((2, 0))),
        (24000000, 1000000, false, Some((1, 0))),
        (24000000, 10000, false, Some((14, 3))),
        (24000000, 3400000, false, Some((0, 0))),
        (24000000, 1000, false, Some((9, 7))),
        (100000000, 100000, false, Some((12, 2))),
        (100000000, 400000, false, Some((12, 0))),
        (100000000, 1000000, false, Some((4, 0))),
        (100000000, 10000, false, Some((15, 5))),
        (100000000, 3400000, false, Some((1, 0))),
        (100000000, 1000, false, None),
        (166666667, 100000, false, Some((10, 3))),
        (166666667, 400000, false, Some((10, 1))),
        (166666667, 1000000, false, Some((8, 0))),
        (166666667, 10000, false, Some((13, 6))),
        (166666667, 3400000, false, Some((2, 0))),
        (166666667, 1000, false, None),
        (200000000, 100000, false, Some((12, 3))),
        (200000000, 400000, false, Some((12, 1))),
        (200000000, 1000000, false, Some((9, 0))),
        (200000000, 10000, false, Some((15, 6))),
        (200000000, 3400000, false, Some((2, 0))),
        (200000000, 1000, false, None),
        (250000000, 100000, false, Some((15, 3))),
        (250000000, 400000, false, Some((15, 1))),
        (250000000, 1000000, false, Some((12, 0))),
        (250000000, 10000, false, Some((9, 7))),
        (250000000, 3400000, false, Some((3, 0))),
        (250000000, 1000, false, None),
        (25000000, 100000, false, Some((12, 0))),
        (25000000, 400000, false, Some((3, 0))),
        (25000000, 1000000, false, Some((1, 0))),
        (25000000, 10000, false, Some((15, 3))),
        (25000000, 3400000, false, Some((0, 0))),
        (25000000, 1000, false, Some((9, 7))),
        (12000000, 100000, false, Some((5, 0))),
        (12000000, 400000, false, Some((1, 0))),
        (12000000, 1000000, false, Some((0, 0))),
        (12000000, 10000, false, Some((14, 2))),
        (12000000, 3400000, false, Some((0, 0))),
        (12000000, 1000, false, Some((9, 6))),
        (1000000, 100000, false, Some((0, 0))),
        (1000000, 400000, false, Some((0, 0))),
        (1000000, 1000000, false, Some((0, 0))),
        (1000000, 10000, false, Some((4, 0))),
        (1000000, 3400000, false, Some((0, 0))),
        (1000000, 1000, false, Some((12, 2))),
        (24000000, 100000, true, Some((11, 1))),
        (24000000, 400000, true, Some((5, 0))),
        (24000000, 1000000, true, Some((2, 0))),
        (24000000, 10000, true, Some((14, 4))),
        (24000000, 3400000, true, Some((0, 0))),
        (24000000, 1000, true, None),
        (100000000, 100000, true, Some((12, 3))),
        (100000000, 400000, true, Some((12, 1))),
        (100000000, 1000000, true, Some((9, 0))),
        (100000000, 10000, true, Some((15, 6))),
        (100000000, 3400000, true, Some((2, 0))),
        (100000000, 1000, true, None),
        (166666667, 100000, true, Some((10, 4))),
        (166666667, 400000, true, Some((10, 2))),
        (166666667, 1000000, true, Some((8, 1))),
        (166666667, 10000, true, Some((13, 7))),
        (166666667, 3400000, true, Some((4, 0))),
        (166666667, 1000, true, None),
        (200000000, 100000, true, Some((12, 4))),
        (200000000, 400000, true, Some((12, 2))),
        (200000000, 1000000, true, Some((9, 1))),
        (200000000, 10000, true, Some((15, 7))),
        (200000000, 3400000, true, Some((5, 0))),
        (200000000, 1000, true, None),
        (250000000, 100000, true, Some((15, 4))),
        (250000000, 400000, true, Some((15, 2))),
        (250000000, 1000000, true, Some((12, 1))),
        (250000000, 10000, true, None),
        (250000000, 3400000, true, Some((7, 0))),
        (250000000, 1000, true, None),
        (25000000, 100000, true, Some((12, 1))),
        (25000000, 400000, true, Some((6, 0))),
        (25000000, 1000000, true, Some((2, 0))),
        (25000000, 10000, true, Some((15, 4))),
        (25000000, 3400000, true, Some((0, 0))),
        (25000000, 1000, true, None),
        (12000000, 100000, true, Some((11, 0))),
        (12000000, 400000, true, Some((2, 0))),
        (12000000, 1000000, true, Some((1, 0))),
        (12000000, 10000, true, Some((14, 3))),
        (12000000, 3400000, true, Some((0, 0))),
        (12000000, 1000, true, Some((9, 7))),
        (1000000, 100000, true, Some((0, 0))),
        (1000000, 400000, true, Some((0, 0))),
        (1000000, 1000000, true, Some((0, 0))),
        (1000000, 10000, true, Some((9, 0))),
        (1000000, 3400000, true, Some((0, 0))),
        (1000000, 1000, true, Some((12, 3))),
    ];

    #[test]
    fn matches_upstream() -> Result {
        for (tclk, req, aw, expected) in UPSTREAM {
            assert_eq!(find_factors(tclk, req, aw), expected);
        }
        Ok(())
    }

    #[test]
    fn orange_pi_r_i2c() -> Result {
        // APB0 at 24 MHz on the emulated board: 100 kHz exactly with m = 11, n = 1.
        assert_eq!(find_factors(24_000_000, 100_000, true), Some((11, 1)));
        assert_eq!(rate(24_000_000, 11, 1, true), 100_000);
        Ok(())
    }

    #[test]
    fn never_faster_than_asked() -> Result {
        for (tclk, req, aw, _) in UPSTREAM {
            if let Some((m, n)) = find_factors(tclk, req, aw) {
                assert!(rate(tclk, m, n, aw) <= req);
            }
        }
        Ok(())
    }
}
