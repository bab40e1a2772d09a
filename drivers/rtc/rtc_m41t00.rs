// SPDX-License-Identifier: GPL-2.0

//! ST M41T00 real-time clock on I2C.
//!
//! A port of the M41T00 support of the C `drivers/rtc/rtc-ds1307.c` (and of
//! the 2005 `drivers/i2c/chips/m41t00.c`), with what both lack:
//!
//! - Consistent reads: the chip has no register freeze, so one block read can
//!   tear across a seconds tick. The block is read twice, and again until two
//!   consecutive reads agree. With `checked_read=1`, on plain I2C, one transfer
//!   reads the seven time registers and then the seconds register again instead:
//!   equal seconds prove that no tick came in between (experimental: on the
//!   emulated board the second read of that transfer does not come back).
//!   Either way at most ten tries, then `EIO` with a rate-limited message.
//! - Century bits: with the `st,century-enable` device-tree property or the
//!   `century=1` parameter, CEB/CB (hours bits 7 and 6) keep the century and the
//!   range is 2000-2199; otherwise the bits are ignored and the range 2000-2099.
//! - Oscillator stop: while ST (seconds bit 7) is set, reads fail with `EINVAL`
//!   and `RTC_VL_READ` reports `RTC_VL_DATA_INVALID`; setting the time, one
//!   block write, restarts the oscillator.
//! - Calibration through the RTC offset interface (control register bits 5:0,
//!   -2.034 ppm and +4.068 ppm steps), and the frequency test output (FT) in
//!   the `frequency_test` attribute, as in the C driver.
//!
//! Blocks move as plain I2C transfers, or as SMBus I2C block commands on
//! adapters without plain I2C (such as `i2c-stub`).

#[path = "rtc_m41t00/bus.rs"]
mod bus;
#[path = "rtc_m41t00/chip.rs"]
mod chip;
#[path = "rtc_m41t00/driver.rs"]
mod driver;
#[path = "rtc_m41t00/read.rs"]
mod read;
#[path = "rtc_m41t00/regs.rs"]
mod regs;
#[path = "rtc_m41t00/time.rs"]
mod time;

kernel::module_i2c_driver! {
    type: driver::M41t00Driver,
    name: "rtc_m41t00",
    authors: ["kt298 developers"],
    description: "ST M41T00 real-time clock",
    license: "GPL",
    params: {
        century: u8 {
            default: 0,
            description: "1: keep the century in the CEB/CB bits (years 2000-2199)",
        },
        checked_read: u8 {
            default: 0,
            description: "1: on plain I2C, one transfer re-reading the seconds instead of two block reads",
        },
    },
}
