// SPDX-License-Identifier: GPL-2.0

//! Sysctl tables of integers.
//!
//! A [`Table`] registers integer entries under a path of `/proc/sys` (such as `"vm"`). Each entry
//! has a range; a write outside it, a negative value where the range does not allow one, or text
//! that is not a number is refused with `EINVAL` and leaves the value as it was. An optional
//! [`Check`] validates a write against the other entries of the table (for example "stop must
//! not be above start"). Values are read from Rust with [`Table::get`] at any time, without locks.
//! Dropping the table unregisters it (and waits for running reads and writes).
//!
//! C header: [`include/linux/sysctl.h`](srctree/include/linux/sysctl.h)

use crate::{
    bindings,
    error::Result,
    ffi::{
        c_int,
        c_void, //
    },
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        SpinLock,
    },
};
use core::ptr::NonNull;

/// One integer entry of a [`Table`].
#[derive(Clone, Copy)]
pub struct Entry {
    /// The file name under the table's path.
    pub name: &'static CStr,
    /// The smallest value allowed.
    pub min: i32,
    /// The largest value allowed.
    pub max: i32,
    /// The value at registration.
    pub default: i32,
    /// The file mode, such as `0o644`.
    pub mode: u16,
}

impl Entry {
    /// An entry readable by all and writable by root, with the range `min..=max`.
    pub const fn new(name: &'static CStr, min: i32, max: i32, default: i32) -> Self {
        Self {
            name,
            min,
            max,
            default,
            mode: 0o644,
        }
    }
}

/// The values of a table as a write would leave them, given to a [`Check`].
pub struct Values<'a> {
    slots: &'a [Slot],
    index: usize,
    value: i32,
}

impl Values<'_> {
    /// Returns the value of entry `index` after the write, or `None` if there is no such entry.
    pub fn get(&self, index: usize) -> Option<i32> {
        if index == self.index {
            return Some(self.value);
        }
        self.slots.get(index).map(|s| s.value.load(Relaxed))
    }

    /// Returns the index of the entry being written.
    pub fn written(&self) -> usize {
        self.index
    }
}

/// A validation of a write against the whole table; an error refuses the write.
///
/// It runs under a spinlock, so it must not sleep.
pub type Check = fn(&Values<'_>) -> Result;

/// The storage of one entry: the C handler reads and writes `value` through a pointer.
struct Slot {
    value: Atomic<i32>,
    min: c_int,
    max: c_int,
    index: usize,
}

/// What the C handler needs besides the entry: the other entries, the lock and the check.
#[pin_data]
struct Inner {
    /// Serialises writes, so that a check and its store are atomic with respect to each other.
    #[pin]
    lock: SpinLock<()>,
    slots: KVec<Slot>,
    check: Option<Check>,
}

impl Inner {
    /// Checks and stores `value` into entry `index`.
    fn store(&self, index: usize, value: i32) -> Result {
        let slot = self.slots.get(index).ok_or(EINVAL)?;
        if value < slot.min || value > slot.max {
            return Err(EINVAL);
        }
        let _guard = self.lock.lock();
        if let Some(check) = self.check {
            check(&Values {
                slots: &self.slots,
                index,
                value,
            })?;
        }
        slot.value.store(value, Relaxed);
        Ok(())
    }
}

/// A registered sysctl table of integers.
///
/// # Invariants
///
/// - `header` is the registration of `table` under a path, unregistered only in [`Drop`].
/// - `table[i]` points to `inner.slots[i]` (`data` to its value, `extra1` to the slot) and to
///   `inner` (`extra2`); neither vector is resized while the table is registered, and `inner` is
///   pinned, so these pointers stay valid.
///
/// # Examples
///
/// Two entries under `/proc/sys/kt298/doctest`, the first not above the second:
///
/// ```
/// use kernel::sysctl::{Entry, Table, Values};
///
/// fn low_le_high(v: &Values<'_>) -> Result {
///     match (v.get(0), v.get(1)) {
///         (Some(low), Some(high)) if low <= high => Ok(()),
///         _ => Err(EINVAL),
///     }
/// }
///
/// let table = Table::register(
///     c"kt298/doctest",
///     &[Entry::new(c"low", 0, 10, 2), Entry::new(c"high", 0, 10, 8)],
///     Some(low_le_high),
/// )?;
/// assert_eq!(table.get(0), Some(2));
/// assert_eq!(table.get(2), None);
/// assert_eq!(table.set(0, 11), Err(EINVAL)); // Out of range.
/// assert_eq!(table.set(0, 9), Err(EINVAL)); // Above `high`.
/// assert_eq!(table.get(0), Some(2));
/// table.set(1, 10)?;
/// table.set(0, 9)?;
/// assert_eq!(table.get(0), Some(9));
/// # Ok::<(), Error>(())
/// ```
pub struct Table {
    header: NonNull<bindings::ctl_table_header>,
    table: KVec<bindings::ctl_table>,
    inner: Pin<KBox<Inner>>,
}

// SAFETY: The registration can be dropped (unregistered) from any thread, and the values are
// atomics.
unsafe impl Send for Table {}

// SAFETY: `get` and `set` are safe to call concurrently (atomics and a lock).
unsafe impl Sync for Table {}

impl Table {
    /// Registers `entries` under `path` (such as `c"vm"`; missing directories are created).
    ///
    /// `check`, if given, validates every write (from `/proc/sys` or [`Table::set`]) against the
    /// whole table. Returns `EINVAL` if a default is out of its range or refused by `check`,
    /// `ENOMEM` if the table cannot be registered (for example, a name already exists there).
    pub fn register(path: &'static CStr, entries: &[Entry], check: Option<Check>) -> Result<Self> {
        let mut slots = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for (index, e) in entries.iter().enumerate() {
            if e.min > e.max || e.default < e.min || e.default > e.max {
                return Err(EINVAL);
            }
            slots.push(
                Slot {
                    value: Atomic::new(e.default),
                    min: e.min,
                    max: e.max,
                    index,
                },
                GFP_KERNEL,
            )?;
        }
        let inner = KBox::pin_init(
            try_pin_init!(Inner {
                lock <- new_spinlock!(()),
                slots,
                check,
            }),
            GFP_KERNEL,
        )?;
        if let Some(check) = check {
            for index in 0..entries.len() {
                let value = inner.slots[index].value.load(Relaxed);
                check(&Values {
                    slots: &inner.slots,
                    index,
                    value,
                })?;
            }
        }

        let mut table = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        let inner_ptr = core::ptr::from_ref::<Inner>(&*inner)
            .cast_mut()
            .cast::<c_void>();
        for (e, slot) in entries.iter().zip(inner.slots.iter()) {
            table.push(
                bindings::ctl_table {
                    procname: e.name.as_char_ptr(),
                    data: slot.value.as_ptr().cast(),
                    maxlen: size_of::<c_int>() as c_int,
                    mode: e.mode,
                    proc_handler: Some(Self::handler),
                    extra1: core::ptr::from_ref::<Slot>(slot).cast_mut().cast(),
                    extra2: inner_ptr,
                    ..pin_init::zeroed()
                },
                GFP_KERNEL,
            )?;
        }

        // SAFETY: `path` and the names are static strings; `table` holds `table.len()` valid
        // entries whose pointers stay valid until unregistration (see the type invariants).
        let header = unsafe {
            bindings::register_sysctl_sz(path.as_char_ptr(), table.as_ptr(), table.len())
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        // INVARIANT: `table` is registered and points into `inner`, which is pinned.
        Ok(Self {
            header,
            table,
            inner,
        })
    }

    /// Returns the value of entry `index`, or `None` if there is no such entry.
    pub fn get(&self, index: usize) -> Option<i32> {
        self.inner.slots.get(index).map(|s| s.value.load(Relaxed))
    }

    /// Sets entry `index` to `value`, with the same validation as a write to the file.
    ///
    /// Returns `EINVAL` if there is no such entry, the value is out of range or the check refuses
    /// it; the value is then unchanged.
    pub fn set(&self, index: usize, value: i32) -> Result {
        self.inner.store(index, value)
    }

    /// Returns the number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Returns true if the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The `proc_handler` of every entry: parses with `proc_dointvec_minmax` into a local, then
    /// checks and stores.
    ///
    /// # Safety
    ///
    /// Called by the sysctl core with an entry of a registered [`Table`] and valid buffers.
    unsafe extern "C" fn handler(
        ctl: *const bindings::ctl_table,
        write: c_int,
        buffer: *mut c_void,
        lenp: *mut usize,
        ppos: *mut bindings::loff_t,
    ) -> c_int {
        // SAFETY: `ctl` is one of our entries, so `extra1` points to its slot and `extra2` to the
        // table's `Inner`, both valid while the table is registered (the core keeps it registered
        // while this handler runs).
        let (slot, inner) = unsafe {
            (
                &*(*ctl).extra1.cast::<Slot>(),
                &*(*ctl).extra2.cast::<Inner>(),
            )
        };
        let mut value: c_int = slot.value.load(Relaxed);
        // SAFETY: `ctl` is valid for reads.
        let mut tmp = unsafe { *ctl };
        tmp.data = core::ptr::from_mut(&mut value).cast();
        tmp.extra1 = core::ptr::from_ref(&slot.min).cast_mut().cast();
        tmp.extra2 = core::ptr::from_ref(&slot.max).cast_mut().cast();
        // SAFETY: `tmp` is a valid integer entry pointing to locals that outlive the call; the
        // buffers are passed on as the core gave them.
        let ret = unsafe { bindings::proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos) };
        if ret != 0 || write == 0 {
            return ret;
        }
        match inner.store(slot.index, value) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `header` is registered; unregistering waits for running
        // handlers, after which nothing refers to `table` or `inner`.
        unsafe { bindings::unregister_sysctl_table(self.header.as_ptr()) };
    }
}
