// SPDX-License-Identifier: GPL-2.0

//! The platform driver: the controller variants, their device-tree match table, probe
//! with its debugfs counters, and runtime PM.

use kernel::{
    debugfs,
    device::{
        Bound,
        Core, //
    },
    i2c::adapter::{
        self,
        Options, //
    },
    irq,
    of,
    platform,
    prelude::*,
    str::CString,
    sync::Arc, //
};

use crate::{
    bus::{
        self,
        Algo,
        Bus, //
    },
    divider,
    power,
    regs::{
        self,
        Baud,
        Layout, //
    },
    step::Config, //
};

/// The controller variants, one per compatible string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// `allwinner,sun4i-a10-i2c`.
    Sun4i,
    /// `allwinner,sun6i-a31-i2c`: IFLG is write-1-to-clear.
    Sun6i,
    /// `marvell,mv64xxx-i2c`.
    Mv64xxx,
    /// `marvell,mv78230-i2c`: the START/STOP errata. Its offload engine is not used (see
    /// the crate documentation).
    Mv78230,
    /// `marvell,mv78230-a0-i2c`: the errata.
    Mv78230A0,
}

impl Variant {
    fn config(self, baud: Baud, bus_freq: u32) -> Config {
        let allwinner = matches!(self, Variant::Sun4i | Variant::Sun6i);
        let mv78230 = matches!(self, Variant::Mv78230 | Variant::Mv78230A0);
        Config {
            layout: if allwinner {
                Layout::Allwinner
            } else {
                Layout::Marvell
            },
            irq_clear_inverted: self == Variant::Sun6i,
            // The delay is only needed in standard mode (100 kHz).
            errata_delay: mv78230 && bus_freq <= STANDARD_MODE_HZ,
            baud,
        }
    }

    /// Allwinner divides by 2^n, Marvell by 2^(n + 1).
    fn n_base_0(self) -> bool {
        matches!(self, Variant::Sun4i | Variant::Sun6i)
    }
}

const STANDARD_MODE_HZ: u32 = 100_000;

kernel::of_device_table!(
    OF_TABLE,
    MODULE_OF_TABLE,
    <I2cMv64xxx as platform::Driver>::IdInfo,
    [
        (
            of::DeviceId::new(c"allwinner,sun4i-a10-i2c"),
            Variant::Sun4i
        ),
        (
            of::DeviceId::new(c"allwinner,sun6i-a31-i2c"),
            Variant::Sun6i
        ),
        (of::DeviceId::new(c"marvell,mv64xxx-i2c"), Variant::Mv64xxx),
        (of::DeviceId::new(c"marvell,mv78230-i2c"), Variant::Mv78230),
        (
            of::DeviceId::new(c"marvell,mv78230-a0-i2c"),
            Variant::Mv78230A0
        ),
    ]
);

/// One bound controller.
///
/// Fields drop in declaration order, and that order matters: the adapter goes first (no new
/// transfer, none in flight), then the interrupt, then the controller state with, last, its
/// clocks and reset line.
#[pin_data]
pub(crate) struct I2cMv64xxx {
    #[pin]
    adapter: adapter::Registration<Algo>,
    #[pin]
    irq: irq::Registration<Arc<Bus>>,
    /// `stats` in the debugfs directory; removed before the directory.
    #[pin]
    _stats: debugfs::File<StatsFile>,
    _debugfs: debugfs::Dir,
    bus: Arc<Bus>,
}

/// The debugfs file with the transfer counters.
struct StatsFile(Arc<Bus>);

impl core::fmt::Debug for StatsFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.0.stats();
        writeln!(f, "transfers {}", s.transfers)?;
        writeln!(f, "bytes {}", s.bytes)?;
        writeln!(f, "nacks {}", s.nacks)?;
        writeln!(f, "timeouts {}", s.timeouts)?;
        writeln!(f, "errors {}", s.errors)?;
        writeln!(f, "recoveries {}", s.recoveries)?;
        writeln!(f, "irqs {}", s.irqs)?;
        writeln!(f, "atomic {}", s.atomic)?;
        writeln!(f, "atomic_irqs_on {}", s.atomic_irqs_on)
    }
}

impl platform::Driver for I2cMv64xxx {
    type IdInfo = Variant;
    type Data<'bound> = Self;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);
    const PM_OPS: Option<platform::PmOps<Self>> = Some(platform::PmOps::new());

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let variant = *info.ok_or(ENODEV)?;
            let dev = pdev.as_ref();

            // Clocks on and reset released before the registers are touched.
            let power = power::Power::on(dev)?;
            let tclk = power.rate().ok_or(ENODEV)?;
            let bus_freq = dev
                .fwnode()
                .ok_or(ENODEV)?
                .property_read::<u32>(c"clock-frequency")
                .or(STANDARD_MODE_HZ);
            let (m, n) = divider::find_factors(tclk, bus_freq, variant.n_base_0()).ok_or(EINVAL)?;

            let io = pdev
                .io_request_by_index(0)
                .ok_or(ENODEV)?
                .iomap_sized::<{ regs::SIZE }>()?
                .into_devres()?;
            let cfg = variant.config(Baud::from_factors(m, n)?, bus_freq);
            let bus = Arc::pin_init(Bus::new(io, cfg, power), GFP_KERNEL)?;
            bus.init_hw(dev)?;

            dev_dbg!(
                dev,
                "tclk {} Hz, bus {} Hz (m {}, n {}), {:?}\n",
                tclk,
                divider::rate(tclk, m, n, variant.n_base_0()),
                m,
                n,
                variant
            );

            let opts = Options::new(c"i2c_mv64xxx_rs adapter")
                .timeout_ms(bus::TIMEOUT_MS)
                .recovery(cfg.layout == Layout::Allwinner);

            let dir = debugfs::Dir::new(&CString::try_from_fmt(fmt!(
                "i2c_mv64xxx_rs-{}",
                dev.name()
            ))?);

            Ok(try_pin_init!(Self {
                // The interrupt before the adapter: transfers need it.
                irq <- pdev.request_irq_by_index(
                    irq::Flags::TRIGGER_NONE,
                    0,
                    c"i2c_mv64xxx_rs",
                    Ok::<_, Error>(bus.clone()),
                ),
                adapter <- adapter::Registration::new(
                    dev,
                    &crate::THIS_MODULE,
                    opts,
                    Ok::<_, Error>(Algo(bus.clone())),
                ),
                _stats <- dir.read_only_file(c"stats", Ok::<_, Error>(StatsFile(bus.clone()))),
                _debugfs: dir,
                bus,
            }))
        })
    }

    fn unbind<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let s = this.bus.stats();
        dev_dbg!(
            pdev.as_ref(),
            "{} transfers ({} atomic), {} bytes, {} NACKs, {} timeouts, {} errors, {} recoveries, {} irqs\n",
            s.transfers,
            s.atomic,
            s.bytes,
            s.nacks,
            s.timeouts,
            s.errors,
            s.recoveries,
            s.irqs
        );
    }
}

/// Runtime PM as in the C driver: the clocks are gated after a second without transfers.
/// Unlike the C driver, they stay prepared and the reset line stays released, so that an
/// atomic transfer can power the controller without sleeping.
impl platform::RuntimePm for I2cMv64xxx {
    const AUTOSUSPEND_MS: i32 = 1000;

    fn runtime_suspend<'bound>(
        _pdev: &'bound platform::Device<Bound>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        this.bus.suspend();
        Ok(())
    }

    fn runtime_resume<'bound>(
        pdev: &'bound platform::Device<Bound>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        this.bus.resume(pdev.as_ref())
    }
}
