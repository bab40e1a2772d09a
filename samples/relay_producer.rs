// SPDX-License-Identifier: GPL-2.0

//! Sample: a relay channel fed from every CPU, from threads and from a hard-interrupt timer.
//!
//! Loading opens the channel `kt298/events` (files `kt298/events<cpu>` and
//! `kt298/events.stats` in relayfs) and starts one thread per online CPU, each bound to its
//! CPU, writing `rate` events per second (0: as fast as it can). With `irq_us`, an hrtimer in
//! hard-interrupt mode writes one more event every `irq_us` microseconds on whatever CPU it
//! fires. Each CPU's events are numbered from 0: a writer takes the next number of the CPU it
//! runs on with interrupts disabled, in the same critical section as the write, so numbers
//! follow the order of the buffer, and an event that is lost leaves a gap of exactly one.
//! With `count`, every CPU stops after `count` numbers and the channel is flushed; unloading
//! closes it (readers drain what is left, then see end of file).
//!
//! Each event is 64 bytes, little endian:
//!
//! ```text
//! 0  u32 magic 0x59544b52    4  u32 cpu    8  u64 seq    16  u64 ktime_get() ns
//! 24 40 payload bytes, byte i = (seq as u8) + i
//! ```
//!
//! `tools/relay-consume` reads and checks the stream.

use kernel::{
    bindings,
    cpu::CpuId,
    cpumask::CpumaskVar,
    impl_has_hr_timer,
    kthread::{self, Placement, Thread},
    prelude::*,
    relay::{self, Channel, Config, Geometry, Mode},
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow,
    },
    time::{
        hrtimer::{
            ArcHrTimerHandle, HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerHandle,
            HrTimerPointer, HrTimerRestart, RelativeHardMode,
        },
        Delta, Instant, Monotonic,
    },
};

module! {
    type: RelayProducer,
    name: "relay_producer",
    authors: ["kt298 developers"],
    description: "Writes numbered events into a relay channel from every CPU",
    license: "GPL",
    params: {
        rate: u32 {
            default: 10000,
            description: "Events per second per CPU thread (0: as fast as possible)",
        },
        count: u32 {
            default: 0,
            description: "Events per CPU, then stop and flush (0: until unloaded)",
        },
        irq_us: u32 {
            default: 0,
            description: "Also write from a hard-interrupt hrtimer every this many microseconds (0: off)",
        },
        subbuf_size: u32 {
            default: 16384,
            description: "Sub-buffer size in bytes",
        },
        n_subbufs: u32 {
            default: 8,
            description: "Sub-buffers per CPU",
        },
        overwrite: u32 {
            default: 0,
            description: "1: flight-recorder mode, overwrite the oldest data when full",
        },
        delay_ms: u32 {
            default: 0,
            description: "Wait this long after loading before writing (time to start a reader)",
        },
        reset_ms: u32 {
            default: 0,
            description: "Reset the channel every this many milliseconds while writing (0: never)",
        },
        file_cb: u32 {
            default: 0,
            description: "1: the file-open callback opens and closes a channel of its own",
        },
    },
}

const MAGIC: u32 = 0x5954_4b52;
const EVENT: usize = 64;

/// The channel owner: counts buffer-full episodes and the file callbacks (reported at unload,
/// where opens must equal releases and maps unmaps once every file is closed).
struct Owner {
    full: Atomic<u32>,
    opens: Atomic<u32>,
    releases: Atomic<u32>,
    maps: Atomic<u32>,
    unmaps: Atomic<u32>,
}

/// The owner of the channels that the file-open callback opens (`file_cb=1`).
struct Nested;

#[vtable]
impl relay::Callbacks for Nested {}

#[vtable]
impl relay::Callbacks for Owner {
    fn buf_full(&self, _cpu: u32) {
        self.full.add(1, Relaxed);
    }

    fn file_open(&self, _cpu: u32) -> Result {
        let n = self.opens.fetch_add(1, Relaxed);
        if *module_parameters::file_cb.value() != 0 {
            // File callbacks run with no relay lock held, so they may open and close channels.
            let name = CString::try_from_fmt(fmt!("kt298/from-open{}", n))?;
            let config = Config::new(Geometry::new(4096, 2)?, Mode::Overwrite);
            let nested = Channel::open(&name, config, Nested)?;
            if !nested.write(&[0; EVENT]) {
                return Err(EIO);
            }
        }
        Ok(())
    }

    fn file_release(&self, _cpu: u32) {
        self.releases.add(1, Relaxed);
    }

    fn file_mmap(&self, _cpu: u32) -> Result {
        self.maps.add(1, Relaxed);
        Ok(())
    }

    fn file_unmap(&self, _cpu: u32) {
        self.unmaps.add(1, Relaxed);
    }
}

/// Shared by the writers.
struct Producer {
    chan: Channel<Owner>,
    /// The next event number of each CPU; only changed on that CPU with interrupts off.
    seq: KVec<Atomic<u64>>,
    count: u64,
}

impl Producer {
    /// Writes one event on the current CPU. Returns false once the CPU has written `count`.
    fn emit(&self) -> bool {
        let mut local = self.chan.local();
        let cpu = local.cpu();
        let Some(slot) = self.seq.get(cpu as usize) else {
            return false;
        };
        let seq = slot.load(Relaxed);
        if self.count != 0 && seq >= self.count {
            return false;
        }
        slot.store(seq + 1, Relaxed);
        let mut ev = [0u8; EVENT];
        ev[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        ev[4..8].copy_from_slice(&cpu.to_le_bytes());
        ev[8..16].copy_from_slice(&seq.to_le_bytes());
        // SAFETY: Reading the monotonic clock is always allowed.
        let now = unsafe { bindings::ktime_get() } as u64;
        ev[16..24].copy_from_slice(&now.to_le_bytes());
        for (i, b) in ev[24..].iter_mut().enumerate() {
            *b = (seq as u8).wrapping_add(i as u8);
        }
        // A lost event is counted by the channel; its number stays used.
        local.write(&ev);
        true
    }
}

#[pin_data]
struct Ticker {
    #[pin]
    timer: HrTimer<Self>,
    producer: Arc<Producer>,
    period: Delta,
    stop: Atomic<bool>,
}

impl HrTimerCallback for Ticker {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        // Hard interrupt context: relay writes never sleep.
        this.producer.emit();
        if this.stop.load(Relaxed) {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Ticker {
        mode: RelativeHardMode<Monotonic>, field: self.timer
    }
}

/// One writer thread's loop: `rate` events per second (rounded to whole events per
/// millisecond; 0: flat out), until stopped or done.
fn writer(p: Arc<Producer>, rate: u32, reset_ms: u32, delay_ms: u32) {
    if delay_ms > 0 {
        kthread::sleep(
            Some(Delta::from_millis(delay_ms.into())),
            kthread::should_stop,
        );
    }
    let start = Instant::<Monotonic>::now();
    let mut last_reset = start;
    // No 64-bit division: 32-bit ARM has none in the kernel.
    let per_ms = u64::from((rate / 1000).max(1));
    let mut written: u64 = 0;
    while !kthread::should_stop() {
        let due = if rate == 0 {
            written + 256
        } else {
            start.elapsed().as_millis() as u64 * per_ms
        };
        let mut more = true;
        while written < due && more {
            more = p.emit();
            written += 1;
        }
        if reset_ms > 0 && last_reset.elapsed().as_millis() >= i64::from(reset_ms) {
            // Discards unread data; readers go on from what comes next.
            p.chan.reset();
            last_reset = Instant::now();
        }
        if !more {
            // This CPU is done: make its last sub-buffer visible.
            p.chan.flush();
            break;
        }
        if rate == 0 {
            kthread::cond_resched();
        } else {
            kthread::sleep(Some(Delta::from_millis(1)), || false);
        }
    }
    while !kthread::should_stop() {
        kthread::sleep(None, || false);
    }
}

struct RelayProducer {
    producer: Arc<Producer>,
    threads: KVec<Thread>,
    ticker: Option<(Arc<Ticker>, ArcHrTimerHandle<Ticker>)>,
}

impl kernel::Module for RelayProducer {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let geometry = Geometry::new(
            *module_parameters::subbuf_size.value() as usize,
            *module_parameters::n_subbufs.value() as usize,
        )?;
        let mode = if *module_parameters::overwrite.value() != 0 {
            Mode::Overwrite
        } else {
            Mode::NoOverwrite
        };
        let owner = Owner {
            full: Atomic::new(0),
            opens: Atomic::new(0),
            releases: Atomic::new(0),
            maps: Atomic::new(0),
            unmaps: Atomic::new(0),
        };
        let chan = Channel::open(c"kt298/events", Config::new(geometry, mode), owner)?;
        let ncpus = kernel::cpu::nr_cpu_ids() as usize;
        let mut seq = KVec::with_capacity(ncpus, GFP_KERNEL)?;
        for _ in 0..ncpus {
            seq.push(Atomic::new(0u64), GFP_KERNEL)?;
        }
        let producer = Arc::new(
            Producer {
                chan,
                seq,
                count: u64::from(*module_parameters::count.value()),
            },
            GFP_KERNEL,
        )?;
        let rate = *module_parameters::rate.value();
        let reset_ms = *module_parameters::reset_ms.value();
        let delay_ms = *module_parameters::delay_ms.value();
        let mut threads = KVec::new();
        for cpu in 0..ncpus as u32 {
            // SAFETY: `cpu_online` only reads the CPU mask.
            if !unsafe { bindings::cpu_online(cpu) } {
                continue;
            }
            let mut mask = CpumaskVar::new_zero(GFP_KERNEL)?;
            if let Some(id) = CpuId::from_u32(cpu) {
                mask.set(id);
            }
            let p = producer.clone();
            // One thread resets, while the others write.
            let reset = if threads.is_empty() { reset_ms } else { 0 };
            let t = Thread::spawn_on(
                Placement::Cpus(&mask),
                fmt!("relay_producer/{}", cpu),
                move || writer(p, rate, reset, delay_ms),
            )?;
            threads.push(t, GFP_KERNEL)?;
        }
        let irq_us = *module_parameters::irq_us.value();
        let ticker = if irq_us > 0 {
            let period = Delta::from_micros(irq_us.into());
            let for_timer = producer.clone();
            let t = Arc::pin_init(
                pin_init!(Ticker {
                    timer <- HrTimer::new(),
                    producer: for_timer,
                    period,
                    stop: Atomic::new(false),
                }),
                GFP_KERNEL,
            )?;
            let handle = t.clone().start(period);
            Some((t, handle))
        } else {
            None
        };
        let mode_name = match mode {
            Mode::Overwrite => "overwrite",
            Mode::NoOverwrite => "no-overwrite",
        };
        pr_info!(
            "kt298/events: {} threads, rate {}, count {}, irq_us {}, {} x {} bytes, {}\n",
            threads.len(),
            rate,
            *module_parameters::count.value(),
            irq_us,
            geometry.n_subbufs(),
            geometry.subbuf_size(),
            mode_name
        );
        Ok(Self {
            producer,
            threads,
            ticker,
        })
    }
}

impl Drop for RelayProducer {
    fn drop(&mut self) {
        if let Some((t, mut handle)) = self.ticker.take() {
            t.stop.store(true, Relaxed);
            handle.cancel();
        }
        // Stops the threads.
        self.threads.clear();
        let s = self.producer.chan.stats_total();
        pr_info!(
            "kt298/events: {} events, {} bytes, {} lost (full {}, too big {}, busy {}), {} full episodes\n",
            s.events,
            s.bytes,
            s.lost(),
            s.lost_full,
            s.lost_too_big,
            s.lost_busy,
            self.producer.chan.callbacks().full.load(Relaxed)
        );
        let cb = self.producer.chan.callbacks();
        pr_info!(
            "kt298/events: file opens {} releases {} maps {} unmaps {}\n",
            cb.opens.load(Relaxed),
            cb.releases.load(Relaxed),
            cb.maps.load(Relaxed),
            cb.unmaps.load(Relaxed)
        );
        // The channel closes when the last reference (ours) goes.
    }
}
