// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of a relay buffer: sub-buffer placement, padding, the overwrite and
//! no-overwrite decisions and what a reader may consume.
//!
//! Everything here is pure so that it can be tested on its own; [`super`] applies it to the
//! per-CPU buffers.

use crate::{page::PAGE_SIZE, prelude::*};

/// What happens when a writer needs a new sub-buffer and every sub-buffer holds unread data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Flight recorder: the oldest sub-buffer is overwritten, so the buffer always holds the
    /// newest data.
    Overwrite,
    /// The event is dropped (and counted as lost) until a reader consumes a sub-buffer.
    NoOverwrite,
}

/// The shape of every per-CPU buffer of a channel: `n_subbufs` sub-buffers of `subbuf_size`
/// bytes, in one virtually contiguous area of [`Geometry::alloc_size`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    subbuf_size: usize,
    n_subbufs: usize,
}

/// The smallest sub-buffer: room for a few records and a header.
pub const MIN_SUBBUF_SIZE: usize = 64;

/// The largest buffer per CPU.
pub const MAX_BUFFER_SIZE: usize = 64 << 20;

/// Where a record of some length goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// At the current offset of the current sub-buffer.
    Here,
    /// In the next sub-buffer; the current one ends with this much padding.
    Next {
        /// Unused bytes at the end of the current sub-buffer.
        padding: usize,
    },
    /// Nowhere: the record is larger than a sub-buffer (less its header).
    TooBig,
}

impl Geometry {
    /// Checks a geometry: sub-buffers of at least [`MIN_SUBBUF_SIZE`] bytes, a multiple of 8,
    /// at least one of them and at most [`MAX_BUFFER_SIZE`] bytes in all.
    pub fn new(subbuf_size: usize, n_subbufs: usize) -> Result<Self> {
        if subbuf_size < MIN_SUBBUF_SIZE || subbuf_size & 7 != 0 || n_subbufs == 0 {
            return Err(EINVAL);
        }
        match subbuf_size.checked_mul(n_subbufs) {
            Some(total) if total <= MAX_BUFFER_SIZE => Ok(Self {
                subbuf_size,
                n_subbufs,
            }),
            _ => Err(EINVAL),
        }
    }

    /// The size of one sub-buffer in bytes.
    pub const fn subbuf_size(&self) -> usize {
        self.subbuf_size
    }

    /// The number of sub-buffers.
    pub const fn n_subbufs(&self) -> usize {
        self.n_subbufs
    }

    /// The bytes allocated (and mapped by `mmap`) for one CPU: whole pages.
    pub const fn alloc_size(&self) -> usize {
        (self.subbuf_size * self.n_subbufs).next_multiple_of(PAGE_SIZE)
    }

    /// The offset in the buffer of the sub-buffer with absolute number `k` (the `k`th produced).
    pub const fn subbuf_offset(&self, k: usize) -> usize {
        (k % self.n_subbufs) * self.subbuf_size
    }

    /// Where a record of `len` bytes goes when the current sub-buffer is filled to `offset`
    /// and each sub-buffer starts with `header` bytes.
    pub const fn place(&self, offset: usize, len: usize, header: usize) -> Placement {
        if len > self.subbuf_size - header {
            Placement::TooBig
        } else if offset + len <= self.subbuf_size {
            Placement::Here
        } else if offset >= self.subbuf_size {
            // The current sub-buffer was never started (refused): nothing to pad.
            Placement::Next { padding: 0 }
        } else {
            Placement::Next {
                padding: self.subbuf_size - offset,
            }
        }
    }

    /// Whether a writer may start a new sub-buffer when `produced` have been completed and
    /// `consumed` read: in [`Mode::NoOverwrite`] only if one of them is free.
    pub const fn may_start(&self, mode: Mode, produced: usize, consumed: usize) -> bool {
        match mode {
            Mode::Overwrite => true,
            Mode::NoOverwrite => produced.wrapping_sub(consumed) < self.n_subbufs,
        }
    }

    /// The first sub-buffer a reader can still read, having consumed `consumed` of `produced`.
    ///
    /// In [`Mode::Overwrite`] the writer may have lapped the reader: the sub-buffer being
    /// written took the place of the oldest, so only the newest `n_subbufs - 1` complete ones
    /// survive. In [`Mode::NoOverwrite`] nothing unread is ever overwritten.
    pub const fn first_readable(&self, mode: Mode, produced: usize, consumed: usize) -> usize {
        match mode {
            // `produced` wraps (after 2^32 sub-buffers on 32-bit), so this must too.
            Mode::Overwrite if produced.wrapping_sub(consumed) >= self.n_subbufs => {
                produced.wrapping_sub(self.n_subbufs).wrapping_add(1)
            }
            _ => consumed,
        }
    }

    /// The bytes a reader may still take from a complete sub-buffer that ended with `padding`
    /// bytes of padding, having consumed `bytes_consumed` of it.
    pub const fn readable(&self, padding: usize, bytes_consumed: usize) -> usize {
        (self.subbuf_size - padding).saturating_sub(bytes_consumed)
    }
}

#[kunit_tests(rust_kernel_relay_geometry)]
mod tests {
    use super::*;

    #[test]
    fn geometry_checks() {
        assert!(Geometry::new(4096, 8).is_ok());
        assert!(Geometry::new(64, 1).is_ok());
        assert_eq!(Geometry::new(32, 8), Err(EINVAL));
        assert_eq!(Geometry::new(100, 8), Err(EINVAL));
        assert_eq!(Geometry::new(4096, 0), Err(EINVAL));
        assert_eq!(Geometry::new(1 << 20, 65), Err(EINVAL));
        assert_eq!(Geometry::new(usize::MAX & !7, 2), Err(EINVAL));
    }

    #[test]
    fn sizes_and_offsets() {
        let g = Geometry::new(1000, 3).unwrap();
        assert_eq!(g.alloc_size(), PAGE_SIZE);
        assert_eq!(g.subbuf_offset(0), 0);
        assert_eq!(g.subbuf_offset(2), 2000);
        assert_eq!(g.subbuf_offset(3), 0);
        assert_eq!(g.subbuf_offset(7), 1000);
        let g = Geometry::new(PAGE_SIZE, 4).unwrap();
        assert_eq!(g.alloc_size(), 4 * PAGE_SIZE);
    }

    #[test]
    fn placement_and_padding() {
        let g = Geometry::new(256, 4).unwrap();
        assert_eq!(g.place(0, 64, 0), Placement::Here);
        assert_eq!(g.place(192, 64, 0), Placement::Here);
        assert_eq!(g.place(200, 64, 0), Placement::Next { padding: 56 });
        assert_eq!(g.place(256, 1, 0), Placement::Next { padding: 0 });
        // A refused sub-buffer is marked by an offset past its end.
        assert_eq!(g.place(257, 64, 0), Placement::Next { padding: 0 });
        assert_eq!(g.place(0, 256, 0), Placement::Here);
        assert_eq!(g.place(0, 257, 0), Placement::TooBig);
        // A header takes room from every sub-buffer.
        assert_eq!(g.place(16, 240, 16), Placement::Here);
        assert_eq!(g.place(16, 241, 16), Placement::TooBig);
    }

    #[test]
    fn overwrite_and_no_overwrite() {
        let g = Geometry::new(256, 4).unwrap();
        for (p, c) in [(0, 0), (3, 0), (4, 1), (10, 7)] {
            assert!(g.may_start(Mode::NoOverwrite, p, c));
        }
        assert!(!g.may_start(Mode::NoOverwrite, 4, 0));
        assert!(!g.may_start(Mode::NoOverwrite, 11, 7));
        assert!(g.may_start(Mode::Overwrite, 4, 0));
        assert!(g.may_start(Mode::Overwrite, 100, 0));
        // Counters wrap without breaking the decision.
        assert!(g.may_start(Mode::NoOverwrite, 1, usize::MAX));
        assert!(!g.may_start(Mode::NoOverwrite, 3, usize::MAX - 1));
    }

    #[test]
    fn lapped_reader_skips_to_the_oldest_survivor() {
        let g = Geometry::new(256, 4).unwrap();
        assert_eq!(g.first_readable(Mode::Overwrite, 3, 0), 0);
        assert_eq!(g.first_readable(Mode::Overwrite, 4, 0), 1);
        assert_eq!(g.first_readable(Mode::Overwrite, 10, 2), 7);
        assert_eq!(g.first_readable(Mode::Overwrite, 10, 9), 9);
        // Without overwriting, a full buffer keeps its oldest sub-buffer.
        assert_eq!(g.first_readable(Mode::NoOverwrite, 4, 0), 0);
        let one = Geometry::new(256, 1).unwrap();
        assert_eq!(one.first_readable(Mode::Overwrite, 1, 0), 1);
        assert_eq!(one.first_readable(Mode::Overwrite, 5, 0), 5);
        assert_eq!(one.first_readable(Mode::NoOverwrite, 1, 0), 0);
    }

    #[test]
    fn lapped_reader_at_the_wrap() -> Result {
        let g = Geometry::new(256, 4)?;
        // `produced` wrapped past zero, the reader is 7 sub-buffers behind: the oldest survivor
        // is the one before the wrap.
        assert_eq!(
            g.first_readable(Mode::Overwrite, 1, usize::MAX - 5),
            usize::MAX - 1
        );
        // Exactly a buffer behind, and the survivor is sub-buffer 0 of the new round.
        assert_eq!(g.first_readable(Mode::Overwrite, 3, usize::MAX), 0);
        // Less than a buffer behind across the wrap: not lapped.
        assert_eq!(g.first_readable(Mode::Overwrite, 2, usize::MAX), usize::MAX);
        assert_eq!(
            g.first_readable(Mode::NoOverwrite, 1, usize::MAX - 5),
            usize::MAX - 5
        );
        Ok(())
    }

    #[test]
    fn readable_bytes() {
        let g = Geometry::new(256, 4).unwrap();
        assert_eq!(g.readable(56, 0), 200);
        assert_eq!(g.readable(56, 150), 50);
        assert_eq!(g.readable(56, 200), 0);
        assert_eq!(g.readable(0, 0), 256);
        // A reset may leave a reader past the data: nothing to read, no underflow.
        assert_eq!(g.readable(56, 256), 0);
    }
}
