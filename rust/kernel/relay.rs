// SPDX-License-Identifier: GPL-2.0

//! Relay channels: per-CPU buffers that carry large volumes of data from the kernel to user
//! space cheaply.
//!
//! A [`Channel`] has one buffer for every possible CPU, each split into sub-buffers
//! ([`Geometry`]). A writer appends a record to the buffer of the CPU it runs on without
//! taking any lock: [`Channel::write`] with interrupts disabled, [`Channel::write_fast`] with
//! only preemption disabled, or [`Local::reserve`] to fill a record in place. A write never
//! sleeps and never blocks; it returns whether the record was stored, and every record that
//! was not is counted ([`Stats`]): the buffer was full ([`Mode::NoOverwrite`]), the record was
//! larger than a sub-buffer, or the buffer was busy because the write interrupted another one
//! on the same CPU.
//!
//! When a sub-buffer is complete the channel calls [`Callbacks::deliver`] and wakes readers.
//! Readers are kernel code (through [`Channel::subbufs_consumed`]) or user space through the
//! relayfs file system (`mount -t relayfs none <dir>`, see [`fs`]), where a channel opened as
//! `dir/name` shows up as the files `dir/name0`, `dir/name1`, ... (one per CPU) and
//! `dir/name.stats`.
//!
//! Everything a reader touches (buffers, file and mapping operations) is in the kernel crate
//! and reference counted, so the module that opened a channel may close it and be unloaded
//! while files are still open or mapped: readers then drain what is left and see end of file.
//!
//! C header: [`include/linux/relay.h`](srctree/include/linux/relay.h) (the kernel's C relay,
//! whose design this follows; the two are independent).
//!
//! # Examples
//!
//! ```
//! use kernel::relay::{Channel, Config, Geometry, Mode};
//!
//! struct Plain;
//!
//! #[vtable]
//! impl kernel::relay::Callbacks for Plain {}
//!
//! let config = Config::new(Geometry::new(256, 4)?, Mode::NoOverwrite);
//! let chan = Channel::open(c"doctest/plain", config, Plain)?;
//! for i in 0..10u8 {
//!     assert!(chan.write(&[i; 60]));
//! }
//! // A record larger than a sub-buffer is refused and counted.
//! assert!(!chan.write(&[0; 300]));
//! let total = chan.stats_total();
//! assert_eq!(total.events, 10);
//! assert_eq!(total.bytes, 600);
//! assert_eq!(total.lost_too_big, 1);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    error::{Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_uint, c_ulong, c_void},
    new_mutex, new_poll_condvar,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        poll::PollCondVar,
        Arc, Mutex,
    },
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
    sync::atomic::{compiler_fence, Ordering},
};

pub mod fs;
pub mod geometry;

pub use geometry::{Geometry, Mode, Placement};

/// How a channel is laid out and what it does when full.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    geometry: Geometry,
    mode: Mode,
    header: usize,
}

impl Config {
    /// A channel of the given shape and mode, without sub-buffer headers.
    pub const fn new(geometry: Geometry, mode: Mode) -> Self {
        Self {
            geometry,
            mode,
            header: 0,
        }
    }

    /// Reserves `bytes` at the start of every sub-buffer, for [`Callbacks::subbuf_start`] to
    /// fill (for example with a timestamp and a sequence number).
    pub const fn header(mut self, bytes: usize) -> Self {
        self.header = bytes;
        self
    }
}

/// What [`Callbacks::subbuf_start`] is told about a sub-buffer that is about to be started.
pub struct SubbufStart<'a> {
    /// The CPU of the buffer.
    pub cpu: u32,
    /// The absolute number of the sub-buffer (`0` is the first one ever started).
    pub number: usize,
    /// The header area of the new sub-buffer ([`Config::header`] bytes), to fill.
    pub header: &'a mut [u8],
    /// The padding left at the end of the previous sub-buffer.
    pub prev_padding: usize,
    /// In [`Mode::NoOverwrite`]: every sub-buffer holds unread data, so starting this one
    /// would overwrite some; the default is to refuse.
    pub full: bool,
}

/// What a channel's owner is told, and asked.
///
/// Every method is optional. The writer-side callbacks ([`Callbacks::subbuf_start`],
/// [`Callbacks::deliver`], [`Callbacks::buf_full`]) run in the context of a write, with
/// interrupts or preemption disabled, so they must not sleep. The file callbacks run in process
/// context, and only while the channel is open.
#[vtable]
pub trait Callbacks: Send + Sync {
    /// A new sub-buffer is about to be started. Return false to refuse it: the write that
    /// needed it is lost (counted in [`Stats::lost_full`]), and so is every write until a
    /// later one is allowed to start it. Without this callback a sub-buffer is refused exactly
    /// when [`SubbufStart::full`] is set.
    fn subbuf_start(&self, _start: &mut SubbufStart<'_>) -> bool {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The sub-buffer with absolute number `number` of `cpu`'s buffer is complete; `data` is
    /// its contents without the padding.
    fn deliver(&self, _cpu: u32, _number: usize, _data: &[u8]) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `cpu`'s buffer became full: writes are lost from now until a reader consumes a
    /// sub-buffer. Called once per such episode.
    fn buf_full(&self, _cpu: u32) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A process opens `cpu`'s file. An error refuses the open with it.
    fn file_open(&self, _cpu: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A file opened with [`Callbacks::file_open`] is closed.
    fn file_release(&self, _cpu: u32) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A process maps `cpu`'s buffer. An error refuses the mapping with it.
    fn file_mmap(&self, _cpu: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The last mapping made through one open file of `cpu`'s buffer is gone.
    fn file_unmap(&self, _cpu: u32) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The counters of one CPU's buffer (or, from [`Channel::stats_total`], of all of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records stored.
    pub events: usize,
    /// Bytes stored, headers and padding not included.
    pub bytes: usize,
    /// Records lost because no sub-buffer could be started (the buffer was full).
    pub lost_full: usize,
    /// Records lost because they are larger than a sub-buffer less its header.
    pub lost_too_big: usize,
    /// Records lost because they interrupted another write to the same buffer.
    pub lost_busy: usize,
    /// Sub-buffers completed.
    pub produced: usize,
    /// Sub-buffers consumed by readers.
    pub consumed: usize,
}

impl Stats {
    /// Every record lost, for any reason.
    pub const fn lost(&self) -> usize {
        self.lost_full + self.lost_too_big + self.lost_busy
    }

    fn add(&mut self, o: &Stats) {
        self.events += o.events;
        self.bytes += o.bytes;
        self.lost_full += o.lost_full;
        self.lost_too_big += o.lost_too_big;
        self.lost_busy += o.lost_busy;
        self.produced += o.produced;
        self.consumed += o.consumed;
    }
}

/// The state only the buffer's own CPU changes, while it holds `Buffer::busy`.
struct WriterState {
    /// The current sub-buffer.
    data: *mut u8,
    /// Bytes reserved in it. Past the sub-buffer's end when starting it was refused.
    offset: usize,
    /// Sub-buffers completed (the current one has this absolute number).
    produced: usize,
    /// [`Callbacks::buf_full`] was called for the current episode.
    full: bool,
}

/// Offset of a sub-buffer that could not be started: every write tries again.
const fn refused(g: &Geometry) -> usize {
    g.subbuf_size() + 1
}

/// One CPU's buffer.
///
/// # Invariants
///
/// - `start` is a `vmalloc_user` area of `geometry.alloc_size()` bytes, freed on drop.
/// - `w` is only accessed on CPU `cpu` (or while `cpu` is offline, under the CPU hotplug read
///   lock), by the holder of `busy`.
#[pin_data(PinnedDrop)]
struct Buffer {
    cpu: u32,
    geometry: Geometry,
    mode: Mode,
    header: usize,
    start: NonNull<u8>,
    busy: Atomic<bool>,
    w: UnsafeCell<WriterState>,
    /// Final bytes of the current sub-buffer.
    committed: Atomic<usize>,
    produced: Atomic<usize>,
    consumed: Atomic<usize>,
    padding: KVec<Atomic<usize>>,
    events: Atomic<usize>,
    bytes: Atomic<usize>,
    lost_full: Atomic<usize>,
    lost_too_big: Atomic<usize>,
    lost_busy: Atomic<usize>,
    /// The channel is closed: no more data will come.
    finalized: Atomic<bool>,
    /// Bytes read from the sub-buffer `consumed`; held by readers and consumers.
    #[pin]
    reader: Mutex<usize>,
    #[pin]
    wait: PollCondVar,
    #[pin]
    wakeup: Opaque<bindings::irq_work>,
}

// SAFETY: The writer state is only touched on its CPU by the holder of `busy`; everything else
// is atomic or locked.
unsafe impl Send for Buffer {}
// SAFETY: As above.
unsafe impl Sync for Buffer {}

/// Adds one to a counter that only the buffer's CPU changes (with `busy` held): no atomic
/// read-modify-write is needed.
#[inline(always)]
fn bump(c: &Atomic<usize>, by: usize) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Buffer {
    fn new(cpu: u32, config: &Config) -> Result<Pin<KBox<Self>>> {
        let g = config.geometry;
        let mut padding = KVec::with_capacity(g.n_subbufs(), GFP_KERNEL)?;
        for _ in 0..g.n_subbufs() {
            padding.push(Atomic::new(0), GFP_KERNEL)?;
        }
        // SAFETY: Any size may be asked for; the area is zeroed and may be mapped to user space.
        let start = unsafe { bindings::vmalloc_user_noprof(g.alloc_size() as c_ulong) };
        let start = NonNull::new(start.cast::<u8>()).ok_or(ENOMEM)?;
        let init = try_pin_init!(Self {
            cpu,
            geometry: g,
            mode: config.mode,
            header: config.header,
            start,
            busy: Atomic::new(false),
            w: UnsafeCell::new(WriterState {
                data: start.as_ptr(),
                offset: config.header,
                produced: 0,
                full: false,
            }),
            committed: Atomic::new(config.header),
            produced: Atomic::new(0),
            consumed: Atomic::new(0),
            padding,
            events: Atomic::new(0),
            bytes: Atomic::new(0),
            lost_full: Atomic::new(0),
            lost_too_big: Atomic::new(0),
            lost_busy: Atomic::new(0),
            finalized: Atomic::new(false),
            reader <- new_mutex!(0),
            wait <- new_poll_condvar!("relay_buffer::wait"),
            // SAFETY: `slot` is valid for writes; `wake_readers` only uses the `Buffer`
            // around the work, which syncs it before it goes away.
            wakeup <- Opaque::ffi_init(|slot| unsafe {
                bindings::init_irq_work(slot, Some(Self::wake_readers))
            }),
        });
        match KBox::try_pin_init(init, GFP_KERNEL) {
            Ok(b) => Ok(b),
            Err(e) => {
                // SAFETY: The buffer was not built, so nothing else refers to the area.
                unsafe { bindings::vfree(start.as_ptr().cast()) };
                Err(e)
            }
        }
    }

    unsafe extern "C" fn wake_readers(work: *mut bindings::irq_work) {
        // SAFETY: `work` is the `wakeup` field of a live `Buffer`: drop syncs the work first.
        let buf = unsafe {
            &*crate::container_of!(work.cast::<Opaque<bindings::irq_work>>(), Buffer, wakeup)
        };
        buf.wait.notify_all();
    }

    fn kick_readers(&self) {
        // SAFETY: `wakeup` was initialised with `init_irq_work`; queueing may happen from any
        // context, and a queued work is synced before the buffer is freed.
        unsafe { bindings::irq_work_queue(self.wakeup.get()) };
    }

    fn subbuf_ptr(&self, number: usize) -> *mut u8 {
        // SAFETY: The offset is inside the allocation by the geometry's arithmetic.
        unsafe { self.start.as_ptr().add(self.geometry.subbuf_offset(number)) }
    }

    /// Completes the current sub-buffer and starts the next one. Returns false if the next one
    /// was refused.
    ///
    /// # Safety
    ///
    /// The caller holds `busy` on the buffer's CPU (or the CPU is offline and hotplug is held).
    #[cold]
    unsafe fn switch<T: Callbacks>(&self, ws: &mut WriterState, cb: &T) -> bool {
        let g = &self.geometry;
        let size = g.subbuf_size();
        let mut prev_padding = 0;
        if ws.offset <= size {
            prev_padding = size - ws.offset;
            self.padding[ws.produced % g.n_subbufs()].store(prev_padding, Relaxed);
            if T::HAS_DELIVER {
                // SAFETY: The sub-buffer's first `ws.offset` bytes are written and only readers
                // (which never write) look at them.
                let data = unsafe { core::slice::from_raw_parts(ws.data, ws.offset) };
                cb.deliver(self.cpu, ws.produced, data);
            }
            ws.produced = ws.produced.wrapping_add(1);
            // Nothing of the next sub-buffer is committed yet (it may not even start): readers
            // that reach it must not see the bytes of its previous lap.
            self.committed.store(0, Relaxed);
            self.produced.store(ws.produced, Release);
            self.kick_readers();
        }
        let full = !g.may_start(self.mode, ws.produced, self.consumed.load(Acquire));
        let data = self.subbuf_ptr(ws.produced);
        let ok = if T::HAS_SUBBUF_START {
            // SAFETY: The header is inside the new sub-buffer, which no reader looks at until
            // it is committed below.
            let header = unsafe { core::slice::from_raw_parts_mut(data, self.header) };
            cb.subbuf_start(&mut SubbufStart {
                cpu: self.cpu,
                number: ws.produced,
                header,
                prev_padding,
                full,
            })
        } else {
            !full
        };
        if !ok {
            ws.offset = refused(g);
            if !ws.full {
                ws.full = true;
                if T::HAS_BUF_FULL {
                    cb.buf_full(self.cpu);
                }
            }
            return false;
        }
        ws.full = false;
        ws.data = data;
        ws.offset = self.header;
        self.padding[ws.produced % g.n_subbufs()].store(0, Relaxed);
        self.committed.store(self.header, Release);
        true
    }

    /// Reserves `len` bytes in the current sub-buffer, starting a new one if needed.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    #[inline(always)]
    unsafe fn reserve<T: Callbacks>(
        &self,
        ws: &mut WriterState,
        cb: &T,
        len: usize,
    ) -> Option<*mut u8> {
        if ws.offset + len > self.geometry.subbuf_size() {
            match self.geometry.place(ws.offset, len, self.header) {
                Placement::TooBig => {
                    bump(&self.lost_too_big, 1);
                    return None;
                }
                Placement::Here => {}
                Placement::Next { .. } => {
                    // SAFETY: Same requirements.
                    if !unsafe { self.switch(ws, cb) } {
                        bump(&self.lost_full, 1);
                        return None;
                    }
                }
            }
        }
        // SAFETY: `offset + len` fits in the current sub-buffer.
        let p = unsafe { ws.data.add(ws.offset) };
        ws.offset += len;
        Some(p)
    }

    /// Makes everything reserved so far visible to readers and counts a record of `len` bytes.
    #[inline(always)]
    fn commit(&self, ws: &WriterState, len: usize) {
        self.committed.store(ws.offset, Release);
        bump(&self.events, 1);
        bump(&self.bytes, len);
    }

    /// Takes `busy`; false if a write on this CPU is already in progress (we interrupted it).
    #[inline(always)]
    fn enter(&self) -> bool {
        if self.busy.load(Relaxed) {
            bump(&self.lost_busy, 1);
            return false;
        }
        self.busy.store(true, Relaxed);
        // Interrupts on this CPU must see `busy` before any change it protects.
        compiler_fence(Ordering::SeqCst);
        true
    }

    #[inline(always)]
    fn leave(&self) {
        compiler_fence(Ordering::SeqCst);
        self.busy.store(false, Relaxed);
    }

    /// Appends `data`.
    ///
    /// # Safety
    ///
    /// The caller runs on the buffer's CPU with preemption disabled.
    #[inline(always)]
    unsafe fn write<T: Callbacks>(&self, cb: &T, data: &[u8]) -> bool {
        if !self.enter() {
            return false;
        }
        // SAFETY: We hold `busy` on the buffer's CPU.
        let ws = unsafe { &mut *self.w.get() };
        // SAFETY: As above.
        let stored = match unsafe { self.reserve(ws, cb, data.len()) } {
            Some(p) => {
                // SAFETY: `p` has room for `data.len()` bytes that nobody else writes.
                unsafe { ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                self.commit(ws, data.len());
                true
            }
            None => false,
        };
        self.leave();
        stored
    }

    fn stats(&self) -> Stats {
        Stats {
            events: self.events.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            lost_full: self.lost_full.load(Relaxed),
            lost_too_big: self.lost_too_big.load(Relaxed),
            lost_busy: self.lost_busy.load(Relaxed),
            produced: self.produced.load(Relaxed),
            consumed: self.consumed.load(Relaxed),
        }
    }

    /// The next readable bytes for a reader that has consumed `*bc` bytes of sub-buffer
    /// `consumed`: `(offset in the buffer, length)`, or `None`. Moves past finished
    /// sub-buffers (and past overwritten ones).
    fn next_chunk(&self, bc: &mut usize) -> Option<(usize, usize)> {
        let g = &self.geometry;
        loop {
            let produced = self.produced.load(Acquire);
            let consumed = self.consumed.load(Relaxed);
            let first = g.first_readable(self.mode, produced, consumed);
            if first != consumed {
                self.consumed.store(first, Release);
                *bc = 0;
                continue;
            }
            if consumed == produced {
                let committed = self.committed.load(Acquire);
                if self.produced.load(Acquire) != produced {
                    continue;
                }
                let n = g.readable(None, committed, *bc);
                return (n > 0).then(|| (g.subbuf_offset(consumed) + *bc, n));
            }
            let padding = self.padding[consumed % g.n_subbufs()].load(Relaxed);
            let n = g.readable(Some(padding), 0, *bc);
            if n == 0 {
                self.consumed.store(consumed.wrapping_add(1), Release);
                *bc = 0;
                continue;
            }
            return Some((g.subbuf_offset(consumed) + *bc, n));
        }
    }

    /// A complete sub-buffer is waiting.
    fn subbuf_ready(&self) -> bool {
        self.produced.load(Acquire) != self.consumed.load(Acquire)
    }

    fn consume_subbufs(&self, bc: &mut usize, n: usize) {
        let produced = self.produced.load(Acquire);
        let consumed = self.consumed.load(Relaxed);
        let ready = produced.wrapping_sub(consumed);
        let to = if n > ready {
            produced
        } else {
            consumed.wrapping_add(n)
        };
        self.consumed.store(to, Release);
        *bc = 0;
    }
}

#[pinned_drop]
impl PinnedDrop for Buffer {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The work was initialised; after this it is neither pending nor running.
        unsafe { bindings::irq_work_sync(self.wakeup.get()) };
        // SAFETY: By the type invariants `start` is ours to free, and nothing refers to it any
        // more (mappings hold their own page references).
        unsafe { bindings::vfree(self.start.as_ptr().cast()) };
    }
}

/// The file callbacks of a channel with the type of its owner erased, so that files (which may
/// outlive the owner's module) can call them while, and only while, the channel is open.
struct Notify {
    data: *const c_void,
    open: unsafe fn(*const c_void, u32) -> Result,
    release: unsafe fn(*const c_void, u32),
    mmap: unsafe fn(*const c_void, u32) -> Result,
    unmap: unsafe fn(*const c_void, u32),
}

impl Notify {
    fn of<T: Callbacks>(cb: &T) -> Self {
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

/// What the registry keeps of a channel; files hold references to it.
///
/// # Invariants
///
/// `reg` is only accessed with the registry lock held.
struct Shared {
    path: CString,
    config: Config,
    /// Indexed by CPU number; `None` for impossible CPUs.
    bufs: KVec<Option<Pin<KBox<Buffer>>>>,
    reg: UnsafeCell<RegState>,
}

/// The registry-locked part of [`Shared`].
struct RegState {
    /// The owner's callbacks, while the channel is open.
    notify: Option<Notify>,
    /// Files and directories made for the channel in relayfs.
    files: fs::ChannelFiles,
}

// SAFETY: `reg` is only used under the registry lock; buffers are `Sync`; `notify` points to a
// `T: Sync` and is only used while the channel is open.
unsafe impl Send for Shared {}
// SAFETY: As above.
unsafe impl Sync for Shared {}

impl Shared {
    fn buffer(&self, cpu: u32) -> Option<&Buffer> {
        self.bufs.get(cpu as usize)?.as_deref()
    }

    /// The registry-locked state.
    ///
    /// # Safety
    ///
    /// The registry lock is held, and no other reference to the state exists while the result
    /// is used.
    #[allow(clippy::mut_from_ref)]
    unsafe fn reg_mut(&self) -> &mut RegState {
        // SAFETY: By the function's requirements.
        unsafe { &mut *self.reg.get() }
    }

    /// Calls an owner's file callback if the channel is still open.
    fn notify<R>(&self, f: impl FnOnce(&Notify) -> R) -> Option<R> {
        let _guard = registry();
        // SAFETY: The lock is held; the reference lives only in this call.
        unsafe { self.reg_mut() }.notify.as_ref().map(f)
    }
}

/// The channels that exist, and relayfs if it is registered.
struct Registry {
    channels: KVec<Arc<Shared>>,
    fs: Option<fs::FsState>,
}

struct RegistryCell(UnsafeCell<Registry>);

// SAFETY: The registry is only accessed through `RegistryGuard`, with the lock held.
unsafe impl Sync for RegistryCell {}

static REGISTRY: RegistryCell = RegistryCell(UnsafeCell::new(Registry {
    channels: KVec::new(),
    fs: None,
}));

/// The registry, locked.
struct RegistryGuard(PhantomData<*mut ()>);

fn registry() -> RegistryGuard {
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
fn check_path(path: &CStr) -> Result {
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

fn possible_cpus() -> u32 {
    crate::cpu::nr_cpu_ids()
}

fn cpu_possible(cpu: u32) -> bool {
    // SAFETY: Reading the CPU masks is always safe.
    unsafe { bindings::cpu_possible(cpu) }
}

/// Runs `f` on `cpu`'s buffer writer state, on that CPU (or directly if it is offline), at a
/// moment when no write is in progress there.
fn with_writer(buf: &Buffer, f: &mut dyn FnMut(&Buffer, &mut WriterState)) {
    struct Call<'a> {
        buf: &'a Buffer,
        f: &'a mut dyn FnMut(&Buffer, &mut WriterState),
        done: bool,
    }
    unsafe extern "C" fn run(info: *mut c_void) {
        // SAFETY: `info` is the `Call` below, alive for the synchronous call.
        let call = unsafe { &mut *info.cast::<Call<'_>>() };
        if call.buf.busy.load(Relaxed) {
            // We interrupted a write in progress: try again later.
            return;
        }
        call.buf.busy.store(true, Relaxed);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: We hold `busy` on the buffer's CPU (or it is offline).
        (call.f)(call.buf, unsafe { &mut *call.buf.w.get() });
        compiler_fence(Ordering::SeqCst);
        call.buf.busy.store(false, Relaxed);
        call.done = true;
    }
    let mut call = Call {
        buf,
        f,
        done: false,
    };
    loop {
        // SAFETY: Keeps CPUs from coming or going until the unlock below.
        unsafe { bindings::relay_cpus_read_lock() };
        let info = ptr::from_mut(&mut call).cast::<c_void>();
        // SAFETY: `cpu_online` only reads the CPU mask.
        if unsafe { bindings::cpu_online(buf.cpu) } {
            // SAFETY: `run` is given a pointer to `call`, which outlives the synchronous call.
            unsafe { bindings::smp_call_function_single(buf.cpu as c_int, Some(run), info, 1) };
        } else {
            // SAFETY: The CPU is offline and stays so: no write can run on it.
            unsafe { run(info) };
        }
        // SAFETY: Locked above.
        unsafe { bindings::relay_cpus_read_unlock() };
        if call.done {
            return;
        }
        // SAFETY: Sleeping a little is allowed: we are in process context.
        unsafe { bindings::msleep(1) };
    }
}

/// A relay channel, closed when dropped.
///
/// See the [module documentation](self).
///
/// # Invariants
///
/// `bufs[cpu]` points to `shared`'s buffer for `cpu`, alive as long as `shared`.
pub struct Channel<T: Callbacks> {
    shared: Arc<Shared>,
    bufs: KVec<Option<NonNull<Buffer>>>,
    callbacks: KBox<T>,
}

// SAFETY: The buffers are `Sync` and live as long as `shared`; `T` is `Send + Sync`.
unsafe impl<T: Callbacks> Send for Channel<T> {}
// SAFETY: As above.
unsafe impl<T: Callbacks> Sync for Channel<T> {}

/// `local_irq_save`, and the CPU it pinned us to.
struct IrqSave {
    flags: c_ulong,
    cpu: u32,
    _not_send: PhantomData<*mut ()>,
}

impl IrqSave {
    #[inline(always)]
    fn new() -> Self {
        let mut cpu: c_uint = 0;
        // SAFETY: Disabling interrupts is always allowed; restored on drop.
        let flags = unsafe { bindings::relay_irq_save_cpu(&mut cpu) };
        Self {
            flags,
            cpu,
            _not_send: PhantomData,
        }
    }
}

impl Drop for IrqSave {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: Restores what `new` saved, on the same CPU (interrupts were off).
        unsafe { bindings::relay_irq_restore(self.flags) };
    }
}

impl<T: Callbacks> Channel<T> {
    /// Opens a channel at `path` (such as `c"subsys/events"`, whose files are
    /// `subsys/events<cpu>`): one buffer per possible CPU, shaped by `config`.
    ///
    /// Fails with `EINVAL` for a bad path or header, `EEXIST` if the path is taken, `ENOMEM`.
    pub fn open(path: &CStr, config: Config, callbacks: T) -> Result<Self> {
        check_path(path)?;
        if config.header >= config.geometry.subbuf_size() {
            return Err(EINVAL);
        }
        let callbacks = KBox::new(callbacks, GFP_KERNEL)?;
        let n = possible_cpus();
        let mut bufs = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        let mut ptrs = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for cpu in 0..n {
            let b = if cpu_possible(cpu) {
                let b = Buffer::new(cpu, &config)?;
                // SAFETY: The buffer is not shared yet: we are its only writer.
                if !unsafe { b.start_first(&*callbacks) } {
                    pr_warn!(
                        "relay: {:?}: the first sub-buffer of CPU {cpu} was refused\n",
                        path
                    );
                }
                Some(b)
            } else {
                None
            };
            ptrs.push(b.as_deref().map(NonNull::from), GFP_KERNEL)?;
            bufs.push(b, GFP_KERNEL)?;
        }
        let shared = Arc::new(
            Shared {
                path: CString::try_from(path)?,
                config,
                bufs,
                reg: UnsafeCell::new(RegState {
                    notify: Some(Notify::of(&*callbacks)),
                    files: fs::ChannelFiles::new(),
                }),
            },
            GFP_KERNEL,
        )?;
        {
            let mut reg = registry();
            if reg
                .channels
                .iter()
                .any(|c| c.path.to_bytes() == path.to_bytes())
            {
                return Err(EEXIST);
            }
            reg.channels.push(shared.clone(), GFP_KERNEL)?;
            fs::channel_added(&mut reg, &shared);
        }
        // INVARIANT: The pointers are to `shared`'s buffers.
        Ok(Self {
            shared,
            bufs: ptrs,
            callbacks,
        })
    }

    #[inline(always)]
    fn buf(&self, cpu: u32) -> Option<&Buffer> {
        let p = (*self.bufs.get(cpu as usize)?)?;
        // SAFETY: By the type invariants the buffer lives as long as `self.shared`.
        Some(unsafe { p.as_ref() })
    }

    /// Appends `data` to the current CPU's buffer, with interrupts disabled: safe from any
    /// context, including hard interrupts. Returns whether it was stored.
    #[inline]
    pub fn write(&self, data: &[u8]) -> bool {
        let irq = IrqSave::new();
        let Some(buf) = self.buf(irq.cpu) else {
            return false;
        };
        // SAFETY: Interrupts are off on the buffer's CPU.
        unsafe { buf.write(&*self.callbacks, data) }
    }

    /// Appends `data` to the current CPU's buffer with only preemption disabled, which is
    /// cheaper than [`Channel::write`]. If it interrupts a write in progress on the same CPU
    /// (from an interrupt handler), that write is lost and counted in [`Stats::lost_busy`].
    #[inline]
    pub fn write_fast(&self, data: &[u8]) -> bool {
        // SAFETY: Disables preemption; enabled again below.
        let cpu = unsafe { bindings::relay_get_cpu() };
        // SAFETY: Preemption is off on the buffer's CPU.
        let stored = self
            .buf(cpu)
            .is_some_and(|buf| unsafe { buf.write(&*self.callbacks, data) });
        // SAFETY: Disabled above.
        unsafe { bindings::relay_put_cpu() };
        stored
    }

    /// Disables interrupts and gives access to the current CPU's buffer, for several writes or
    /// a [`Local::reserve`] that must not be interleaved with other writes on this CPU.
    #[inline]
    pub fn local(&self) -> Local<'_, T> {
        let irq = IrqSave::new();
        Local {
            chan: self,
            buf: self.buf(irq.cpu),
            irq,
        }
    }

    /// Completes the current sub-buffer of every CPU that holds data, so that readers see it.
    pub fn flush(&self) {
        for buf in self.shared.bufs.iter().flatten() {
            with_writer(buf, &mut |b, ws| {
                if ws.offset > b.header && ws.offset <= b.geometry.subbuf_size() {
                    // SAFETY: `with_writer` holds `busy` on the buffer's CPU.
                    unsafe { b.switch(ws, &*self.callbacks) };
                }
            });
        }
    }

    /// Empties every buffer: data not yet read is discarded. The counters are kept.
    pub fn reset(&self) {
        for buf in self.shared.bufs.iter().flatten() {
            let mut bc = buf.reader.lock();
            with_writer(buf, &mut |b, ws| {
                for p in b.padding.iter() {
                    p.store(0, Relaxed);
                }
                ws.produced = 0;
                ws.offset = refused(&b.geometry);
                ws.full = false;
                b.produced.store(0, Release);
                b.consumed.store(0, Release);
                // SAFETY: `with_writer` holds `busy` on the buffer's CPU.
                unsafe { b.start_first_locked(ws, &*self.callbacks) };
            });
            *bc = 0;
        }
    }

    /// Tells the channel that a reader (for example one that walks an `mmap` of the buffer)
    /// consumed `n` more sub-buffers of `cpu`'s buffer, so that in [`Mode::NoOverwrite`] they
    /// can be written again.
    pub fn subbufs_consumed(&self, cpu: u32, n: usize) {
        if let Some(buf) = self.buf(cpu) {
            let mut bc = buf.reader.lock();
            buf.consume_subbufs(&mut bc, n);
        }
    }

    /// The counters of `cpu`'s buffer.
    pub fn stats(&self, cpu: u32) -> Option<Stats> {
        self.buf(cpu).map(Buffer::stats)
    }

    /// The counters of all buffers added up.
    pub fn stats_total(&self) -> Stats {
        let mut total = Stats::default();
        for buf in self.shared.bufs.iter().flatten() {
            total.add(&buf.stats());
        }
        total
    }

    /// The padding at the end of sub-buffer `number` of `cpu`'s buffer (if it was completed
    /// and is still in the buffer).
    pub fn padding(&self, cpu: u32, number: usize) -> Option<usize> {
        let buf = self.buf(cpu)?;
        let produced = buf.produced.load(Acquire);
        let n = buf.geometry.n_subbufs();
        (number < produced && produced - number <= n).then(|| buf.padding[number % n].load(Relaxed))
    }

    /// The bytes of `cpu`'s current sub-buffer that are committed (readable).
    pub fn committed(&self, cpu: u32) -> Option<usize> {
        self.buf(cpu).map(|b| b.committed.load(Acquire))
    }

    /// Whether `cpu`'s buffer is full (in [`Mode::NoOverwrite`], writes are being lost).
    pub fn buf_full(&self, cpu: u32) -> bool {
        self.buf(cpu).is_some_and(|b| {
            !b.geometry
                .may_start(b.mode, b.produced.load(Acquire), b.consumed.load(Acquire))
        })
    }

    /// The channel's shape.
    pub fn config(&self) -> Config {
        self.shared.config
    }

    /// The channel's owner data, as given to [`Channel::open`].
    pub fn callbacks(&self) -> &T {
        &self.callbacks
    }
}

impl Buffer {
    /// Starts sub-buffer 0.
    ///
    /// # Safety
    ///
    /// Nothing else uses the buffer yet.
    unsafe fn start_first<T: Callbacks>(&self, cb: &T) -> bool {
        // SAFETY: We have the buffer to ourselves.
        unsafe { self.start_first_locked(&mut *self.w.get(), cb) }
    }

    /// Starts sub-buffer 0 of an empty buffer.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    unsafe fn start_first_locked<T: Callbacks>(&self, ws: &mut WriterState, cb: &T) -> bool {
        ws.offset = refused(&self.geometry);
        // With the offset past the end, `switch` completes nothing and starts sub-buffer 0.
        // SAFETY: Same requirements.
        unsafe { self.switch(ws, cb) }
    }
}

impl<T: Callbacks> Drop for Channel<T> {
    fn drop(&mut self) {
        // Complete what was written, then tell readers that nothing more will come.
        self.flush();
        for buf in self.shared.bufs.iter().flatten() {
            buf.finalized.store(true, Release);
            buf.kick_readers();
        }
        let mut reg = registry();
        fs::channel_removed(&mut reg, &self.shared);
        // SAFETY: The lock is held; the reference lives only in this statement.
        unsafe { self.shared.reg_mut() }.notify = None;
        reg.channels.retain(|c| !Arc::ptr_eq(c, &self.shared));
    }
}

/// Exclusive access to the current CPU's buffer, with interrupts disabled.
///
/// # Examples
///
/// ```
/// use kernel::relay::{Channel, Config, Geometry, Mode};
///
/// struct Plain;
///
/// #[vtable]
/// impl kernel::relay::Callbacks for Plain {}
///
/// let chan = Channel::open(c"doctest/local", Config::new(Geometry::new(128, 2)?, Mode::Overwrite), Plain)?;
/// let mut local = chan.local();
/// let cpu = local.cpu();
/// if let Some(mut rec) = local.reserve(16) {
///     rec.copy_from_slice(&[7; 16]);
///     rec.commit();
/// }
/// drop(local);
/// assert_eq!(chan.stats(cpu).map(|s| s.events), Some(1));
/// assert_eq!(chan.committed(cpu), Some(16));
/// # Ok::<(), Error>(())
/// ```
pub struct Local<'a, T: Callbacks> {
    chan: &'a Channel<T>,
    buf: Option<&'a Buffer>,
    irq: IrqSave,
}

impl<'a, T: Callbacks> Local<'a, T> {
    /// The CPU whose buffer this is.
    pub fn cpu(&self) -> u32 {
        self.irq.cpu
    }

    /// Appends `data`; returns whether it was stored.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> bool {
        // SAFETY: Interrupts are off on the buffer's CPU.
        self.buf
            .is_some_and(|b| unsafe { b.write(&*self.chan.callbacks, data) })
    }

    /// Reserves room for a record of `len` bytes to fill in place. Readers see it when the
    /// [`Reservation`] is committed or dropped. `None` if it was lost (and counted).
    pub fn reserve(&mut self, len: usize) -> Option<Reservation<'_>> {
        let buf = self.buf?;
        if !buf.enter() {
            return None;
        }
        // SAFETY: We hold `busy` with interrupts off on the buffer's CPU.
        let ws = unsafe { &mut *buf.w.get() };
        // SAFETY: As above.
        match unsafe { buf.reserve(ws, &*self.chan.callbacks, len) } {
            Some(p) => Some(Reservation {
                buf,
                // SAFETY: `p` is valid for `len` bytes that only we write until the commit.
                data: unsafe { core::slice::from_raw_parts_mut(p, len) },
            }),
            None => {
                buf.leave();
                None
            }
        }
    }
}

/// Room for one record in a buffer, reserved by [`Local::reserve`]. Committed on drop.
pub struct Reservation<'a> {
    buf: &'a Buffer,
    data: &'a mut [u8],
}

impl Reservation<'_> {
    /// Makes the record visible to readers.
    pub fn commit(self) {}
}

impl Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.data
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold `busy` (taken by `Local::reserve`) with interrupts off.
        let ws = unsafe { &*self.buf.w.get() };
        self.buf.commit(ws, self.data.len());
        self.buf.leave();
    }
}

#[kunit_tests(rust_kernel_relay)]
mod tests {
    use super::*;

    struct Counting {
        delivered: Atomic<usize>,
        full: Atomic<usize>,
    }

    #[vtable]
    impl Callbacks for Counting {
        fn deliver(&self, _cpu: u32, _number: usize, data: &[u8]) {
            assert_eq!(data.len() & 31, 0);
            self.delivered.fetch_add(1, Relaxed);
        }

        fn buf_full(&self, _cpu: u32) {
            self.full.fetch_add(1, Relaxed);
        }
    }

    fn counting() -> Counting {
        Counting {
            delivered: Atomic::new(0),
            full: Atomic::new(0),
        }
    }

    #[test]
    fn no_overwrite_fills_then_counts_losses() -> Result {
        let config = Config::new(Geometry::new(128, 2)?, Mode::NoOverwrite);
        let chan = Channel::open(c"kunit/relay-full", config, counting())?;
        let mut local = chan.local();
        let cpu = local.cpu();
        // 4 records per sub-buffer: the first 8 fit, the 9th needs a third sub-buffer.
        for i in 0..8u8 {
            assert!(local.write(&[i; 32]));
        }
        assert!(!local.write(&[9; 32]));
        assert!(!local.write(&[9; 32]));
        drop(local);
        let s = chan.stats(cpu).ok_or(EINVAL)?;
        assert_eq!((s.events, s.lost_full, s.produced), (8, 2, 2));
        assert_eq!(chan.callbacks().full.load(Relaxed), 1);
        assert_eq!(chan.callbacks().delivered.load(Relaxed), 2);
        assert!(chan.buf_full(cpu));
        // A consumer frees one sub-buffer: writing goes on.
        chan.subbufs_consumed(cpu, 1);
        assert!(!chan.buf_full(cpu));
        let mut local = chan.local();
        assert!(local.write(&[10; 32]));
        drop(local);
        assert_eq!(chan.padding(cpu, 1), Some(0));
        assert_eq!(chan.padding(cpu, 2), None);
        Ok(())
    }

    #[test]
    fn padding_when_a_record_does_not_fit() -> Result {
        let config = Config::new(Geometry::new(128, 4)?, Mode::Overwrite);
        let chan = Channel::open(c"kunit/relay-pad", config, counting())?;
        let mut local = chan.local();
        let cpu = local.cpu();
        assert!(local.write(&[1; 96]));
        assert!(local.write(&[2; 64]));
        drop(local);
        assert_eq!(chan.padding(cpu, 0), Some(32));
        assert_eq!(chan.committed(cpu), Some(64));
        Ok(())
    }

    #[test]
    fn paths_and_duplicates() -> Result {
        for bad in [c"", c"/a", c"a/", c"a//b", c"a/../b", c"a b", c"."] {
            assert_eq!(check_path(bad), Err(EINVAL));
        }
        assert!(check_path(c"kt298/events-1.x").is_ok());
        let config = Config::new(Geometry::new(128, 2)?, Mode::Overwrite);
        let _a = Channel::open(c"kunit/relay-dup", config, counting())?;
        assert!(
            matches!(Channel::open(c"kunit/relay-dup", config, counting()), Err(e) if e == EEXIST)
        );
        assert!(
            matches!(Channel::open(c"kunit/relay-hdr", config.header(128), counting()), Err(e) if e == EINVAL)
        );
        Ok(())
    }
}
