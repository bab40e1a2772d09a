// SPDX-License-Identifier: GPL-2.0

//! The kscrubd threads, the sysctls they obey and the shrinker that empties their pool.

use crate::policy::{
    self,
    Action,
    Idle,
    Observed,
    Params, //
};
use kernel::{
    kthread,
    mm::zeroed_pool::{
        self,
        Watch,
        ZeroMode,
        ZeroedPool, //
    },
    prelude::*,
    shrinker::{
        Control,
        Count,
        Scan,
        Shrink, //
    },
    sync::Arc,
    sysctl::{
        Entry,
        Table,
        Values, //
    },
};

/// The most blocks each node's pool holds (its bookkeeping is allocated once, 24 bytes a block).
pub(crate) const MAX_BLOCKS: usize = 4096;

/// The default pool target per node: 16 MiB of 4 KiB pages.
const DEFAULT_POOL_PAGES: i32 = 4096;

/// What the threads, the shrinker and the sysctl handler share.
pub(crate) struct Shared {
    pub(crate) pool: Arc<ZeroedPool>,
    pub(crate) sysctl: Table,
}

/// Refuses a write that would put `scrub_stop` above `scrub_start`.
fn check(v: &Values<'_>) -> Result {
    match (v.get(policy::START), v.get(policy::STOP)) {
        (Some(start), Some(stop)) if policy::orders_valid(start, stop) => Ok(()),
        _ => Err(EINVAL),
    }
}

impl Shared {
    /// Creates the pool and registers the sysctls under `vm`.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let max_order = zeroed_pool::MAX_ORDER as i32;
        let nt = i32::from(ZeroMode::non_temporal_available());
        let entries = [
            // Off until an order is written, as in 2005.
            Entry::new(c"scrub_start", 0, max_order, 0),
            Entry::new(c"scrub_stop", 0, max_order, 4i32.min(max_order)),
            Entry::new(c"scrub_load", 0, i32::MAX, 999),
            Entry::new(c"scrub_pool_pages", 0, 1 << 20, DEFAULT_POOL_PAGES),
            Entry::new(c"scrub_nontemporal", 0, nt, nt),
        ];
        let pool = ZeroedPool::new(MAX_BLOCKS)?;
        let sysctl = Table::register(c"vm", &entries, Some(check))?;
        let shared = Arc::new(Shared { pool, sysctl }, GFP_KERNEL)?;
        shared.pool.set_target(shared.params().target);
        Ok(shared)
    }

    /// Reads the sysctls.
    pub(crate) fn params(&self) -> Params {
        let get = |i, default: i32| self.sysctl.get(i).unwrap_or(default).max(0) as u32;
        Params {
            start: get(policy::START, 0),
            stop: get(policy::STOP, 4),
            load: get(policy::LOAD, 999),
            target: get(policy::POOL_PAGES, DEFAULT_POOL_PAGES) as usize,
        }
    }

    /// Returns the zeroing mode the sysctl asks for.
    fn mode(&self) -> ZeroMode {
        if self.sysctl.get(policy::NON_TEMPORAL).unwrap_or(0) != 0 {
            ZeroMode::NonTemporal
        } else {
            ZeroMode::Cached
        }
    }
}

/// Under memory pressure, the pool gives its pages back: they are free memory held in reserve.
impl Shrink for Shared {
    fn count(&self, sc: &Control) -> Count {
        match self.pool.pages(sc.nid()) {
            0 => Count::Empty,
            n => Count::Objects(n),
        }
    }

    fn scan(&self, sc: &Control) -> Scan {
        Scan::Freed(self.pool.shrink(sc.nid(), sc.nr_to_scan()))
    }
}

/// The body of thread `kscrubd<nid>`: keeps node `nid`'s pool filled until asked to stop.
///
/// It runs in the `SCHED_IDLE` class, so it zeroes only on a CPU that nothing else wants, and
/// sleeps until the page allocator forms a free block of order `scrub_start` ([`Watch`]).
pub(crate) fn run(shared: Arc<Shared>, nid: i32) {
    kthread::set_freezable();
    if let Err(e) = kthread::set_sched_idle() {
        pr_warn!(
            "kscrubd{}: no SCHED_IDLE ({:?}): zeroing at normal priority\n",
            nid,
            e
        );
    }
    // Without a watch, the thread still looks for free blocks at every timeout.
    let watch = Watch::new(nid, current!())
        .inspect_err(|e| pr_warn!("kscrubd{}: no wake-up on free blocks ({:?})\n", nid, e))
        .ok();
    let arm_and_sleep = |start: u32, timeout| {
        if let Some(w) = &watch {
            w.arm(start);
        }
        kthread::sleep(Some(timeout), || watch.as_ref().is_some_and(|w| !w.armed()));
    };
    let pool = &shared.pool;
    let mut filling = false;
    while !kthread::should_stop() {
        kthread::try_to_freeze();
        let p = shared.params();
        pool.set_target(p.target);
        let seen = Observed {
            pool_pages: pool.pages(nid),
            free_start: zeroed_pool::node_free_blocks(nid, p.start),
            free_stop: zeroed_pool::node_free_blocks(nid, p.stop),
            load: zeroed_pool::load_average(),
            shift: zeroed_pool::LOAD_SHIFT,
            available: zeroed_pool::available_pages(),
        };
        match policy::decide(filling, &p, &seen) {
            Action::Fill { high, low } => {
                let mode = shared.mode();
                // The highest order first; lower ones if no such block is free.
                filling = (low..=high)
                    .rev()
                    .any(|order| matches!(pool.refill(nid, order, mode), Ok(true)));
                if !filling {
                    // The free blocks went to someone else, or the pool is full of small blocks.
                    arm_and_sleep(p.start, Idle::NoBlocks.timeout());
                }
                kthread::cond_resched();
            }
            Action::Sleep(Idle::NoBlocks) => {
                filling = false;
                arm_and_sleep(p.start, Idle::NoBlocks.timeout());
            }
            Action::Sleep(Idle::Off) => {
                filling = false;
                // Stopped: the pool's pages go back to the page allocator.
                if pool.pages(nid) != 0 {
                    pool.shrink(nid, usize::MAX);
                }
                kthread::sleep(Some(Idle::Off.timeout()), || false);
            }
            Action::Sleep(why) => {
                filling = false;
                // When the pool is full, the next consumer to take pages wakes the thread, and
                // it has work again as soon as a block fits. Otherwise (high load, no free
                // blocks, memory short) it looks again after the timeout.
                if why == Idle::Full {
                    pool.wake_on_take(nid);
                }
                kthread::sleep(Some(why.timeout()), || {
                    why == Idle::Full
                        && (!pool.wake_pending(nid) || policy::has_room(&p, pool.pages(nid)))
                });
            }
        }
    }
}
