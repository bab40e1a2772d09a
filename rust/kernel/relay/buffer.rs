// SPDX-License-Identifier: GPL-2.0

//! One CPU's buffer of a relay channel: the sub-buffers, the writer state that only that CPU
//! touches (in per-CPU memory), and what readers take from it.

use super::{Callbacks, Config, Geometry, Mode, Placement, Stats, SubbufStart};
use crate::{
    bindings,
    ffi::{c_int, c_uint, c_ulong, c_void},
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        poll::PollCondVar,
        Mutex,
    },
    types::Opaque,
};
use core::{
    ptr::{self, NonNull},
    sync::atomic::{compiler_fence, Ordering},
};

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
pub(super) struct WriterState {
    /// The current sub-buffer.
    pub(super) data: *mut u8,
    /// Where its next record goes (its header and records come before).
    pub(super) cur: *mut u8,
    /// Its end, or `cur` while no sub-buffer is started (it was refused): every write then
    /// finds no room, takes the slow path and tries again. A write checks only `cur` and `end`.
    pub(super) end: *mut u8,
    /// Sub-buffers completed (the current one has this absolute number).
    pub(super) produced: usize,
    /// [`Callbacks::buf_full`] was called for the current episode.
    pub(super) full: bool,
    pub(super) events: usize,
    /// Record bytes in completed sub-buffers.
    pub(super) bytes_done: usize,
    pub(super) lost_full: usize,
    pub(super) lost_too_big: usize,
}

impl WriterState {
    /// Bytes used in the current sub-buffer, its header included.
    fn offset(&self) -> usize {
        self.cur.addr() - self.data.addr()
    }

    /// Makes `data` the current sub-buffer, with its header in place; started or not.
    pub(super) fn set_subbuf(&mut self, data: *mut u8, header: usize, size: Option<usize>) {
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
pub(super) struct Slot {
    /// A preemptible write ([`Channel::write_fast`]), the slow path of a write (which may call
    /// back) or [`with_writer`] is in progress, or a [`Local`] has the buffer (`1`, else `0`);
    /// other writes on this CPU are refused.
    pub(super) busy: Atomic<usize>,
    /// Writes refused because of `busy`.
    pub(super) lost_busy: Atomic<usize>,
    pub(super) w: WriterState,
    /// The buffer this is the writer side of.
    pub(super) buf: *const Buffer,
}

/// Offsets in a [`Slot`] of the fields a write reaches with `this_cpu` operations.
pub(super) const SLOT_BUSY: usize = core::mem::offset_of!(Slot, busy);
pub(super) const SLOT_CUR: usize =
    core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, cur);
pub(super) const SLOT_END: usize =
    core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, end);
pub(super) const SLOT_EVENTS: usize =
    core::mem::offset_of!(Slot, w) + core::mem::offset_of!(WriterState, events);

/// The [`Slot`]s of a channel's buffers: per-CPU memory, freed on drop.
///
/// # Invariants
///
/// `0` comes from `relay_alloc_percpu` with the size and alignment of a [`Slot`].
pub(super) struct Slots(pub(super) NonNull<c_void>);

impl Slots {
    pub(super) fn new() -> Result<Self> {
        // SAFETY: Allocating per-CPU memory has no preconditions.
        let p = unsafe {
            bindings::relay_alloc_percpu(size_of::<Slot>(), core::mem::align_of::<Slot>())
        };
        // INVARIANT: Allocated just above.
        NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    /// The slot of `cpu`, a possible CPU.
    pub(super) fn of(&self, cpu: u32) -> *mut Slot {
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
pub(super) struct Buffer {
    pub(super) cpu: u32,
    pub(super) geometry: Geometry,
    pub(super) mode: Mode,
    pub(super) header: usize,
    pub(super) start: NonNull<u8>,
    pub(super) slot: NonNull<Slot>,
    pub(super) produced: Atomic<usize>,
    pub(super) consumed: Atomic<usize>,
    pub(super) padding: KVec<Atomic<usize>>,
    /// The channel is closed: no more data will come.
    pub(super) finalized: Atomic<bool>,
    /// Bytes read from the sub-buffer `consumed`; held by readers and consumers.
    #[pin]
    pub(super) reader: Mutex<usize>,
    #[pin]
    pub(super) wait: PollCondVar,
    #[pin]
    pub(super) wakeup: Opaque<bindings::irq_work>,
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
    pub(super) unsafe fn new(
        cpu: u32,
        config: &Config,
        slot: *mut Slot,
    ) -> Result<Pin<KBox<Self>>> {
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
    pub(super) fn ws(&self) -> *mut WriterState {
        // SAFETY: `slot` is valid as long as the buffer (type invariants).
        unsafe { &raw mut (*self.slot.as_ptr()).w }
    }

    /// [`Slot::busy`], written as the [`Slot`] documentation says.
    pub(super) fn busy(&self) -> &Atomic<usize> {
        // SAFETY: As in `ws`; the field is an atomic, so a shared reference to it is fine.
        unsafe { &(*self.slot.as_ptr()).busy }
    }

    /// [`Slot::lost_busy`].
    pub(super) fn lost_busy(&self) -> &Atomic<usize> {
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
    pub(super) unsafe fn with_busy<R>(&self, f: impl FnOnce(&mut WriterState) -> R) -> R {
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
    pub(super) fn kick_readers(&self) {
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
    pub(super) fn used(&self, ws: &WriterState) -> Option<usize> {
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
    pub(super) unsafe fn switch<T: Callbacks>(&self, ws: &mut WriterState, cb: &T) -> bool {
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
    pub(super) unsafe fn reserve<T: Callbacks>(
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
    pub(super) fn commit(ws: &mut WriterState, end: *mut u8) {
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
    pub(super) unsafe fn write<T: Callbacks>(
        &self,
        ws: &mut WriterState,
        cb: &T,
        data: &[u8],
    ) -> bool {
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
    pub(super) unsafe fn claim(&self) -> bool {
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
    pub(super) unsafe fn count_busy(&self) {
        // A count of refused writes; after 2^64 (or 2^32) of them, it wraps.
        self.lost_busy().add(1, Relaxed);
    }

    /// The counters, read without stopping the writer: each is a single word read once, as
    /// the C relay reads its buffers' counters, so a concurrent write may be counted or not and
    /// the counters may be a few writes apart from one another. Never sleeps, runs anywhere.
    pub(super) fn stats(&self) -> Stats {
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
    pub(super) fn next_chunk(&self, bc: &mut usize) -> Option<(usize, usize)> {
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
    pub(super) fn subbuf_ready(&self) -> bool {
        self.produced.load(Acquire) != self.consumed.load(Acquire)
    }

    pub(super) fn consume_subbufs(&self, bc: &mut usize, n: usize) {
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

/// The offset of a sub-buffer that could not be started, for [`Geometry::place`].
pub(super) const fn refused(g: &Geometry) -> usize {
    g.subbuf_size() + 1
}

/// Runs `f` on `cpu`'s buffer writer state, on that CPU (or directly if it is offline), at a
/// moment when no write is in progress there. `busy` is set while `f` runs, so that writes
/// from callbacks that `f` makes are refused. May sleep (it waits for a preemptible write or a
/// [`Local`] to end).
pub(super) fn with_writer(buf: &Buffer, f: &mut dyn FnMut(&Buffer, &mut WriterState)) {
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

impl Buffer {
    /// Starts sub-buffer 0.
    ///
    /// # Safety
    ///
    /// Nothing else uses the buffer yet.
    pub(super) unsafe fn start_first<T: Callbacks>(&self, cb: &T) -> bool {
        // SAFETY: We have the buffer to ourselves.
        unsafe { self.start_first_locked(&mut *self.ws(), cb) }
    }

    /// Starts sub-buffer 0 of an empty buffer.
    ///
    /// # Safety
    ///
    /// As for [`Buffer::switch`].
    pub(super) unsafe fn start_first_locked<T: Callbacks>(
        &self,
        ws: &mut WriterState,
        cb: &T,
    ) -> bool {
        ws.set_subbuf(ws.data, self.header, None);
        // With no sub-buffer started, `switch` completes nothing and starts sub-buffer 0.
        // SAFETY: Same requirements.
        unsafe { self.switch(ws, cb) }
    }
}
