// SPDX-License-Identifier: GPL-2.0

//! The decisions of kscrubd, as pure functions: when to zero, which orders, and when to sleep.
//!
//! The 2005 rule (Christoph Lameter's prezeroing V6): a free block of order `scrub_start` or
//! higher wakes kscrubd, which then zeroes blocks of order `scrub_stop` and higher until none is
//! left; nothing happens while the load average is at or above `scrub_load`. Here kscrubd fills a
//! pool of bounded size, so "none left" becomes "the pool is at its target". As in 2005,
//! `scrub_start` 0 means off: kscrubd loaded does nothing until an order is written there.

use kernel::{
    prelude::*,
    time::Delta, //
};

/// The index of each sysctl in the table.
pub(crate) const START: usize = 0;
pub(crate) const STOP: usize = 1;
pub(crate) const LOAD: usize = 2;
pub(crate) const POOL_PAGES: usize = 3;
pub(crate) const NON_TEMPORAL: usize = 4;

/// The sysctl values, as read at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// `vm.scrub_start`: free blocks of this order or higher wake kscrubd; 0: kscrubd is off.
    pub(crate) start: u32,
    /// `vm.scrub_stop`: kscrubd zeroes blocks of this order and higher (up to `start`).
    pub(crate) stop: u32,
    /// `vm.scrub_load`: no zeroing while the one-minute load average is at or above this.
    pub(crate) load: u32,
    /// `vm.scrub_pool_pages`: the target size of each node's pool, in pages.
    pub(crate) target: usize,
}

/// What kscrubd sees of its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Observed {
    /// Pages in the node's pool.
    pub(crate) pool_pages: usize,
    /// Free blocks of order `start` or higher in the node.
    pub(crate) free_start: usize,
    /// Free blocks of order `stop` or higher in the node.
    pub(crate) free_stop: usize,
    /// The one-minute load average, fixed point with `shift` fraction bits.
    pub(crate) load: u64,
    /// The fraction bits of `load`.
    pub(crate) shift: u32,
    /// Pages available to allocations elsewhere (`MemAvailable`).
    pub(crate) available: usize,
}

/// Why kscrubd sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// `scrub_start` is 0: stopped, with an empty pool.
    Off,
    /// The pool has no room for a block of order `stop`.
    Full,
    /// No free block of a suitable order.
    NoBlocks,
    /// The load is too high.
    Busy,
    /// Memory is short: the pool would compete with the workload (and its shrinker).
    LowMemory,
}

impl Idle {
    /// How long to sleep before looking again, unless woken.
    pub(crate) fn timeout(self) -> Delta {
        match self {
            Idle::Off => Delta::from_secs(1),
            Idle::Full => Delta::from_secs(10),
            // The page allocator wakes kscrubd when a block of order `start` forms.
            Idle::NoBlocks => Delta::from_secs(10),
            Idle::Busy => Delta::from_secs(5),
            Idle::LowMemory => Delta::from_secs(1),
        }
    }
}

/// What kscrubd does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Zero one block of order `high`, or if none is free, of the highest order down to `low`.
    Fill { high: u32, low: u32 },
    /// Sleep.
    Sleep(Idle),
}

/// Returns true if the sysctls `start` and `stop` are consistent: kscrubd cannot zero down to
/// an order above the one that wakes it. With `start` 0 (off), `stop` is kept for later.
pub(crate) fn orders_valid(start: i32, stop: i32) -> bool {
    0 <= stop && 0 <= start && (start == 0 || stop <= start)
}

/// Returns true if the load average allows zeroing.
pub(crate) fn load_ok(load: u64, shift: u32, limit: u32) -> bool {
    load < u64::from(limit) << shift
}

/// Returns true if memory is plentiful enough to fill a pool of `target` pages: at least as much
/// again must stay available to everything else, so that kscrubd never refills the pool while
/// reclaim is emptying it.
pub(crate) fn memory_ok(available: usize, target: usize) -> bool {
    available > target
}

/// Returns the order of the biggest block, no bigger than `2^start` pages, that fits in `room`
/// pages; `None` if that is below `stop`.
pub(crate) fn fill_order(start: u32, stop: u32, room: usize) -> Option<u32> {
    if room == 0 {
        return None;
    }
    let order = start.min(room.ilog2());
    (order >= stop).then_some(order)
}

/// Returns true if the pool has room for a block of order `stop`.
pub(crate) fn has_room(p: &Params, pool_pages: usize) -> bool {
    fill_order(p.start, p.stop, p.target.saturating_sub(pool_pages)).is_some()
}

/// Decides the next step. `filling` is true if the previous step zeroed a block.
///
/// kscrubd starts when a block of order `start` or higher is free, and goes on while blocks of
/// order `stop` or higher are free, until the pool is full. It does nothing while the load is at
/// or above the limit, or while memory is short.
pub(crate) fn decide(filling: bool, p: &Params, o: &Observed) -> Action {
    if p.start == 0 {
        return Action::Sleep(Idle::Off);
    }
    if !load_ok(o.load, o.shift, p.load) {
        return Action::Sleep(Idle::Busy);
    }
    let Some(high) = fill_order(p.start, p.stop, p.target.saturating_sub(o.pool_pages)) else {
        return Action::Sleep(Idle::Full);
    };
    if !memory_ok(o.available, p.target) {
        return Action::Sleep(Idle::LowMemory);
    }
    let free = if filling { o.free_stop } else { o.free_start };
    if free == 0 {
        return Action::Sleep(Idle::NoBlocks);
    }
    Action::Fill { high, low: p.stop }
}

#[kunit_tests(kscrubd_policy)]
mod tests {
    use super::*;

    const P: Params = Params {
        start: 6,
        stop: 4,
        load: 999,
        target: 4096,
    };

    fn seen(pool_pages: usize, free_start: usize, free_stop: usize) -> Observed {
        Observed {
            pool_pages,
            free_start,
            free_stop,
            load: 0,
            shift: 11,
            available: 1 << 20,
        }
    }

    #[test]
    fn orders() {
        assert!(orders_valid(6, 4));
        assert!(orders_valid(4, 4));
        assert!(orders_valid(0, 0));
        // Off: `stop` waits for the next start.
        assert!(orders_valid(0, 4));
        assert!(!orders_valid(4, 6));
        assert!(!orders_valid(4, -1));
        assert!(!orders_valid(-1, 0));
    }

    #[test]
    fn load() {
        assert!(load_ok(0, 11, 999));
        assert!(load_ok((2 << 11) - 1, 11, 2));
        assert!(!load_ok(2 << 11, 11, 2));
        assert!(!load_ok(0, 11, 0));
    }

    #[test]
    fn fill_orders() {
        assert_eq!(fill_order(6, 4, 4096), Some(6));
        assert_eq!(fill_order(6, 4, 64), Some(6));
        assert_eq!(fill_order(6, 4, 63), Some(5));
        assert_eq!(fill_order(6, 4, 16), Some(4));
        assert_eq!(fill_order(6, 4, 15), None);
        assert_eq!(fill_order(6, 4, 0), None);
        assert_eq!(fill_order(0, 0, 1), Some(0));
    }

    #[test]
    fn wakes_on_start_order_only() {
        // Idle, and only small blocks are free: stay asleep.
        assert_eq!(
            decide(false, &P, &seen(0, 0, 100)),
            Action::Sleep(Idle::NoBlocks)
        );
        // A block of order `start` is free: go.
        assert_eq!(
            decide(false, &P, &seen(0, 1, 100)),
            Action::Fill { high: 6, low: 4 }
        );
        // Once filling, blocks of order `stop` are enough.
        assert_eq!(
            decide(true, &P, &seen(0, 0, 100)),
            Action::Fill { high: 6, low: 4 }
        );
        assert_eq!(
            decide(true, &P, &seen(0, 0, 0)),
            Action::Sleep(Idle::NoBlocks)
        );
    }

    #[test]
    fn stops_when_full() {
        assert_eq!(
            decide(true, &P, &seen(4096, 9, 9)),
            Action::Sleep(Idle::Full)
        );
        // 20 pages of room: one order-4 block still fits.
        assert_eq!(
            decide(true, &P, &seen(4076, 9, 9)),
            Action::Fill { high: 4, low: 4 }
        );
        assert_eq!(
            decide(true, &P, &seen(4090, 9, 9)),
            Action::Sleep(Idle::Full)
        );
        assert!(!has_room(&P, 4090));
        assert!(has_room(&P, 4080));
        let off = Params { target: 0, ..P };
        assert_eq!(
            decide(false, &off, &seen(0, 9, 9)),
            Action::Sleep(Idle::Full)
        );
    }

    #[test]
    fn off_until_started() {
        let off = Params { start: 0, ..P };
        assert_eq!(
            decide(false, &off, &seen(0, 9, 9)),
            Action::Sleep(Idle::Off)
        );
        assert_eq!(
            decide(true, &off, &seen(100, 9, 9)),
            Action::Sleep(Idle::Off)
        );
        assert_eq!(
            decide(false, &P, &seen(0, 9, 9)),
            Action::Fill { high: 6, low: 4 }
        );
    }

    #[test]
    fn low_memory_blocks() {
        let mut o = seen(0, 9, 9);
        o.available = 4096;
        assert_eq!(decide(true, &P, &o), Action::Sleep(Idle::LowMemory));
        o.available = 4097;
        assert_eq!(decide(true, &P, &o), Action::Fill { high: 6, low: 4 });
        assert!(!memory_ok(0, 0));
    }

    #[test]
    fn busy_load_blocks() {
        let p = Params { load: 2, ..P };
        let mut o = seen(0, 9, 9);
        o.load = 3 << 11;
        assert_eq!(decide(false, &p, &o), Action::Sleep(Idle::Busy));
        o.load = 1 << 11;
        assert_eq!(decide(false, &p, &o), Action::Fill { high: 6, low: 4 });
    }
}
