// SPDX-License-Identifier: GPL-2.0

//! What a relay channel shares with its files, and the registry of open channels.

use super::{
    buffer::{Buffer, Slots},
    fs, Callbacks, Config,
};
use crate::{
    bindings,
    ffi::c_void,
    new_condvar, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, CondVar, Mutex},
};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ops::{Deref, DerefMut},
    ptr,
};

/// The file callbacks of a channel with the type of its owner erased, so that files (which may
/// outlive the owner's module) can call them while, and only while, the channel is open.
#[derive(Clone, Copy)]
pub(super) struct Notify {
    pub(super) data: *const c_void,
    pub(super) open: unsafe fn(*const c_void, u32) -> Result,
    pub(super) release: unsafe fn(*const c_void, u32),
    pub(super) mmap: unsafe fn(*const c_void, u32) -> Result,
    pub(super) unmap: unsafe fn(*const c_void, u32),
}

impl Notify {
    pub(super) fn of<T: Callbacks>(cb: &T) -> Self {
        /// # Safety
        ///
        /// `data` is a live `T`.
        unsafe fn open<T: Callbacks>(data: *const c_void, cpu: u32) -> Result {
            if T::HAS_FILE_OPEN {
                // SAFETY: By the function's requirement.
                unsafe { &*data.cast::<T>() }.file_open(cpu)
            } else {
                Ok(())
            }
        }
        /// # Safety
        ///
        /// `data` is a live `T`.
        unsafe fn release<T: Callbacks>(data: *const c_void, cpu: u32) {
            if T::HAS_FILE_RELEASE {
                // SAFETY: By the function's requirement.
                unsafe { &*data.cast::<T>() }.file_release(cpu)
            }
        }
        /// # Safety
        ///
        /// `data` is a live `T`.
        unsafe fn mmap<T: Callbacks>(data: *const c_void, cpu: u32) -> Result {
            if T::HAS_FILE_MMAP {
                // SAFETY: By the function's requirement.
                unsafe { &*data.cast::<T>() }.file_mmap(cpu)
            } else {
                Ok(())
            }
        }
        /// # Safety
        ///
        /// `data` is a live `T`.
        unsafe fn unmap<T: Callbacks>(data: *const c_void, cpu: u32) {
            if T::HAS_FILE_UNMAP {
                // SAFETY: By the function's requirement.
                unsafe { &*data.cast::<T>() }.file_unmap(cpu)
            }
        }
        Self {
            data: ptr::from_ref(cb).cast(),
            open: open::<T>,
            release: release::<T>,
            mmap: mmap::<T>,
            unmap: unmap::<T>,
        }
    }
}

// SAFETY: `data` points to a `T: Send + Sync` (the functions are plain code), and is only used
// while the channel is open (see `Owner`).
unsafe impl Send for Notify {}

/// The owner's file callbacks, and the calls of them in progress.
pub(super) struct Owner {
    /// The callbacks, while the channel is open.
    pub(super) notify: Option<Notify>,
    /// Calls in progress: [`Channel`]'s drop waits for them to end once `notify` is cleared.
    pub(super) calls: usize,
}

/// What the registry keeps of a channel; files hold references to it.
///
/// # Invariants
///
/// `reg` is only accessed with the registry lock held.
#[pin_data]
pub(super) struct Shared {
    pub(super) path: CString,
    pub(super) config: Config,
    /// Indexed by CPU number; `None` for impossible CPUs.
    pub(super) bufs: KVec<Option<Pin<KBox<Buffer>>>>,
    /// The writer side of `bufs`; declared after them, so dropped after them.
    pub(super) slots: Slots,
    pub(super) reg: UnsafeCell<RegState>,
    /// The file callbacks. Their own lock, not the registry's, and held only around the
    /// bookkeeping: a callback runs with no relay lock held, so it may open or close channels.
    #[pin]
    pub(super) owner: Mutex<Owner>,
    /// Notified when the last call in progress ends after the channel closed.
    #[pin]
    pub(super) owner_idle: CondVar,
}

/// The registry-locked part of [`Shared`].
pub(super) struct RegState {
    /// Files and directories made for the channel in relayfs.
    pub(super) files: fs::ChannelFiles,
}

// SAFETY: `reg` is only used under the registry lock; buffers are `Sync`; the callbacks point to
// a `T: Sync` and are only used while the channel is open.
unsafe impl Send for Shared {}
// SAFETY: As above.
unsafe impl Sync for Shared {}

impl Shared {
    /// A channel's shared part. Not generic, so that its locks have one lock class each.
    pub(super) fn new(
        path: CString,
        config: Config,
        bufs: KVec<Option<Pin<KBox<Buffer>>>>,
        slots: Slots,
        notify: Notify,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Shared {
                path,
                config,
                bufs,
                slots,
                reg: UnsafeCell::new(RegState {
                    files: fs::ChannelFiles::new(),
                }),
                owner <- new_mutex!(
                    Owner {
                        notify: Some(notify),
                        calls: 0,
                    },
                    "relay_channel::owner"
                ),
                owner_idle <- new_condvar!("relay_channel::owner_idle"),
            }),
            GFP_KERNEL,
        )
    }

    pub(super) fn buffer(&self, cpu: u32) -> Option<&Buffer> {
        self.bufs.get(cpu as usize)?.as_deref()
    }

    /// The registry-locked state.
    ///
    /// # Safety
    ///
    /// The registry lock is held, and no other reference to the state exists while the result
    /// is used.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn reg_mut(&self) -> &mut RegState {
        // SAFETY: By the function's requirements.
        unsafe { &mut *self.reg.get() }
    }

    /// Calls an owner's file callback if the channel is still open, with no relay lock held:
    /// the call is counted, and [`Shared::close_owner`] waits for it.
    pub(super) fn notify<R>(&self, f: impl FnOnce(&Notify) -> R) -> Option<R> {
        let n = {
            let mut owner = self.owner.lock();
            let n = owner.notify?;
            owner.calls += 1;
            n
        };
        let r = f(&n);
        let mut owner = self.owner.lock();
        owner.calls -= 1;
        if owner.calls == 0 && owner.notify.is_none() {
            self.owner_idle.notify_all();
        }
        Some(r)
    }

    /// Stops calls to the owner's file callbacks, and waits for those in progress to end. May
    /// sleep.
    pub(super) fn close_owner(&self) {
        let mut owner = self.owner.lock();
        owner.notify = None;
        while owner.calls > 0 {
            self.owner_idle.wait(&mut owner);
        }
    }
}

/// The channels that exist, and relayfs if it is registered.
pub(super) struct Registry {
    pub(super) channels: KVec<Arc<Shared>>,
    pub(super) fs: Option<fs::FsState>,
}

pub(super) struct RegistryCell(UnsafeCell<Registry>);

// SAFETY: The registry is only accessed through `RegistryGuard`, with the lock held.
unsafe impl Sync for RegistryCell {}

pub(super) static REGISTRY: RegistryCell = RegistryCell(UnsafeCell::new(Registry {
    channels: KVec::new(),
    fs: None,
}));

/// The registry, locked.
pub(super) struct RegistryGuard(PhantomData<*mut ()>);

pub(super) fn registry() -> RegistryGuard {
    // SAFETY: Always safe to call from process context; unlocked by the guard.
    unsafe { bindings::relay_registry_lock() };
    RegistryGuard(PhantomData)
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        // SAFETY: Locked by `registry()`.
        unsafe { bindings::relay_registry_unlock() };
    }
}

impl Deref for RegistryGuard {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        // SAFETY: The lock is held while the guard lives.
        unsafe { &*REGISTRY.0.get() }
    }
}

impl DerefMut for RegistryGuard {
    fn deref_mut(&mut self) -> &mut Registry {
        // SAFETY: The lock is held while the guard lives, and the guard is borrowed mutably.
        unsafe { &mut *REGISTRY.0.get() }
    }
}

/// Checks a channel path: `a/b/name`, components of `[A-Za-z0-9_.-]` other than `.` and
/// `..`, at most 200 bytes.
pub(super) fn check_path(path: &CStr) -> Result {
    let b = path.to_bytes();
    if b.is_empty() || b.len() > 200 || b[0] == b'/' || b[b.len() - 1] == b'/' {
        return Err(EINVAL);
    }
    for part in b.split(|&c| c == b'/') {
        let ok = !part.is_empty()
            && part != b"."
            && part != b".."
            && part
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.');
        if !ok {
            return Err(EINVAL);
        }
    }
    Ok(())
}
