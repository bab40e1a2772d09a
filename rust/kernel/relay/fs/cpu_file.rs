// SPDX-License-Identifier: GPL-2.0

//! The per-CPU files of a channel: `read()`, `poll()`, `mmap()` and the ioctls.

use super::{
    super::{buffer::Buffer, registry::Shared},
    target_of, RELAYFS_IOC_CONSUMED, RELAYFS_IOC_INFO, RELAYFS_IOC_PADDING,
};
use crate::{
    bindings,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    mm::virt::VmaNew,
    new_mutex,
    ops_table::StaticOps,
    prelude::*,
    sync::{
        atomic::{Acquire, Relaxed},
        Arc, Mutex,
    },
    uaccess::{UserPtr, UserSlice},
};
use core::ptr;

const POLLIN: c_uint = 0x1;
const POLLRDNORM: c_uint = 0x40;
const POLLHUP: c_uint = 0x10;

/// An open CPU file.
#[pin_data]
pub(super) struct OpenFile {
    shared: Arc<Shared>,
    cpu: u32,
    /// Mappings made through this file that still exist. Locked across the owner's
    /// [`file_mmap`](super::Callbacks::file_mmap) and
    /// [`file_unmap`](super::Callbacks::file_unmap) calls, so that they pair up: the first
    /// mapping calls `file_mmap`, the end of the last one `file_unmap`.
    #[pin]
    maps: Mutex<usize>,
}

impl OpenFile {
    fn buffer(&self) -> &Buffer {
        // The CPU was checked when the file was made.
        self.shared
            .buffer(self.cpu)
            .expect("relayfs file of an impossible CPU")
    }
}

pub(super) static CPU_FOPS: StaticOps<bindings::file_operations> =
    StaticOps::new(bindings::file_operations {
        open: Some(cpu_open),
        release: Some(cpu_release),
        read: Some(cpu_read),
        poll: Some(cpu_poll),
        mmap: Some(cpu_mmap),
        unlocked_ioctl: Some(cpu_ioctl),
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: Some(bindings::compat_ptr_ioctl),
        ..pin_init::zeroed()
    });

static VM_OPS: StaticOps<bindings::vm_operations_struct> =
    StaticOps::new(bindings::vm_operations_struct {
        open: Some(vm_open),
        close: Some(vm_close),
        ..pin_init::zeroed()
    });

/// `open` of a CPU file.
///
/// # Safety
///
/// Called by the VFS with a CPU file's inode and the file being opened.
unsafe extern "C" fn cpu_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `inode` is one of our CPU files.
    let (shared, cpu) = match unsafe { target_of(inode) } {
        Ok((s, Some(cpu))) => (s, cpu),
        Ok(_) => return EINVAL.to_errno(),
        Err(e) => return e.to_errno(),
    };
    // Everything that can fail comes before the owner's callback, so that a successful
    // `file_open` is always followed by a `file_release`.
    let of = match KBox::pin_init(
        try_pin_init!(OpenFile {
            shared,
            cpu,
            maps <- new_mutex!(0, "relayfs_file::maps"),
        }),
        GFP_KERNEL,
    ) {
        Ok(of) => of,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The callback data is live while `notify` lets us call it.
    match of.shared.notify(|n| unsafe { (n.open)(n.data, cpu) }) {
        Some(Ok(())) => {}
        Some(Err(e)) => return e.to_errno(),
        None => return ENOENT.to_errno(),
    }
    // SAFETY: The file is being opened; `release` takes the box back (and treats it as pinned:
    // it is only dropped in place). Reads are a stream.
    unsafe {
        (*file).private_data = KBox::into_raw(Pin::into_inner_unchecked(of)).cast();
        bindings::stream_open(inode, file)
    }
}

/// # Safety
///
/// `file` was opened by [`cpu_open`].
unsafe fn open_file<'a>(file: *mut bindings::file) -> &'a OpenFile {
    // SAFETY: `cpu_open` stored an `OpenFile`, freed only by `cpu_release`.
    unsafe { &*(*file).private_data.cast::<OpenFile>() }
}

/// `release` of a CPU file.
///
/// # Safety
///
/// Called by the VFS, once, with a file opened by [`cpu_open`].
unsafe extern "C" fn cpu_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `cpu_open` stored the box; it is given back once, and only dropped.
    let of = unsafe { KBox::from_raw((*file).private_data.cast::<OpenFile>()) };
    // SAFETY: The callback data is live while `notify` lets us call it.
    of.shared.notify(|n| unsafe { (n.release)(n.data, of.cpu) });
    0
}

/// `read` of a CPU file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`cpu_open`] and a user buffer of `count` bytes.
unsafe extern "C" fn cpu_read(
    file: *mut bindings::file,
    ubuf: *mut c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: The file was opened by `cpu_open`.
    let of = unsafe { open_file(file) };
    let buf = of.buffer();
    // SAFETY: Reading the flags of an open file.
    let nonblock = unsafe { (*file).f_flags } & bindings::O_NONBLOCK != 0;
    let mut bc = buf.reader.lock();
    loop {
        let mut done = 0usize;
        while done < count {
            let Some((off, n)) = buf.next_chunk(&mut bc) else {
                break;
            };
            let n = n.min(count - done);
            // SAFETY: `off + n` is inside the buffer; the destination is checked by
            // `copy_to_user`. The bytes are final (committed) unless an overwriting writer
            // laps us, which flight-recorder readers accept.
            let left = unsafe {
                bindings::copy_to_user(
                    ubuf.add(done).cast(),
                    buf.start.as_ptr().add(off).cast(),
                    n as c_ulong,
                )
            } as usize;
            let copied = n - left;
            *bc += copied;
            done += copied;
            if left != 0 {
                if done == 0 {
                    return EFAULT.to_errno() as isize;
                }
                break;
            }
        }
        if done > 0 {
            return done as isize;
        }
        if buf.finalized.load(Acquire) {
            return 0;
        }
        if nonblock {
            return EAGAIN.to_errno() as isize;
        }
        // Wait for a complete sub-buffer (or the end), without missing a wake-up between the
        // check and the sleep. Not `CondVar::wait`: it checks nothing after queueing us, which
        // is only right when the waker changes the condition under the lock we hold, and
        // writers take no lock. Here the check follows `prepare_to_wait` (whose barrier pairs
        // with the one in `Buffer::kick_readers`), as `wait_event` does.
        let mut entry = core::mem::MaybeUninit::<bindings::wait_queue_entry>::uninit();
        let entry = entry.as_mut_ptr();
        // SAFETY: `entry` lives on this stack until `finish_wait`.
        unsafe { bindings::init_wait(entry) };
        let interrupted = loop {
            // SAFETY: `entry` is initialised; the wait queue lives as long as `buf`.
            unsafe {
                bindings::prepare_to_wait(
                    buf.wait.wait_queue_head.get(),
                    entry,
                    bindings::TASK_INTERRUPTIBLE as c_int,
                )
            };
            if buf.subbuf_ready() || buf.finalized.load(Acquire) {
                break false;
            }
            // SAFETY: Always safe on the current task.
            if unsafe { bindings::signal_pending(bindings::get_current()) } != 0 {
                break true;
            }
            // SAFETY: Sleeping is allowed here; the reader lock is given up meanwhile.
            bc.do_unlocked(|| unsafe { bindings::schedule() });
        };
        // SAFETY: Prepared above.
        unsafe { bindings::finish_wait(buf.wait.wait_queue_head.get(), entry) };
        if interrupted {
            return ERESTARTSYS.to_errno() as isize;
        }
    }
}

/// `poll` of a CPU file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`cpu_open`] and a poll table (or null).
unsafe extern "C" fn cpu_poll(
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The file was opened by `cpu_open`.
    let of = unsafe { open_file(file) };
    let buf = of.buffer();
    // SAFETY: The wait queue lives as long as the file (which holds the buffer); `PollCondVar`
    // waits for an RCU grace period before it goes.
    unsafe { bindings::poll_wait(file, buf.wait.wait_queue_head.get(), pt) };
    // Pairs with the barrier of a writer that checks for waiters before waking them
    // (`Buffer::kick_readers`): either it sees us waiting or we see what it published.
    crate::sync::barrier::smp_mb();
    let mut mask = 0;
    if buf.subbuf_ready() {
        mask |= POLLIN | POLLRDNORM;
    }
    if buf.finalized.load(Acquire) {
        mask |= POLLHUP;
    }
    mask
}

/// `mmap` of a CPU file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`cpu_open`] and a new VMA for it.
unsafe extern "C" fn cpu_mmap(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: The file was opened by `cpu_open`.
    let of = unsafe { open_file(file) };
    let buf = of.buffer();
    // SAFETY: The VMA is being set up by this `mmap` call.
    let new = unsafe { VmaNew::from_raw(vma) };
    // SAFETY: Reading the new VMA.
    let pgoff = unsafe { (*vma).vm_pgoff };
    if pgoff != 0 || new.end() - new.start() != buf.geometry.alloc_size() {
        return EINVAL.to_errno();
    }
    if new.writable() {
        return EPERM.to_errno();
    }
    if let Err(e) = new.try_clear_maywrite() {
        return e.to_errno();
    }
    // Held until the mapping is counted: a concurrent `mmap` of the same file waits, so only
    // the first one calls `file_mmap`.
    let mut maps = of.maps.lock();
    let first = *maps == 0;
    if first {
        // SAFETY: The callback data is live while `notify` lets us call it.
        match of.shared.notify(|n| unsafe { (n.mmap)(n.data, of.cpu) }) {
            Some(Ok(())) | None => {}
            Some(Err(e)) => return e.to_errno(),
        }
    }
    // SAFETY: `start` is a `vmalloc_user` area of `alloc_size` bytes; the mapping takes its
    // own page references.
    let ret = unsafe { bindings::remap_vmalloc_range(vma, buf.start.as_ptr().cast(), 0) };
    if ret != 0 {
        if first {
            // The owner was told of a mapping that is not made after all.
            // SAFETY: As above.
            of.shared.notify(|n| unsafe { (n.unmap)(n.data, of.cpu) });
        }
        return ret;
    }
    *maps += 1;
    // SAFETY: The VMA is not visible yet. It holds a reference to the file, so `of` outlives it.
    unsafe {
        (*vma).vm_ops = VM_OPS.get();
        (*vma).vm_private_data = ptr::from_ref(of).cast_mut().cast();
    }
    0
}

/// `open` of a CPU file mapping (a copy or split of it).
///
/// # Safety
///
/// Called by the memory manager with a VMA set up by [`cpu_mmap`].
unsafe extern "C" fn vm_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: Set by `cpu_mmap`; the VMA holds the file.
    let of = unsafe { &*(*vma).vm_private_data.cast::<OpenFile>() };
    *of.maps.lock() += 1;
}

/// `close` of a CPU file mapping.
///
/// # Safety
///
/// Called by the memory manager, once per [`cpu_mmap`] or [`vm_open`], with its VMA.
unsafe extern "C" fn vm_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: Set by `cpu_mmap`; the VMA holds the file.
    let of = unsafe { &*(*vma).vm_private_data.cast::<OpenFile>() };
    let mut maps = of.maps.lock();
    *maps -= 1;
    if *maps == 0 {
        // SAFETY: The callback data is live while `notify` lets us call it.
        of.shared.notify(|n| unsafe { (n.unmap)(n.data, of.cpu) });
    }
}

/// `unlocked_ioctl` of a CPU file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`cpu_open`].
unsafe extern "C" fn cpu_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: The file was opened by `cpu_open`.
    let of = unsafe { open_file(file) };
    match ioctl(of, cmd, arg) {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

fn ioctl(of: &OpenFile, cmd: u32, arg: usize) -> Result {
    let buf = of.buffer();
    let g = &buf.geometry;
    match cmd {
        RELAYFS_IOC_INFO => {
            // `struct relayfs_info`, field by field.
            let info = [
                g.subbuf_size() as u64,
                g.n_subbufs() as u64,
                buf.produced.load(Acquire) as u64,
                buf.consumed.load(Acquire) as u64,
            ];
            const SIZE: usize = size_of::<bindings::relayfs_info>();
            const _: () = assert!(SIZE == 4 * size_of::<u64>());
            let mut bytes = [0u8; SIZE];
            for (i, v) in info.iter().enumerate() {
                bytes[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
            }
            UserSlice::new(UserPtr::from_addr(arg), SIZE)
                .writer()
                .write_slice(&bytes)
        }
        RELAYFS_IOC_PADDING => {
            let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(arg), 8).reader_writer();
            let k = r.read::<u64>()? as usize;
            let produced = buf.produced.load(Acquire);
            if k >= produced || produced - k > g.n_subbufs() {
                return Err(EINVAL);
            }
            let padding = buf.padding[k % g.n_subbufs()].load(Relaxed) as u64;
            w.write_slice(&padding.to_ne_bytes())
        }
        RELAYFS_IOC_CONSUMED => {
            let n = UserSlice::new(UserPtr::from_addr(arg), 8)
                .reader()
                .read::<u64>()?;
            let mut bc = buf.reader.lock();
            buf.consume_subbufs(&mut bc, usize::try_from(n).unwrap_or(usize::MAX));
            Ok(())
        }
        _ => Err(ENOTTY),
    }
}
