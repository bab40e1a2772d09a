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

use super::registry::{registry, RegistryGuard, Shared};
use crate::{
    bindings,
    error::{from_err_ptr, to_result, Result},
    ffi::{c_int, c_ulong, c_void},
    ops_table::{
        self,
        StaticOps, //
    },
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc,
    },
    types::Opaque,
    ThisModule,
};
use core::ptr;

mod cpu_file;
mod stats;

use cpu_file::CPU_FOPS;
use stats::STATS_FOPS;

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

// SAFETY: Function pointers, never written once compiled.
unsafe impl ops_table::Table for bindings::fs_context_operations {}

// SAFETY: Function pointers, never written once compiled.
unsafe impl ops_table::Table for bindings::dentry_operations {}

// SAFETY: The file list of `simple_fill_super()`: static names, operation tables and modes,
// never written once compiled.
unsafe impl<const N: usize> ops_table::Table for [bindings::tree_descr; N] {}

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
