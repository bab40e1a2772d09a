// SPDX-License-Identifier: GPL-2.0

//! The I2C driver: device tables and probe.

use super::{
    bus::Bus,
    chip::Chip,
    module_parameters,
    time, //
};
use kernel::{
    device::Core,
    i2c,
    of,
    prelude::*,
    rtc, //
};

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

/// The driver: binds `m41t00` I2C clients and registers an RTC for each.
pub(crate) struct M41t00Driver;

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
        let bus = Bus::for_client(client)?;

        let double_read = *module_parameters::checked_read.value() == 0;
        let mut rtc = rtc::Builder::new(dev, Chip::new(century, bus, double_read))?;
        let (min, max) = time::range(century);
        rtc.set_range(min, max);
        // There is no interrupt line: updates and alarms are not supported.
        rtc.set_feature(rtc::Feature::UpdateInterrupt, false);
        rtc.set_feature(rtc::Feature::Alarm, false);
        // Like the C driver: /sys/class/rtc/rtcN/frequency_test, "on" or "off".
        rtc.add_bool_attribute(rtc::BoolAttribute {
            name: c"frequency_test",
            show: Chip::frequency_test,
            store: Chip::set_frequency_test,
        })?;
        let rtc = rtc.register(&crate::THIS_MODULE)?;

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
