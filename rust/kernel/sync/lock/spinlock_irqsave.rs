// SPDX-License-Identifier: GPL-2.0

//! A kernel spinlock that disables local interrupts while held.
//!
//! This lets process context and an interrupt handler share data: taking the lock with
//! interrupts disabled keeps the handler from running on the same CPU and deadlocking on it.
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

/// A spinlock that disables local interrupts while it is held.
///
/// Use it for data shared with an interrupt handler; the handler itself may take it too.
///
/// Interrupts are disabled with a per-CPU count (`rust/local_interrupt.c`, the shape of the
/// upstream `SpinLockIrq` proposal): the first guard on a CPU saves the interrupt state and the
/// last one dropped restores it, so guards may be dropped in any order. Saving the flags in each
/// guard (`spin_lock_irqsave`) would re-enable interrupts under a guard still held when an
/// earlier one is dropped first.
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
/// drop(guard);
///
/// // Guards dropped in the order they were taken: interrupts stay off until the last one goes.
/// let irqs_off = kernel::sync::irqs_disabled;
/// let other = KBox::pin_init(new_spinlock_irqsave!(0u32), GFP_KERNEL)?;
/// let was_off = irqs_off();
/// let first = lock.lock();
/// let second = other.lock();
/// drop(first);
/// assert!(irqs_off());
/// drop(second);
/// assert_eq!(irqs_off(), was_off);
/// # Ok::<(), Error>(())
/// ```
pub type SpinLockIrqSave<T> = super::Lock<T, SpinLockIrqSaveBackend>;

/// Returns `true` if interrupts are disabled on this CPU (`irqs_disabled()`).
///
/// Code that must not sleep can check where it runs with it: an I2C adapter's atomic transfer,
/// say, which the I2C core calls with interrupts off at power-off.
///
/// # Examples
///
/// ```
/// use kernel::sync::{irqs_disabled, new_spinlock_irqsave};
///
/// let lock = KBox::pin_init(new_spinlock_irqsave!(()), GFP_KERNEL)?;
/// // A doc test runs in process context with interrupts on.
/// assert!(!irqs_disabled());
/// let guard = lock.lock();
/// assert!(irqs_disabled());
/// drop(guard);
/// assert!(!irqs_disabled());
/// # Ok::<(), Error>(())
/// ```
#[inline]
pub fn irqs_disabled() -> bool {
    // SAFETY: `irqs_disabled` only reads this CPU's interrupt state.
    unsafe { bindings::irqs_disabled() }
}

/// A kernel `spinlock_t` lock backend that disables local interrupts while held.
pub struct SpinLockIrqSaveBackend;

/// A [`Guard`](super::Guard) acquired from locking a [`SpinLockIrqSave`].
pub type SpinLockIrqSaveGuard<'a, T> = super::Guard<'a, T, SpinLockIrqSaveBackend>;

// SAFETY: The underlying kernel `spinlock_t` object ensures mutual exclusion. Interrupts are
// disabled by `lock` (counted, see the type's documentation) before the spinlock is taken and
// enabled by `unlock` after it is released; there is no guard state, and `relock` uses the
// default implementation, which disables them again.
unsafe impl super::Backend for SpinLockIrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

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
        // SAFETY: Enabled again by `unlock` (or by `try_lock` if it fails).
        unsafe { bindings::local_interrupt_disable() };
        // SAFETY: The safety requirements of this function ensure that `ptr` points to valid
        // memory, and that it has been initialised before.
        unsafe { bindings::spin_lock(ptr) }
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The safety requirements of this function ensure that `ptr` is valid and that
        // the caller is the owner of the spinlock.
        unsafe { bindings::spin_unlock(ptr) };
        // SAFETY: Disabled by `lock` (or `try_lock`) on this CPU, where we still are: interrupts
        // have been off since.
        unsafe { bindings::local_interrupt_enable() };
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: Enabled again below on failure, else by `unlock`.
        unsafe { bindings::local_interrupt_disable() };
        // SAFETY: The `ptr` pointer is guaranteed to be valid and initialized before use.
        if unsafe { bindings::spin_trylock(ptr) } != 0 {
            Some(())
        } else {
            // SAFETY: Disabled above, on this CPU.
            unsafe { bindings::local_interrupt_enable() };
            None
        }
    }

    #[inline]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The `ptr` pointer is guaranteed to be valid and initialized before use.
        unsafe { bindings::spin_assert_is_held(ptr) }
    }
}
