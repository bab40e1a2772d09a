// SPDX-License-Identifier: GPL-2.0

//! The bridge from a driver's [`Ops`](super::Ops) to the C `struct rtc_class_ops`.

use super::{Ops, Time};
use crate::{
    bindings,
    device::{self, Bound},
    error::to_result,
    ffi::{c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    seq_file::SeqFile,
    types::ForeignOwnable,
};
use core::{any::TypeId, marker::PhantomData};

/// The device resource that owns an RTC's driver data, found again by the type of the data.
#[repr(C)]
pub(super) struct DataRes {
    /// The type of the data, [`Ops`] implementer.
    pub(super) type_id: TypeId,
    /// From `Pin<KBox<T>>::into_foreign`, with `TypeId::of::<T>() == type_id`.
    pub(super) data: *mut c_void,
}

impl DataRes {
    /// A `devres_find` match function: whether the `DataRes` at `res` holds data of the type
    /// whose `TypeId` is at `id`.
    ///
    /// # Safety
    ///
    /// `res` must be the data area of a device resource released by an [`Adapter::release`]
    /// (hence a `DataRes`), and `id` a valid `TypeId`.
    pub(super) unsafe extern "C" fn matches(
        _dev: *mut bindings::device,
        res: *mut c_void,
        id: *mut c_void,
    ) -> c_int {
        // SAFETY: By the safety requirements.
        c_int::from(unsafe { (*res.cast::<DataRes>()).type_id == *id.cast::<TypeId>() })
    }
}

/// Bridges an [`Ops`] implementation to the C `struct rtc_class_ops`.
pub(super) struct Adapter<T: Ops>(PhantomData<T>);

impl<T: Ops> Adapter<T> {
    pub(super) const VTABLE: bindings::rtc_class_ops = bindings::rtc_class_ops {
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
    pub(super) unsafe extern "C" fn release(_dev: *mut bindings::device, res: *mut c_void) {
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
    pub(super) unsafe fn find(dev: *mut bindings::device) -> *mut DataRes {
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
    pub(super) unsafe fn data<'a>(
        dev: *mut bindings::device,
    ) -> Result<(&'a T, &'a device::Device<Bound>)> {
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
    pub(super) unsafe fn call(
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
    pub(super) unsafe extern "C" fn read_time(
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
    pub(super) unsafe extern "C" fn set_time(
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
    pub(super) unsafe extern "C" fn read_offset(
        dev: *mut bindings::device,
        offset: *mut c_long,
    ) -> c_int {
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
    pub(super) unsafe extern "C" fn set_offset(
        dev: *mut bindings::device,
        offset: c_long,
    ) -> c_int {
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
    pub(super) unsafe extern "C" fn ioctl(
        dev: *mut bindings::device,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_int {
        // SAFETY: The RTC core passes the parent device of a registered RTC.
        unsafe { Self::call(dev, |this, parent| this.ioctl(parent, cmd, arg)) }
    }

    /// # Safety
    ///
    /// Called by the RTC core with the RTC's bound parent device and a valid `seq`.
    pub(super) unsafe extern "C" fn proc(
        dev: *mut bindings::device,
        seq: *mut bindings::seq_file,
    ) -> c_int {
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
pub(super) struct OpsLock(pub(super) *mut bindings::rtc_device);

impl OpsLock {
    /// Takes `rtc`'s `ops_lock`, as the RTC core does before it calls an operation.
    ///
    /// # Safety
    ///
    /// `rtc` must be valid for as long as the returned guard lives.
    pub(super) unsafe fn lock(rtc: *mut bindings::rtc_device) -> Result<Self> {
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
