// SPDX-License-Identifier: GPL-2.0

//! [`Device`]: a misc character device whose mappings are served from a pool.

use super::ZeroedPool;
use crate::{
    bindings,
    error::to_result,
    ffi::c_int,
    mm::virt::{flags as vma_flags, VmaNew, VmaRef},
    ops_table::StaticOps,
    prelude::*,
    sync::Arc,
    types::Opaque,
};

/// The file operations of [`Device`]: in the kernel image, so they never go away.
static FOPS: StaticOps<bindings::file_operations> = StaticOps::new(bindings::file_operations {
    open: Some(Device::open),
    release: Some(Device::release),
    mmap: Some(Device::mmap),
    ..pin_init::zeroed()
});

/// The operations of the mappings of [`Device`].
static VM_OPS: StaticOps<bindings::vm_operations_struct> =
    StaticOps::new(bindings::vm_operations_struct {
        fault: Some(Device::fault),
        ..pin_init::zeroed()
    });

/// A misc character device whose shared mappings are filled, page by page at fault time, with
/// zeroed pages of a [`ZeroedPool`] (or freshly zeroed pages when the pool is empty).
///
/// Open files hold a reference to the pool; the file and mapping operations are in the kernel
/// image. So the module that registered the device may be unloaded while files are open or
/// mapped: they keep working, served by the remaining pool and then by the page allocator.
///
/// # Invariants
///
/// `misc` is registered with [`FOPS`] from [`Device::register`] until [`Drop`].
#[pin_data(PinnedDrop)]
pub struct Device {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    pool: Arc<ZeroedPool>,
}

// SAFETY: Deregistration can happen on any thread; `pool` is `Send + Sync`.
unsafe impl Send for Device {}

// SAFETY: `&Device` gives no access to the C structure.
unsafe impl Sync for Device {}

impl Device {
    /// Registers `/dev/<name>` serving mappings from `pool`.
    pub fn register(name: &'static CStr, pool: Arc<ZeroedPool>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // `pool` is set before the device is registered: `open` may run at once.
            pool,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = FOPS.get();
                // SAFETY: `slot` is ours to write.
                unsafe { slot.write(misc) };
                // SAFETY: The miscdevice is initialised and pinned, and deregistered in `drop`
                // before its memory goes.
                // INVARIANT: On success, `misc` is registered with `FOPS`.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }

    /// # Safety
    ///
    /// Called by `misc_open` for a registered [`Device`], with `private_data` set to its
    /// `miscdevice` and the misc lock held (so the device is not deregistered meanwhile).
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `misc_open` sets `private_data` to the registered `miscdevice`, which is the
        // `misc` field of a `Device` (only `Device::register` registers `FOPS`). `Opaque` is
        // transparent, so the field's address is that of the C structure.
        let dev = unsafe {
            &*crate::container_of!(
                (*file).private_data.cast::<Opaque<bindings::miscdevice>>(),
                Device,
                misc
            )
        };
        let pool = dev.pool.clone();
        // SAFETY: The file is being opened by us; `release` takes the reference back.
        unsafe { (*file).private_data = Arc::into_raw(pool).cast_mut().cast() };
        0
    }

    /// # Safety
    ///
    /// Called once per file opened by [`Device::open`], when it is released.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` stored a pool reference in `private_data`; it is given back once.
        drop(unsafe { Arc::from_raw((*file).private_data.cast::<ZeroedPool>()) });
        0
    }

    /// # Safety
    ///
    /// Called by `mmap` for a file opened by [`Device::open`], with a VMA being set up.
    unsafe extern "C" fn mmap(
        _file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: The VMA is being set up by this `mmap` call.
        let new = unsafe { VmaNew::from_raw(vma) };
        // A private writable mapping would copy every page at its first write: refuse it, and
        // keep a private read-only one from becoming writable through `mprotect`.
        if (new.flags() & vma_flags::SHARED) == 0 {
            if let Err(e) = new.try_clear_maywrite() {
                return e.to_errno();
            }
        }
        // Pages are inserted with `vm_insert_page`, which needs `VM_MIXEDMAP`.
        new.set_mixedmap();
        new.set_dontexpand();
        // SAFETY: The VMA is not shared yet; `VM_OPS` is static.
        unsafe { (*vma).vm_ops = VM_OPS.get() };
        0
    }

    /// # Safety
    ///
    /// Called by the fault handler for a VMA set up by [`Device::mmap`], with the mmap or VMA
    /// lock held.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: `vmf` is valid for the call; its VMA was set up by `mmap` and holds a reference
        // to the file, whose `private_data` holds a pool reference until release.
        let (vma, address, pool) = unsafe {
            let vma = (*vmf).__bindgen_anon_1.vma;
            let pool = &*(*(*vma).vm_file).private_data.cast::<ZeroedPool>();
            (VmaRef::from_raw(vma), (*vmf).__bindgen_anon_1.address, pool)
        };
        let Some(vma) = vma.as_mixedmap_vma() else {
            return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
        };
        let block = match pool.alloc(0, GFP_KERNEL) {
            Ok(block) => block,
            Err(_) => return bindings::vm_fault_reason_VM_FAULT_OOM,
        };
        let Some(page) = block.page(0) else {
            return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
        };
        // The mapping takes its own reference; ours goes with `block`.
        match vma.vm_insert_page(address, &page) {
            // `EBUSY`: another thread mapped this address first.
            Ok(()) => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
            Err(e) if e == EBUSY => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
            Err(e) if e == ENOMEM => bindings::vm_fault_reason_VM_FAULT_OOM,
            Err(_) => bindings::vm_fault_reason_VM_FAULT_SIGBUS,
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Device {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered. After this, no new file is
        // opened; open files hold their own pool reference.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}
