// SPDX-License-Identifier: GPL-2.0

//! The zeroing routines: the kernel's `clear_pages`, a store loop, and non-temporal stores.

use super::{order_bytes, Block};
use crate::{
    bindings,
    ffi::c_uint,
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::{Instant, Monotonic},
};

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
    let len = order_bytes(block.order());
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

/// The most pages [`ZeroedPool::refill`] zeroes between two chances for other tasks to run.
pub(super) const ZERO_CHUNK_PAGES: usize = 16;

/// Zeroes `nr_pages` pages at `addr` with `mode`.
///
/// # Safety
///
/// `addr` must be page aligned and valid for writes of `nr_pages` pages.
pub(super) unsafe fn zero_pages(addr: *mut u8, nr_pages: usize, mode: ZeroMode) {
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
