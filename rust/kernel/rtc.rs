// SPDX-License-Identifier: GPL-2.0

//! Real-time clock (RTC) class devices.
//!
//! C header: [`include/linux/rtc.h`](srctree/include/linux/rtc.h)
//!
//! A driver describes its clock with the [`Ops`] trait and registers it under
//! its bound parent device with [`Builder`]. The operations a driver leaves
//! out stay NULL in the C `struct rtc_class_ops`, so the RTC core sees them as
//! unsupported. The driver's data lives in a device resource of the parent: it
//! is dropped when the parent is unbound, after the RTC core has stopped
//! calling the operations.
//!
//! [`Time`] is a validated `struct rtc_time`, and [`DeferredSet`] sets a
//! clock from atomic context through a work item.

use crate::{
    bindings,
    device::{
        self,
        Bound, //
    },
    error::{
        from_err_ptr,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_uint,
        c_ulong, //
    },
    ioctl,
    prelude::*,
    seq_file::SeqFile,
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule, //
};
use core::{
    any::TypeId,
    marker::PhantomData,
    ptr::NonNull, //
};

mod attr;
mod deferred;
mod ops;
mod time;

use attr::BoolAttributeData;
use ops::{Adapter, DataRes, OpsLock};

pub use attr::BoolAttribute;
pub use deferred::DeferredSet;
pub use time::{Time, TIMESTAMP_BEGIN_2000, TIMESTAMP_END_2099, TIMESTAMP_END_2199};

/// The `RTC_VL_READ` ioctl: read the voltage-low and data-invalid flags (a `c_uint`).
pub const VL_READ: u32 = ioctl::_IOR::<c_uint>(b'p' as u32, 0x13);

/// The `RTC_VL_CLR` ioctl: clear the voltage-low information.
pub const VL_CLR: u32 = ioctl::_IO(b'p' as u32, 0x14);

/// `RTC_VL_DATA_INVALID`: the time kept by the clock cannot be trusted.
pub const VL_DATA_INVALID: u32 = 1 << 0;

/// A feature bit of an RTC class device (`RTC_FEATURE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Feature {
    /// The clock has an alarm. The core clears it when there is no `set_alarm` operation.
    Alarm = bindings::RTC_FEATURE_ALARM,
    /// The alarm has a resolution of one minute.
    AlarmResMinute = bindings::RTC_FEATURE_ALARM_RES_MINUTE,
    /// The clock needs the weekday to be set.
    NeedWeekDay = bindings::RTC_FEATURE_NEED_WEEK_DAY,
    /// The alarm has a resolution of two seconds.
    AlarmRes2s = bindings::RTC_FEATURE_ALARM_RES_2S,
    /// The clock raises an interrupt every second.
    UpdateInterrupt = bindings::RTC_FEATURE_UPDATE_INTERRUPT,
    /// The clock can be calibrated (set by the core when there is a `set_offset` operation).
    Correction = bindings::RTC_FEATURE_CORRECTION,
    /// The clock has a configurable backup switch-over mode.
    BackupSwitchMode = bindings::RTC_FEATURE_BACKUP_SWITCH_MODE,
    /// The alarm can only wake the system up.
    AlarmWakeupOnly = bindings::RTC_FEATURE_ALARM_WAKEUP_ONLY,
}

/// The operations of an RTC class device, implemented by the driver's data.
///
/// Each operation receives the driver's data and the bound parent device
/// (the physical device on its bus). The RTC core serialises the time and
/// offset operations with its `ops_lock`; `proc` may run concurrently with
/// them. Operations that are not implemented stay NULL in the C vtable.
#[vtable]
pub trait Ops: Send + Sync + Sized + 'static {
    /// Reads the current time.
    fn read_time(&self, parent: &device::Device<Bound>) -> Result<Time>;

    /// Sets the time. The RTC core has checked that `time` is in the device's range.
    fn set_time(&self, _parent: &device::Device<Bound>, _time: &Time) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads the calibration offset, in parts per billion.
    fn read_offset(&self, _parent: &device::Device<Bound>) -> Result<i64> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Sets the calibration offset, in parts per billion.
    fn set_offset(&self, _parent: &device::Device<Bound>, _offset: i64) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl the RTC core does not handle itself (for example [`VL_READ`]).
    ///
    /// Returns [`ENOIOCTLCMD`] for commands the driver does not know.
    fn ioctl(&self, _parent: &device::Device<Bound>, _cmd: u32, _arg: usize) -> Result<i32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Adds driver-specific lines to `/proc/driver/rtc`.
    fn proc(&self, _parent: &device::Device<Bound>, _m: &SeqFile) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// An RTC class device (`struct rtc_device`).
///
/// # Invariants
///
/// The wrapped `struct rtc_device` was allocated by the RTC core and its
/// reference count is not zero.
#[repr(transparent)]
pub struct Device(Opaque<bindings::rtc_device>);

impl Device {
    fn as_raw(&self) -> *mut bindings::rtc_device {
        self.0.get()
    }

    /// Returns the class device (`rtcN`).
    pub fn as_device(&self) -> &device::Device {
        // SAFETY: By the type invariant the `rtc_device` and its embedded `dev` are valid.
        unsafe { device::Device::from_raw(&raw mut (*self.as_raw()).dev) }
    }

    /// Returns the number of the device (`N` in `rtcN`).
    pub fn id(&self) -> i32 {
        // SAFETY: By the type invariant the `rtc_device` is valid; `id` never changes.
        unsafe { (*self.as_raw()).id }
    }

    /// Reads the time through the RTC core (`rtc_read_time()`). May sleep.
    pub fn read_time(&self) -> Result<Time> {
        let mut tm = bindings::rtc_time::default();
        // SAFETY: `self.as_raw()` is valid; `tm` is valid for writes.
        to_result(unsafe { bindings::rtc_read_time(self.as_raw(), &mut tm) })?;
        Time::from_raw(&tm)
    }

    /// Sets the time through the RTC core (`rtc_set_time()`). May sleep.
    ///
    /// Returns [`ENODEV`] once the clock has been unregistered.
    pub fn set_time(&self, time: &Time) -> Result {
        let mut tm = time.0;
        // SAFETY: `self.as_raw()` is valid; `tm` is a valid `struct rtc_time`.
        to_result(unsafe { bindings::rtc_set_time(self.as_raw(), &mut tm) })
    }
}

// SAFETY: `struct rtc_device` is reference counted through its embedded `struct device`.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means the reference count is not zero.
        unsafe { bindings::get_device(&raw mut (*self.as_raw()).dev) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference; `obj` points to a valid `rtc_device`.
        unsafe { bindings::put_device(&raw mut (*obj.as_ref().as_raw()).dev) }
    }
}

// SAFETY: The RTC core locks what it needs; a reference can be used and dropped on any thread.
unsafe impl Send for Device {}

// SAFETY: All methods of `Device` can be called concurrently; the RTC core serialises them.
unsafe impl Sync for Device {}

/// An RTC class device opened by name (`rtc_class_open()`).
///
/// Holds a reference to the device and to the module of its driver; dropping
/// closes it.
///
/// # Invariants
///
/// `self.0` was returned by a successful `rtc_class_open()` and not yet closed.
pub struct Opened(NonNull<bindings::rtc_device>);

impl Opened {
    /// Opens the RTC class device called `name` (for example `c"rtc1"`).
    ///
    /// Returns [`ENODEV`] if there is no such device.
    pub fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string.
        let rtc =
            NonNull::new(unsafe { bindings::rtc_class_open(name.as_char_ptr()) }).ok_or(ENODEV)?;
        // INVARIANT: `rtc_class_open` succeeded.
        Ok(Self(rtc))
    }
}

impl core::ops::Deref for Opened {
    type Target = Device;

    fn deref(&self) -> &Device {
        // SAFETY: By the type invariant the device is open, so it is valid and referenced.
        unsafe { &*self.0.as_ptr().cast::<Device>() }
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the device is open.
        unsafe { bindings::rtc_class_close(self.0.as_ptr()) };
    }
}

// SAFETY: `rtc_class_close` can be called from any thread.
unsafe impl Send for Opened {}

// SAFETY: See `Device`.
unsafe impl Sync for Opened {}

/// An RTC class device allocated under its parent and not yet registered.
///
/// Created by [`Builder::new`], which also places the driver's data `T`
/// in a device resource of the parent; [`Builder::register`] makes the clock
/// visible. If the builder is dropped without registering, the allocation and
/// the data are released when the parent is unbound, like every device resource.
///
/// Only one RTC of a given [`Ops`] type can be registered under one parent.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, rtc, seq_print, sync::aref::ARef, ThisModule};
///
/// struct Fixed(i64);
///
/// #[vtable]
/// impl rtc::Ops for Fixed {
///     fn read_time(&self, _parent: &Device<Bound>) -> Result<rtc::Time> {
///         rtc::Time::from_time64(self.0)
///     }
///
///     fn proc(&self, _parent: &Device<Bound>, m: &kernel::seq_file::SeqFile) -> Result {
///         seq_print!(m, "fixed\t\t: yes\n");
///         Ok(())
///     }
/// }
///
/// fn probe(parent: &Device<Bound>, module: &'static ThisModule) -> Result<ARef<rtc::Device>> {
///     let mut rtc = rtc::Builder::new(parent, Fixed(rtc::TIMESTAMP_BEGIN_2000))?;
///     rtc.set_range(rtc::TIMESTAMP_BEGIN_2000, rtc::TIMESTAMP_END_2099);
///     rtc.set_feature(rtc::Feature::UpdateInterrupt, false);
///     rtc.register(module)
/// }
/// ```
pub struct Builder<'a, T: Ops> {
    rtc: NonNull<bindings::rtc_device>,
    parent: &'a device::Device<Bound>,
    _t: PhantomData<T>,
}

impl<'a, T: Ops> Builder<'a, T> {
    /// Allocates an RTC class device under `parent` with the driver's data `data`.
    ///
    /// Returns [`EBUSY`] if `parent` already has an RTC with the same [`Ops`] type, or the
    /// error of the allocation or of `data`'s initialiser.
    pub fn new<E>(parent: &'a device::Device<Bound>, data: impl PinInit<T, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        let dev = parent.as_raw();
        // SAFETY: `dev` is a valid bound device.
        if !unsafe { Adapter::<T>::find(dev) }.is_null() {
            return Err(EBUSY);
        }

        // SAFETY: `dev` is a valid bound device.
        let rtc = from_err_ptr(unsafe { bindings::devm_rtc_allocate_device(dev) })?;
        let rtc = NonNull::new(rtc).ok_or(ENOMEM)?;

        let data = KBox::pin_init(data, GFP_KERNEL)?;
        // SAFETY: Allocates a device resource with room for a `DataRes`; `release` frees what
        // it holds.
        let res = unsafe {
            bindings::__devres_alloc_node(
                Some(Adapter::<T>::release),
                core::mem::size_of::<DataRes>(),
                GFP_KERNEL.as_raw(),
                bindings::NUMA_NO_NODE,
                c"rtc::Builder".as_char_ptr(),
            )
        };
        if res.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `res` has room for a `DataRes` and is suitably aligned (devres data is aligned
        // for any type the allocator returns). The resource takes ownership of `data`.
        unsafe {
            res.cast::<DataRes>().write(DataRes {
                type_id: TypeId::of::<T>(),
                data: data.into_foreign(),
            })
        };
        // SAFETY: `res` is a new device resource; `dev` is a valid bound device. From now on
        // `release` runs when the parent is unbound, after the RTC (registered later) is
        // unregistered, because device resources are released in reverse order.
        unsafe { bindings::devres_add(dev, res) };

        // SAFETY: `rtc` is valid and not registered yet; the vtable is static.
        unsafe { (*rtc.as_ptr()).ops = &Adapter::<T>::VTABLE };

        Ok(Self {
            rtc,
            parent,
            _t: PhantomData,
        })
    }

    /// Sets the range of times the hardware can keep, in seconds since the epoch.
    ///
    /// The RTC core refuses to set a time outside it.
    pub fn set_range(&mut self, min: i64, max: i64) {
        // SAFETY: The device is not registered yet, so nothing else accesses it.
        unsafe {
            (*self.rtc.as_ptr()).range_min = min;
            (*self.rtc.as_ptr()).range_max = max as u64;
        }
    }

    /// Sets how long after a write the clock's seconds first advance, plus the transfer time,
    /// in nanoseconds (the RTC core's `set_offset_nsec`, used when syncing from NTP).
    pub fn set_offset_nsec(&mut self, nsec: u32) {
        // SAFETY: The device is not registered yet, so nothing else accesses it.
        // CAST: `unsigned long` is at least 32 bits wide.
        unsafe { (*self.rtc.as_ptr()).set_offset_nsec = nsec as c_ulong };
    }

    /// Sets or clears a feature bit.
    pub fn set_feature(&mut self, feature: Feature, enabled: bool) {
        const BITS: usize = c_ulong::BITS as usize;
        let bit = feature as usize;
        // SAFETY: The device is not registered yet, so nothing else accesses it. `bit` is
        // below `RTC_FEATURE_CNT`, the size of the bitmap in bits.
        let word = unsafe { &mut (*self.rtc.as_ptr()).features[bit / BITS] };
        if enabled {
            *word |= 1 << (bit % BITS);
        } else {
            *word &= !(1 << (bit % BITS));
        }
    }

    /// Adds a boolean sysfs attribute to the class device.
    ///
    /// The attribute appears when the clock is registered and goes away when it is
    /// unregistered. Returns an error if the allocation fails.
    pub fn add_bool_attribute(&mut self, attribute: BoolAttribute<T>) -> Result {
        let mut data = KBox::new(
            BoolAttributeData {
                attr: pin_init::zeroed(),
                attrs: [core::ptr::null_mut(); 2],
                group: pin_init::zeroed(),
                ops: attribute,
            },
            GFP_KERNEL,
        )?;
        data.attr.attr.name = data.ops.name.as_char_ptr();
        data.attr.attr.mode = 0o644;
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        {
            // What `sysfs_attr_init()` does for a dynamically allocated attribute.
            data.attr.attr.key = crate::static_lock_class!().as_ptr();
        }
        data.attr.__bindgen_anon_1.show = Some(BoolAttributeData::<T>::show);
        data.attr.__bindgen_anon_2.store = Some(BoolAttributeData::<T>::store);
        data.attrs[0] = &raw mut data.attr.attr;
        data.group.__bindgen_anon_2.attrs = data.attrs.as_mut_ptr();
        // SAFETY: The device is not registered yet. `data` is heap-allocated, so the pointers
        // into it stay valid when the box moves; it is kept until the parent is unbound, after
        // the RTC (registered later) and its sysfs files are gone.
        to_result(unsafe { bindings::rtc_add_group(self.rtc.as_ptr(), &data.group) })?;
        crate::devres::register(self.parent, data, GFP_KERNEL)
    }

    /// Registers the clock with the RTC core; `module` is the driver's module.
    ///
    /// The registration is undone when the parent device is unbound. Returns a reference to
    /// the class device, which stays valid after that.
    pub fn register(self, module: &'static ThisModule) -> Result<ARef<Device>> {
        // SAFETY: `self.rtc` is an allocated, unregistered RTC whose ops are set.
        to_result(unsafe {
            bindings::__devm_rtc_register_device(module.as_ptr(), self.rtc.as_ptr())
        })?;
        // SAFETY: `self.rtc` is valid and `Device` is a transparent wrapper of it.
        let rtc = unsafe { &*self.rtc.as_ptr().cast::<Device>() };
        Ok(rtc.into())
    }
}
