// SPDX-License-Identifier: GPL-2.0

//! Shrinkers: give memory back when the system needs it.
//!
//! A cache implements [`Shrink`]: `count` says how many objects it could free and `scan` frees
//! some. A [`Shrinker`] registers it with memory reclaim; dropping the [`Shrinker`] unregisters it
//! and waits for running callbacks.
//!
//! C header: [`include/linux/shrinker.h`](srctree/include/linux/shrinker.h)

use crate::{
    bindings,
    error::Result,
    ffi::{
        c_int,
        c_ulong, //
    },
    fmt,
    prelude::*,
    str::CString,
    sync::Arc,
    types::Opaque,
};
use core::ptr::NonNull;

/// What [`Shrink::count`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Nothing to free at all (`SHRINK_EMPTY`).
    Empty,
    /// This many objects could be freed (0 means: none right now).
    Objects(usize),
}

/// What [`Shrink::scan`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// This many objects were freed.
    Freed(usize),
    /// Nothing can be freed in this context; reclaim should not call again now (`SHRINK_STOP`).
    Stop,
}

/// The parameters of one shrinker call (`struct shrink_control`).
///
/// # Invariants
///
/// Wraps a `shrink_control` that is valid for the duration of the callback.
#[repr(transparent)]
pub struct Control(Opaque<bindings::shrink_control>);

impl Control {
    /// Returns the NUMA node being reclaimed (0 unless the shrinker is NUMA aware).
    pub fn nid(&self) -> i32 {
        // SAFETY: By the type invariants the structure is valid; reclaim does not change it
        // during the call.
        unsafe { (*self.0.get()).nid }
    }

    /// Returns how many objects [`Shrink::scan`] should try to free.
    pub fn nr_to_scan(&self) -> usize {
        // SAFETY: As in `nid`.
        unsafe { (*self.0.get()).nr_to_scan }
    }

    /// Returns true if the allocation that caused reclaim allows sleeping in the callback.
    pub fn may_sleep(&self) -> bool {
        // SAFETY: As in `nid`.
        let gfp = unsafe { (*self.0.get()).gfp_mask };
        gfp & (1 << bindings::___GFP_DIRECT_RECLAIM_BIT) != 0
    }
}

/// How reclaim should treat a [`Shrinker`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Call the shrinker per NUMA node, with [`Control::nid`] set (otherwise once, for node 0).
    pub numa_aware: bool,
    /// The cost of recreating an object, relative to others (`DEFAULT_SEEKS` is 2). With 0,
    /// reclaim asks for half of the counted objects at every pass, whatever its priority: right
    /// for caches of objects that are cheap to recreate.
    pub seeks: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            numa_aware: false,
            seeks: bindings::DEFAULT_SEEKS,
        }
    }
}

/// A cache that can give memory back.
pub trait Shrink: Send + Sync + 'static {
    /// Returns how many objects could be freed now. Must be cheap and must not sleep.
    fn count(&self, sc: &Control) -> Count;

    /// Tries to free about [`Control::nr_to_scan`] objects; returns how many were freed.
    fn scan(&self, sc: &Control) -> Scan;
}

/// A registered shrinker.
///
/// # Invariants
///
/// `raw` was allocated by `shrinker_alloc` and registered, with `private_data` pointing to the
/// `T` in `data`, which lives at least until `shrinker_free` has returned in [`Drop`].
///
/// # Examples
///
/// ```
/// use kernel::{
///     shrinker::{Control, Count, Scan, Shrink, Shrinker},
///     sync::{
///         atomic::{Atomic, Relaxed},
///         Arc, //
///     },
/// };
///
/// /// A cache of nothing but a counter of objects.
/// struct Counter(Atomic<usize>);
///
/// impl Shrink for Counter {
///     fn count(&self, _sc: &Control) -> Count {
///         match self.0.load(Relaxed) {
///             0 => Count::Empty,
///             n => Count::Objects(n),
///         }
///     }
///
///     fn scan(&self, sc: &Control) -> Scan {
///         let n = self.0.load(Relaxed).min(sc.nr_to_scan());
///         self.0.fetch_sub(n, Relaxed);
///         Scan::Freed(n)
///     }
/// }
///
/// let cache = Arc::new(Counter(Atomic::new(16)), GFP_KERNEL)?;
/// let shrinker = Shrinker::register(fmt!("kt298-doctest"), cache.clone(), Default::default())?;
/// assert_eq!(shrinker.data().0.load(Relaxed), 16);
/// // Unregisters; no callback runs after this.
/// drop(shrinker);
/// # Ok::<(), Error>(())
/// ```
pub struct Shrinker<T: Shrink> {
    raw: NonNull<bindings::shrinker>,
    data: Arc<T>,
}

// SAFETY: The registration can be freed from any thread; `T` is `Send + Sync`.
unsafe impl<T: Shrink> Send for Shrinker<T> {}

// SAFETY: `&Shrinker` only gives `&T`, and `T` is `Sync`.
unsafe impl<T: Shrink> Sync for Shrinker<T> {}

impl<T: Shrink> Shrinker<T> {
    /// Registers `data` as a shrinker named `name` (visible in debugfs with
    /// `CONFIG_SHRINKER_DEBUG`).
    ///
    /// Returns `ENOMEM` if the shrinker cannot be allocated.
    pub fn register(name: fmt::Arguments<'_>, data: Arc<T>, options: Options) -> Result<Self> {
        let name = CString::try_from_fmt(name)?;
        let flags = if options.numa_aware {
            bindings::SHRINKER_NUMA_AWARE
        } else {
            0
        };
        // SAFETY: The format is "%s" with one string argument.
        let raw =
            unsafe { bindings::shrinker_alloc(flags, c"%s".as_char_ptr(), name.as_char_ptr()) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: `raw` is a new, unregistered shrinker that we own; `data` lives in `Self` until
        // after `shrinker_free`.
        unsafe {
            let s = raw.as_ptr();
            (*s).count_objects = Some(Self::count_objects);
            (*s).scan_objects = Some(Self::scan_objects);
            (*s).private_data = Arc::as_ptr(&data).cast_mut().cast();
            (*s).seeks = options.seeks as c_int;
            bindings::shrinker_register(s);
        }
        // INVARIANT: `raw` is registered with `private_data` pointing into `data`.
        Ok(Self { raw, data })
    }

    /// Returns the registered cache.
    pub fn data(&self) -> &Arc<T> {
        &self.data
    }

    /// # Safety
    ///
    /// Called by reclaim with a registered shrinker of this type and a valid control.
    unsafe extern "C" fn count_objects(
        s: *mut bindings::shrinker,
        sc: *mut bindings::shrink_control,
    ) -> c_ulong {
        // SAFETY: `private_data` points to the `T` of a live `Shrinker<T>` (type invariants);
        // `sc` is valid for the call and `Control` is transparent.
        let (data, sc) = unsafe { (&*(*s).private_data.cast::<T>(), &*sc.cast::<Control>()) };
        match data.count(sc) {
            Count::Empty => bindings::SHRINK_EMPTY as c_ulong,
            // Keep clear of the two special values at the top.
            Count::Objects(n) => (n as c_ulong).min(c_ulong::MAX - 2),
        }
    }

    /// # Safety
    ///
    /// Called by reclaim with a registered shrinker of this type and a valid control.
    unsafe extern "C" fn scan_objects(
        s: *mut bindings::shrinker,
        sc: *mut bindings::shrink_control,
    ) -> c_ulong {
        // SAFETY: As in `count_objects`.
        let (data, sc) = unsafe { (&*(*s).private_data.cast::<T>(), &*sc.cast::<Control>()) };
        match data.scan(sc) {
            Scan::Stop => bindings::SHRINK_STOP as c_ulong,
            Scan::Freed(n) => (n as c_ulong).min(c_ulong::MAX - 2),
        }
    }
}

impl<T: Shrink> Drop for Shrinker<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `raw` is a registered shrinker; `shrinker_free`
        // unregisters it and waits for running callbacks, after which `data` is no longer used.
        unsafe { bindings::shrinker_free(self.raw.as_ptr()) };
    }
}
