// SPDX-License-Identifier: GPL-2.0

//! Runtime power management: usage references.
//!
//! A device whose driver implements runtime PM (for platform drivers, see
//! [`crate::platform::RuntimePm`]) is suspended by the PM core while nobody uses it. Code that
//! is about to touch the hardware takes a [`Usage`], which resumes the device if needed and
//! keeps it powered until the `Usage` is dropped; the device is then suspended again once it
//! has been idle for the driver's autosuspend delay.
//!
//! On a device whose runtime PM is disabled (or a kernel without `CONFIG_PM`), the device is
//! simply considered powered: [`Usage::resume_and_get`] succeeds if its status is active.
//!
//! C header: [`include/linux/pm_runtime.h`](srctree/include/linux/pm_runtime.h)

use crate::{
    bindings,
    device::Device,
    error::to_result,
    prelude::*, //
};

/// A runtime PM usage reference on a device: while it lives, the device stays active.
///
/// # Invariants
///
/// `dev`'s runtime PM usage count was incremented when the `Usage` was made, and is
/// decremented when it is dropped.
pub struct Usage<'a> {
    dev: &'a Device,
}

impl<'a> Usage<'a> {
    /// Resumes `dev` if it is suspended, waiting for its driver's resume callback, and keeps
    /// it active until the returned `Usage` is dropped. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Device, pm::Usage, prelude::*};
    ///
    /// fn read_status(dev: &Device) -> Result<u32> {
    ///     let _usage = Usage::resume_and_get(dev)?;
    ///     // The device is powered here: read its registers.
    ///     Ok(0)
    /// }
    /// # let _ = read_status;
    /// ```
    pub fn resume_and_get(dev: &'a Device) -> Result<Self> {
        // SAFETY: `dev` is a valid device; on failure, the usage count is left as it was.
        to_result(unsafe { bindings::pm_runtime_resume_and_get(dev.as_raw()) })?;
        // INVARIANT: The usage count was incremented.
        Ok(Self { dev })
    }

    /// Keeps `dev` active if it is active now, without resuming it: for code that can't
    /// sleep. Returns `None` if it is suspended, or on its way down or up. Without runtime PM
    /// (disabled, or no `CONFIG_PM`) the device counts as active only if its status says so.
    pub fn get_if_active(dev: &'a Device) -> Option<Self> {
        #[cfg(CONFIG_PM)]
        {
            // SAFETY: `dev` is a valid device; the count is incremented only if it returns 1.
            match unsafe { bindings::pm_runtime_get_if_active(dev.as_raw()) } {
                // INVARIANT: The usage count was incremented.
                1 => Some(Self { dev }),
                // Runtime PM disabled: trust the status, and take no reference.
                // SAFETY: `dev` is a valid device.
                e if e == EINVAL.to_errno()
                    && !unsafe { bindings::pm_runtime_status_suspended(dev.as_raw()) } =>
                {
                    // SAFETY: `dev` is a valid device; balanced by the drop.
                    unsafe { bindings::pm_runtime_get_noresume(dev.as_raw()) };
                    // INVARIANT: The usage count was incremented.
                    Some(Self { dev })
                }
                _ => None,
            }
        }
        #[cfg(not(CONFIG_PM))]
        {
            // INVARIANT: Without `CONFIG_PM` the usage count helpers do nothing.
            Some(Self { dev })
        }
    }
}

impl Drop for Usage<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we hold one usage reference on `dev`. The device is
        // suspended after its autosuspend delay if this was the last one.
        unsafe { bindings::pm_runtime_put_autosuspend(self.dev.as_raw()) };
    }
}
