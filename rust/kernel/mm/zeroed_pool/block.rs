// SPDX-License-Identifier: GPL-2.0

//! [`Block`]: an owned block of zeroed, physically contiguous pages.

use super::{gfp, order_bytes, zero_pages, ZeroMode, MAX_ORDER};
use crate::{alloc::Flags, bindings, ffi::c_int, page::BorrowedPage, prelude::*};
use core::ptr::NonNull;

/// An owned block of `2^order` physically contiguous, naturally aligned pages.
///
/// The block was split (`split_page`), so every page is an independent order-0 page with its own
/// reference count: pages can be mapped and released one by one. Dropping the block releases
/// every page it still holds.
///
/// # Invariants
///
/// `first` is the first of `2^order` contiguous lowmem pages, each with a reference owned by this
/// block.
pub struct Block {
    first: NonNull<bindings::page>,
    order: u32,
}

// SAFETY: Pages can be used and freed from any thread.
unsafe impl Send for Block {}

// SAFETY: `&Block` only reads page pointers.
unsafe impl Sync for Block {}

impl Block {
    /// Takes ownership of the `2^order` pages from `first`.
    ///
    /// # Safety
    ///
    /// `first` is the first of `2^order` contiguous lowmem order-0 pages, and the caller owns a
    /// reference on each of them, which it gives to the block.
    pub(super) unsafe fn from_raw(first: NonNull<bindings::page>, order: u32) -> Self {
        // INVARIANT: By the function's requirements.
        Self { first, order }
    }

    /// Allocates a block of `2^order` pages on node `nid` (`NUMA_NO_NODE`: any) with `gfp`.
    fn alloc_raw(nid: c_int, order: u32, flags: bindings::gfp_t) -> Result<Self> {
        let first = alloc_unsplit(nid, order, flags)?;
        if order > 0 {
            // SAFETY: `first` is a non-compound block of this order that we own.
            unsafe { bindings::split_page(first.as_ptr(), order) };
        }
        // INVARIANT: We own one reference on each of the `2^order` pages.
        Ok(Self { first, order })
    }

    /// Allocates a block of `2^order` zeroed pages with the allocator's own zeroing.
    ///
    /// `flags` is used as given, plus `__GFP_ZERO`, minus `__GFP_HIGHMEM` and `__GFP_COMP`.
    /// Returns `EINVAL` if `order` is above [`MAX_ORDER`], `ENOMEM` if there is no memory.
    pub fn alloc_zeroed(order: u32, flags: Flags) -> Result<Self> {
        Self::alloc_raw(
            bindings::NUMA_NO_NODE,
            order,
            flags.as_raw() | bindings::__GFP_ZERO,
        )
    }

    /// Returns the block's order.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// Returns the number of pages in the block.
    pub fn nr_pages(&self) -> usize {
        1 << self.order
    }

    /// Returns the `i`-th page of the block, or `None` if `i` is out of range.
    pub fn page(&self, i: usize) -> Option<BorrowedPage<'_>> {
        if i >= self.nr_pages() {
            return None;
        }
        // SAFETY: The pages of a block are contiguous and `i` is in range; we own the page, so it
        // stays valid while `self` is borrowed.
        Some(unsafe { BorrowedPage::from_raw(NonNull::new_unchecked(self.first.as_ptr().add(i))) })
    }

    /// Returns the kernel address of the block.
    pub(super) fn addr(&self) -> *mut u8 {
        // SAFETY: The pages are lowmem (type invariants), so they have a linear mapping.
        unsafe { bindings::lowmem_page_address(self.first.as_ptr()).cast() }
    }

    /// Zeroes the whole block at once.
    pub fn zero(&mut self, mode: ZeroMode) {
        // SAFETY: We own the block: `2^order` pages, page aligned, linearly mapped.
        unsafe { zero_pages(self.addr(), self.nr_pages(), mode) }
    }

    /// Returns true if every byte of the block is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::zeroed_pool::{Block, ZeroMode};
    ///
    /// let mut block = Block::alloc_zeroed(2, GFP_KERNEL)?;
    /// assert_eq!(block.nr_pages(), 4);
    /// assert!(block.is_zero());
    /// let page = block.page(3).ok_or(EINVAL)?;
    /// // SAFETY: We own the block and nothing else uses it.
    /// unsafe { page.write_raw([1u8].as_ptr(), 100, 1)? };
    /// assert!(!block.is_zero());
    /// block.zero(ZeroMode::Cached);
    /// assert!(block.is_zero());
    /// if ZeroMode::non_temporal_available() {
    ///     let page = block.page(0).ok_or(EINVAL)?;
    ///     // SAFETY: As above.
    ///     unsafe { page.write_raw([1u8].as_ptr(), 4095, 1)? };
    ///     block.zero(ZeroMode::NonTemporal);
    ///     assert!(block.is_zero());
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn is_zero(&self) -> bool {
        let words = order_bytes(self.order) / size_of::<u64>();
        let addr = self.addr().cast::<u64>();
        for i in 0..words {
            // SAFETY: We own the block, which is mapped and page aligned; `i` is in range.
            if unsafe { addr.add(i).read_volatile() } != 0 {
                return false;
            }
        }
        true
    }
}

/// Allocates a block of `2^order` pages on node `nid` (`NUMA_NO_NODE`: any) with `flags`, as the
/// page allocator returns it without `__GFP_COMP`: one reference, on the first page.
///
/// Returns `EINVAL` if `order` is above [`MAX_ORDER`], `ENOMEM` if there is no memory.
pub(super) fn alloc_unsplit(
    nid: c_int,
    order: u32,
    flags: bindings::gfp_t,
) -> Result<NonNull<bindings::page>> {
    if order > MAX_ORDER {
        return Err(EINVAL);
    }
    // Neither compound nor highmem: a block with a permanent kernel mapping.
    let flags = flags & !(gfp(bindings::___GFP_COMP_BIT) | gfp(bindings::___GFP_HIGHMEM_BIT));
    // SAFETY: Allocating pages has no preconditions beyond a valid order and flags.
    NonNull::new(unsafe { bindings::alloc_pages_node(nid, flags, order) }).ok_or(ENOMEM)
}

/// Releases `count` pages from `first` on.
///
/// # Safety
///
/// The caller owns one reference on each of the `count` contiguous pages and gives it up.
pub(super) unsafe fn release_pages(first: NonNull<bindings::page>, count: usize) {
    for i in 0..count {
        // SAFETY: By the function's safety requirements.
        unsafe { bindings::__free_pages(first.as_ptr().add(i), 0) };
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference on every page of the block.
        unsafe { release_pages(self.first, self.nr_pages()) };
    }
}
