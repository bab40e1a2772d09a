// SPDX-License-Identifier: GPL-2.0

//! relayfs: the file system that shows relay channels to user space.
//!
//! A module registers it with [`Registration`] (the suite's `relayfs` module does), after
//! which `mount -t relayfs none <dir>` shows every open channel (its standard mount point,
//! `/sys/kernel/relayfs`, exists while it is registered). All mounts share one super
//! block, which is kept while any channel exists, so channels opened before the mount (or
//! before the file system was registered) are there too. A channel opened as `dir/name`
//! appears as:
//!
//! - `dir/name<cpu>` for every possible CPU (mode 0400), where
//!   - `read()` consumes the CPU's data in order, padding left out; it returns what complete
//!     sub-buffers hold (any amount: records may span two reads), blocks when there is
//!     nothing unless the file is non-blocking (`EAGAIN`), and returns 0 (end of file) once
//!     the channel is closed and drained;
//!   - `poll()` reports `POLLIN` when a sub-buffer is complete and `POLLHUP` once the
//!     channel is closed;
//!   - `mmap()` of exactly the whole buffer at offset 0, read only, shows every sub-buffer;
//!     the ioctls [`RELAYFS_IOC_INFO`], [`RELAYFS_IOC_PADDING`] and [`RELAYFS_IOC_CONSUMED`]
//!     let a consumer walk it and report what it consumed;
//! - `dir/name.stats`, the channel's geometry and per-CPU counters, one `key value` or
//!   `cpuN key=value ...` line each.
//!
//! A file that is open when its channel closes keeps working until it is closed: it drains
//! what is left and then sees end of file.
//!
//! While any channel exists, unmounting a relayfs mount fails with `EBUSY`: relayfs holds
//! each mount that a path walk enters until the last channel closes. A lazy unmount detaches
//! it at once.

use super::{registry, Buffer, Mode, RegistryGuard, Shared, Stats};
use crate::{
    bindings,
    error::{from_err_ptr, to_result, Result},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    mm::virt::VmaNew,
    new_mutex,
    ops_table::{
        self,
        StaticOps, //
    },
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, Mutex,
    },
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
    ThisModule,
};
use core::{fmt::Write, ptr};

/// The super block magic number (relayfs's of 2005).
pub const RELAYFS_MAGIC: c_ulong = 0xF0B4_A981;

// The ioctls of a CPU file, from the uapi header `include/uapi/linux/relayfs.h`, which user
// space includes too.

/// Out: the file's `struct relayfs_info`: the geometry, the sub-buffers completed so far and
/// those consumed (absolute counts).
pub const RELAYFS_IOC_INFO: u32 = bindings::RELAYFS_IOC_INFO;

/// In: an absolute sub-buffer number `k` (`consumed <= k < produced`); out: the padding at
/// the end of that sub-buffer. `EINVAL` if `k` is not complete or no longer in the buffer.
pub const RELAYFS_IOC_PADDING: u32 = bindings::RELAYFS_IOC_PADDING;

/// In: how many more sub-buffers the caller consumed (through its mapping).
pub const RELAYFS_IOC_CONSUMED: u32 = bindings::RELAYFS_IOC_CONSUMED;

const POLLIN: c_uint = 0x1;
const POLLRDNORM: c_uint = 0x40;
const POLLHUP: c_uint = 0x10;

/// What an inode of a channel file refers to: the channel and a CPU (`None`: the stats file).
struct Target {
    shared: Arc<Shared>,
    cpu: Option<u32>,
}

/// A directory made for channel paths, shared by the channels under it.
struct Dir {
    path: KVec<u8>,
    dentry: *mut bindings::dentry,
    users: usize,
}

/// relayfs, while it is registered.
pub(super) struct FsState {
    fs_type: *mut bindings::file_system_type,
    /// The internal mount that keeps the super block while channels exist.
    mount: *mut bindings::vfsmount,
    /// How many channels have files (pins of `mount`).
    mount_count: c_int,
    /// User mounts that [`root_manage`] took a reference to; dropped with the last channel.
    held_mounts: KVec<*mut bindings::vfsmount>,
    dirs: KVec<Dir>,
}

/// Whether channels exist, so that path walks into a mount's root go to [`root_manage`] in
/// reference mode. Written under the registry lock; read without it in RCU walks.
static CHANNELS_EXIST: Atomic<bool> = Atomic::new(false);

/// The files and directories relayfs holds for one channel.
pub(super) struct ChannelFiles {
    pinned: bool,
    files: KVec<*mut bindings::dentry>,
    targets: KVec<KBox<Target>>,
    dirs: KVec<KVec<u8>>,
}

impl ChannelFiles {
    pub(super) const fn new() -> Self {
        Self {
            pinned: false,
            files: KVec::new(),
            targets: KVec::new(),
            dirs: KVec::new(),
        }
    }
}

/// An open CPU file.
#[pin_data]
struct OpenFile {
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

// SAFETY: Function pointers, never written once compiled.
unsafe impl ops_table::Table for bindings::fs_context_operations {}

// SAFETY: Function pointers, never written once compiled.
unsafe impl ops_table::Table for bindings::dentry_operations {}

// SAFETY: The file list of `simple_fill_super()`: static names, operation tables and modes,
// never written once compiled.
unsafe impl<const N: usize> ops_table::Table for [bindings::tree_descr; N] {}

static CPU_FOPS: StaticOps<bindings::file_operations> = StaticOps::new(bindings::file_operations {
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

static STATS_FOPS: StaticOps<bindings::file_operations> =
    StaticOps::new(bindings::file_operations {
        open: Some(stats_open),
        release: Some(stats_release),
        read: Some(stats_read),
        ..pin_init::zeroed()
    });

static VM_OPS: StaticOps<bindings::vm_operations_struct> =
    StaticOps::new(bindings::vm_operations_struct {
        open: Some(vm_open),
        close: Some(vm_close),
        ..pin_init::zeroed()
    });

static CONTEXT_OPS: StaticOps<bindings::fs_context_operations> =
    StaticOps::new(bindings::fs_context_operations {
        get_tree: Some(get_tree),
        ..pin_init::zeroed()
    });

static DENTRY_OPS: StaticOps<bindings::dentry_operations> =
    StaticOps::new(bindings::dentry_operations {
        // What `simple_lookup` does for a super block without dentry operations.
        d_delete: Some(bindings::always_delete_dentry),
        d_manage: Some(root_manage),
        ..pin_init::zeroed()
    });

static ROOT_FILES: StaticOps<[bindings::tree_descr; 1]> = StaticOps::new([bindings::tree_descr {
    // An empty name ends the table. (`CStr::as_ptr` is disallowed in the kernel crate, and
    // `as_char_ptr` is not const.)
    name: ptr::from_ref(c"").cast(),
    ops: ptr::null(),
    mode: 0,
}]);

/// `fill_super` of relayfs.
///
/// # Safety
///
/// Called by the VFS (through `get_tree_single`) with a new super block of relayfs.
unsafe extern "C" fn fill_super(
    sb: *mut bindings::super_block,
    _fc: *mut bindings::fs_context,
) -> c_int {
    // SAFETY: `sb` is a new super block, not yet visible; the table ends with an empty name.
    // The root is made by `simple_fill_super` with the default operations set before it.
    unsafe {
        bindings::set_default_d_op(sb, DENTRY_OPS.get());
        let ret = bindings::simple_fill_super(sb, RELAYFS_MAGIC, ROOT_FILES.get().as_ptr());
        if ret == 0 {
            bindings::relay_dentry_manage_transit((*sb).s_root);
        }
        ret
    }
}

/// Called by path walks that enter a relayfs mount (the root is the only managed dentry).
///
/// While channels exist, it takes a reference to each user mount entered, so that `umount`
/// of it fails with `EBUSY` as a mount with open files does (`umount` itself walks into the
/// mount, so a mount never entered before is held too). The references are dropped when the
/// last channel closes; a lazy unmount (`umount -l`) detaches the mount at once.
///
/// # Safety
///
/// Called by the VFS with a path into relayfs that the walk holds.
unsafe extern "C" fn root_manage(path: *const bindings::path, rcu_walk: bool) -> c_int {
    if !CHANNELS_EXIST.load(Acquire) {
        return 0;
    }
    if rcu_walk {
        // Taking a reference needs the registry lock: walk on in reference mode.
        return ECHILD.to_errno();
    }
    let mut reg = registry();
    let Some(fs) = reg.fs.as_mut() else {
        return 0;
    };
    // SAFETY: The walk holds `path`, and so its mount.
    let mnt = unsafe { (*path).mnt };
    if fs.mount_count == 0 || mnt == fs.mount || fs.held_mounts.contains(&mnt) {
        return 0;
    }
    if let Err(e) = fs.held_mounts.push(mnt, GFP_KERNEL) {
        return Error::from(e).to_errno();
    }
    // SAFETY: `mnt` is live (above); the reference is dropped by `channel_removed`.
    unsafe { bindings::mntget(mnt) };
    0
}

/// `get_tree` of relayfs: every mount shares one super block.
///
/// # Safety
///
/// Called by the VFS with a context of relayfs.
unsafe extern "C" fn get_tree(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: `fc` is a context of our type; all mounts share one super block.
    unsafe { bindings::get_tree_single(fc, Some(fill_super)) }
}

/// `init_fs_context` of relayfs.
///
/// # Safety
///
/// Called by the VFS with a context being set up for relayfs.
unsafe extern "C" fn init_fs_context(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: `fc` is being set up for our type.
    unsafe { (*fc).ops = CONTEXT_OPS.get() };
    0
}

/// The file system type. Static, because lockdep wants the lock class keys inside it to be.
///
/// Initialised once, here; only `owner` changes, set by [`Registration::new`] under the
/// registry lock before registering it (the module that registers relayfs may be loaded again
/// at another address). Once registered, the VFS owns it until unregistered, after which
/// `unregister_filesystem` lets it be reused.
struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: Only written as said above: by `Registration::new`, under the registry lock, while it
// is not registered.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(Opaque::new(bindings::file_system_type {
    // (`CStr::as_char_ptr` is not const.)
    name: ptr::from_ref(c"relayfs").cast(),
    init_fs_context: Some(init_fs_context),
    kill_sb: Some(bindings::kill_anon_super),
    ..pin_init::zeroed()
}));

/// relayfs, registered with the VFS until dropped.
///
/// A module that holds one is pinned (cannot be unloaded) while relayfs is mounted or any
/// channel exists, since both keep its super block.
///
/// # Invariants
///
/// [`FS_TYPE`] is registered and recorded in the registry.
pub struct Registration(());

impl Registration {
    /// Registers relayfs, owned by `module`, and makes the files of the channels that exist.
    /// `EBUSY` if it is already registered.
    pub fn new(module: &'static ThisModule) -> Result<Self> {
        let mut reg = registry();
        if reg.fs.is_some() {
            return Err(EBUSY);
        }
        let fs_type = FS_TYPE.0.get();
        // SAFETY: Not registered (the registry says so, and we hold its lock), so nothing else
        // uses it.
        unsafe { (*fs_type).owner = module.as_ptr() };
        // SAFETY: `fs_type` is filled in and static.
        to_result(unsafe { bindings::register_filesystem(fs_type) })?;
        // SAFETY: Always safe to call; the directory is removed in `drop`, or below.
        if let Err(e) = to_result(unsafe { bindings::relayfs_create_mount_point() }) {
            pr_err!("relayfs: cannot create /sys/kernel/relayfs: {:?}\n", e);
            // SAFETY: Registered above.
            unsafe { bindings::unregister_filesystem(fs_type) };
            return Err(e);
        }
        reg.fs = Some(FsState {
            fs_type,
            mount: ptr::null_mut(),
            mount_count: 0,
            held_mounts: KVec::new(),
            dirs: KVec::new(),
        });
        let mut i = 0;
        while let Some(shared) = reg.channels.get(i).cloned() {
            channel_added(&mut reg, &shared);
            i += 1;
        }
        // INVARIANT: Registered and recorded above.
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut reg = registry();
        // Channel files pin the super block, which pins the owner module, so normally none
        // exist when the owner unloads. But a channel opened while the module was already going
        // away (`rmmod` found it unused, and the pin's module reference does not check for
        // that) has files: remove them, as its close would. That drops the internal mount's
        // last pin, and its super block goes at once (the last put of an internal mount is
        // synchronous). No user mount exists: each pins the module too, and none can be made
        // now (`get_fs_type` refuses a module that is going away).
        let mut i = 0;
        while let Some(shared) = reg.channels.get(i).cloned() {
            channel_removed(&mut reg, &shared);
            i += 1;
        }
        if let Some(fs) = reg.fs.take() {
            if fs.mount_count != 0 || !fs.dirs.is_empty() {
                pr_warn!("relayfs: unregistered with files left\n");
            }
        }
        // SAFETY: Created in `new`. Nothing is mounted on it: a mount of relayfs would pin its
        // owner, which is being unloaded.
        unsafe { bindings::relayfs_remove_mount_point() };
        // SAFETY: Registered in `new`.
        unsafe { bindings::unregister_filesystem(FS_TYPE.0.get()) };
    }
}

/// Makes a file or directory `name` in `parent`.
///
/// # Safety
///
/// `parent` is a live directory of relayfs; the registry lock is held.
unsafe fn create(
    parent: *mut bindings::dentry,
    name: &CStr,
    mode: u32,
    fops: Option<&'static bindings::file_operations>,
    private: *mut c_void,
) -> Result<*mut bindings::dentry> {
    // SAFETY: By the function's requirements.
    let dentry =
        from_err_ptr(unsafe { bindings::simple_start_creating(parent, name.as_char_ptr()) })?;
    // SAFETY: `dentry` is a new negative dentry of our super block, its parent locked.
    unsafe {
        let inode = bindings::new_inode((*dentry).d_sb);
        if inode.is_null() {
            bindings::simple_done_creating(dentry);
            return Err(ENOMEM);
        }
        (*inode).i_ino = bindings::get_next_ino().into();
        bindings::simple_inode_init_ts(inode);
        (*inode).i_mode = mode as bindings::umode_t;
        match fops {
            Some(fops) => {
                bindings::relay_inode_set_fops(inode, fops);
                (*inode).i_private = private;
            }
            None => {
                (*inode).i_op = &bindings::simple_dir_inode_operations;
                bindings::relay_inode_set_fops(inode, &bindings::simple_dir_operations);
                bindings::inc_nlink(inode);
                bindings::inc_nlink((*parent).d_inode);
            }
        }
        bindings::d_make_persistent(dentry, inode);
        bindings::simple_done_creating(dentry);
    }
    Ok(dentry)
}

/// Removes a file or directory made by [`create`].
///
/// # Safety
///
/// As for [`create`]; `dentry` was made by it and is removed once.
unsafe fn remove(dentry: *mut bindings::dentry) {
    // SAFETY: By the function's requirements.
    unsafe { bindings::simple_recursive_removal(dentry, None) };
}

const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

/// Makes the files of a new channel, if relayfs is registered. Failures are logged: the
/// channel works without files.
pub(super) fn channel_added(reg: &mut RegistryGuard, shared: &Arc<Shared>) {
    if reg.fs.is_none() {
        return;
    }
    if let Err(e) = try_add(reg, shared) {
        pr_warn!("relayfs: no files for channel {:?}: {:?}\n", shared.path, e);
        channel_removed(reg, shared);
    }
}

fn try_add(reg: &mut RegistryGuard, shared: &Arc<Shared>) -> Result {
    let fs = reg.fs.as_mut().ok_or(ENOENT)?;
    // SAFETY: The registry lock is held (`reg`), and this is the only reference to the state.
    let files = unsafe { shared.reg_mut() };
    // SAFETY: The file system is registered; `mount` and `mount_count` are ours.
    to_result(unsafe { bindings::simple_pin_fs(fs.fs_type, &mut fs.mount, &mut fs.mount_count) })?;
    files.files.pinned = true;
    CHANNELS_EXIST.store(true, Release);
    // SAFETY: Pinned above.
    let mut parent = unsafe { (*fs.mount).mnt_root };
    let path = shared.path.to_bytes();
    let base_start = path.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let mut comp_start = 0;
    for (i, _) in path.iter().enumerate().filter(|&(_, &c)| c == b'/') {
        let key = bytes(&path[..i])?;
        files.files.dirs.reserve(1, GFP_KERNEL)?;
        fs.dirs.reserve(1, GFP_KERNEL)?;
        if let Some(d) = fs.dirs.iter_mut().find(|d| d.path[..] == key[..]) {
            d.users += 1;
            parent = d.dentry;
        } else {
            let dir_key = bytes(&key)?;
            let name = CString::try_from_fmt(fmt!("{}", ascii(&path[comp_start..i])?))?;
            // SAFETY: `parent` is a live directory; the registry lock is held.
            let dentry = unsafe { create(parent, &name, S_IFDIR | 0o755, None, ptr::null_mut()) }?;
            fs.dirs.push(
                Dir {
                    path: dir_key,
                    dentry,
                    users: 1,
                },
                GFP_KERNEL,
            )?;
            parent = dentry;
        }
        files.files.dirs.push(key, GFP_KERNEL)?;
        comp_start = i + 1;
    }
    let base = ascii(&path[base_start..])?;
    for (cpu, buf) in shared.bufs.iter().enumerate() {
        if buf.is_none() {
            continue;
        }
        let name = CString::try_from_fmt(fmt!("{}{}", base, cpu))?;
        make_file(
            &mut files.files,
            parent,
            &name,
            shared,
            Some(cpu as u32),
            0o400,
            CPU_FOPS.get(),
        )?;
    }
    let name = CString::try_from_fmt(fmt!("{}.stats", base))?;
    make_file(
        &mut files.files,
        parent,
        &name,
        shared,
        None,
        0o444,
        STATS_FOPS.get(),
    )
}

fn bytes(b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(b, GFP_KERNEL)?;
    Ok(v)
}

fn make_file(
    files: &mut ChannelFiles,
    parent: *mut bindings::dentry,
    name: &CStr,
    shared: &Arc<Shared>,
    cpu: Option<u32>,
    mode: u32,
    fops: &'static bindings::file_operations,
) -> Result {
    files.targets.reserve(1, GFP_KERNEL)?;
    files.files.reserve(1, GFP_KERNEL)?;
    let target = KBox::new(
        Target {
            shared: shared.clone(),
            cpu,
        },
        GFP_KERNEL,
    )?;
    let private = ptr::from_ref(&*target).cast_mut().cast();
    // SAFETY: `parent` is a live directory; the registry lock is held; `target` lives until the
    // file is removed (`channel_removed`).
    let dentry = unsafe { create(parent, name, S_IFREG | mode, Some(fops), private) }?;
    files.targets.push(target, GFP_KERNEL)?;
    files.files.push(dentry, GFP_KERNEL)?;
    Ok(())
}

/// Removes the files of a channel that is closing (or that could not get them all).
pub(super) fn channel_removed(reg: &mut RegistryGuard, shared: &Arc<Shared>) {
    let Some(fs) = reg.fs.as_mut() else {
        return;
    };
    // SAFETY: The registry lock is held (`reg`), and this is the only reference to the state.
    let files = &mut unsafe { shared.reg_mut() }.files;
    for &dentry in files.files.iter() {
        // SAFETY: The file was made by `create` and is removed once. Its inode no longer
        // points to the target, so a racing open finds nothing.
        unsafe {
            (*(*dentry).d_inode).i_private = ptr::null_mut();
            remove(dentry);
        }
    }
    files.files.clear();
    files.targets.clear();
    while let Some(key) = files.dirs.pop() {
        let Some(i) = fs.dirs.iter().position(|d| d.path[..] == key[..]) else {
            continue;
        };
        fs.dirs[i].users -= 1;
        if fs.dirs[i].users == 0 {
            if let Ok(d) = fs.dirs.remove(i) {
                // SAFETY: Made by `create`, removed once, now that no channel uses it.
                unsafe { remove(d.dentry) };
            }
        }
    }
    if files.pinned {
        files.pinned = false;
        // SAFETY: Pinned by `try_add`.
        unsafe { bindings::simple_release_fs(&mut fs.mount, &mut fs.mount_count) };
        if fs.mount_count == 0 {
            CHANNELS_EXIST.store(false, Release);
            for mnt in fs.held_mounts.drain_all() {
                // SAFETY: `root_manage` took this reference. The last put of a user mount is
                // deferred (task work), so it does not re-enter relayfs under the lock.
                unsafe { bindings::mntput(mnt) };
            }
        }
    }
}

/// A path component as text (`check_path` allows only ASCII).
fn ascii(b: &[u8]) -> Result<&str> {
    core::str::from_utf8(b).map_err(|_| EINVAL)
}

/// Takes a reference to what a channel file's inode refers to, if the channel is still open.
///
/// # Safety
///
/// `inode` is an inode of a relayfs channel file.
unsafe fn target_of(inode: *mut bindings::inode) -> Result<(Arc<Shared>, Option<u32>)> {
    let _reg = registry();
    // SAFETY: `i_private` is a `Target` or null (once removed), changed only under the lock.
    let target = unsafe { (*inode).i_private.cast::<Target>().as_ref() }.ok_or(ENOENT)?;
    Ok((target.shared.clone(), target.cpu))
}

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

/// `open` of a stats file.
///
/// # Safety
///
/// Called by the VFS with a stats file's inode and the file being opened.
unsafe extern "C" fn stats_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `inode` is one of our stats files.
    match unsafe { target_of(inode) } {
        Ok((shared, None)) => {
            // SAFETY: `stats_release` takes the reference back.
            unsafe { (*file).private_data = Arc::into_raw(shared).cast_mut().cast() };
            0
        }
        Ok(_) => EINVAL.to_errno(),
        Err(e) => e.to_errno(),
    }
}

/// `release` of a stats file.
///
/// # Safety
///
/// Called by the VFS, once, with a file opened by [`stats_open`].
unsafe extern "C" fn stats_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `stats_open` stored the reference; it is given back once.
    drop(unsafe { Arc::from_raw((*file).private_data.cast::<Shared>()) });
    0
}

/// A growing text buffer.
struct Text(KVec<u8>);

impl Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// The text of a stats file.
fn stats_text(shared: &Shared) -> Result<KVec<u8>> {
    let g = &shared.config.geometry;
    let mut t = Text(KVec::new());
    let mode = match shared.config.mode {
        Mode::Overwrite => "overwrite",
        Mode::NoOverwrite => "no-overwrite",
    };
    let ok = writeln!(t, "subbuf_size {}", g.subbuf_size()).is_ok()
        && writeln!(t, "n_subbufs {}", g.n_subbufs()).is_ok()
        && writeln!(t, "mode {}", mode).is_ok()
        && shared.bufs.iter().flatten().all(|b| {
            let s: Stats = b.stats();
            writeln!(
                t,
                "cpu{} events={} bytes={} lost_full={} lost_too_big={} lost_busy={} \
                 produced={} consumed={}",
                b.cpu,
                s.events,
                s.bytes,
                s.lost_full,
                s.lost_too_big,
                s.lost_busy,
                s.produced,
                s.consumed
            )
            .is_ok()
        });
    if ok {
        Ok(t.0)
    } else {
        Err(ENOMEM)
    }
}

/// `read` of a stats file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`stats_open`], a user buffer of `count` bytes and
/// the file position.
unsafe extern "C" fn stats_read(
    file: *mut bindings::file,
    ubuf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `stats_open` stored a channel reference.
    let shared = unsafe { &*(*file).private_data.cast::<Shared>() };
    match stats_text(shared) {
        // SAFETY: The arguments come from `read()`; the text is a live kernel buffer.
        Ok(text) => unsafe {
            bindings::simple_read_from_buffer(
                ubuf.cast(),
                count,
                ppos,
                text.as_ptr().cast(),
                text.len(),
            )
        },
        Err(e) => e.to_errno() as isize,
    }
}
