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

use kernel::{
    device::Core,
    i2c,
    of,
    prelude::*,
    rtc, //
};

#[path = "rtc_m41t00/chip.rs"]
mod chip;
#[path = "rtc_m41t00/regs.rs"]
mod regs;

kernel::i2c_device_table! {
    I2C_TABLE,
    MODULE_I2C_TABLE,
    <M41t00Driver as i2c::Driver>::IdInfo,
    [(i2c::DeviceId::new(c"m41t00"), ())]
}

kernel::of_device_table! {
    OF_TABLE,
    MODULE_OF_TABLE,
    <M41t00Driver as i2c::Driver>::IdInfo,
    [(of::DeviceId::new(c"st,m41t00"), ())]
}

struct M41t00Driver;

impl i2c::Driver for M41t00Driver {
    type IdInfo = ();
    type Data<'bound> = Self;

    const I2C_ID_TABLE: Option<i2c::IdTable<Self::IdInfo>> = Some(&I2C_TABLE);
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        client: &'bound i2c::I2cClient<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self, Error> + 'bound {
        let dev = client.as_ref();
        let century = *module_parameters::century.value() != 0
            || dev
                .fwnode()
                .is_some_and(|f| f.property_read_bool(c"st,century-enable"));
        let bus = chip::Bus::for_client(client)?;

        let double_read = *module_parameters::checked_read.value() == 0;
        let mut rtc = rtc::Builder::new(dev, chip::Chip::new(century, bus, double_read))?;
        let (min, max) = regs::range(century);
        rtc.set_range(min, max);
        // There is no interrupt line: updates and alarms are not supported.
        rtc.set_feature(rtc::Feature::UpdateInterrupt, false);
        rtc.set_feature(rtc::Feature::Alarm, false);
        // Like the C driver: /sys/class/rtc/rtcN/frequency_test, "on" or "off".
        rtc.add_bool_attribute(rtc::BoolAttribute {
            name: c"frequency_test",
            show: chip::Chip::frequency_test,
            store: chip::Chip::set_frequency_test,
        })?;
        let rtc = rtc.register(&THIS_MODULE)?;

        dev_info!(
            dev,
            "M41T00 as rtc{} ({:?} transfers, years 2000-{})\n",
            rtc.id(),
            bus,
            if century { 2199 } else { 2099 }
        );
        Ok(Self)
    }
}

kernel::module_i2c_driver! {
    type: M41t00Driver,
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
