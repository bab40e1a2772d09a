// SPDX-License-Identifier: GPL-2.0

//! What a refiller watches: free blocks forming in the page allocator, free memory and load.

use super::NR_ORDERS;
use crate::{
    bindings,
    error::to_result,
    ffi::{c_int, c_ulong},
    prelude::*,
    task::Task,
};
use core::ptr;

/// A refiller's request to be woken when the page allocator forms a free block worth zeroing.
///
/// One task per node: the page allocator's free path checks an armed node's order each time it
/// merges a block, and an `irq_work` wakes the task. Costs nothing on that path while no watch
/// exists (a static branch).
///
/// # Examples
///
/// ```
/// use kernel::{bindings, mm::zeroed_pool::Watch};
///
/// // SAFETY: Always safe to call.
/// let nid = unsafe { bindings::numa_node_id() };
/// let watch = Watch::new(nid, current!())?;
/// // A second watch of the node is refused.
/// assert_eq!(Watch::new(nid, current!()).err(), Some(EBUSY));
/// watch.arm(5);
/// assert!(watch.armed());
/// // Freeing a block of order 5 (above what the per-CPU lists keep) merges it into the free
/// // lists at order 5 or more, which fires the watch.
/// // SAFETY: Allocating and freeing a block of pages has no other requirements.
/// unsafe {
///     let page = bindings::alloc_pages_node(nid, bindings::GFP_KERNEL, 5);
///     assert!(!page.is_null());
///     bindings::__free_pages(page, 5);
/// }
/// assert!(!watch.armed());
/// # Ok::<(), Error>(())
/// ```
pub struct Watch {
    nid: c_int,
}

impl Watch {
    /// Makes `task` the one woken for node `nid`. May sleep, and so may dropping the watch.
    ///
    /// Returns `EINVAL` for a bad node, `EBUSY` if the node has a watch.
    pub fn new(nid: i32, task: &Task) -> Result<Self> {
        // SAFETY: `task` is a valid task; the C side takes its own reference.
        to_result(unsafe { bindings::zeroed_pool_watch(nid, task.as_ptr()) })?;
        Ok(Self { nid })
    }

    /// Asks for one wake-up of the task as soon as a free block of `order` or more forms.
    pub fn arm(&self, order: u32) {
        // SAFETY: The node is watched (`self` exists).
        unsafe { bindings::zeroed_pool_arm(self.nid, order) }
    }

    /// Returns true if the node is armed and no block has fired it yet.
    pub fn armed(&self) -> bool {
        // SAFETY: Always safe to call.
        unsafe { bindings::zeroed_pool_armed(self.nid) }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: The node is watched by `self`. Unwatching sleeps: a watch is dropped by the
        // refiller thread that made it, in process context.
        unsafe { bindings::zeroed_pool_unwatch(self.nid) }
    }
}

/// Returns the number of free blocks of order `min_order` or higher in node `nid`'s zones.
///
/// The counts are read without locks, so they are a snapshot that may already be stale.
pub fn node_free_blocks(nid: i32, min_order: u32) -> usize {
    if nid < 0 || nid >= bindings::MAX_NUMNODES as i32 {
        return 0;
    }
    // SAFETY: `nid` is in range.
    if !unsafe { bindings::node_online(nid) } {
        return 0;
    }
    // SAFETY: The node is online, so it has a `pglist_data` for the kernel's lifetime.
    let pgdat = unsafe { bindings::NODE_DATA(nid) };
    let mut n = 0usize;
    for z in 0..bindings::MAX_NR_ZONES as usize {
        // SAFETY: `z` is in range of `node_zones`.
        let zone = unsafe {
            ptr::addr_of!((*pgdat).node_zones)
                .cast::<bindings::zone>()
                .add(z)
        };
        for o in (min_order as usize)..NR_ORDERS {
            // SAFETY: `o` is in range of `free_area`.
            let area = unsafe {
                ptr::addr_of!((*zone).free_area)
                    .cast::<bindings::free_area>()
                    .add(o)
            };
            // SAFETY: The allocator changes `nr_free` under the zone lock; a racy volatile read
            // of a word is what C's `data_race()` would do.
            let nr = unsafe { ptr::addr_of!((*area).nr_free).read_volatile() };
            n = n.saturating_add(nr as usize);
        }
    }
    n
}

/// Returns an estimate of the pages available for new allocations without swapping (the
/// `MemAvailable` of `/proc/meminfo`, in pages).
pub fn available_pages() -> usize {
    // SAFETY: Always safe to call; it only reads counters.
    let n = unsafe { bindings::si_mem_available() };
    usize::try_from(n).unwrap_or(0)
}

/// Returns the one-minute load average in fixed point with [`LOAD_SHIFT`] fraction bits.
pub fn load_average() -> u64 {
    // SAFETY: `avenrun` is an array of three words that lives as long as the kernel; it is
    // updated without locks and read the same way by C (`get_avenrun`).
    let v = unsafe {
        ptr::addr_of!(bindings::avenrun)
            .cast::<c_ulong>()
            .read_volatile()
    };
    v as u64
}

/// The number of fraction bits of [`load_average`].
pub const LOAD_SHIFT: u32 = bindings::FSHIFT;
