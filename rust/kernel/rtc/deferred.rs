// SPDX-License-Identifier: GPL-2.0

//! [`DeferredSet`]: setting a clock from atomic context, through a work item.

use super::{Device, Opened, Time};
use crate::{
    bindings, impl_has_work, new_work,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    workqueue::{self, Work, WorkItem},
};

/// Sets an RTC from atomic context through a work item.
///
/// [`DeferredSet::set`] can be called from any context, including hard
/// interrupt handlers and timer callbacks: it records the requested time and
/// queues a work item on the system workqueue, which sets the clock through
/// the RTC core. Requests made before the work runs coalesce: the latest one
/// wins. The clock is held open (its driver's module cannot be unloaded) for
/// the lifetime of the `DeferredSet`.
///
/// Call [`DeferredSet::flush`] or [`DeferredSet::cancel`] before dropping the
/// last reference when the caller needs the pending request done or undone;
/// otherwise a queued request still runs, holding its own reference.
///
/// # Examples
///
/// ```
/// use kernel::rtc::DeferredSet;
///
/// // Only runs where an `rtc0` exists.
/// if let Ok(set) = DeferredSet::new(c"rtc0") {
///     assert_eq!(set.last_result(), 0);
///     set.cancel();
/// }
/// ```
#[pin_data]
pub struct DeferredSet {
    rtc: Opened,
    /// The requested time in seconds since the epoch, or [`DeferredSet::NONE`].
    pending: Atomic<i64>,
    /// The errno of the last attempt (0 on success).
    last: Atomic<i32>,
    #[pin]
    work: Work<DeferredSet>,
}

impl_has_work! {
    impl HasWork<Self> for DeferredSet { self.work }
}

impl DeferredSet {
    const NONE: i64 = i64::MIN;

    /// Opens the RTC class device called `name` for deferred setting.
    pub fn new(name: &CStr) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                rtc: Opened::new(name)?,
                pending: Atomic::new(Self::NONE),
                last: Atomic::new(0),
                work <- new_work!("rtc::DeferredSet::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// Returns the opened class device.
    pub fn device(&self) -> &Device {
        &self.rtc
    }

    /// Requests that the clock be set to `secs` seconds since the epoch. Does not sleep.
    ///
    /// Returns `true` if this call queued the work item, `false` if it was already queued
    /// (the new time replaces the queued one).
    pub fn set(self: &Arc<Self>, secs: i64) -> bool {
        self.pending.store(secs, Relaxed);
        workqueue::system().enqueue(self.clone()).is_ok()
    }

    /// Returns the errno of the last completed request, 0 if it succeeded or none ran.
    pub fn last_result(&self) -> i32 {
        self.last.load(Relaxed)
    }

    /// Waits until the queued request, if any, has been carried out. May sleep.
    pub fn flush(&self) {
        // SAFETY: `self.work` is a valid, initialised work item.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }

    /// Drops the queued request, if any, and waits for a running one to finish. May sleep.
    ///
    /// A work item that is still queued runs, finds no request and returns at once.
    pub fn cancel(&self) {
        self.pending.store(Self::NONE, Relaxed);
        self.flush();
    }
}

impl WorkItem for DeferredSet {
    type Pointer = Arc<DeferredSet>;

    fn run(this: Arc<DeferredSet>) {
        let secs = this.pending.xchg(Self::NONE, Relaxed);
        if secs == Self::NONE {
            return;
        }
        let ret = match Time::from_time64(secs).and_then(|t| this.rtc.set_time(&t)) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        this.last.store(ret, Relaxed);
    }
}
