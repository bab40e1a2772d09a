// SPDX-License-Identifier: GPL-2.0

//! A pool of prezeroed pages.
//!
//! [`ZeroedPool`] holds physically contiguous blocks of pages that were zeroed ahead of time (by
//! [`ZeroedPool::refill`], typically from a background thread such as kscrubd), so that a
//! consumer that needs zeroed memory, above all a page fault, does not pay for the zeroing. The
//! pool gives its pages back on demand ([`ZeroedPool::shrink`], for a shrinker) and when dropped.
//!
//! Consumers:
//! - [`alloc_zeroed`] takes a [`Block`] from the pool installed with [`ZeroedPool::install`], or
//!   allocates and zeroes one if there is no pool or it is empty; it works whether or not a pool
//!   is installed.
//! - [`Device`] is a misc character device whose `mmap` faults are served from a pool, so that
//!   user space can use prezeroed memory.
//! - The anonymous page fault path of every process (`include/linux/zeroed_pool.h`): while a pool
//!   is installed, order-0 faults and THP faults take zeroed pages and folios from it and skip
//!   clearing them. Faults under a NUMA memory policy other than the default, and on machines
//!   with aliasing caches, are left to the page allocator.
//!
//! [`Watch`] lets a refiller sleep until the page allocator forms a free block worth zeroing.
//!
//! Everything here is in the kernel crate, not in the module that drives the pool, so that open
//! files, mappings and [`alloc_zeroed`] callers never run code or use data of a module that may
//! be unloaded: the pool is reference counted and outlives its module while it is in use.
//!
//! The non-temporal zeroing mode (x86_64 only) uses `movnti` stores, which bypass the caches, so
//! that background zeroing does not evict the working set of the workload it serves. The kernel
//! has no non-temporal clear routine (only `__memcpy_flushcache`, which also loads a source), so
//! it is a small inline assembly loop here.
//!
//! C header: [`include/linux/gfp.h`](srctree/include/linux/gfp.h)

use crate::{
    alloc::Flags,
    bindings,
    error::Result,
    ffi::{
        c_int,
        c_uint, //
    },
    fmt, new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        rcu,
        Arc,
        SpinLock, //
    },
    task::Task,
    time::{
        Instant,
        Monotonic, //
    },
};
use core::ptr::{
    self,
    NonNull, //
};

mod block;
mod device;
mod watch;
mod zero;

use block::{alloc_unsplit, release_pages};
use zero::{zero_pages, ZERO_CHUNK_PAGES};

pub use block::Block;
pub use device::Device;
pub use watch::{available_pages, load_average, node_free_blocks, Watch, LOAD_SHIFT};
pub use zero::{cached_routine, calibrate_cached, ZeroMode, CACHED_CLEAR_PAGES, CACHED_STORES};

/// The largest order the page allocator hands out.
pub const MAX_ORDER: u32 = bindings::MAX_PAGE_ORDER;

/// The number of orders, `0..=MAX_ORDER`.
pub const NR_ORDERS: usize = MAX_ORDER as usize + 1;

const fn gfp(bit: u32) -> bindings::gfp_t {
    1 << bit
}

/// Flags for the pool's own allocations: no reclaim of any kind, no warning, no emergency
/// reserves, so that filling the pool never creates memory pressure.
///
/// Reclaimable, not movable, and not `__GFP_HIGHMEM`: the pool holds its pages until they are
/// taken or its shrinker gives them back, and nothing can migrate them meanwhile. Movable
/// allocations may be placed in CMA areas and movable pageblocks, and with `__GFP_HIGHMEM` (as
/// user pages are allocated) in `ZONE_MOVABLE`; their users (memory offlining,
/// `alloc_contig_range()`) need every page there to migrate or be freed on demand, and a pooled
/// page would make them fail. The reclaimable migratetype is the one for pages a shrinker frees.
const REFILL_GFP: bindings::gfp_t = gfp(bindings::___GFP_NOWARN_BIT)
    | gfp(bindings::___GFP_RECLAIMABLE_BIT)
    | gfp(bindings::___GFP_NORETRY_BIT)
    | gfp(bindings::___GFP_NOMEMALLOC_BIT)
    | gfp(bindings::___GFP_IO_BIT)
    | gfp(bindings::___GFP_FS_BIT);

/// Returns the number of bytes in `2^order` pages.
pub const fn order_bytes(order: u32) -> usize {
    PAGE_SIZE << order
}

/// Where in a run of `2^order` pages, of which the first `used` are gone, a naturally aligned
/// piece of `2^k` pages can be cut.
///
/// Returns `(start, end)` of the piece (pages `used..start` are skipped to align it), or `None`
/// if it does not fit.
pub fn carve(order: u32, used: usize, k: u32) -> Option<(usize, usize)> {
    if k > order || order > MAX_ORDER {
        return None;
    }
    let size = 1usize << k;
    let start = used.checked_next_multiple_of(size)?;
    let end = start.checked_add(size)?;
    (end <= 1usize << order).then_some((start, end))
}

/// A zeroed block in the pool, of which the first `used` pages were handed out.
///
/// A block enters the pool as the page allocator returned it (one reference, on its first page)
/// so that it can leave whole, as a compound folio for a THP fault; it is split into order-0
/// pages the first time a smaller piece is cut from it.
///
/// # Invariants
///
/// All pages `used..2^order` from `first` are zeroed. If `split`, the pool owns one reference on
/// each of them; if not, `used` is 0 and the pool owns the non-compound block of order `order`
/// (one reference on `first`).
struct Run {
    first: NonNull<bindings::page>,
    order: u32,
    used: usize,
    split: bool,
}

// SAFETY: Pages can be used and freed from any thread.
unsafe impl Send for Run {}

impl Run {
    fn left(&self) -> usize {
        (1usize << self.order) - self.used
    }

    /// Gives the run's pages back to the page allocator.
    fn release(self) {
        if self.split {
            // SAFETY: By the type invariants we own pages `used..2^order`, each with a reference.
            unsafe {
                release_pages(
                    NonNull::new_unchecked(self.first.as_ptr().add(self.used)),
                    self.left(),
                )
            }
        } else {
            // SAFETY: By the type invariants we own the whole non-compound block.
            unsafe { bindings::__free_pages(self.first.as_ptr(), self.order) }
        }
    }
}

/// The pool of one NUMA node.
#[pin_data]
struct Node {
    nid: c_int,
    #[pin]
    runs: SpinLock<KVec<Run>>,
    /// The number of pages in `runs`, readable without the lock.
    pages: Atomic<usize>,
    /// The thread to wake when the pool runs low.
    #[pin]
    refiller: SpinLock<Option<ARef<Task>>>,
    /// Set while the refiller sleeps because this node's part is full: the next take wakes
    /// it (and clears this). Takes at other times leave it alone, so that a fault does not pay
    /// for waking a thread that is already working or that sleeps for another reason. A take
    /// that races with the refiller going to sleep may miss it; the next take, or the
    /// refiller's timeout, wakes it then.
    wake_on_take: Atomic<bool>,
}

/// Counters of a pool, for debugfs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Pages in the pool now.
    pub pages: usize,
    /// The target number of pages per node.
    pub target: usize,
    /// Untouched blocks in the pool per order.
    pub blocks: [usize; NR_ORDERS],
    /// Requests served from the pool.
    pub hits: u64,
    /// Requests the pool could not serve.
    pub misses: u64,
    /// Anonymous page faults served from the pool (counted in `hits` too).
    pub fault_hits: u64,
    /// THP faults among them.
    pub fault_thp_hits: u64,
    /// Anonymous page faults the pool could not serve (counted in `misses` too).
    pub fault_misses: u64,
    /// Bytes zeroed by [`ZeroedPool::refill`].
    pub bytes_zeroed: u64,
    /// Nanoseconds spent zeroing them.
    pub zero_ns: u64,
    /// Pages given back to the page allocator by [`ZeroedPool::shrink`].
    pub returned: u64,
    /// Refills that found no free block of the asked order.
    pub refill_failures: u64,
}

impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pages {}", self.pages)?;
        writeln!(f, "target {}", self.target)?;
        writeln!(f, "hits {}", self.hits)?;
        writeln!(f, "misses {}", self.misses)?;
        writeln!(f, "fault_hits {}", self.fault_hits)?;
        writeln!(f, "fault_thp_hits {}", self.fault_thp_hits)?;
        writeln!(f, "fault_misses {}", self.fault_misses)?;
        writeln!(f, "bytes_zeroed {}", self.bytes_zeroed)?;
        writeln!(f, "zero_ns {}", self.zero_ns)?;
        let routine = match cached_routine() {
            CACHED_STORES => "store_loop",
            _ => "clear_pages",
        };
        writeln!(f, "cached_routine {routine}")?;
        writeln!(f, "returned_pages {}", self.returned)?;
        writeln!(f, "refill_failures {}", self.refill_failures)?;
        write!(f, "blocks")?;
        for n in self.blocks {
            write!(f, " {n}")?;
        }
        writeln!(f)
    }
}

/// A pool of zeroed pages, one part per online NUMA node.
///
/// # Examples
///
/// ```
/// use kernel::mm::zeroed_pool::{ZeroedPool, ZeroMode};
///
/// let pool = ZeroedPool::new(16)?;
/// pool.set_target(64);
/// for nid in pool.nodes() {
///     assert!(pool.refill(nid, 3, ZeroMode::Cached)?);
/// }
/// let block = pool.take(1).ok_or(ENOMEM)?;
/// assert!(block.is_zero());
/// assert_eq!(pool.stats().hits, 1);
/// // Order 1 came from an order-3 block; the rest of it stays in the pool.
/// assert_eq!(pool.total_pages(), 8 * pool.nodes().count() - 2);
/// let freed: usize = pool.nodes().map(|nid| pool.shrink(nid, usize::MAX)).sum();
/// assert_eq!(pool.total_pages(), 0);
/// assert_eq!(pool.stats().returned, freed as u64);
/// assert!(pool.take(0).is_none());
/// # Ok::<(), Error>(())
/// ```
pub struct ZeroedPool {
    nodes: KVec<Pin<KBox<Node>>>,
    target: Atomic<usize>,
    hits: Atomic<u64>,
    misses: Atomic<u64>,
    fault_hits: Atomic<u64>,
    fault_thp_hits: Atomic<u64>,
    fault_misses: Atomic<u64>,
    bytes_zeroed: Atomic<u64>,
    zero_ns: Atomic<u64>,
    returned: Atomic<u64>,
    refill_failures: Atomic<u64>,
}

impl ZeroedPool {
    /// Creates an empty pool for the online nodes, holding at most `max_blocks` blocks per node.
    ///
    /// Its target is 0 pages: set one with [`ZeroedPool::set_target`].
    pub fn new(max_blocks: usize) -> Result<Arc<Self>> {
        let mut nodes = KVec::new();
        for nid in 0..bindings::MAX_NUMNODES as c_int {
            // SAFETY: `nid` is below `MAX_NUMNODES`.
            if !unsafe { bindings::node_online(nid) } {
                continue;
            }
            let runs = KVec::with_capacity(max_blocks, GFP_KERNEL)?;
            let node = KBox::pin_init(
                try_pin_init!(Node {
                    nid,
                    runs <- new_spinlock!(runs),
                    pages: Atomic::new(0),
                    refiller <- new_spinlock!(None),
                    wake_on_take: Atomic::new(false),
                }),
                GFP_KERNEL,
            )?;
            nodes.push(node, GFP_KERNEL)?;
        }
        Ok(Arc::new(
            Self {
                nodes,
                target: Atomic::new(0),
                hits: Atomic::new(0),
                misses: Atomic::new(0),
                fault_hits: Atomic::new(0),
                fault_thp_hits: Atomic::new(0),
                fault_misses: Atomic::new(0),
                bytes_zeroed: Atomic::new(0),
                zero_ns: Atomic::new(0),
                returned: Atomic::new(0),
                refill_failures: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// Returns the ids of the nodes the pool has a part for.
    pub fn nodes(&self) -> impl Iterator<Item = i32> + '_ {
        self.nodes.iter().map(|n| n.nid)
    }

    fn node(&self, nid: i32) -> Option<&Node> {
        self.nodes.iter().find(|n| n.nid == nid).map(|n| &**n)
    }

    /// Sets the number of pages each node's part should hold.
    pub fn set_target(&self, pages: usize) {
        self.target.store(pages, Relaxed);
    }

    /// Returns the number of pages each node's part should hold.
    pub fn target(&self) -> usize {
        self.target.load(Relaxed)
    }

    /// Returns the number of pages held for node `nid` (0 for an unknown node).
    pub fn pages(&self, nid: i32) -> usize {
        self.node(nid).map_or(0, |n| n.pages.load(Relaxed))
    }

    /// Returns the number of pages held for all nodes.
    pub fn total_pages(&self) -> usize {
        self.nodes.iter().map(|n| n.pages.load(Relaxed)).sum()
    }

    /// Sets (or clears) the thread woken when node `nid`'s part falls below the target.
    pub fn set_refiller(&self, nid: i32, task: Option<ARef<Task>>) {
        if let Some(node) = self.node(nid) {
            let old = core::mem::replace(&mut *node.refiller.lock(), task);
            drop(old);
        }
    }

    /// Asks for the refiller of node `nid` to be woken by the next take from the node: its
    /// part is full and it is going to sleep until there is room. Check
    /// [`ZeroedPool::wake_pending`] after marking the task as sleeping, so that a take in
    /// between is not missed.
    pub fn wake_on_take(&self, nid: i32) {
        if let Some(node) = self.node(nid) {
            node.wake_on_take.store(true, Relaxed);
        }
    }

    /// Whether the request made by [`ZeroedPool::wake_on_take`] still waits for a take.
    pub fn wake_pending(&self, nid: i32) -> bool {
        self.node(nid).is_some_and(|n| n.wake_on_take.load(Relaxed))
    }

    /// Wakes the refiller of `node` if it asked for it with [`ZeroedPool::wake_on_take`].
    fn kick(&self, node: &Node) {
        if node.wake_on_take.load(Relaxed) && node.wake_on_take.xchg(false, Relaxed) {
            if let Some(task) = &*node.refiller.lock() {
                task.wake_up();
            }
        }
    }

    /// Allocates a block of `2^order` pages on node `nid` without reclaim, zeroes it with `mode`
    /// and adds it to the pool.
    ///
    /// Zeroing lets other tasks run every few pages, so this may sleep. Returns `Ok(false)` if
    /// the pool had no room for it (the block is given back), `ENOMEM` if no free block of that
    /// order was at hand, `EINVAL` for a bad order or node.
    pub fn refill(&self, nid: i32, order: u32, mode: ZeroMode) -> Result<bool> {
        let node = self.node(nid).ok_or(EINVAL)?;
        let first = alloc_unsplit(nid, order, REFILL_GFP).inspect_err(|&e| {
            if e == ENOMEM {
                self.refill_failures.add(1, Relaxed);
            }
        })?;
        // INVARIANT: Zeroed below; until it is stored, `run` owns the block as allocated.
        let run = Run {
            first,
            order,
            used: 0,
            split: false,
        };
        let nr_pages = 1usize << order;
        // SAFETY: Neither highmem nor compound: the block has a linear mapping.
        let addr = unsafe { bindings::lowmem_page_address(first.as_ptr()) }.cast::<u8>();
        let start = Instant::<Monotonic>::now();
        let mut done = 0;
        while done < nr_pages {
            let n = ZERO_CHUNK_PAGES.min(nr_pages - done);
            // SAFETY: We own the block; pages `done..done + n` are inside it.
            unsafe { zero_pages(addr.add(done * PAGE_SIZE), n, mode) };
            done += n;
            if done < nr_pages {
                // SAFETY: `refill` is called in process context.
                unsafe { bindings::cond_resched() };
            }
        }
        let ns = start.elapsed().as_nanos();
        self.zero_ns.add(u64::try_from(ns).unwrap_or(0), Relaxed);
        self.bytes_zeroed.add(order_bytes(order) as u64, Relaxed);

        let mut runs = node.runs.lock();
        if node.pages.load(Relaxed) + nr_pages > self.target() || runs.len() == runs.capacity() {
            drop(runs);
            run.release();
            return Ok(false);
        }
        if let Err(e) = runs.push_within_capacity(run) {
            drop(runs);
            e.0.release();
            return Ok(false);
        }
        node.pages.add(nr_pages, Relaxed);
        Ok(true)
    }

    /// Takes `2^order` zeroed pages from `node`'s part, if it has them.
    ///
    /// An untouched block of that order leaves whole, as allocated (one reference, on the first
    /// page); else, unless `whole` is asked for an order above 0, the pages are cut from a
    /// bigger block, split into order-0 pages. Returns the first page and whether the pages are
    /// split.
    fn take_from(
        &self,
        node: &Node,
        order: u32,
        whole: bool,
    ) -> Option<(NonNull<bindings::page>, bool)> {
        let mut skipped = None;
        let mut taken = None;
        {
            let mut runs = node.runs.lock();
            if let Some(i) = runs.iter().rposition(|r| !r.split && r.order == order) {
                let run = runs.remove(i).ok()?;
                node.pages.fetch_sub(run.left(), Relaxed);
                // INVARIANT: The run's block, zeroed and whole, is now the caller's.
                taken = Some((run.first, false));
            } else if !whole || order == 0 {
                for i in (0..runs.len()).rev() {
                    let run = &mut runs[i];
                    let Some((start, end)) = carve(run.order, run.used, order) else {
                        continue;
                    };
                    if !run.split {
                        // SAFETY: We own the whole non-compound block (type invariants of
                        // `Run`); afterwards we own a reference on each of its pages.
                        unsafe { bindings::split_page(run.first.as_ptr(), run.order) };
                        run.split = true;
                    }
                    // SAFETY: `start < 2^run.order`, so the pointer stays inside the run.
                    let first = unsafe { NonNull::new_unchecked(run.first.as_ptr().add(start)) };
                    if start > run.used {
                        // SAFETY: As above, `run.used < start`.
                        let from =
                            unsafe { NonNull::new_unchecked(run.first.as_ptr().add(run.used)) };
                        skipped = Some((from, start - run.used));
                    }
                    node.pages.fetch_sub(end - run.used, Relaxed);
                    run.used = end;
                    if run.left() == 0 {
                        // The run is empty: its pages all went out.
                        let _ = runs.remove(i);
                    }
                    // INVARIANT: The pages `start..end` of the run are zeroed and now ours.
                    taken = Some((first, true));
                    break;
                }
            }
        }
        if let Some((from, count)) = skipped {
            // SAFETY: The pages skipped for alignment left the pool above and are ours.
            unsafe { release_pages(from, count) };
        }
        taken
    }

    /// Takes a zeroed block of `2^order` split pages from `node`'s part, if it has one.
    fn take_block(&self, node: &Node, order: u32) -> Option<Block> {
        let (first, split) = self.take_from(node, order, false)?;
        if !split && order > 0 {
            // SAFETY: The whole block, as allocated, is ours: split it into order-0 pages.
            unsafe { bindings::split_page(first.as_ptr(), order) };
        }
        // SAFETY: We own a reference on each of the `2^order` zeroed pages.
        Some(unsafe { Block::from_raw(first, order) })
    }

    /// Takes a zeroed block of `2^order` pages on node `nid` for an anonymous fault: for an
    /// order above 0 a whole block (see [`ZeroedPool::take_from`]), for compound use.
    fn take_for_fault(&self, order: u32, nid: i32) -> Option<NonNull<bindings::page>> {
        // SAFETY: Always safe to call.
        if !unsafe { bindings::in_task() } {
            return None;
        }
        let node = self.node(nid)?;
        let taken = if node.pages.load(Relaxed) == 0 {
            None
        } else {
            self.take_from(node, order, true)
        };
        self.kick(node);
        match taken {
            Some((first, _)) => {
                self.hits.add(1, Relaxed);
                self.fault_hits.add(1, Relaxed);
                if order > 0 {
                    self.fault_thp_hits.add(1, Relaxed);
                }
                Some(first)
            }
            None => {
                self.misses.add(1, Relaxed);
                self.fault_misses.add(1, Relaxed);
                None
            }
        }
    }

    /// Takes a zeroed block of `2^order` pages from the pool, from the current node's part
    /// first; returns `None` if no part has one.
    ///
    /// The pool serves task context only (its locks are not taken with interrupts off, to keep
    /// the fault path cheap): from an interrupt handler or a softirq this returns `None`, and
    /// [`ZeroedPool::alloc`] and [`alloc_zeroed`] fall back to the page allocator.
    pub fn take(&self, order: u32) -> Option<Block> {
        // SAFETY: Always safe to call.
        if !unsafe { bindings::in_task() } {
            return None;
        }
        // SAFETY: Always safe to call.
        let here = unsafe { bindings::numa_node_id() };
        let local = self.nodes.iter().filter(|n| n.nid == here);
        let others = self.nodes.iter().filter(|n| n.nid != here);
        for node in Iterator::chain(local, others) {
            if let Some(block) = self.take_block(node, order) {
                self.hits.add(1, Relaxed);
                self.kick(node);
                return Some(block);
            }
            self.kick(node);
        }
        self.misses.add(1, Relaxed);
        None
    }

    /// Takes a zeroed block from the pool, or allocates one with `flags` and zeroes it.
    ///
    /// Returns `ENOMEM` if both fail, `EINVAL` if `order` is above [`MAX_ORDER`].
    pub fn alloc(&self, order: u32, flags: Flags) -> Result<Block> {
        match self.take(order) {
            Some(block) => Ok(block),
            None => Block::alloc_zeroed(order, flags),
        }
    }

    /// Gives at least `nr_pages` pages (if it has them) of node `nid`'s part back to the page
    /// allocator, newest blocks first; returns how many pages were given back.
    pub fn shrink(&self, nid: i32, nr_pages: usize) -> usize {
        let Some(node) = self.node(nid) else {
            return 0;
        };
        let mut freed = 0;
        while freed < nr_pages {
            let Some(run) = node.runs.lock().pop() else {
                break;
            };
            let left = run.left();
            node.pages.fetch_sub(left, Relaxed);
            run.release();
            freed += left;
        }
        self.returned.add(freed as u64, Relaxed);
        freed
    }

    /// Returns the pool's counters.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            pages: self.total_pages(),
            target: self.target(),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            fault_hits: self.fault_hits.load(Relaxed),
            fault_thp_hits: self.fault_thp_hits.load(Relaxed),
            fault_misses: self.fault_misses.load(Relaxed),
            bytes_zeroed: self.bytes_zeroed.load(Relaxed),
            zero_ns: self.zero_ns.load(Relaxed),
            returned: self.returned.load(Relaxed),
            refill_failures: self.refill_failures.load(Relaxed),
            ..Stats::default()
        };
        for node in self.nodes.iter() {
            for run in node.runs.lock().iter().filter(|r| r.used == 0) {
                s.blocks[run.order as usize] += 1;
            }
        }
        s
    }

    /// Makes this pool the one [`alloc_zeroed`] and the anonymous faults of every process take
    /// from, until the returned guard is dropped. May sleep.
    ///
    /// Returns `EBUSY` if another pool is installed.
    pub fn install(self: &Arc<Self>) -> Result<Installed> {
        let ptr = Arc::as_ptr(self).cast_mut();
        ACTIVE
            .cmpxchg(ptr::null_mut(), ptr, Release)
            .map_err(|_| EBUSY)?;
        // SAFETY: Called in process context (`install` may sleep).
        unsafe { bindings::zeroed_pool_enable_faults(true) };
        // INVARIANT: `ACTIVE` now points to this pool.
        Ok(Installed {
            _pool: self.clone(),
        })
    }
}

impl Drop for ZeroedPool {
    fn drop(&mut self) {
        for node in self.nodes.iter() {
            let nid = node.nid;
            self.shrink(nid, usize::MAX);
        }
    }
}

/// The pool [`alloc_zeroed`] takes from; null if none. Readers use it under RCU.
static ACTIVE: Atomic<*mut ZeroedPool> = Atomic::new(ptr::null_mut());

/// The installation of a pool for [`alloc_zeroed`]; dropping it uninstalls the pool.
///
/// # Invariants
///
/// `ACTIVE` points to the pool in `_pool`.
pub struct Installed {
    _pool: Arc<ZeroedPool>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        // SAFETY: Dropped in process context, as `install` was called.
        unsafe { bindings::zeroed_pool_enable_faults(false) };
        ACTIVE.store(ptr::null_mut(), Release);
        // SAFETY: Always safe to call in process context. After it, no reader still uses the
        // pointer, so our reference may go.
        unsafe { bindings::synchronize_rcu() };
    }
}

/// Takes a zeroed block of `2^order` pages from the installed pool (kscrubd's, if loaded), or
/// allocates one with `flags` and zeroes it.
///
/// Returns `ENOMEM` if both fail, `EINVAL` if `order` is above [`MAX_ORDER`].
///
/// # Examples
///
/// ```
/// use kernel::mm::zeroed_pool::alloc_zeroed;
///
/// let block = alloc_zeroed(0, GFP_KERNEL)?;
/// assert!(block.is_zero());
/// assert_eq!(block.order(), 0);
/// assert!(alloc_zeroed(kernel::mm::zeroed_pool::MAX_ORDER + 1, GFP_KERNEL).is_err());
/// # Ok::<(), Error>(())
/// ```
pub fn alloc_zeroed(order: u32, flags: Flags) -> Result<Block> {
    let block = {
        let _guard = rcu::read_lock();
        let pool = ACTIVE.load(Acquire);
        if pool.is_null() {
            None
        } else {
            // SAFETY: `Installed::drop` clears `ACTIVE` and waits for an RCU grace period before
            // dropping its reference, so the pool is alive during this read-side section.
            unsafe { (*pool).take(order) }
        }
    };
    match block {
        Some(block) => Ok(block),
        None => Block::alloc_zeroed(order, flags),
    }
}

/// Called by the anonymous fault path (`mm/zeroed_pool.c`), in task context, while a pool is
/// installed: a zeroed block of `2^order` pages on node `nid`, as the page allocator returns a
/// non-compound one, or null.
///
/// # Safety
///
/// Called from C only, in task context; the caller owns the returned block.
#[export]
unsafe extern "C" fn rust_zeroed_pool_take(order: c_uint, nid: c_int) -> *mut bindings::page {
    let _guard = rcu::read_lock();
    let pool = ACTIVE.load(Acquire);
    if pool.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `Installed::drop` clears `ACTIVE` and waits for an RCU grace period before
    // dropping its reference, so the pool is alive during this read-side section.
    unsafe { (*pool).take_for_fault(order, nid) }.map_or(ptr::null_mut(), |p| p.as_ptr())
}

#[kunit_tests(rust_kernel_zeroed_pool)]
mod tests {
    use super::*;

    #[test]
    fn carve_whole_and_pieces() {
        assert_eq!(carve(3, 0, 3), Some((0, 8)));
        assert_eq!(carve(3, 0, 0), Some((0, 1)));
        assert_eq!(carve(3, 1, 1), Some((2, 4)));
        assert_eq!(carve(3, 4, 2), Some((4, 8)));
    }

    #[test]
    fn carve_refuses() {
        assert_eq!(carve(3, 0, 4), None);
        assert_eq!(carve(3, 5, 2), None);
        assert_eq!(carve(3, 8, 0), None);
        assert_eq!(carve(MAX_ORDER + 1, 0, 0), None);
    }
}
