// SPDX-License-Identifier: GPL-2.0

//! kscrubd: zero free memory in the background, so that page faults need not.
//!
//! A Rust re-creation of Christoph Lameter's 2005 prezeroing patches (kscrubd, `clear_pages`,
//! `vm.scrub_start`/`vm.scrub_stop`/`vm.scrub_load`). A module cannot change the buddy allocator,
//! so this kscrubd owns a pool of zeroed blocks ([`kernel::mm::zeroed_pool::ZeroedPool`]) and
//! hands them out itself:
//!
//! - one thread `kscrubd<node>` per online NUMA node, bound to the node's CPUs and freezable,
//!   sleeps until a free block of order `vm.scrub_start` or higher exists and the node's pool is
//!   below `vm.scrub_pool_pages`; then it takes free blocks of orders `scrub_start` down to
//!   `vm.scrub_stop` (without reclaim), zeroes each whole block at once (`clear_pages`, or
//!   non-temporal stores with `vm.scrub_nontemporal=1`), and adds them to the pool until it is
//!   full. Nothing is zeroed while the one-minute load average is at or above `vm.scrub_load`.
//! - a shrinker gives the pool's pages back under memory pressure;
//! - `/dev/kscrubd` maps zeroed pages from the pool at fault time (shared mappings);
//! - `kernel::mm::zeroed_pool::alloc_zeroed` takes from the pool while the module is loaded;
//! - `/sys/kernel/debug/kscrubd/stats` shows the pool (pages, target, untouched blocks per order,
//!   hits, misses, bytes zeroed and the time spent, pages returned under pressure).
//!
//! The device, the pool and their file and fault operations are in the kernel crate: the module
//! can be unloaded while mappings exist, and they stay valid.

mod daemon;
mod policy;

use daemon::Shared;
use kernel::{
    alloc::NumaNode,
    debugfs::{
        Dir,
        File, //
    },
    kthread::{
        Placement,
        Thread, //
    },
    mm::zeroed_pool::{
        self,
        Device,
        Installed,
        ZeroedPool, //
    },
    prelude::*,
    shrinker::{
        Options,
        Shrinker, //
    },
    sync::Arc,
};

module! {
    type: Kscrubd,
    name: "kscrubd",
    authors: ["kt298 developers"],
    description: "Background page zeroing into a pool of prezeroed pages",
    license: "GPL",
}

/// The loaded module.
///
/// Teardown: [`Drop`] first detaches and stops the threads (each is waited for) and empties the
/// pool; then the fields go in order: the device and the installation (no new users), the
/// debugfs files, the shrinker, and last the sysctls and this module's pool reference (in
/// `shared`). Open files of the device keep the pool alive until they are closed.
struct Kscrubd {
    _device: Pin<KBox<Device>>,
    _installed: Installed,
    _stats: Pin<KBox<File<Arc<ZeroedPool>>>>,
    _debugfs: Dir,
    threads: KVec<Thread>,
    _shrinker: Shrinker<Shared>,
    shared: Arc<Shared>,
}

impl kernel::Module for Kscrubd {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Pick the faster cached zeroing routine on this machine before anything zeroes.
        // Times are printed in microseconds: 32-bit ARM cannot format 64-bit numbers.
        let (clear_ns, stores_ns) = zeroed_pool::calibrate_cached()?;
        let routine = match zeroed_pool::cached_routine() {
            zeroed_pool::CACHED_STORES => "a store loop",
            _ => "clear_pages",
        };
        pr_info!(
            "cached zeroing with {} (64 KiB: clear_pages {} us, store loop {} us)\n",
            routine,
            u32::try_from(clear_ns).unwrap_or(u32::MAX) / 1000,
            u32::try_from(stores_ns).unwrap_or(u32::MAX) / 1000
        );
        let shared = Shared::new()?;
        let shrinker = Shrinker::register(
            fmt!("kscrubd"),
            shared.clone(),
            Options {
                numa_aware: true,
                // Zeroed pages are cheap to make again: give half back at every pass.
                seeks: 0,
            },
        )?;

        let mut threads = KVec::new();
        for nid in shared.pool.nodes() {
            let s = shared.clone();
            let node = Placement::Node(NumaNode::new(nid)?);
            let thread =
                Thread::spawn_on(node, fmt!("kscrubd{}", nid), move || daemon::run(s, nid))?;
            shared.pool.set_refiller(nid, Some(thread.task().into()));
            threads.push(thread, GFP_KERNEL)?;
        }

        let debugfs = Dir::new(c"kscrubd");
        let stats = KBox::pin_init(
            debugfs.read_callback_file(
                c"stats",
                shared.pool.clone(),
                &|pool: &Arc<ZeroedPool>, f: &mut kernel::fmt::Formatter<'_>| {
                    write!(f, "{}", pool.stats())
                },
            ),
            GFP_KERNEL,
        )?;
        let installed = shared.pool.install()?;
        let device = KBox::pin_init(
            Device::register(c"kscrubd", shared.pool.clone()),
            GFP_KERNEL,
        )?;
        pr_info!(
            "{} thread(s), pool of {} pages per node\n",
            threads.len(),
            shared.pool.target()
        );
        Ok(Kscrubd {
            _device: device,
            _installed: installed,
            _stats: stats,
            _debugfs: debugfs,
            threads,
            _shrinker: shrinker,
            shared,
        })
    }
}

impl Drop for Kscrubd {
    fn drop(&mut self) {
        // The threads stop below; consumers must not wake them meanwhile.
        for nid in self.shared.pool.nodes() {
            self.shared.pool.set_refiller(nid, None);
        }
        // The threads are gone before the pool is emptied, so that they do not refill it.
        self.threads.clear();
        let freed: usize = self
            .shared
            .pool
            .nodes()
            .map(|nid| self.shared.pool.shrink(nid, usize::MAX))
            .sum();
        pr_info!("unloaded, {} pages returned\n", freed);
    }
}
