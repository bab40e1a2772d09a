// SPDX-License-Identifier: GPL-2.0

//! Benchmark: our relay channel against the kernel's C relay, side by side in one boot.
//!
//! Loading opens `pairs` pairs of channels, each a `kernel::relay` channel and a C
//! `relay_open` channel (files in debugfs) with the same geometry (`n_subbufs` sub-buffers of
//! `subbuf_size` bytes per CPU), all in overwrite mode so that every write stores its event.
//! For each pair it times `events` writes of `size` bytes on one CPU (interrupt-safe and
//! preemption-only variants: `Channel::write` against `relay_write`, `Channel::write_fast`
//! against `__relay_write`), then the same on every online CPU at once. Rounds alternate
//! between the two sides and the best of `rounds` is kept.
//!
//! The pairs stay open together, so each one's buffers and bookkeeping sit at other
//! addresses. Under QEMU's TCG that matters: the cost of an access depends on where it falls
//! in QEMU's software TLB, and a placement that is slow for one side stays slow for as long as
//! the buffers live. The line of a measure gives the median over the pairs (each pair's line
//! comes first, with `pair=`). Then it closes the channels and stays loaded, idle, until
//! `rmmod relay_bench`:
//!
//! ```text
//! relay_bench: one_cpu_irq ours_ns=15634000 c_ns=15801000 events=200000 pair=0
//! ...
//! relay_bench: one_cpu_irq ours_ns=15634000 c_ns=15801000 events=200000 pairs=5
//! relay_bench: all_cpus_irq ours_ns=... c_ns=... events=800000 cpus=4 pairs=5
//! ```
//!
//! The C writes go through kernel-crate helpers (`relay_write` is inline in C), and ours
//! reach the kernel's interrupt and preemption switches through helpers too. With
//! `CONFIG_RUST_INLINE_HELPERS` (the suite's x86_64 kernel) all of them are inlined, so both
//! sides run inline code; without it the C side pays one call per event, and ours two.

use core::{hint::black_box, ptr};
use kernel::{
    bindings,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    relay::{self, Channel, Config, Geometry, Mode},
    str::CString,
};

module! {
    type: RelayBench,
    name: "relay_bench",
    authors: ["kt298 developers"],
    description: "Times kernel::relay writes against the C relay_write",
    license: "GPL",
    params: {
        events: u32 {
            default: 200000,
            description: "Writes per CPU per measure",
        },
        size: u32 {
            default: 64,
            description: "Event size in bytes",
        },
        subbuf_size: u32 {
            default: 16384,
            description: "Sub-buffer size in bytes (both channels)",
        },
        n_subbufs: u32 {
            default: 8,
            description: "Sub-buffers per CPU (both channels)",
        },
        rounds: u32 {
            default: 5,
            description: "Rounds per measure and pair; the best is kept",
        },
        pairs: u32 {
            default: 5,
            description: "Channel pairs, at different addresses; the median is reported",
        },
    },
}

struct Nop;

#[vtable]
impl relay::Callbacks for Nop {}

/// C relay callback: every sub-buffer may start (overwrite mode).
///
/// # Safety
///
/// Called by the C relay.
unsafe extern "C" fn c_subbuf_start(
    _buf: *mut bindings::rchan_buf,
    _subbuf: *mut c_void,
    _prev: *mut c_void,
) -> c_int {
    1
}

/// C relay callback: a buffer file in debugfs.
///
/// # Safety
///
/// Called by the C relay with a valid name, parent (or null) and buffer.
unsafe extern "C" fn c_create(
    name: *const c_char,
    parent: *mut bindings::dentry,
    mode: bindings::umode_t,
    buf: *mut bindings::rchan_buf,
    _is_global: *mut c_int,
) -> *mut bindings::dentry {
    // SAFETY: Called by relay_open with a valid name; the relay file operations are static.
    unsafe {
        bindings::debugfs_create_file_full(
            name,
            mode,
            parent,
            buf.cast(),
            ptr::null(),
            &bindings::relay_file_operations,
        )
    }
}

/// C relay callback: removes a file made by [`c_create`].
///
/// # Safety
///
/// `dentry` was returned by [`c_create`].
unsafe extern "C" fn c_remove(dentry: *mut bindings::dentry) -> c_int {
    // SAFETY: `dentry` was made by `c_create`.
    unsafe { bindings::debugfs_remove(dentry) };
    0
}

struct CCallbacks(bindings::rchan_callbacks);

// SAFETY: Only function pointers, never written.
unsafe impl Sync for CCallbacks {}

static C_CB: CCallbacks = CCallbacks(bindings::rchan_callbacks {
    subbuf_start: Some(c_subbuf_start),
    create_buf_file: Some(c_create),
    remove_buf_file: Some(c_remove),
});

/// The C channel, closed on drop.
struct CChannel(*mut bindings::rchan);

impl Drop for CChannel {
    fn drop(&mut self) {
        // SAFETY: Opened by `relay_open`, closed once.
        unsafe { bindings::relay_close(self.0) };
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    OursIrq,
    OursFast,
    CIrq,
    CFast,
}

struct Bench {
    ours: Channel<Nop>,
    c: CChannel,
    data: KVec<u8>,
    events: u32,
}

fn now_ns() -> i64 {
    // SAFETY: Reading the monotonic clock is always allowed.
    unsafe { bindings::ktime_get() }
}

impl Bench {
    /// `events` writes of one variant on the current CPU; returns the nanoseconds taken.
    ///
    /// Each variant has its own loop, so that one variant's code does not change how the
    /// compiler lays out another's, and `black_box` makes every write start from the channel
    /// and the data as a caller's would: nothing is hoisted out of the loop.
    fn run(&self, v: Variant) -> i64 {
        let d = &self.data[..];
        let n = self.events;
        let t0 = now_ns();
        match v {
            Variant::OursIrq => {
                for _ in 0..n {
                    black_box(&self.ours).write(black_box(d));
                }
            }
            Variant::OursFast => {
                for _ in 0..n {
                    black_box(&self.ours).write_fast(black_box(d));
                }
            }
            Variant::CIrq => {
                for _ in 0..n {
                    let d = black_box(d);
                    // SAFETY: The channel is open; `d` is valid for its length.
                    unsafe {
                        bindings::c_relay_write(black_box(self.c.0), d.as_ptr().cast(), d.len())
                    };
                }
            }
            Variant::CFast => {
                for _ in 0..n {
                    let d = black_box(d);
                    // SAFETY: As above; `__relay_write` disables preemption itself.
                    unsafe {
                        bindings::c___relay_write(black_box(self.c.0), d.as_ptr().cast(), d.len())
                    };
                }
            }
        }
        now_ns() - t0
    }
}

/// State of an all-CPU run.
struct AllCpus<'a> {
    bench: &'a Bench,
    variant: Variant,
    /// Nanoseconds per CPU.
    ns: KVec<kernel::sync::atomic::Atomic<i64>>,
}

/// Runs one all-CPU measure on this CPU.
///
/// # Safety
///
/// `info` points to an [`AllCpus`] that outlives the call.
unsafe extern "C" fn run_here(info: *mut c_void) {
    // SAFETY: `info` is the `AllCpus` of `all_cpus`, alive during the synchronous call.
    let a = unsafe { &*info.cast::<AllCpus<'_>>() };
    // SAFETY: We run in the IPI handler, on this CPU.
    let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
    let ns = a.bench.run(a.variant);
    if let Some(slot) = a.ns.get(cpu) {
        slot.store(ns, kernel::sync::atomic::Relaxed);
    }
}

impl Bench {
    /// Runs a variant on every online CPU at once (with interrupts off, from an IPI); returns
    /// the slowest CPU's nanoseconds.
    fn all_cpus(&self, v: Variant) -> Result<i64> {
        let n = kernel::cpu::nr_cpu_ids() as usize;
        let mut ns = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            ns.push(kernel::sync::atomic::Atomic::new(0i64), GFP_KERNEL)?;
        }
        let a = AllCpus {
            bench: self,
            variant: v,
            ns,
        };
        // SAFETY: `run_here` only uses `a`, which outlives the call (it waits).
        unsafe {
            bindings::on_each_cpu_cond_mask(
                None,
                Some(run_here),
                ptr::from_ref(&a).cast_mut().cast(),
                true,
                ptr::addr_of!(bindings::__cpu_online_mask),
            )
        };
        Ok(a.ns
            .iter()
            .map(|s| s.load(kernel::sync::atomic::Relaxed))
            .max()
            .unwrap_or(0))
    }
}

/// The best of `rounds` for each of two variants, alternating them.
fn best_of(
    rounds: u32,
    mut f: impl FnMut(Variant) -> Result<i64>,
    a: Variant,
    b: Variant,
) -> Result<(i64, i64)> {
    let (mut ba, mut bb) = (i64::MAX, i64::MAX);
    for _ in 0..rounds.max(1) {
        ba = ba.min(f(a)?);
        bb = bb.min(f(b)?);
    }
    Ok((ba, bb))
}

/// The median of `v` (the upper one of an even count), or 0.
fn median(v: &mut [i64]) -> i64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

impl Bench {
    /// Opens pair `n`: our channel and the C one, with the same shape.
    fn open(n: u32, sb: usize, nsb: usize, data: &[u8], events: u32) -> Result<Self> {
        let ours = Channel::open(
            &CString::try_from_fmt(fmt!("kt298-bench/ours{}", n))?,
            Config::new(Geometry::new(sb, nsb)?, Mode::Overwrite),
            Nop,
        )?;
        let name = CString::try_from_fmt(fmt!("kt298_bench_c{}", n))?;
        // SAFETY: The name is a valid string, the callbacks are static.
        let c = unsafe {
            bindings::relay_open(
                name.as_char_ptr(),
                ptr::null_mut(),
                sb,
                nsb,
                &C_CB.0,
                ptr::null_mut(),
            )
        };
        if c.is_null() {
            pr_err!("relay_open failed\n");
            return Err(ENOMEM);
        }
        let mut copy = KVec::new();
        copy.extend_from_slice(data, GFP_KERNEL)?;
        Ok(Self {
            ours,
            c: CChannel(c),
            data: copy,
            events,
        })
    }
}

struct RelayBench;

impl kernel::Module for RelayBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let sb = *module_parameters::subbuf_size.value() as usize;
        let nsb = *module_parameters::n_subbufs.value() as usize;
        let size = *module_parameters::size.value() as usize;
        let events = *module_parameters::events.value();
        let rounds = *module_parameters::rounds.value();
        let npairs = (*module_parameters::pairs.value()).max(1);
        let mut data = KVec::new();
        for i in 0..size {
            data.push(i as u8, GFP_KERNEL)?;
        }
        let mut pairs = KVec::new();
        for n in 0..npairs {
            pairs.push(Bench::open(n, sb, nsb, &data, events)?, GFP_KERNEL)?;
        }
        // SAFETY: `cpu_online` only reads the CPU mask.
        let ncpus = (0..kernel::cpu::nr_cpu_ids())
            .filter(|&c| unsafe { bindings::cpu_online(c) })
            .count() as u32;
        for (name, a, b) in [
            ("irq", Variant::OursIrq, Variant::CIrq),
            ("fast", Variant::OursFast, Variant::CFast),
        ] {
            for (scope, all) in [("one_cpu", false), ("all_cpus", true)] {
                let cpus = if all { ncpus } else { 1 };
                let n = u64::from(events) * u64::from(cpus);
                let (mut o, mut c) = (KVec::new(), KVec::new());
                for (i, bench) in pairs.iter().enumerate() {
                    let (po, pc) = if all {
                        best_of(rounds, |v| bench.all_cpus(v), a, b)?
                    } else {
                        best_of(rounds, |v| Ok(bench.run(v)), a, b)?
                    };
                    pr_info!(
                        "{}_{} ours_ns={} c_ns={} events={} pair={}\n",
                        scope,
                        name,
                        po,
                        pc,
                        n,
                        i
                    );
                    o.push(po, GFP_KERNEL)?;
                    c.push(pc, GFP_KERNEL)?;
                }
                pr_info!(
                    "{}_{} ours_ns={} c_ns={} events={} cpus={} pairs={}\n",
                    scope,
                    name,
                    median(&mut o),
                    median(&mut c),
                    n,
                    cpus,
                    npairs
                );
            }
        }
        let mut lost = 0;
        let mut stored = 0;
        for bench in pairs.iter() {
            let s = bench.ours.stats_total();
            stored += s.events;
            lost += s.lost();
        }
        pr_info!("ours: {} events stored, {} lost\n", stored, lost);
        // The channels are closed here: the module stays loaded idle until `rmmod`.
        Ok(Self)
    }
}
