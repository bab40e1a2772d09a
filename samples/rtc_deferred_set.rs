// SPDX-License-Identifier: GPL-2.0

//! Sample: setting a real-time clock from a hard-interrupt timer callback.
//!
//! The RTC core sleeps (it takes a mutex, and the clock may sit on a slow bus),
//! so a timer or interrupt handler cannot set a clock directly. This module
//! opens `rtc<rtc_index>` as a [`rtc::DeferredSet`] and starts an hrtimer in
//! hard mode that, every `period_us` microseconds, `count` times, asks for the
//! clock to be set to `base` plus the number of earlier ticks. The requests
//! queue one work item; requests that arrive while it is queued coalesce, and
//! the latest wins. Unloading cancels the timer, flushes the pending request
//! and prints what happened:
//!
//! ```text
//! rtc_deferred_set: rtc1: 10 ticks, 4 work items queued, last set 1893456009: 0
//! ```

use kernel::{
    impl_has_hr_timer,
    prelude::*,
    rtc,
    str::CString,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        ArcBorrow, //
    },
    time::{
        hrtimer::{
            ArcHrTimerHandle,
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerHandle,
            HrTimerPointer,
            HrTimerRestart,
            RelativeHardMode, //
        },
        Delta,
        Monotonic, //
    },
};

module! {
    type: DeferredSetSample,
    name: "rtc_deferred_set",
    authors: ["kt298 developers"],
    description: "Sets an RTC from an hrtimer callback through rtc::DeferredSet",
    license: "GPL",
    params: {
        rtc_index: u32 {
            default: 0,
            description: "Number N of the clock to set (/dev/rtcN)",
        },
        base: i64 {
            default: 0,
            description: "Time of the first request, in seconds since the epoch (0: the clock's own time)",
        },
        count: u32 {
            default: 0,
            description: "Number of timer ticks, each requesting base + tick (0: load and do nothing)",
        },
        period_us: u32 {
            default: 1000,
            description: "Timer period in microseconds",
        },
    },
}

#[pin_data]
struct Ticker {
    #[pin]
    timer: HrTimer<Self>,
    set: Arc<rtc::DeferredSet>,
    base: i64,
    count: u32,
    period: Delta,
    fired: Atomic<u32>,
    queued: Atomic<u32>,
}

impl HrTimerCallback for Ticker {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        // Hard interrupt context: `DeferredSet::set` does not sleep.
        let n = this.fired.fetch_add(1, Relaxed);
        if this.set.set(this.base + i64::from(n)) {
            this.queued.add(1, Relaxed);
        }
        if n + 1 >= this.count {
            HrTimerRestart::NoRestart
        } else {
            ctx.forward_now(this.period);
            HrTimerRestart::Restart
        }
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Ticker {
        mode: RelativeHardMode<Monotonic>, field: self.timer
    }
}

/// Returns `secs` as a `u32` for printing (seconds since the epoch fit until 2106), or 0.
fn secs32(secs: i64) -> u32 {
    u32::try_from(secs).unwrap_or(0)
}

/// A running sample: the clock's name, the ticker and its timer.
struct Running {
    name: CString,
    ticker: Arc<Ticker>,
    handle: ArcHrTimerHandle<Ticker>,
}

/// The module: `None` when loaded idle. Dropping the `Running` stops it.
struct DeferredSetSample {
    _running: Option<Running>,
}

impl kernel::Module for DeferredSetSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let count = *module_parameters::count.value();
        if count == 0 {
            pr_info!("idle: load with count=N (and rtc_index, base, period_us) to set a clock\n");
            return Ok(Self { _running: None });
        }
        let name = CString::try_from_fmt(fmt!("rtc{}", *module_parameters::rtc_index.value()))?;
        let set = rtc::DeferredSet::new(&name)?;
        let base = match *module_parameters::base.value() {
            0 => set.device().read_time()?.to_time64(),
            b => b,
        };
        let period = Delta::from_micros((*module_parameters::period_us.value()).max(1).into());
        let ticker = Arc::pin_init(
            pin_init!(Ticker {
                timer <- HrTimer::new(),
                set,
                base,
                count,
                period,
                fired: Atomic::new(0),
                queued: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let handle = ticker.clone().start(period);
        // 64-bit integers are not formatted: 32-bit ARM's `core::fmt` cannot divide them.
        pr_info!(
            "{}: {} ticks every {} us from {}\n",
            name.to_str()?,
            count,
            *module_parameters::period_us.value(),
            secs32(base)
        );
        Ok(Self {
            _running: Some(Running {
                name,
                ticker,
                handle,
            }),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stop the timer first (waits for a running callback), then carry out the last request.
        self.handle.cancel();
        self.ticker.set.flush();
        let fired = self.ticker.fired.load(Relaxed);
        pr_info!(
            "{}: {} ticks, {} work items queued, last set {}: {}\n",
            self.name.to_str().unwrap_or("rtc?"),
            fired,
            self.ticker.queued.load(Relaxed),
            secs32(self.ticker.base + i64::from(fired) - 1),
            self.ticker.set.last_result()
        );
    }
}
