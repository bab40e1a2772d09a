// SPDX-License-Identifier: GPL-2.0

//! Reset controller consumers.
//!
//! A device's reset line, as its firmware node names it (`resets = <...>` in a device tree).
//! Without `CONFIG_RESET_CONTROLLER` every device simply has no reset line.
//!
//! C header: [`include/linux/reset.h`](srctree/include/linux/reset.h)

use crate::{
    device::Device,
    prelude::*, //
};

#[cfg(CONFIG_RESET_CONTROLLER)]
use crate::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
};

/// An exclusive reset line of a device, or no line at all for an optional one that is absent.
///
/// Dropping it releases the line (`reset_control_put`); it does not change its state. The
/// operations take `&mut self`: the reset core does not serialise the operations on an
/// exclusive control, and the owner of the line is the one that decides its state.
///
/// # Invariants
///
/// `self.0` is NULL (no line: every operation succeeds and does nothing) or a reset control
/// obtained from `__reset_control_get` that `self` owns.
///
/// # Examples
///
/// ```
/// use kernel::{device::Device, reset::Control};
///
/// fn pulse(dev: &Device) -> Result {
///     let mut rst = Control::get_optional_exclusive(dev, None)?;
///     rst.assert()?;
///     rst.deassert()
/// }
/// ```
#[cfg_attr(
    not(CONFIG_RESET_CONTROLLER),
    expect(
        dead_code,
        reason = "there is no line to use without a reset controller"
    )
)]
pub struct Control(*mut crate::ffi::c_void);

// SAFETY: A reset control may be used and released from any thread.
unsafe impl Send for Control {}

// SAFETY: No `&self` method uses the control; every operation takes `&mut self`.
unsafe impl Sync for Control {}

#[cfg(CONFIG_RESET_CONTROLLER)]
impl Control {
    fn as_raw(&mut self) -> *mut bindings::reset_control {
        self.0.cast()
    }

    /// Gets the reset line named `id` (or the only one for `None`) of `dev` for exclusive use,
    /// or an empty [`Control`] if the device has none.
    ///
    /// Fails with `EPROBE_DEFER` if the reset controller isn't there yet.
    pub fn get_optional_exclusive(dev: &Device, id: Option<&CStr>) -> Result<Self> {
        let id = id.map_or(core::ptr::null(), |id| id.as_char_ptr());
        // SAFETY: `dev` is a valid device and `id` NULL or a valid C string.
        let rstc = from_err_ptr(unsafe {
            bindings::__reset_control_get(
                dev.as_raw(),
                id,
                0,
                bindings::reset_control_flags_RESET_CONTROL_OPTIONAL_EXCLUSIVE,
            )
        })?;
        // INVARIANT: `rstc` is NULL or a control we now own.
        Ok(Self(rstc.cast()))
    }

    /// Puts the device into reset.
    pub fn assert(&mut self) -> Result {
        // SAFETY: By the type invariant, the pointer is NULL or a valid control.
        to_result(unsafe { bindings::reset_control_assert(self.as_raw()) })
    }

    /// Takes the device out of reset.
    pub fn deassert(&mut self) -> Result {
        // SAFETY: By the type invariant, the pointer is NULL or a valid control.
        to_result(unsafe { bindings::reset_control_deassert(self.as_raw()) })
    }

    /// Pulses the reset line, leaving the device out of reset.
    ///
    /// Fails with `ENOTSUPP` if the controller can't pulse; use [`Control::assert`] and
    /// [`Control::deassert`] then.
    pub fn reset(&mut self) -> Result {
        // SAFETY: By the type invariant, the pointer is NULL or a valid control.
        to_result(unsafe { bindings::reset_control_reset(self.as_raw()) })
    }
}

#[cfg(CONFIG_RESET_CONTROLLER)]
impl Drop for Control {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the pointer is NULL (ignored) or a control we own.
        unsafe { bindings::reset_control_put(self.as_raw()) };
    }
}

#[cfg(not(CONFIG_RESET_CONTROLLER))]
impl Control {
    /// Gets the reset line named `id` of `dev`; without `CONFIG_RESET_CONTROLLER` there is
    /// none, so this returns an empty [`Control`].
    pub fn get_optional_exclusive(_dev: &Device, _id: Option<&CStr>) -> Result<Self> {
        Ok(Self(core::ptr::null_mut()))
    }

    /// Puts the device into reset (nothing to do without a reset controller).
    pub fn assert(&mut self) -> Result {
        Ok(())
    }

    /// Takes the device out of reset (nothing to do without a reset controller).
    pub fn deassert(&mut self) -> Result {
        Ok(())
    }

    /// Pulses the reset line (nothing to do without a reset controller).
    pub fn reset(&mut self) -> Result {
        Ok(())
    }
}
