// SPDX-License-Identifier: GPL-2.0

//! Boolean sysfs attributes of an RTC class device.

use super::{Adapter, Ops, OpsLock};
use crate::{
    bindings,
    device::{self, Bound},
    error::to_result,
    ffi::c_char,
    prelude::*,
};

/// A boolean sysfs attribute of an RTC class device, shown as `on` or `off`.
///
/// Added with [`Builder::add_bool_attribute`](super::Builder::add_bool_attribute); writes
/// accept what `kstrtobool()` accepts (`1`, `0`, `on`, `off`, `y`, `n`...). This is the
/// shape of the `frequency_test` attribute of the C `rtc-ds1307` driver.
pub struct BoolAttribute<T: Ops> {
    /// The file name under `/sys/class/rtc/rtcN/`.
    pub name: &'static CStr,
    /// Returns the current value.
    pub show: fn(&T, &device::Device<Bound>) -> Result<bool>,
    /// Sets a new value.
    pub store: fn(&T, &device::Device<Bound>, bool) -> Result,
}

/// The C structures behind one [`BoolAttribute`]: the attribute, a one-entry group, and the
/// Rust callbacks. Heap-allocated, since the C structures point into it.
pub(super) struct BoolAttributeData<T: Ops> {
    pub(super) attr: bindings::device_attribute,
    pub(super) attrs: [*mut bindings::attribute; 2],
    pub(super) group: bindings::attribute_group,
    pub(super) ops: BoolAttribute<T>,
}

// SAFETY: The raw pointers only point into the structure itself or to static data, and the
// structure is never accessed mutably after it is set up.
unsafe impl<T: Ops> Send for BoolAttributeData<T> {}

impl<T: Ops> BoolAttributeData<T> {
    /// Finds the attribute's data and the RTC's driver data for a sysfs callback, and takes
    /// the RTC's `ops_lock`, which the RTC core holds around every operation: the callbacks
    /// are serialised with them (`set_offset`, say, may update the same register).
    ///
    /// Fails with `EINTR` if a signal came while waiting for the lock, and `ENODEV` once the
    /// RTC is being unregistered.
    ///
    /// # Safety
    ///
    /// `dev` must be the RTC class device and `attr` the `attr` field of a
    /// `BoolAttributeData<T>` registered for it, during a sysfs callback.
    pub(super) unsafe fn get<'a>(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
    ) -> Result<(&'a Self, &'a T, &'a device::Device<Bound>, OpsLock)> {
        // SAFETY: By the safety requirements `attr` is the `attr` field of a `Self`, which lives
        // until the class device's sysfs files are removed.
        let this = unsafe { &*crate::container_of!(attr, Self, attr) };
        // SAFETY: `dev` is the class device embedded in a `struct rtc_device`, which lives at
        // least as long as its sysfs files.
        let lock = unsafe { OpsLock::lock(crate::container_of!(dev, bindings::rtc_device, dev)) }?;
        // SAFETY: `dev` is a valid class device; its parent is the bound device the RTC was
        // registered under, and the sysfs files are removed when it is unregistered, before the
        // driver data goes away.
        let (data, parent) = unsafe { Adapter::<T>::data((*dev).parent) }?;
        Ok((this, data, parent, lock))
    }

    /// # Safety
    ///
    /// Called by sysfs with a `PAGE_SIZE` buffer; see [`Self::get`].
    pub(super) unsafe extern "C" fn show(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: Called by sysfs for our attribute.
        let res = unsafe { Self::get(dev, attr) }
            .and_then(|(this, data, parent, _lock)| (this.ops.show)(data, parent));
        match res {
            Ok(on) => {
                let text: &[u8] = if on { b"on\n" } else { b"off\n" };
                // SAFETY: `buf` has room for `PAGE_SIZE` bytes.
                unsafe {
                    core::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len())
                };
                // CAST: a few bytes.
                text.len() as isize
            }
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by sysfs with a NUL-terminated buffer of `count` bytes; see [`Self::get`].
    pub(super) unsafe extern "C" fn store(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        let mut on = false;
        // SAFETY: `buf` is NUL-terminated; `on` is valid for writes.
        let res = to_result(unsafe { bindings::kstrtobool(buf, &mut on) }).and_then(|()| {
            // SAFETY: Called by sysfs for our attribute.
            let (this, data, parent, _lock) = unsafe { Self::get(dev, attr) }?;
            (this.ops.store)(data, parent, on)
        });
        match res {
            // CAST: `count` is at most `PAGE_SIZE`.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}
