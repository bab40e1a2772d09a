// SPDX-License-Identifier: GPL-2.0

//! Clocks and reset line of the controller.
//!
//! The core clock (`tclk`, also the divider's input) and the optional register clock are
//! prepared and the optional reset line released for as long as a [`Power`] lives. The clocks
//! start enabled; runtime PM gates them while the controller is idle ([`Power::gate`]), and
//! leaves them prepared, so that an atomic transfer can ungate them without sleeping.

use kernel::{
    device::Device,
    prelude::*,
    reset, //
};

#[cfg(CONFIG_COMMON_CLK)]
use kernel::clk::Clk;

/// Gets an optional clock: like the C driver, anything but `EPROBE_DEFER` means "none".
#[cfg(CONFIG_COMMON_CLK)]
fn optional_clk(dev: &Device, name: Option<&CStr>) -> Result<Option<Clk>> {
    match Clk::get(dev, name) {
        Ok(clk) => Ok(Some(clk)),
        Err(e) if e == EPROBE_DEFER => Err(e),
        Err(_) => Ok(None),
    }
}

/// The controller's clocks, enabled, and its reset line, released.
pub(crate) struct Power {
    #[cfg(CONFIG_COMMON_CLK)]
    clk: Option<Clk>,
    #[cfg(CONFIG_COMMON_CLK)]
    reg_clk: Option<Clk>,
    reset: reset::Control,
}

impl Power {
    /// Enables the clocks of `dev` and takes it out of reset.
    ///
    /// Everything that can fail to be found (`EPROBE_DEFER` from a clock or the reset
    /// controller) is looked up before anything is switched on, so a deferred probe leaves no
    /// clock enabled.
    pub(crate) fn on(dev: &Device) -> Result<Self> {
        #[cfg(CONFIG_COMMON_CLK)]
        let (clk, reg_clk) = (optional_clk(dev, None)?, optional_clk(dev, Some(c"reg"))?);
        let reset = reset::Control::get_optional_exclusive(dev, None)?;
        #[cfg(CONFIG_COMMON_CLK)]
        {
            if let Some(c) = &clk {
                c.prepare_enable()?;
            }
            if let Some(c) = &reg_clk {
                if let Err(e) = c.prepare_enable() {
                    if let Some(c) = &clk {
                        c.disable_unprepare();
                    }
                    return Err(e);
                }
            }
        }
        // From here on, dropping `this` gates and unprepares the clocks again.
        let mut this = Self {
            #[cfg(CONFIG_COMMON_CLK)]
            clk,
            #[cfg(CONFIG_COMMON_CLK)]
            reg_clk,
            reset,
        };
        // Pulse the reset if the controller can, else just release it.
        if this.reset.reset().is_err() {
            this.reset.deassert()?;
        }
        Ok(this)
    }

    /// Gates the clocks. Balanced by [`Power::ungate`]; they stay prepared.
    pub(crate) fn gate(&self) {
        #[cfg(CONFIG_COMMON_CLK)]
        {
            if let Some(c) = &self.reg_clk {
                c.disable();
            }
            if let Some(c) = &self.clk {
                c.disable();
            }
        }
    }

    /// Ungates the clocks. Does not sleep.
    pub(crate) fn ungate(&self) -> Result {
        #[cfg(CONFIG_COMMON_CLK)]
        {
            if let Some(c) = &self.clk {
                c.enable()?;
            }
            if let Some(c) = &self.reg_clk {
                if let Err(e) = c.enable() {
                    if let Some(c) = &self.clk {
                        c.disable();
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Returns the rate of the core clock, the divider's input, if there is one.
    // `c_ulong` is `u32` on 32-bit machines, where the conversion can't fail.
    #[allow(clippy::unnecessary_fallible_conversions)]
    pub(crate) fn rate(&self) -> Option<u32> {
        #[cfg(CONFIG_COMMON_CLK)]
        {
            self.clk
                .as_ref()
                .and_then(|c| u32::try_from(c.rate().as_hz()).ok())
        }
        #[cfg(not(CONFIG_COMMON_CLK))]
        {
            None
        }
    }
}

impl Drop for Power {
    fn drop(&mut self) {
        let _ = self.reset.assert();
        #[cfg(CONFIG_COMMON_CLK)]
        {
            if let Some(c) = &self.reg_clk {
                c.disable_unprepare();
            }
            if let Some(c) = &self.clk {
                c.disable_unprepare();
            }
        }
    }
}
