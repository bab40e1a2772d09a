// SPDX-License-Identifier: GPL-2.0

//! Harness self-test: a module that uses the suite's kernel-crate additions.
//!
//! Loading it proves that the grafted kernel crate exports what our modules
//! use (here [`kernel::bcd`]), and its KUnit suite `kt298_selftest` runs at
//! load time, so a broken graft or a broken module build fails `make check`.

use kernel::bcd;
use kernel::prelude::*;

module! {
    type: Selftest,
    name: "kt298_selftest",
    authors: ["kt298 developers"],
    description: "Harness self-test for the kt298 suite",
    license: "GPL",
}

struct Selftest;

impl kernel::Module for Selftest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // 0x59 is 59 in BCD: a real call into the grafted kernel crate.
        pr_info!(
            "kt298 selftest loaded (bcd 0x59 = {})\n",
            bcd::to_bin(0x59)?
        );
        Ok(Selftest)
    }
}

#[kunit_tests(kt298_selftest)]
mod tests {
    use kernel::bcd;
    use kernel::prelude::*;

    #[test]
    fn bcd_round_trip_whole_range() -> Result {
        for v in 0..=99u8 {
            assert_eq!(bcd::to_bin(bcd::from_bin(v)?)?, v);
        }
        Ok(())
    }

    #[test]
    fn bcd_rejects_non_decimal_nibbles() {
        let mut rejected = 0u32;
        for b in 0..=255u8 {
            if bcd::to_bin(b).is_err() {
                rejected += 1;
            }
        }
        // 256 bytes, of which 10 * 10 are valid BCD.
        assert_eq!(rejected, 156);
    }
}
