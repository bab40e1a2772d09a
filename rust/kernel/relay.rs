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
//! on the same CPU (or was made while a [`Local`] held the buffer).
//!
//! When a sub-buffer is complete the channel calls [`Callbacks::deliver`] and wakes readers;
//! readers see complete sub-buffers only ([`Channel::flush`] completes the current ones).
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
    new_condvar, new_mutex, new_poll_condvar,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        poll::PollCondVar,
        Arc, CondVar, Mutex,
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
/// [`Callbacks::deliver`], [`Callbacks::buf_full`]) run in the context of a write (or of
/// [`Channel::flush`] and [`Channel::reset`], in an interrupt on the buffer's CPU), with
/// interrupts or preemption disabled, so they must not sleep. They run with the buffer marked
/// busy: a write they make to the same CPU's buffer of their own channel is refused and
/// counted in [`Stats::lost_busy`].
///
/// The file callbacks run in process context, only while the channel is open, and with no
/// relay lock held, so they may open and close channels; closing the channel waits for those in
/// progress. [`Callbacks::file_mmap`] and [`Callbacks::file_unmap`] run under the mapping's
/// `mmap_lock`.
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
///
/// Read while writers may be running, without stopping them (as the C relay reads its
/// counters): each counter is exact for some moment, but a write in progress may be counted in
/// one and not yet in another. Once the writers are done, they are exact. They wrap.
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
        self.events = self.events.wrapping_add(o.events);
        self.bytes = self.bytes.wrapping_add(o.bytes);
        self.lost_full = self.lost_full.wrapping_add(o.lost_full);
        self.lost_too_big = self.lost_too_big.wrapping_add(o.lost_too_big);
        self.lost_busy = self.lost_busy.wrapping_add(o.lost_busy);
        self.produced = self.produced.wrapping_add(o.produced);
        self.consumed = self.consumed.wrapping_add(o.consumed);
    }
}

/// The state only the buffer's own CPU touches: by the writer that set [`Slot::busy`]
/// ([`Channel::write_fast`] or a [`Local`]), by a write with interrupts off that found `busy`
/// clear, or in [`with_writer`]. It lives in the buffer's [`Slot`].
///
/// Plain fields, not atomics: the write path must cost no more than the C relay's. Other CPUs
/// read the counters racily (`Buffer::stats`, one word each, as C relay does) and see the data
/// through `Buffer::produced`.
///
/// `data <= cur <= end` point into the current sub-buffer: `end` is `data + subbuf_size` while
/// it is started, `cur` while not.
struct WriterState {
    /// The current sub-buffer.
    data: *mut u8,
    /// Where its next record goes (its header and records come before).
    cur: *mut u8,
    /// Its end, or `cur` while no sub-buffer is started (it was refused): every write then
    /// finds no room, takes the slow path and tries again. A write checks only `cur` and `end`.
    end: *mut u8,
    /// Sub-buffers completed (the current one has this absolute number).
    produced: usize,
    /// [`Callbacks::buf_full`] was called for the current episode.
    full: bool,
    events: usize,
    /// Record bytes in completed sub-buffers.
    bytes_done: usize,
    lost_full: usize,
    lost_too_big: usize,
}

impl WriterState {
    /// Bytes used in the current sub-buffer, its header included.
    fn offset(&self) -> usize {
        self.cur.addr() - self.data.addr()
    }

    /// Makes `data` the current sub-buffer, with its header in place; started or not.
    fn set_subbuf(&mut self, data: *mut u8, header: usize, size: Option<usize>) {
        self.data = data;
        self.cur = data.wrapping_add(header);
        self.end = match size {
            Some(size) => data.wrapping_add(size),
            None => self.cur,
        };
    }
}

/// The writer side of one CPU's buffer, in per-CPU memory ([`Slots`]).
///
/// A write finds the slot of the CPU it runs on, and reads and updates `busy` and the
/// `cur`, `end` and `events` of `w` with `this_cpu` operations (on x86, one `%gs`-relative
/// instruction each), as the kernel does with its hottest per-CPU counters. Everything else
/// reaches it through `Buffer::slot`, a plain pointer.
///
/// Only CPU `buf.cpu` writes it (or whoever holds the CPU hotplug read lock while that CPU is
/// offline): `w` with interrupts off and `busy` clear, or by whoever set `busy` (with
/// preemption or interrupts off until it clears it). Whoever uses `w` sets `busy` before
/// anything that may call back into the owner's code (the slow path of a write, and
/// [`with_writer`]), so that a callback that writes to the channel is refused instead of
/// aliasing `w`. `busy` and `lost_busy` are atomics (the write paths reach `busy` with
/// `this_cpu` operations, single accesses too); statistics readers on other CPUs read the
/// counters of `w` racily, as the C relay does.
#[repr(C)]
struct Slot {
    /// A preemptible write ([`Channel::write_fast`]), the slow path of a write (which may call
    /// back) or [`with_writer`] is in progress, or a [`Local`] has the buffer (`1`, else `0`);
    /// other writes on this CPU are refused.
    busy: Atomic<usize>,
    /// Writes refused because of `busy`.
    lost_busy: Atomic<usize>,
    w: WriterState,
    /// The buffer this is the writer side of.
    buf: *const Buffer,
}

/// Offsets in a [`Slot`] of the fields a write reaches with `this_cpu` operations.
const SLOT_BUSY: usize = core::mem::offset_of!(Slot, busy);
const SLOT_CUR: usize = core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, cur);
const SLOT_END: usize = core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, end);
const SLOT_EVENTS: usize =
    core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, events);

/// The [`Slot`]s of a channel's buffers: per-CPU memory, freed on drop.
///
/// # Invariants
///
/// `0` comes from `relay_alloc_percpu` with the size and alignment of a [`Slot`].
struct Slots(NonNull<c_void>);

impl Slots {
    fn new() -> Result<Self> {
        // SAFETY: Allocating per-CPU memory has no preconditions.
        let p = unsafe {
            bindings::relay_alloc_percpu(size_of::<Slot>(), core::mem::align_of::<Slot>())
        };
        // INVARIANT: Allocated just above.
        NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    /// The slot of `cpu`, a possible CPU.
    fn of(&self, cpu: u32) -> *mut Slot {
        // SAFETY: `0` is a per-CPU allocation of slots.
        unsafe { bindings::relay_per_cpu_ptr(self.0.as_ptr(), cpu as c_uint).cast() }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        // SAFETY: Allocated by `relay_alloc_percpu`; the buffers are gone (`Shared` drops them
        // first) and no channel writes any more.
        unsafe { bindings::relay_free_percpu(self.0.as_ptr()) };
    }
}

/// One CPU's buffer.
///
/// # Invariants
///
/// - `start` is a `vmalloc_user` area of `geometry.alloc_size()` bytes, freed on drop.
/// - `slot` is this CPU's [`Slot`] of the channel's [`Slots`], which outlive the buffer, and
///   its `buf` points to this buffer. It is accessed as the [`Slot`] documentation says.
#[pin_data(PinnedDrop)]
struct Buffer {
    cpu: u32,
    geometry: Geometry,
    mode: Mode,
    header: usize,
    start: NonNull<u8>,
    slot: NonNull<Slot>,
    produced: Atomic<usize>,
    consumed: Atomic<usize>,
    padding: KVec<Atomic<usize>>,
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

// SAFETY: The writer state is only touched on its CPU as the invariants say; everything else is
// atomic or locked.
unsafe impl Send for Buffer {}
// SAFETY: As above.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// A buffer for `cpu`, whose writer side goes in `slot`.
    ///
    /// # Safety
    ///
    /// `slot` is `cpu`'s slot of [`Slots`] that outlive the buffer, and nothing else uses it.
    unsafe fn new(cpu: u32, config: &Config, slot: *mut Slot) -> Result<Pin<KBox<Self>>> {
        let slot = NonNull::new(slot).ok_or(EINVAL)?;
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
            slot,
            produced: Atomic::new(0),
            consumed: Atomic::new(0),
            padding,
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
            Ok(b) => {
                // SAFETY: By the function's requirements the slot is ours; the buffer is pinned,
                // so its address stays valid as long as it lives.
                unsafe {
                    slot.as_ptr().write(Slot {
                        busy: Atomic::new(0),
                        lost_busy: Atomic::new(0),
                        w: WriterState {
                            data: start.as_ptr(),
                            cur: start.as_ptr().wrapping_add(config.header),
                            end: start.as_ptr().wrapping_add(config.header),
                            produced: 0,
                            full: false,
                            events: 0,
                            bytes_done: 0,
                            lost_full: 0,
                            lost_too_big: 0,
                        },
                        buf: &raw const *b,
                    })
                };
                Ok(b)
            }
            Err(e) => {
                // SAFETY: The buffer was not built, so nothing else refers to the area.
                unsafe { bindings::vfree(start.as_ptr().cast()) };
                Err(e)
            }
        }
    }

    /// Wakes the readers of a buffer: its `wakeup` work.
    ///
    /// # Safety
    ///
    /// Called by the `irq_work` machinery with the `wakeup` of a live buffer.
    unsafe extern "C" fn wake_readers(work: *mut bindings::irq_work) {
        // SAFETY: `work` is the `wakeup` field of a live `Buffer`: drop syncs the work first.
        let buf = unsafe {
            &*crate::container_of!(work.cast::<Opaque<bindings::irq_work>>(), Buffer, wakeup)
        };
        buf.wait.notify_all();
    }

    /// The writer state, accessed as the [`Slot`] documentation says.
    fn ws(&self) -> *mut WriterState {
        // SAFETY: `slot` is valid as long as the buffer (type invariants).
        unsafe { &raw mut (*self.slot.as_ptr()).w }
    }

    /// [`Slot::busy`], written as the [`Slot`] documentation says.
    fn busy(&self) -> &Atomic<usize> {
        // SAFETY: As in `ws`; the field is an atomic, so a shared reference to it is fine.
        unsafe { &(*self.slot.as_ptr()).busy }
    }

    /// [`Slot::lost_busy`].
    fn lost_busy(&self) -> &Atomic<usize> {
        // SAFETY: As in `busy`.
        unsafe { &(*self.slot.as_ptr()).lost_busy }
    }

    /// Runs `f` on the writer state with `busy` set, so that a write from a callback that `f`
    /// makes is refused (and counted) instead of reaching the state `f` holds.
    ///
    /// # Safety
    ///
    /// Called on the buffer's CPU (or while it is offline) by a caller that may use the writer
    /// state: interrupts are off and `busy` is clear, or the caller set `busy`.
    #[inline(always)]
    unsafe fn with_busy<R>(&self, f: impl FnOnce(&mut WriterState) -> R) -> R {
        let busy = self.busy();
        let was = busy.load(Relaxed);
        busy.store(1, Relaxed);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: By the function's requirements the state is ours; writes that come now (from
        // callbacks, or from interrupts of a preemptible caller) see `busy` and keep off it.
        let r = f(unsafe { &mut *self.ws() });
        compiler_fence(Ordering::SeqCst);
        busy.store(was, Relaxed);
        r
    }

    /// Wakes the readers waiting for what was just published (a complete sub-buffer, or the
    /// end), if any: through an `irq_work`, since a writer may hold any lock. With nobody
    /// waiting it costs a barrier, as most sub-buffers are completed with no reader asleep.
    fn kick_readers(&self) {
        // SAFETY: The wait queue is initialised (`PollCondVar`). The barrier in
        // `wq_has_sleeper` orders our publication before the check; a reader orders its
        // enqueueing before its own check (`prepare_to_wait`, or `smp_mb` after `poll_wait`).
        if !unsafe { bindings::relay_wq_has_sleeper(self.wait.wait_queue_head.get()) } {
            return;
        }
        // SAFETY: `wakeup` was initialised with `init_irq_work`; queueing may happen from any
        // context, and a queued work is synced before the buffer is freed.
        unsafe { bindings::irq_work_queue(self.wakeup.get()) };
    }

    /// Bytes used in the current sub-buffer (its header included), or `None` if none is
    /// started: then `end` is `cur`, not the sub-buffer's end.
    fn used(&self, ws: &WriterState) -> Option<usize> {
        (ws.end.addr() - ws.data.addr() == self.geometry.subbuf_size()).then(|| ws.offset())
    }

    fn subbuf_ptr(&self, number: usize) -> *mut u8 {
        // SAFETY: The offset is inside the allocation by the geometry's arithmetic.
        unsafe { self.start.as_ptr().add(self.geometry.subbuf_offset(number)) }
    }

    /// Completes the current sub-buffer (if one is started) and starts the next one. Returns
    /// false if the next one was refused.
    ///
    /// # Safety
    ///
    /// `ws` is this buffer's writer state, accessed as the type invariants allow.
    #[cold]
    unsafe fn switch<T: Callbacks>(&self, ws: &mut WriterState, cb: &T) -> bool {
        let g = &self.geometry;
        let size = g.subbuf_size();
        let mut prev_padding = 0;
        if let Some(offset) = self.used(ws) {
            prev_padding = size - offset;
            self.padding[ws.produced % g.n_subbufs()].store(prev_padding, Relaxed);
            if T::HAS_DELIVER {
                // SAFETY: The sub-buffer's first `offset` bytes are written and only readers
                // (which never write) look at them.
                let data = unsafe { core::slice::from_raw_parts(ws.data, offset) };
                cb.deliver(self.cpu, ws.produced, data);
            }
            ws.bytes_done = ws.bytes_done.wrapping_add(offset - self.header);
            ws.produced = ws.produced.wrapping_add(1);
            // Publishes the data and the padding of the completed sub-buffer.
            self.produced.store(ws.produced, Release);
            self.kick_readers();
        }
        let full = !g.may_start(self.mode, ws.produced, self.consumed.load(Acquire));
        let data = self.subbuf_ptr(ws.produced);
        let ok = if T::HAS_SUBBUF_START {
            // SAFETY: The header is inside the new sub-buffer, which no reader looks at until
            // it is complete.
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
            ws.set_subbuf(data, self.header, None);
            if !ws.full {
                ws.full = true;
                if T::HAS_BUF_FULL {
                    cb.buf_full(self.cpu);
                }
            }
            return false;
        }
        ws.full = false;
        ws.set_subbuf(data, self.header, Some(size));
        self.padding[ws.produced % g.n_subbufs()].store(0, Relaxed);
        true
    }

    /// Finds room for `len` bytes in the current sub-buffer, starting a new one if needed. The
    /// room is used by [`Buffer::commit`].
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
        let cur = ws.cur;
        // `cur <= end`: the subtraction cannot wrap.
        if len <= ws.end.addr().wrapping_sub(cur.addr()) {
            return Some(cur);
        }
        // SAFETY: Same requirements.
        unsafe { self.reserve_slow(ws, cb, len) }
    }

    /// [`Buffer::reserve`] when `len` bytes do not fit in the current sub-buffer, or none is
    /// started: the record is too big, or goes at the start of the next sub-buffer.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    #[cold]
    unsafe fn reserve_slow<T: Callbacks>(
        &self,
        ws: &mut WriterState,
        cb: &T,
        len: usize,
    ) -> Option<*mut u8> {
        let offset = self.used(ws).unwrap_or(refused(&self.geometry));
        match self.geometry.place(offset, len, self.header) {
            Placement::TooBig => {
                ws.lost_too_big = ws.lost_too_big.wrapping_add(1);
                return None;
            }
            Placement::Here => {}
            Placement::Next { .. } => {
                // SAFETY: Same requirements.
                if !unsafe { self.switch(ws, cb) } {
                    ws.lost_full = ws.lost_full.wrapping_add(1);
                    return None;
                }
            }
        }
        // `len` bytes fit at `cur`, in the current sub-buffer.
        Some(ws.cur)
    }

    /// Takes the bytes from `cur` to `end` (room found by [`Buffer::reserve`]) as one record.
    #[inline(always)]
    fn commit(ws: &mut WriterState, end: *mut u8) {
        ws.cur = end;
        // A count of events; after 2^64 (or 2^32) of them, it may wrap.
        ws.events = ws.events.wrapping_add(1);
    }

    /// Appends `data`.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    #[inline(always)]
    unsafe fn write<T: Callbacks>(&self, ws: &mut WriterState, cb: &T, data: &[u8]) -> bool {
        // SAFETY: Same requirements.
        match unsafe { self.reserve(ws, cb, data.len()) } {
            Some(p) => {
                // SAFETY: `p` has room for `data.len()` bytes that nobody else writes.
                unsafe { ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                // From `p`, not `ws.cur`: the compiler can't tell that the copy leaves `ws`
                // alone, and would read it again.
                Self::commit(ws, p.wrapping_add(data.len()));
                true
            }
            None => false,
        }
    }

    /// Marks the buffer busy for a [`Local`], unless it already is: returns whether it did.
    ///
    /// # Safety
    ///
    /// Called on the buffer's CPU with interrupts off; the caller clears `busy` later if this
    /// returns `true`.
    #[inline(always)]
    unsafe fn claim(&self) -> bool {
        // Only this CPU writes `busy`, and nothing can interrupt us between the two accesses.
        if self.busy().load(Relaxed) != 0 {
            return false;
        }
        self.busy().store(1, Relaxed);
        true
    }

    /// Counts a write refused because the buffer is busy.
    ///
    /// # Safety
    ///
    /// Called on the buffer's CPU with interrupts or preemption off.
    #[inline(always)]
    unsafe fn count_busy(&self) {
        // A count of refused writes; after 2^64 (or 2^32) of them, it wraps.
        self.lost_busy().add(1, Relaxed);
    }

    /// The counters, read without stopping the writer: each is a single word read once, as
    /// the C relay reads its buffers' counters, so a concurrent write may be counted or not and
    /// the counters may be a few writes apart from one another. Never sleeps, runs anywhere.
    fn stats(&self) -> Stats {
        let ws = self.ws();
        // Racy reads, on purpose (`data_race()` in C): the writer updates these with plain
        // stores on its CPU. A word-sized read sees the old or the new value.
        // SAFETY: `ws` is valid as long as the buffer; the reads are single volatile loads of
        // word-sized fields, which are never torn, and we only copy the values.
        let (events, bytes_done, lost_full, lost_too_big, data, cur) = unsafe {
            (
                ptr::read_volatile(&raw const (*ws).events),
                ptr::read_volatile(&raw const (*ws).bytes_done),
                ptr::read_volatile(&raw const (*ws).lost_full),
                ptr::read_volatile(&raw const (*ws).lost_too_big),
                ptr::read_volatile(&raw const (*ws).data),
                ptr::read_volatile(&raw const (*ws).cur),
            )
        };
        // `data` and `cur` may come from two sub-buffers if the writer moved between the two
        // reads: count at most one sub-buffer's records then.
        let current = cur
            .addr()
            .saturating_sub(data.addr())
            .min(self.geometry.subbuf_size())
            .saturating_sub(self.header);
        Stats {
            events,
            bytes: bytes_done.wrapping_add(current),
            lost_full,
            lost_too_big,
            lost_busy: self.lost_busy().load(Relaxed),
            produced: self.produced.load(Relaxed),
            consumed: self.consumed.load(Relaxed),
        }
    }

    /// The next readable bytes for a reader that has consumed `*bc` bytes of sub-buffer
    /// `consumed`: `(offset in the buffer, length)`, or `None`. Moves past finished
    /// sub-buffers (and past overwritten ones). Only complete sub-buffers are read.
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
                return None;
            }
            let padding = self.padding[consumed % g.n_subbufs()].load(Relaxed);
            let n = g.readable(padding, *bc);
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
#[derive(Clone, Copy)]
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

// SAFETY: `data` points to a `T: Send + Sync` (the functions are plain code), and is only used
// while the channel is open (see `Owner`).
unsafe impl Send for Notify {}

/// The owner's file callbacks, and the calls of them in progress.
struct Owner {
    /// The callbacks, while the channel is open.
    notify: Option<Notify>,
    /// Calls in progress: [`Channel`]'s drop waits for them to end once `notify` is cleared.
    calls: usize,
}

/// What the registry keeps of a channel; files hold references to it.
///
/// # Invariants
///
/// `reg` is only accessed with the registry lock held.
#[pin_data]
struct Shared {
    path: CString,
    config: Config,
    /// Indexed by CPU number; `None` for impossible CPUs.
    bufs: KVec<Option<Pin<KBox<Buffer>>>>,
    /// The writer side of `bufs`; declared after them, so dropped after them.
    slots: Slots,
    reg: UnsafeCell<RegState>,
    /// The file callbacks. Their own lock, not the registry's, and held only around the
    /// bookkeeping: a callback runs with no relay lock held, so it may open or close channels.
    #[pin]
    owner: Mutex<Owner>,
    /// Notified when the last call in progress ends after the channel closed.
    #[pin]
    owner_idle: CondVar,
}

/// The registry-locked part of [`Shared`].
struct RegState {
    /// Files and directories made for the channel in relayfs.
    files: fs::ChannelFiles,
}

// SAFETY: `reg` is only used under the registry lock; buffers are `Sync`; the callbacks point to
// a `T: Sync` and are only used while the channel is open.
unsafe impl Send for Shared {}
// SAFETY: As above.
unsafe impl Sync for Shared {}

impl Shared {
    /// A channel's shared part. Not generic, so that its locks have one lock class each.
    fn new(
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

    /// Calls an owner's file callback if the channel is still open, with no relay lock held:
    /// the call is counted, and [`Shared::close_owner`] waits for it.
    fn notify<R>(&self, f: impl FnOnce(&Notify) -> R) -> Option<R> {
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
    fn close_owner(&self) {
        let mut owner = self.owner.lock();
        owner.notify = None;
        while owner.calls > 0 {
            self.owner_idle.wait(&mut owner);
        }
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

/// The offset of a sub-buffer that could not be started, for [`Geometry::place`].
const fn refused(g: &Geometry) -> usize {
    g.subbuf_size() + 1
}

fn possible_cpus() -> u32 {
    crate::cpu::nr_cpu_ids()
}

fn cpu_possible(cpu: u32) -> bool {
    // SAFETY: Reading the CPU masks is always safe.
    unsafe { bindings::cpu_possible(cpu) }
}

/// Runs `f` on `cpu`'s buffer writer state, on that CPU (or directly if it is offline), at a
/// moment when no write is in progress there. `busy` is set while `f` runs, so that writes
/// from callbacks that `f` makes are refused. May sleep (it waits for a preemptible write or a
/// [`Local`] to end).
fn with_writer(buf: &Buffer, f: &mut dyn FnMut(&Buffer, &mut WriterState)) {
    crate::task::might_sleep();
    struct Call<'a> {
        buf: &'a Buffer,
        f: &'a mut dyn FnMut(&Buffer, &mut WriterState),
        done: bool,
    }
    /// Runs the call on the buffer's CPU.
    ///
    /// # Safety
    ///
    /// `info` is the `Call` below; called on the buffer's CPU with interrupts off, or anywhere
    /// while that CPU is offline and stays so.
    unsafe extern "C" fn run(info: *mut c_void) {
        // SAFETY: `info` is the `Call` below, alive for the synchronous call.
        let call = unsafe { &mut *info.cast::<Call<'_>>() };
        if call.buf.busy().load(Relaxed) != 0 {
            // We interrupted a preemptible write in progress (or were called, wrongly, with a
            // `Local` of this buffer held): try again later.
            return;
        }
        let buf = call.buf;
        let f = &mut *call.f;
        // SAFETY: We run on the buffer's CPU with interrupts off (or it is offline and stays
        // so), and `busy` is clear: no write is in progress and none can start until we return.
        unsafe { buf.with_busy(|ws| f(buf, ws)) };
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
/// `pcpu` is `shared.slots`: the per-CPU [`Slot`] of each possible CPU's buffer.
pub struct Channel<T: Callbacks> {
    shared: Arc<Shared>,
    pcpu: *mut c_void,
    callbacks: KBox<T>,
}

// SAFETY: The buffers are `Sync` and live as long as `shared`; `T` is `Send + Sync`.
unsafe impl<T: Callbacks> Send for Channel<T> {}
// SAFETY: As above.
unsafe impl<T: Callbacks> Sync for Channel<T> {}

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
        let slots = Slots::new()?;
        let n = possible_cpus();
        let mut bufs = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for cpu in 0..n {
            let b = if cpu_possible(cpu) {
                // SAFETY: `slots` is kept with the buffers in `Shared`, and dropped after them;
                // each CPU's slot goes to one buffer.
                let b = unsafe { Buffer::new(cpu, &config, slots.of(cpu)) }?;
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
            bufs.push(b, GFP_KERNEL)?;
        }
        let shared = Shared::new(
            CString::try_from(path)?,
            config,
            bufs,
            slots,
            Notify::of(&*callbacks),
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
        // INVARIANT: `pcpu` is `shared.slots`.
        Ok(Self {
            pcpu: shared.slots.0.as_ptr(),
            shared,
            callbacks,
        })
    }

    fn buf(&self, cpu: u32) -> Option<&Buffer> {
        self.shared.buffer(cpu)
    }

    /// Appends `data` to the current CPU's buffer, with interrupts disabled: safe from any
    /// context but NMI, including hard interrupts. Returns whether it was stored.
    #[inline]
    pub fn write(&self, data: &[u8]) -> bool {
        // SAFETY: Restored below.
        let flags = unsafe { bindings::relay_irq_save() };
        // SAFETY: Interrupts are off until the restore below. Unless a preemptible write or a
        // `Local` has the buffer, which we check first, nothing else touches its writer state.
        let stored = unsafe {
            if self.slot_read(SLOT_BUSY) != 0 {
                self.refuse_here()
            } else {
                self.append_here(data)
            }
        };
        // SAFETY: Saved above, on this CPU.
        unsafe { bindings::relay_irq_restore(flags) };
        stored
    }

    /// Appends `data` to the current CPU's buffer with only preemption disabled, which is
    /// cheaper than [`Channel::write`]. A write that interrupts it on the same CPU (from an
    /// interrupt handler) is lost and counted in [`Stats::lost_busy`].
    #[inline]
    pub fn write_fast(&self, data: &[u8]) -> bool {
        // SAFETY: Enabled below.
        unsafe { bindings::relay_preempt_disable() };
        // SAFETY: Preemption is off, so we stay on this CPU. Writes that interrupt us see
        // `busy` and keep off the writer state; `this_cpu` operations are not reordered with
        // one another, and the compiler fences keep the copy between the two stores of `busy`.
        let stored = unsafe {
            if self.slot_read(SLOT_BUSY) != 0 {
                self.refuse_here()
            } else {
                self.slot_write(SLOT_BUSY, 1);
                compiler_fence(Ordering::SeqCst);
                let stored = self.append_here(data);
                compiler_fence(Ordering::SeqCst);
                self.slot_write(SLOT_BUSY, 0);
                stored
            }
        };
        // SAFETY: Disabled above.
        unsafe { bindings::relay_preempt_enable() };
        stored
    }

    /// A word of this CPU's [`Slot`], at `offset`.
    ///
    /// # Safety
    ///
    /// Preemption or interrupts are off; `offset` is that of a `usize` field of [`Slot`].
    #[inline(always)]
    unsafe fn slot_read(&self, offset: usize) -> usize {
        // SAFETY: `pcpu` is a per-CPU allocation of slots (type invariants); a field of it is
        // per-CPU memory too.
        unsafe { bindings::relay_pcpu_read(self.pcpu.wrapping_byte_add(offset)) }
    }

    /// Sets a word of this CPU's [`Slot`], at `offset`.
    ///
    /// # Safety
    ///
    /// As for [`Channel::slot_read`]; the field may be written by the caller (see [`Slot`]).
    #[inline(always)]
    unsafe fn slot_write(&self, offset: usize, v: usize) {
        // SAFETY: As in `slot_read`.
        unsafe { bindings::relay_pcpu_write(self.pcpu.wrapping_byte_add(offset), v) }
    }

    /// This CPU's [`Slot`].
    ///
    /// # Safety
    ///
    /// Preemption or interrupts are off.
    #[inline(always)]
    unsafe fn slot_here(&self) -> *mut Slot {
        // SAFETY: As in `slot_read`.
        unsafe { bindings::relay_this_cpu_ptr(self.pcpu).cast() }
    }

    /// Appends `data` to this CPU's buffer: its `cur`, `end` and `events` are reached with
    /// `this_cpu` operations, and only a write that needs a new sub-buffer (or is refused)
    /// looks further.
    ///
    /// # Safety
    ///
    /// Preemption or interrupts are off, and the caller may use the writer state: interrupts
    /// are off and `busy` is clear, or the caller set `busy`.
    #[inline(always)]
    unsafe fn append_here(&self, data: &[u8]) -> bool {
        let len = data.len();
        // SAFETY: By the function's requirements; `cur` and `end` are pointers.
        let (cur, end) = unsafe {
            (
                bindings::relay_pcpu_read_ptr(self.pcpu.wrapping_byte_add(SLOT_CUR)).cast::<u8>(),
                bindings::relay_pcpu_read_ptr(self.pcpu.wrapping_byte_add(SLOT_END)).cast::<u8>(),
            )
        };
        // `cur <= end`: the subtraction cannot wrap.
        if len > end.addr().wrapping_sub(cur.addr()) {
            // SAFETY: Same requirements.
            return unsafe { self.append_slow(data) };
        }
        // SAFETY: The room from `cur` to `end` is in the current sub-buffer, which only this
        // writer writes; then the record is committed as `Buffer::commit` does.
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), cur, len);
            bindings::relay_pcpu_write_ptr(
                self.pcpu.wrapping_byte_add(SLOT_CUR),
                cur.wrapping_add(len).cast(),
            );
            // A count of events; after 2^64 (or 2^32) of them, it wraps.
            bindings::relay_pcpu_inc(self.pcpu.wrapping_byte_add(SLOT_EVENTS));
        }
        true
    }

    /// [`Channel::append_here`] when `data` does not fit in the current sub-buffer.
    ///
    /// # Safety
    ///
    /// As for [`Channel::append_here`].
    #[cold]
    unsafe fn append_slow(&self, data: &[u8]) -> bool {
        // SAFETY: By the function's requirements the slot is this CPU's and its writer state is
        // ours; `buf` is the slot's buffer. The slow path may call back (a sub-buffer is
        // completed or started), so it runs with `busy` set: a write from a callback is refused.
        unsafe {
            let slot = self.slot_here();
            let buf = &*(*slot).buf;
            buf.with_busy(|ws| buf.write(ws, &*self.callbacks, data))
        }
    }

    /// Counts a write refused because this CPU's buffer is busy; returns false.
    ///
    /// # Safety
    ///
    /// Preemption or interrupts are off.
    #[cold]
    unsafe fn refuse_here(&self) -> bool {
        // SAFETY: By the function's requirements, the slot is this CPU's.
        unsafe { (*(*self.slot_here()).buf).count_busy() };
        false
    }

    /// Disables interrupts and gives access to the current CPU's buffer, for several writes or
    /// a [`Local::reserve`] that must not be interleaved with other writes on this CPU.
    ///
    /// The buffer is the [`Local`]'s alone while it exists: other writes on this CPU (through
    /// [`Channel::write`], [`Channel::write_fast`] or another [`Local`], from the same code) are
    /// lost and counted in [`Stats::lost_busy`]. So are the writes of a [`Local`] made while
    /// another one, or a [`Channel::write_fast`] it interrupted, has the buffer.
    ///
    /// Interrupts are disabled with a count ([`crate::sync::SpinLockIrqSave`] does the same),
    /// so [`Local`]s (and those locks' guards) may be dropped in any order: interrupts come back
    /// when the last one is dropped.
    #[inline]
    pub fn local(&self) -> Local<'_, T> {
        // SAFETY: Enabled again when the `Local` is dropped.
        unsafe { bindings::local_interrupt_disable() };
        // SAFETY: Interrupts are off; the slot's buffer lives as long as the channel.
        let buf = unsafe { &*(*self.slot_here()).buf };
        // SAFETY: Interrupts are off on the buffer's CPU; `busy` is cleared by `Local::drop`.
        let owner = unsafe { buf.claim() };
        Local {
            chan: self,
            buf,
            owner,
            _not_send: PhantomData,
        }
    }

    /// Completes the current sub-buffer of every CPU that holds data, so that readers see it.
    ///
    /// May sleep (it runs on each CPU in turn, and waits for writes in progress there): call it
    /// from process context, without spinlocks held.
    pub fn flush(&self) {
        crate::task::might_sleep();
        for buf in self.shared.bufs.iter().flatten() {
            with_writer(buf, &mut |b, ws| {
                if b.used(ws).is_some_and(|used| used > b.header) {
                    // SAFETY: `with_writer` gives us the writer state on the buffer's CPU.
                    unsafe { b.switch(ws, &*self.callbacks) };
                }
            });
        }
    }

    /// Empties every buffer: data not yet read is discarded. The counters are kept.
    ///
    /// May sleep, as [`Channel::flush`].
    pub fn reset(&self) {
        crate::task::might_sleep();
        for buf in self.shared.bufs.iter().flatten() {
            let mut bc = buf.reader.lock();
            with_writer(buf, &mut |b, ws| {
                for p in b.padding.iter() {
                    p.store(0, Relaxed);
                }
                ws.produced = 0;
                ws.full = false;
                b.produced.store(0, Release);
                b.consumed.store(0, Release);
                // SAFETY: `with_writer` gives us the writer state on the buffer's CPU.
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

    /// The counters of `cpu`'s buffer, read while writes go on (see [`Stats`]): exact once the
    /// writers are done. Never sleeps.
    pub fn stats(&self, cpu: u32) -> Option<Stats> {
        self.buf(cpu).map(Buffer::stats)
    }

    /// The counters of all buffers added up, read as [`Channel::stats`] does. Never sleeps.
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

    /// The bytes written to `cpu`'s current sub-buffer (its header included); readers see
    /// them once the sub-buffer is complete (or flushed). May sleep.
    pub fn committed(&self, cpu: u32) -> Option<usize> {
        let buf = self.buf(cpu)?;
        let mut committed = 0;
        with_writer(buf, &mut |b, ws| committed = b.used(ws).unwrap_or(0));
        Some(committed)
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
        unsafe { self.start_first_locked(&mut *self.ws(), cb) }
    }

    /// Starts sub-buffer 0 of an empty buffer.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    unsafe fn start_first_locked<T: Callbacks>(&self, ws: &mut WriterState, cb: &T) -> bool {
        ws.set_subbuf(ws.data, self.header, None);
        // With no sub-buffer started, `switch` completes nothing and starts sub-buffer 0.
        // SAFETY: Same requirements.
        unsafe { self.switch(ws, cb) }
    }
}

/// Closing a channel may sleep: it flushes ([`Channel::flush`]) and waits for file callbacks in
/// progress to end.
impl<T: Callbacks> Drop for Channel<T> {
    fn drop(&mut self) {
        crate::task::might_sleep();
        // Complete what was written, then tell readers that nothing more will come.
        self.flush();
        for buf in self.shared.bufs.iter().flatten() {
            buf.finalized.store(true, Release);
            buf.kick_readers();
        }
        // After this the callbacks (`self.callbacks`, dropped after this function) are not used.
        self.shared.close_owner();
        let mut reg = registry();
        fs::channel_removed(&mut reg, &self.shared);
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
/// let config = Config::new(Geometry::new(128, 2)?, Mode::Overwrite);
/// let chan = Channel::open(c"doctest/local", config, Plain)?;
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
    buf: &'a Buffer,
    /// The buffer was not busy, and we marked it busy: our writes go ahead.
    owner: bool,
    _not_send: PhantomData<*mut ()>,
}

impl<T: Callbacks> Local<'_, T> {
    /// The CPU whose buffer this is.
    pub fn cpu(&self) -> u32 {
        self.buf.cpu
    }

    /// Appends `data`; returns whether it was stored.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> bool {
        let buf = self.buf;
        // SAFETY: Interrupts are off on the buffer's CPU.
        unsafe {
            if !self.owner {
                buf.count_busy();
                return false;
            }
            // SAFETY: The buffer is ours (`owner`): other writes on this CPU see it busy and
            // keep off the writer state.
            buf.write(&mut *buf.ws(), &*self.chan.callbacks, data)
        }
    }

    /// Reserves room for a record of `len` bytes to fill in place. Readers see it once it is
    /// committed (when the [`Reservation`] is dropped) and its sub-buffer is complete. `None`
    /// if it was lost (and counted).
    ///
    /// The reservation is the only writer of its bytes, but not always their only reader: in
    /// [`Mode::Overwrite`] a reader that the writer lapped may still be copying the old contents
    /// of the same place (`read()` skips such data afterwards), and a process that maps the
    /// buffer can read it at any time. So what is written through the `&mut [u8]` may be seen
    /// half-done by them; nothing but this reservation writes it, so what the writer reads back
    /// is what it wrote.
    pub fn reserve(&mut self, len: usize) -> Option<Reservation<'_>> {
        let buf = self.buf;
        // SAFETY: As in `write`. The writer state stays ours while the reservation borrows us.
        unsafe {
            if !self.owner {
                buf.count_busy();
                return None;
            }
            let ws = &mut *buf.ws();
            let p = buf.reserve(ws, &*self.chan.callbacks, len)?;
            Some(Reservation {
                ws,
                // SAFETY: `p` is valid for `len` bytes that only we write until the commit.
                data: core::slice::from_raw_parts_mut(p, len),
            })
        }
    }
}

impl<T: Callbacks> Drop for Local<'_, T> {
    fn drop(&mut self) {
        if self.owner {
            // Interrupts are still off on the buffer's CPU, and `claim` marked it busy for us.
            self.buf.busy().store(0, Relaxed);
        }
        // SAFETY: Disabled by `Channel::local` on this CPU; interrupts have been off since, so
        // we are still there.
        unsafe { bindings::local_interrupt_enable() };
    }
}

/// Room for one record in a buffer, reserved by [`Local::reserve`]. Committed on drop.
pub struct Reservation<'a> {
    ws: &'a mut WriterState,
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
        Buffer::commit(self.ws, self.data.as_mut_ptr_range().end);
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
    fn writes_while_a_local_has_the_buffer_are_refused() -> Result {
        let config = Config::new(Geometry::new(128, 2)?, Mode::Overwrite);
        let chan = Channel::open(c"kunit/relay-nested", config, counting())?;
        let mut local = chan.local();
        let cpu = local.cpu();
        {
            let mut rec = local.reserve(24).ok_or(EINVAL)?;
            rec.copy_from_slice(&[7; 24]);
            // Same CPU: these would write where the reservation is.
            assert!(!chan.write(&[1; 8]));
            assert!(!chan.write_fast(&[2; 8]));
            assert!(!chan.local().write(&[3; 8]));
            rec.commit();
        }
        assert!(local.write(&[4; 8]));
        drop(local);
        let s = chan.stats(cpu).ok_or(EINVAL)?;
        assert_eq!((s.events, s.bytes, s.lost_busy), (2, 32, 3));
        // The buffer is free again (this may run on another CPU; any buffer is free).
        assert!(chan.local().write(&[5; 32]));
        Ok(())
    }

    /// Writes to its own channel from every writer-side callback, as a careless owner might.
    struct Reentrant {
        /// The address of the channel, once it is in place (`0` before, and from its drop on).
        chan: Atomic<usize>,
        /// Callbacks that wrote.
        calls: Atomic<usize>,
        /// Writes from callbacks that were stored: they would reach the writer state that the
        /// interrupted write holds.
        stored: Atomic<usize>,
        /// A callback is writing: one that its writes cause does not write again (without the
        /// fix they would recurse).
        inside: Atomic<bool>,
    }

    impl Reentrant {
        fn write_back(&self) {
            let p = self.chan.load(Acquire);
            if p == 0 || self.inside.xchg(true, Relaxed) {
                return;
            }
            // SAFETY: The test stores the address of a boxed channel that it drops only after
            // clearing it again, and which has no other user meanwhile.
            let chan = unsafe { &*ptr::with_exposed_provenance::<Channel<Reentrant>>(p) };
            self.calls.add(1, Relaxed);
            let stored = [
                chan.write(&[0xee; 8]),
                chan.write_fast(&[0xee; 8]),
                chan.local().write(&[0xee; 8]),
            ];
            for s in stored {
                if s {
                    self.stored.add(1, Relaxed);
                }
            }
            self.inside.store(false, Relaxed);
        }
    }

    #[vtable]
    impl Callbacks for Reentrant {
        fn subbuf_start(&self, start: &mut SubbufStart<'_>) -> bool {
            self.write_back();
            !start.full
        }

        fn deliver(&self, _cpu: u32, _number: usize, _data: &[u8]) {
            self.write_back();
        }

        fn buf_full(&self, _cpu: u32) {
            self.write_back();
        }
    }

    #[test]
    fn writes_from_callbacks_are_refused() -> Result {
        let config = Config::new(Geometry::new(128, 2)?, Mode::NoOverwrite);
        let owner = Reentrant {
            chan: Atomic::new(0),
            calls: Atomic::new(0),
            stored: Atomic::new(0),
            inside: Atomic::new(false),
        };
        let chan = KBox::new(
            Channel::open(c"kunit/relay-reenter", config, owner)?,
            GFP_KERNEL,
        )?;
        let cb = chan.callbacks();
        cb.chan.store(
            ptr::from_ref::<Channel<Reentrant>>(&chan).expose_provenance(),
            Release,
        );
        // All on one CPU. 4 records fill a sub-buffer: the 5th completes sub-buffer 0 and
        // starts 1, the 9th completes 1 and finds the buffer full, the 10th is refused again.
        // SAFETY: Enabled below; nothing in between sleeps.
        unsafe { bindings::relay_preempt_disable() };
        let mut stored = 0;
        for i in 0..10u8 {
            if i % 2 == 0 {
                stored += usize::from(chan.write(&[i; 32]));
            } else {
                stored += usize::from(chan.write_fast(&[i; 32]));
            }
        }
        // SAFETY: Disabled above.
        unsafe { bindings::relay_preempt_enable() };
        assert_eq!(stored, 8);
        // deliver(0), subbuf_start(1), deliver(1), subbuf_start(2), buf_full, subbuf_start(2).
        assert_eq!(cb.calls.load(Relaxed), 6);
        assert_eq!(cb.stored.load(Relaxed), 0);
        let total = chan.stats_total();
        assert_eq!((total.events, total.lost_full), (8, 2));
        assert_eq!(total.lost_busy, 3 * cb.calls.load(Relaxed));
        // `reset` starts every CPU's first sub-buffer again, in an interrupt on that CPU.
        let before = cb.calls.load(Relaxed);
        chan.reset();
        assert!(cb.calls.load(Relaxed) > before);
        assert_eq!(cb.stored.load(Relaxed), 0);
        assert_eq!(chan.stats_total().lost_busy, 3 * cb.calls.load(Relaxed));
        // Closing flushes, with callbacks: the channel must not be reached from them then.
        cb.chan.store(0, Release);
        Ok(())
    }

    #[test]
    fn locals_dropped_in_any_order() -> Result {
        let config = Config::new(Geometry::new(128, 2)?, Mode::Overwrite);
        let a = Channel::open(c"kunit/relay-order-a", config, counting())?;
        let b = Channel::open(c"kunit/relay-order-b", config, counting())?;
        let irqs_off = crate::sync::irqs_disabled;
        let lock = KBox::pin_init(crate::new_spinlock_irqsave!(0u32), GFP_KERNEL)?;
        assert!(!irqs_off());
        let la = a.local();
        let mut lb = b.local();
        let guard = lock.lock();
        // Dropped in the order they were taken: interrupts stay off until the last one goes.
        drop(la);
        assert!(irqs_off());
        assert!(lb.write(&[1; 32]));
        drop(lb);
        assert!(irqs_off());
        drop(guard);
        assert!(!irqs_off());
        // And the other way round.
        let guard = lock.lock();
        let la = a.local();
        drop(guard);
        assert!(irqs_off());
        drop(la);
        assert!(!irqs_off());
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
        let too_big = config.header(128);
        assert!(
            matches!(Channel::open(c"kunit/relay-hdr", too_big, counting()), Err(e) if e == EINVAL)
        );
        Ok(())
    }
}
