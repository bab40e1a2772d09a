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
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    impl_has_work,
    ioctl,
    new_work,
    prelude::*,
    seq_file::SeqFile,
    sync::{
        aref::{
            ARef,
            AlwaysRefCounted, //
        },
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
    workqueue::{
        self,
        Work,
        WorkItem, //
    },
    ThisModule, //
};
use core::{
    any::TypeId,
    marker::PhantomData,
    ptr::NonNull, //
};

/// 2000-01-01 00:00:00 UTC in seconds since the epoch (C `RTC_TIMESTAMP_BEGIN_2000`).
pub const TIMESTAMP_BEGIN_2000: i64 = 946684800;

/// 2099-12-31 23:59:59 UTC in seconds since the epoch (C `RTC_TIMESTAMP_END_2099`).
pub const TIMESTAMP_END_2099: i64 = 4102444799;

/// 2199-12-31 23:59:59 UTC in seconds since the epoch (C `RTC_TIMESTAMP_END_2199`).
pub const TIMESTAMP_END_2199: i64 = 7258118399;

/// The `RTC_VL_READ` ioctl: read the voltage-low and data-invalid flags (a `c_uint`).
pub const VL_READ: u32 = ioctl::_IOR::<c_uint>(b'p' as u32, 0x13);

/// The `RTC_VL_CLR` ioctl: clear the voltage-low information.
pub const VL_CLR: u32 = ioctl::_IO(b'p' as u32, 0x14);

/// `RTC_VL_DATA_INVALID`: the time kept by the clock cannot be trusted.
pub const VL_DATA_INVALID: u32 = 1 << 0;

/// Returns the number of days in `month` (1-12) of `year`, or 0 if `month` is out of range.
const fn days_in_month(month: u32, year: u32) -> u32 {
    let leap = matches!(
        (year % 400, year % 100, year % 4),
        (0, _, _) | (1.., 1.., 0)
    );
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// A calendar time as kept by a real-time clock, in UTC.
///
/// Wraps a C `struct rtc_time`. Months are 1-12 and days 1-31 in this API
/// (the C structure counts months from 0 and years from 1900).
///
/// # Invariants
///
/// The wrapped time is valid in the sense of the C `rtc_valid_tm()`: the year
/// is 1970 or later, every field is in range for its month and year, and
/// `tm_wday` and `tm_yday` agree with the date.
///
/// # Examples
///
/// ```
/// use kernel::rtc::Time;
///
/// let t = Time::new(2005, 2, 28, 23, 59, 59)?;
/// assert_eq!((t.year(), t.month(), t.day()), (2005, 2, 28));
/// assert_eq!((t.hour(), t.minute(), t.second()), (23, 59, 59));
/// // 2005-02-28 was a Monday.
/// assert_eq!(t.weekday(), 1);
/// assert_eq!(t.year_day(), 58);
///
/// // One second later it is March: 2005 is not a leap year.
/// let next = Time::from_time64(t.to_time64() + 1)?;
/// assert_eq!((next.month(), next.day(), next.hour()), (3, 1, 0));
///
/// // Out-of-range fields are refused.
/// assert!(Time::new(2005, 2, 29, 0, 0, 0).is_err());
/// assert!(Time::new(2004, 2, 29, 0, 0, 0).is_ok());
/// assert!(Time::new(1969, 12, 31, 23, 59, 59).is_err());
/// assert!(Time::new(2026, 13, 1, 0, 0, 0).is_err());
/// assert!(Time::new(2026, 1, 1, 24, 0, 0).is_err());
/// assert!(Time::from_time64(-1).is_err());
///
/// assert_eq!(Time::new(1970, 1, 1, 0, 0, 0)?.to_time64(), 0);
/// assert_eq!(Time::new(2000, 1, 1, 0, 0, 0)?.to_time64(), kernel::rtc::TIMESTAMP_BEGIN_2000);
/// assert_eq!(Time::new(2099, 12, 31, 23, 59, 59)?.to_time64(), kernel::rtc::TIMESTAMP_END_2099);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Time(bindings::rtc_time);

impl Time {
    /// Creates a time from its calendar fields.
    ///
    /// `month` is 1-12 and `day` 1-31. The weekday and the day of the year are
    /// computed from the date. Returns [`EINVAL`] if a field is out of range
    /// or the year is not in 1970-9999.
    pub fn new(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Result<Self> {
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(month, year)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(EINVAL);
        }
        // CAST: every value was checked above to fit in a `c_int`.
        let mut tm = bindings::rtc_time {
            tm_sec: second as c_int,
            tm_min: minute as c_int,
            tm_hour: hour as c_int,
            tm_mday: day as c_int,
            tm_mon: (month - 1) as c_int,
            tm_year: (year - 1900) as c_int,
            ..Default::default()
        };
        // SAFETY: `tm` is a valid `struct rtc_time`; the function only reads it.
        let secs = unsafe { bindings::rtc_tm_to_time64(&mut tm) };
        // SAFETY: `tm` is valid for writes.
        unsafe { bindings::rtc_time64_to_tm(secs, &mut tm) };
        // INVARIANT: the fields were checked above; `rtc_time64_to_tm` filled in the weekday
        // and the day of the year for the same date.
        Ok(Self(tm))
    }

    /// Creates a time from seconds since 1970-01-01 00:00:00 UTC.
    ///
    /// Returns [`EINVAL`] for a negative time or one after the year 9999.
    pub fn from_time64(secs: i64) -> Result<Self> {
        if secs < 0 {
            return Err(EINVAL);
        }
        let mut tm = bindings::rtc_time::default();
        // SAFETY: `tm` is valid for writes.
        unsafe { bindings::rtc_time64_to_tm(secs, &mut tm) };
        Self::from_raw(&tm)
    }

    /// Creates a time from a C `struct rtc_time`, checking it like `rtc_valid_tm()` does.
    ///
    /// The weekday and day of the year are recomputed from the date. Returns
    /// [`EINVAL`] if the time is not valid.
    pub fn from_raw(tm: &bindings::rtc_time) -> Result<Self> {
        let field = |v: c_int| u32::try_from(v).map_err(|_| EINVAL);
        Self::new(
            field(tm.tm_year)?.checked_add(1900).ok_or(EINVAL)?,
            field(tm.tm_mon)?.checked_add(1).ok_or(EINVAL)?,
            field(tm.tm_mday)?,
            field(tm.tm_hour)?,
            field(tm.tm_min)?,
            field(tm.tm_sec)?,
        )
    }

    /// Returns the C `struct rtc_time`.
    pub fn as_raw(&self) -> &bindings::rtc_time {
        &self.0
    }

    /// Returns the number of seconds since 1970-01-01 00:00:00 UTC.
    pub fn to_time64(&self) -> i64 {
        let mut tm = self.0;
        // SAFETY: `tm` is a valid `struct rtc_time`; the function only reads it.
        unsafe { bindings::rtc_tm_to_time64(&mut tm) }
    }

    /// Returns the year, for example 2005.
    pub fn year(&self) -> u32 {
        // CAST: by the type invariant the year is at least 1970.
        (self.0.tm_year + 1900) as u32
    }

    /// Returns the month, 1-12.
    pub fn month(&self) -> u32 {
        // CAST: by the type invariant the month is 0-11.
        (self.0.tm_mon + 1) as u32
    }

    /// Returns the day of the month, 1-31.
    pub fn day(&self) -> u32 {
        // CAST: by the type invariant the day is 1-31.
        self.0.tm_mday as u32
    }

    /// Returns the hour, 0-23.
    pub fn hour(&self) -> u32 {
        // CAST: by the type invariant the hour is 0-23.
        self.0.tm_hour as u32
    }

    /// Returns the minute, 0-59.
    pub fn minute(&self) -> u32 {
        // CAST: by the type invariant the minute is 0-59.
        self.0.tm_min as u32
    }

    /// Returns the second, 0-59.
    pub fn second(&self) -> u32 {
        // CAST: by the type invariant the second is 0-59.
        self.0.tm_sec as u32
    }

    /// Returns the day of the week, 0 (Sunday) to 6.
    pub fn weekday(&self) -> u32 {
        // CAST: by the type invariant the weekday is 0-6.
        self.0.tm_wday as u32
    }

    /// Returns the day of the year, 0 (January 1) to 365.
    pub fn year_day(&self) -> u32 {
        // Computed here rather than read from `tm_yday`, which `rtc_time64_to_tm()` counts
        // from 1.
        // SAFETY: `rtc_year_days` only computes; by the type invariant the fields are in range.
        let yday = unsafe { bindings::rtc_year_days(self.day(), self.month() - 1, self.year()) };
        // CAST: by the type invariant the result is 0-365.
        yday as u32
    }
}

impl PartialEq for Time {
    fn eq(&self, other: &Self) -> bool {
        self.to_time64() == other.to_time64()
    }
}

impl Eq for Time {}

impl core::fmt::Debug for Time {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year(),
            self.month(),
            self.day(),
            self.hour(),
            self.minute(),
            self.second()
        )
    }
}

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

/// The device resource that owns an RTC's driver data, found again by the type of the data.
#[repr(C)]
struct DataRes {
    /// The type of the data, [`Ops`] implementer.
    type_id: TypeId,
    /// From `Pin<KBox<T>>::into_foreign`, with `TypeId::of::<T>() == type_id`.
    data: *mut c_void,
}

impl DataRes {
    /// A `devres_find` match function: whether the `DataRes` at `res` holds data of the type
    /// whose `TypeId` is at `id`.
    ///
    /// # Safety
    ///
    /// `res` must be the data area of a device resource released by an [`Adapter::release`]
    /// (hence a `DataRes`), and `id` a valid `TypeId`.
    unsafe extern "C" fn matches(
        _dev: *mut bindings::device,
        res: *mut c_void,
        id: *mut c_void,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        c_int::from(unsafe { (*res.cast::<DataRes>()).type_id == *id.cast::<TypeId>() })
    }
}

/// Bridges an [`Ops`] implementation to the C `struct rtc_class_ops`.
struct Adapter<T: Ops>(PhantomData<T>);

impl<T: Ops> Adapter<T> {
    const VTABLE: bindings::rtc_class_ops = bindings::rtc_class_ops {
        ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl)
        } else {
            None
        },
        read_time: Some(Self::read_time),
        set_time: if T::HAS_SET_TIME {
            Some(Self::set_time)
        } else {
            None
        },
        read_alarm: None,
        set_alarm: None,
        proc_: if T::HAS_PROC { Some(Self::proc) } else { None },
        alarm_irq_enable: None,
        read_offset: if T::HAS_READ_OFFSET {
            Some(Self::read_offset)
        } else {
            None
        },
        set_offset: if T::HAS_SET_OFFSET {
            Some(Self::set_offset)
        } else {
            None
        },
        param_get: None,
        param_set: None,
    };

    /// Releases the device resource that owns the driver's data.
    ///
    /// # Safety
    ///
    /// `res` must be the data area of a device resource allocated by [`Builder::new`] for `T`:
    /// a [`DataRes`] whose `data` comes from `Pin<KBox<T>>::into_foreign`.
    unsafe extern "C" fn release(_dev: *mut bindings::device, res: *mut c_void) {
        // SAFETY: By the safety requirements, `res` is a `DataRes` holding a foreign pointer to
        // a `Pin<KBox<T>>` that nothing else owns.
        drop(unsafe { Pin::<KBox<T>>::from_foreign((*res.cast::<DataRes>()).data) });
    }

    /// Finds the device resource that holds the driver's data of an RTC of type `T` under
    /// `dev`, or returns null.
    ///
    /// # Safety
    ///
    /// `dev` must be a valid pointer to a device.
    unsafe fn find(dev: *mut bindings::device) -> *mut DataRes {
        let id = TypeId::of::<T>();
        // SAFETY: `dev` is valid by the safety requirements. The release function narrows the
        // search to resources of this module's RTCs; it need not be unique to `T` (identical
        // functions may be merged), so `DataRes::matches` compares the type too.
        let res = unsafe {
            bindings::devres_find(
                dev,
                Some(Self::release),
                Some(DataRes::matches),
                (&raw const id).cast_mut().cast(),
            )
        };
        res.cast()
    }

    /// Finds the driver's data registered for `T` under `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be a valid pointer to a bound device. The returned references must not
    /// outlive the current RTC operation: the RTC core calls operations only while the RTC
    /// is registered, which ends before the device resource holding the data is released.
    unsafe fn data<'a>(dev: *mut bindings::device) -> Result<(&'a T, &'a device::Device<Bound>)> {
        // SAFETY: `dev` is valid by the safety requirements.
        let res = unsafe { Self::find(dev) };
        if res.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `res` is our device resource for `T`, which holds a foreign pointer to a
        // `Pin<KBox<T>>` that stays alive at least as long as the operation (safety
        // requirements).
        let data = unsafe { Pin::<KBox<T>>::borrow((*res).data) };
        // SAFETY: `dev` is a valid, bound device for the duration of the operation.
        let parent = unsafe { device::Device::<device::Normal>::from_raw(dev).as_bound() };
        Ok((data.get_ref(), parent))
    }

    /// Runs an operation of the RTC under `dev` on its driver data, and gives its result as
    /// the RTC core wants it: `0` or a value, or an error code.
    ///
    /// # Safety
    ///
    /// `dev` must be the bound parent device of a registered RTC of type `T`, as the RTC core
    /// passes to the operations.
    unsafe fn call(
        dev: *mut bindings::device,
        op: impl FnOnce(&T, &device::Device<Bound>) -> Result<c_int>,
    ) -> c_int {
        // SAFETY: By the function's safety requirements; the references live for the call.
        match unsafe { Self::data(dev) }.and_then(|(this, parent)| op(this, parent)) {
            Ok(v) => v,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device and a valid `tm`.
    unsafe extern "C" fn read_time(
        dev: *mut bindings::device,
        tm: *mut bindings::rtc_time,
    ) -> c_int {
        let op = |this: &T, parent: &device::Device<Bound>| {
            let time = this.read_time(parent)?;
            // SAFETY: `tm` is valid for writes.
            unsafe { tm.write(time.0) };
            Ok(0)
        };
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, op) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device and a valid `tm`.
    unsafe extern "C" fn set_time(
        dev: *mut bindings::device,
        tm: *mut bindings::rtc_time,
    ) -> c_int {
        let op = |this: &T, parent: &device::Device<Bound>| {
            // SAFETY: `tm` is valid for reads.
            let time = Time::from_raw(unsafe { &*tm })?;
            this.set_time(parent, &time).map(|()| 0)
        };
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, op) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device and a valid `offset`.
    unsafe extern "C" fn read_offset(dev: *mut bindings::device, offset: *mut c_long) -> c_int {
        let op = |this: &T, parent: &device::Device<Bound>| {
            let v = c_long::try_from(this.read_offset(parent)?).map_err(|_| ERANGE)?;
            // SAFETY: `offset` is valid for writes.
            unsafe { offset.write(v) };
            Ok(0)
        };
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, op) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device.
    unsafe extern "C" fn set_offset(dev: *mut bindings::device, offset: c_long) -> c_int {
        // CAST: `long` is at most 64 bits wide.
        let op = |this: &T, parent: &device::Device<Bound>| {
            this.set_offset(parent, offset as i64).map(|()| 0)
        };
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, op) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device.
    unsafe extern "C" fn ioctl(dev: *mut bindings::device, cmd: c_uint, arg: c_ulong) -> c_int {
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, |this, parent| this.ioctl(parent, cmd, arg)) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device and a valid `seq`.
    unsafe extern "C" fn proc(dev: *mut bindings::device, seq: *mut bindings::seq_file) -> c_int {
        let op = |this: &T, parent: &device::Device<Bound>| {
            // SAFETY: `seq` is a valid `seq_file` for the duration of the call.
            let m = unsafe { SeqFile::from_raw(seq) };
            this.proc(parent, m).map(|()| 0)
        };
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, op) }
    }
}

/// The `ops_lock` of an RTC, held while this lives.
///
/// # Invariants
///
/// `self.0` is a valid `struct rtc_device` whose `ops_lock` we hold.
struct OpsLock(*mut bindings::rtc_device);

impl OpsLock {
    /// Takes `rtc`'s `ops_lock`, as the RTC core does before it calls an operation.
    ///
    /// # Safety
    ///
    /// `rtc` must be valid for as long as the returned guard lives.
    unsafe fn lock(rtc: *mut bindings::rtc_device) -> Result<Self> {
        // SAFETY: `rtc` is valid by the safety requirements.
        to_result(unsafe { bindings::rtc_ops_lock(rtc) })?;
        // INVARIANT: We hold the lock; `rtc` is valid.
        let this = Self(rtc);
        // SAFETY: `ops` is only written under `ops_lock`, which we hold.
        if unsafe { (*rtc).ops }.is_null() {
            // Unregistered: the driver's data may be on its way out.
            return Err(ENODEV);
        }
        Ok(this)
    }
}

impl Drop for OpsLock {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the lock of a valid RTC.
        unsafe { bindings::mutex_unlock(&raw mut (*self.0).ops_lock) };
    }
}

/// A boolean sysfs attribute of an RTC class device, shown as `on` or `off`.
///
/// Added with [`Builder::add_bool_attribute`]; writes accept what `kstrtobool()`
/// accepts (`1`, `0`, `on`, `off`, `y`, `n`...). This is the shape of the
/// `frequency_test` attribute of the C `rtc-ds1307` driver.
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
struct BoolAttributeData<T: Ops> {
    attr: bindings::device_attribute,
    attrs: [*mut bindings::attribute; 2],
    group: bindings::attribute_group,
    ops: BoolAttribute<T>,
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
    unsafe fn get<'a>(
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
    unsafe extern "C" fn show(
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
    unsafe extern "C" fn store(
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

/// Sets an RTC from atomic context through a work item.
///
/// [`DeferredSet::set`] can be called from any context, including hard
/// interrupt handlers and timer callbacks: it records the requested time and
/// queues a work item on the system workqueue, which sets the clock through
/// the RTC core. Requests made before the work runs coalesce: the latest one
/// wins. The clock is held open (its driver's module cannot be unloaded) for
/// the lifetime of the `DeferredSet`.
///
/// Call [`DeferredSet::flush`] or [`DeferredSet::cancel`] before dropping the
/// last reference when the caller needs the pending request done or undone;
/// otherwise a queued request still runs, holding its own reference.
///
/// # Examples
///
/// ```
/// use kernel::rtc::DeferredSet;
///
/// // Only runs where an `rtc0` exists.
/// if let Ok(set) = DeferredSet::new(c"rtc0") {
///     assert_eq!(set.last_result(), 0);
///     set.cancel();
/// }
/// ```
#[pin_data]
pub struct DeferredSet {
    rtc: Opened,
    /// The requested time in seconds since the epoch, or [`DeferredSet::NONE`].
    pending: Atomic<i64>,
    /// The errno of the last attempt (0 on success).
    last: Atomic<i32>,
    #[pin]
    work: Work<DeferredSet>,
}

impl_has_work! {
    impl HasWork<Self> for DeferredSet { self.work }
}

impl DeferredSet {
    const NONE: i64 = i64::MIN;

    /// Opens the RTC class device called `name` for deferred setting.
    pub fn new(name: &CStr) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                rtc: Opened::new(name)?,
                pending: Atomic::new(Self::NONE),
                last: Atomic::new(0),
                work <- new_work!("rtc::DeferredSet::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// Returns the opened class device.
    pub fn device(&self) -> &Device {
        &self.rtc
    }

    /// Requests that the clock be set to `secs` seconds since the epoch. Does not sleep.
    ///
    /// Returns `true` if this call queued the work item, `false` if it was already queued
    /// (the new time replaces the queued one).
    pub fn set(self: &Arc<Self>, secs: i64) -> bool {
        self.pending.store(secs, Relaxed);
        workqueue::system().enqueue(self.clone()).is_ok()
    }

    /// Returns the errno of the last completed request, 0 if it succeeded or none ran.
    pub fn last_result(&self) -> i32 {
        self.last.load(Relaxed)
    }

    /// Waits until the queued request, if any, has been carried out. May sleep.
    pub fn flush(&self) {
        // SAFETY: `self.work` is a valid, initialised work item.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }

    /// Drops the queued request, if any, and waits for a running one to finish. May sleep.
    ///
    /// A work item that is still queued runs, finds no request and returns at once.
    pub fn cancel(&self) {
        self.pending.store(Self::NONE, Relaxed);
        self.flush();
    }
}

impl WorkItem for DeferredSet {
    type Pointer = Arc<DeferredSet>;

    fn run(this: Arc<DeferredSet>) {
        let secs = this.pending.xchg(Self::NONE, Relaxed);
        if secs == Self::NONE {
            return;
        }
        let ret = match Time::from_time64(secs).and_then(|t| this.rtc.set_time(&t)) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        this.last.store(ret, Relaxed);
    }
}
