// SPDX-License-Identifier: GPL-2.0

//! A kernel spinlock that disables local interrupts while held.
//!
//! This lets process context and an interrupt handler share data: taking the lock with
//! `spin_lock_irqsave` keeps the handler from running on the same CPU and deadlocking on it.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

/// Creates a [`SpinLockIrqSave`] initialiser with the given name and a newly-created lock class.
///
/// It uses the name if one is given, otherwise it generates one based on the file name and line
/// number.
#[macro_export]
macro_rules! new_spinlock_irqsave {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::SpinLockIrqSave::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_spinlock_irqsave;

/// A spinlock that saves and disables local interrupts while it is held
/// (`spin_lock_irqsave`/`spin_unlock_irqrestore`).
///
/// Use it for data shared with an interrupt handler; the handler itself may take it too.
///
/// # Examples
///
/// ```
/// use kernel::sync::new_spinlock_irqsave;
///
/// struct Counters {
///     irqs: u32,
///     bytes: u64,
/// }
///
/// let lock = KBox::pin_init(new_spinlock_irqsave!(Counters { irqs: 0, bytes: 0 }), GFP_KERNEL)?;
/// {
///     let mut c = lock.lock();
///     c.irqs += 1;
///     c.bytes += 256;
/// }
/// assert_eq!(lock.lock().bytes, 256);
/// let guard = lock.try_lock();
/// assert!(guard.is_some());
/// # Ok::<(), Error>(())
/// ```
pub type SpinLockIrqSave<T> = super::Lock<T, SpinLockIrqSaveBackend>;

/// A kernel `spinlock_t` lock backend that disables local interrupts while held.
pub struct SpinLockIrqSaveBackend;

/// A [`Guard`](super::Guard) acquired from locking a [`SpinLockIrqSave`].
pub type SpinLockIrqSaveGuard<'a, T> = super::Guard<'a, T, SpinLockIrqSaveBackend>;

// SAFETY: The underlying kernel `spinlock_t` object ensures mutual exclusion. The guard state is
// the interrupt state saved by `lock`, restored by `unlock`; `relock` uses the default
// implementation, which saves the state again.
unsafe impl super::Backend for SpinLockIrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = crate::ffi::c_ulong;

    #[inline]
    unsafe fn init(
        ptr: *mut Self::State,
        name: *const crate::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The safety requirements ensure that `ptr` is valid for writes, and `name` and
        // `key` are valid for read indefinitely.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    #[inline]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The safety requirements of this function ensure that `ptr` points to valid
        // memory, and that it has been initialised before.
        unsafe { bindings::spin_lock_irqsave(ptr) }
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The safety requirements of this function ensure that `ptr` is valid and that
        // the caller is the owner of the spinlock; `guard_state` is what `lock` saved.
        unsafe { bindings::spin_unlock_irqrestore(ptr, *guard_state) }
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: The `ptr` pointer is guaranteed to be valid and initialized before use, and
        // `flags` is valid for writes.
        let result = unsafe { bindings::spin_trylock_irqsave(ptr, &mut flags) };

        if result != 0 {
            Some(flags)
        } else {
            None
        }
    }

    #[inline]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The `ptr` pointer is guaranteed to be valid and initialized before use.
        unsafe { bindings::spin_assert_is_held(ptr) }
    }
}
