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

use crate::{error::VTABLE_DEFAULT_ERROR, prelude::*};

mod buffer;
mod channel;
pub mod fs;
pub mod geometry;
mod registry;

pub use channel::{Channel, Local, Reservation};
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

#[kunit_tests(rust_kernel_relay)]
mod tests {
    use super::{registry::check_path, *};
    use crate::sync::atomic::{Acquire, Atomic, Relaxed, Release};
    use core::ptr;

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
