// SPDX-License-Identifier: GPL-2.0

//! A relay channel and its writers.

use super::{
    buffer::{
        with_writer, Buffer, Slot, Slots, WriterState, SLOT_BUSY, SLOT_CUR, SLOT_END, SLOT_EVENTS,
    },
    fs,
    registry::{check_path, registry, Notify, Shared},
    Callbacks, Config, Stats,
};
use crate::{
    bindings,
    ffi::c_void,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Relaxed, Release},
        Arc,
    },
};
use core::{
    marker::PhantomData,
    ops::{Deref, DerefMut},
    ptr,
    sync::atomic::{compiler_fence, Ordering},
};

fn possible_cpus() -> u32 {
    crate::cpu::nr_cpu_ids()
}

fn cpu_possible(cpu: u32) -> bool {
    // SAFETY: Reading the CPU masks is always safe.
    unsafe { bindings::cpu_possible(cpu) }
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
