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
    error::{
        to_result,
        Result, //
    },
    ffi::{
        c_int,
        c_uint,
        c_ulong, //
    },
    fmt,
    mm::virt::{
        flags as vma_flags,
        VmaNew,
        VmaRef, //
    },
    new_spinlock,
    ops_table::StaticOps,
    page::{
        BorrowedPage,
        PAGE_SIZE, //
    },
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
    types::Opaque,
};
use core::ptr::{
    self,
    NonNull, //
};

/// The largest order the page allocator hands out.
pub const MAX_ORDER: u32 = bindings::MAX_PAGE_ORDER;

/// The number of orders, `0..=MAX_ORDER`.
pub const NR_ORDERS: usize = MAX_ORDER as usize + 1;

const fn gfp(bit: u32) -> bindings::gfp_t {
    1 << bit
}

/// Flags for the pool's own allocations: no reclaim of any kind, no warning, no emergency
/// reserves, so that filling the pool never creates memory pressure. Movable, as the user pages
/// most of them become.
const REFILL_GFP: bindings::gfp_t = gfp(bindings::___GFP_NOWARN_BIT)
    | gfp(bindings::___GFP_MOVABLE_BIT)
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

/// How blocks are zeroed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroMode {
    /// With cached stores: the kernel's `clear_pages`, or a store loop where [`calibrate_cached`]
    /// found that faster.
    Cached,
    /// With non-temporal stores that bypass the caches (x86_64 only).
    NonTemporal,
}

impl ZeroMode {
    /// Returns true if [`ZeroMode::NonTemporal`] is available on this machine.
    pub const fn non_temporal_available() -> bool {
        cfg!(CONFIG_X86_64)
    }
}

/// An inline assembly loop that zeroes `$len` bytes at `$addr` with eight 8-byte `$store`
/// instructions per 64 bytes, then runs `$fence` (an instruction, or nothing).
#[cfg(CONFIG_X86_64)]
macro_rules! zero_loop {
    ($store:literal, $fence:literal, $addr:expr, $len:expr) => {
        core::arch::asm!(
            "2:",
            concat!($store, " qword ptr [{p}], {z}"),
            concat!($store, " qword ptr [{p} + 8], {z}"),
            concat!($store, " qword ptr [{p} + 16], {z}"),
            concat!($store, " qword ptr [{p} + 24], {z}"),
            concat!($store, " qword ptr [{p} + 32], {z}"),
            concat!($store, " qword ptr [{p} + 40], {z}"),
            concat!($store, " qword ptr [{p} + 48], {z}"),
            concat!($store, " qword ptr [{p} + 56], {z}"),
            "add {p}, 64",
            "sub {n}, 64",
            "jnz 2b",
            $fence,
            p = inout(reg) $addr => _,
            n = inout(reg) $len => _,
            z = in(reg) 0u64,
            options(nostack),
        )
    };
}

/// Zeroes `len` bytes at `addr` with non-temporal stores, then orders them before later stores.
///
/// # Safety
///
/// `addr` must be valid for writes of `len` bytes, 8-byte aligned, and `len` a non-zero
/// multiple of 64.
#[cfg(CONFIG_X86_64)]
unsafe fn zero_non_temporal(addr: *mut u8, len: usize) {
    // SAFETY: By the safety requirements the loop writes only inside `addr..addr + len`; the
    // `sfence` makes the weakly ordered stores visible before anything the caller stores next
    // (such as publishing the block under a lock).
    unsafe { zero_loop!("movnti", "sfence", addr, len) };
}

/// Zeroes `len` bytes at `addr` with plain 8-byte stores, 64 bytes per iteration (what
/// `__clear_pages_unrolled` does).
///
/// # Safety
///
/// `addr` must be valid for writes of `len` bytes, 8-byte aligned, and `len` a non-zero
/// multiple of 64.
#[cfg(CONFIG_X86_64)]
unsafe fn zero_stores(addr: *mut u8, len: usize) {
    // SAFETY: By the safety requirements the loop writes only inside `addr..addr + len`.
    unsafe { zero_loop!("mov", "", addr, len) };
}

/// The routine [`ZeroMode::Cached`] uses: [`CACHED_CLEAR_PAGES`] until [`calibrate_cached`]
/// finds [`CACHED_STORES`] faster.
static CACHED_ROUTINE: Atomic<i32> = Atomic::new(CACHED_CLEAR_PAGES);

/// The kernel's `clear_pages` (`rep stosb` on CPUs with ERMS).
pub const CACHED_CLEAR_PAGES: i32 = 0;

/// An unrolled loop of 8-byte stores (x86_64).
pub const CACHED_STORES: i32 = 1;

/// The routine [`ZeroMode::Cached`] uses now ([`CACHED_CLEAR_PAGES`] or [`CACHED_STORES`]).
pub fn cached_routine() -> i32 {
    CACHED_ROUTINE.load(Relaxed)
}

/// Times the cached zeroing routines on a scratch block of 64 KiB and keeps the faster one for
/// [`ZeroMode::Cached`], the way the kernel picks its XOR and RAID6 routines at boot: on most
/// hardware that is `clear_pages`; where `rep stosb` is slow (emulators such as QEMU's TCG run
/// it byte by byte) the store loop wins. Returns the best times, in nanoseconds, of
/// `clear_pages` and of the store loop (0 where there is none).
pub fn calibrate_cached() -> Result<(u64, u64)> {
    let mut block = Block::alloc_zeroed(4, GFP_KERNEL)?;
    let addr = block.addr();
    let len = order_bytes(block.order);
    let time = |f: &mut dyn FnMut()| {
        let mut best = u64::MAX;
        for _ in 0..3 {
            let start = Instant::<Monotonic>::now();
            f();
            best = best.min(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        best
    };
    // SAFETY: We own the block: page aligned, linearly mapped, `len` bytes.
    let clear =
        time(&mut || unsafe { bindings::clear_pages(addr.cast(), (len / PAGE_SIZE) as c_uint) });
    #[cfg(CONFIG_X86_64)]
    // SAFETY: As above; `len` is a multiple of 64.
    let stores = time(&mut || unsafe { zero_stores(addr, len) });
    #[cfg(not(CONFIG_X86_64))]
    let stores = 0;
    let routine = if stores != 0 && stores < clear {
        CACHED_STORES
    } else {
        CACHED_CLEAR_PAGES
    };
    CACHED_ROUTINE.store(routine, Relaxed);
    debug_assert!(block.is_zero());
    block.zero(ZeroMode::Cached);
    Ok((clear, stores))
}

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
    fn addr(&self) -> *mut u8 {
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
fn alloc_unsplit(
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

/// Zeroes `nr_pages` pages at `addr` with `mode`.
///
/// # Safety
///
/// `addr` must be page aligned and valid for writes of `nr_pages` pages.
unsafe fn zero_pages(addr: *mut u8, nr_pages: usize, mode: ZeroMode) {
    let _len = nr_pages * PAGE_SIZE;
    match mode {
        #[cfg(CONFIG_X86_64)]
        ZeroMode::NonTemporal => {
            // SAFETY: By the function's safety requirements.
            unsafe { zero_non_temporal(addr, _len) }
        }
        #[cfg(CONFIG_X86_64)]
        ZeroMode::Cached if cached_routine() == CACHED_STORES => {
            // SAFETY: By the function's safety requirements; a page is a multiple of 64 bytes.
            unsafe { zero_stores(addr, _len) }
        }
        _ => {
            // SAFETY: By the function's safety requirements.
            unsafe { bindings::clear_pages(addr.cast(), nr_pages as c_uint) }
        }
    }
}

/// The most pages [`ZeroedPool::refill`] zeroes between two chances for other tasks to run.
const ZERO_CHUNK_PAGES: usize = 16;

/// Releases `count` pages from `first` on.
///
/// # Safety
///
/// The caller owns one reference on each of the `count` contiguous pages and gives it up.
unsafe fn release_pages(first: NonNull<bindings::page>, count: usize) {
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
        // INVARIANT: We own a reference on each of the `2^order` zeroed pages.
        Some(Block { first, order })
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

/// The file operations of [`Device`]: in the kernel image, so they never go away.
static FOPS: StaticOps<bindings::file_operations> = StaticOps::new(bindings::file_operations {
    open: Some(Device::open),
    release: Some(Device::release),
    mmap: Some(Device::mmap),
    ..pin_init::zeroed()
});

/// The operations of the mappings of [`Device`].
static VM_OPS: StaticOps<bindings::vm_operations_struct> =
    StaticOps::new(bindings::vm_operations_struct {
        fault: Some(Device::fault),
        ..pin_init::zeroed()
    });

/// A misc character device whose shared mappings are filled, page by page at fault time, with
/// zeroed pages of a [`ZeroedPool`] (or freshly zeroed pages when the pool is empty).
///
/// Open files hold a reference to the pool; the file and mapping operations are in the kernel
/// image. So the module that registered the device may be unloaded while files are open or
/// mapped: they keep working, served by the remaining pool and then by the page allocator.
///
/// # Invariants
///
/// `misc` is registered with [`FOPS`] from [`Device::register`] until [`Drop`].
#[pin_data(PinnedDrop)]
pub struct Device {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    pool: Arc<ZeroedPool>,
}

// SAFETY: Deregistration can happen on any thread; `pool` is `Send + Sync`.
unsafe impl Send for Device {}

// SAFETY: `&Device` gives no access to the C structure.
unsafe impl Sync for Device {}

impl Device {
    /// Registers `/dev/<name>` serving mappings from `pool`.
    pub fn register(name: &'static CStr, pool: Arc<ZeroedPool>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // `pool` is set before the device is registered: `open` may run at once.
            pool,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = FOPS.get();
                // SAFETY: `slot` is ours to write.
                unsafe { slot.write(misc) };
                // SAFETY: The miscdevice is initialised and pinned, and deregistered in `drop`
                // before its memory goes.
                // INVARIANT: On success, `misc` is registered with `FOPS`.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }

    /// # Safety
    ///
    /// Called by `misc_open` for a registered [`Device`], with `private_data` set to its
    /// `miscdevice` and the misc lock held (so the device is not deregistered meanwhile).
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `misc_open` sets `private_data` to the registered `miscdevice`, which is the
        // `misc` field of a `Device` (only `Device::register` registers `FOPS`). `Opaque` is
        // transparent, so the field's address is that of the C structure.
        let dev = unsafe {
            &*crate::container_of!(
                (*file).private_data.cast::<Opaque<bindings::miscdevice>>(),
                Device,
                misc
            )
        };
        let pool = dev.pool.clone();
        // SAFETY: The file is being opened by us; `release` takes the reference back.
        unsafe { (*file).private_data = Arc::into_raw(pool).cast_mut().cast() };
        0
    }

    /// # Safety
    ///
    /// Called once per file opened by [`Device::open`], when it is released.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` stored a pool reference in `private_data`; it is given back once.
        drop(unsafe { Arc::from_raw((*file).private_data.cast::<ZeroedPool>()) });
        0
    }

    /// # Safety
    ///
    /// Called by `mmap` for a file opened by [`Device::open`], with a VMA being set up.
    unsafe extern "C" fn mmap(
        _file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: The VMA is being set up by this `mmap` call.
        let new = unsafe { VmaNew::from_raw(vma) };
        // A private writable mapping would copy every page at its first write: refuse it, and
        // keep a private read-only one from becoming writable through `mprotect`.
        if (new.flags() & vma_flags::SHARED) == 0 {
            if let Err(e) = new.try_clear_maywrite() {
                return e.to_errno();
            }
        }
        // Pages are inserted with `vm_insert_page`, which needs `VM_MIXEDMAP`.
        new.set_mixedmap();
        new.set_dontexpand();
        // SAFETY: The VMA is not shared yet; `VM_OPS` is static.
        unsafe { (*vma).vm_ops = VM_OPS.get() };
        0
    }

    /// # Safety
    ///
    /// Called by the fault handler for a VMA set up by [`Device::mmap`], with the mmap or VMA
    /// lock held.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: `vmf` is valid for the call; its VMA was set up by `mmap` and holds a reference
        // to the file, whose `private_data` holds a pool reference until release.
        let (vma, address, pool) = unsafe {
            let vma = (*vmf).__bindgen_anon_1.vma;
            let pool = &*(*(*vma).vm_file).private_data.cast::<ZeroedPool>();
            (VmaRef::from_raw(vma), (*vmf).__bindgen_anon_1.address, pool)
        };
        let Some(vma) = vma.as_mixedmap_vma() else {
            return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
        };
        let block = match pool.alloc(0, GFP_KERNEL) {
            Ok(block) => block,
            Err(_) => return bindings::vm_fault_reason_VM_FAULT_OOM,
        };
        let Some(page) = block.page(0) else {
            return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
        };
        // The mapping takes its own reference; ours goes with `block`.
        match vma.vm_insert_page(address, &page) {
            // `EBUSY`: another thread mapped this address first.
            Ok(()) => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
            Err(e) if e == EBUSY => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
            Err(e) if e == ENOMEM => bindings::vm_fault_reason_VM_FAULT_OOM,
            Err(_) => bindings::vm_fault_reason_VM_FAULT_SIGBUS,
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Device {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered. After this, no new file is
        // opened; open files hold their own pool reference.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
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
