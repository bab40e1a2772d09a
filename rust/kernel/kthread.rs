// SPDX-License-Identifier: GPL-2.0

//! Kernel threads.
//!
//! A [`Thread`] runs a closure in a new kernel thread. The thread is stopped (and waited for) when
//! the [`Thread`] is dropped, so a thread can never outlive the code and data it uses. Inside the
//! thread, [`should_stop`] says when to return, [`sleep`] waits for a [`Thread::wake`], a stop
//! request or a timeout, and [`set_freezable`]/[`try_to_freeze`] cooperate with the freezer.
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use crate::{
    alloc::NumaNode,
    bindings,
    cpumask::Cpumask,
    error::{
        from_err_ptr,
        to_result,
        Result, //
    },
    ffi::{
        c_int,
        c_long,
        c_void, //
    },
    fmt,
    prelude::*,
    str::CString,
    task::{
        Task,
        MAX_SCHEDULE_TIMEOUT,
        TASK_INTERRUPTIBLE, //
    },
    time::{
        msecs_to_jiffies,
        Delta, //
    },
};
use core::{
    cell::UnsafeCell,
    ptr::NonNull, //
};

/// The closure of a thread, owned by the [`Thread`] and taken by the thread when it starts.
///
/// The thread may never start (if it is stopped before it first runs), so the closure cannot be
/// handed over to it: it stays in this box, which the [`Thread`] frees after the thread is gone.
struct Start<F> {
    f: UnsafeCell<Option<F>>,
}

/// A running kernel thread, stopped on drop.
///
/// # Invariants
///
/// - `task` is a kernel thread created by `kthread_create_on_node` with [`Self::run::<F>`] as its
///   function and `start` as its data, and we hold a reference to it (`get_task_struct`).
/// - `start` points to a `KBox<Start<F>>` that stays allocated until `kthread_stop` has returned
///   in [`Drop`], and `drop_start` frees it with the right type.
///
/// # Examples
///
/// A thread that counts until it is stopped:
///
/// ```
/// use kernel::{
///     kthread::{self, Thread},
///     sync::{
///         atomic::{Atomic, Relaxed},
///         Arc,
///         Completion, //
///     },
///     time::Delta,
/// };
///
/// let count = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
/// let started = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
/// let (c, s) = (count.clone(), started.clone());
/// let thread = Thread::spawn(fmt!("kt_doctest{}", 0), move || {
///     c.fetch_add(1, Relaxed);
///     s.complete_all();
///     loop {
///         // Sleep until woken, stopped, or for one second at most.
///         kthread::sleep(Some(Delta::from_secs(1)), || false);
///         c.fetch_add(1, Relaxed);
///         if kthread::should_stop() {
///             break;
///         }
///     }
/// })?;
/// started.wait_for_completion();
/// assert!(count.load(Relaxed) >= 1);
/// thread.wake();
/// // Stops the thread and waits until it has returned.
/// drop(thread);
/// let last = count.load(Relaxed);
/// assert!(last >= 2);
/// # Ok::<(), Error>(())
/// ```
pub struct Thread {
    task: NonNull<bindings::task_struct>,
    start: *mut c_void,
    drop_start: unsafe fn(*mut c_void),
}

// SAFETY: A `Thread` only holds a task reference and the box of a `Send` closure; the task can be
// woken and stopped from any thread.
unsafe impl Send for Thread {}

// SAFETY: The only `&self` operations (`wake`, `task`) are safe to use concurrently.
unsafe impl Sync for Thread {}

/// Where a new thread may run.
#[derive(Clone, Copy)]
pub enum Placement<'a> {
    /// Anywhere, with its `task_struct` allocated on any node.
    Any,
    /// On the CPUs of a NUMA node, with its `task_struct` allocated there. The node must be
    /// online; [`NumaNode::NO_NODE`] is the same as [`Placement::Any`].
    Node(NumaNode),
    /// On the given CPUs (the preferred affinity: while none of them is online the thread runs
    /// elsewhere, and it moves back when one returns).
    Cpus(&'a Cpumask),
}

impl Thread {
    /// Creates a kernel thread named `name` that runs `f`, and starts it.
    ///
    /// The name is cut to the kernel's limit (15 characters). Returns an error if the thread
    /// cannot be created.
    pub fn spawn<F>(name: fmt::Arguments<'_>, f: F) -> Result<Self>
    where
        F: FnOnce() + Send + 'static,
    {
        Self::spawn_on(Placement::Any, name, f)
    }

    /// Creates a kernel thread named `name` that runs `f` where `placement` says, and starts it.
    ///
    /// Binding to a node's or a mask's CPUs is an affinity, not a per-CPU binding: CPU hotplug
    /// may still move the thread. Returns an error if the thread cannot be created, `EINVAL` if
    /// `placement` names a node that is not online, or an error if it names no online CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     alloc::NumaNode,
    ///     bindings,
    ///     kthread::{Placement, Thread},
    /// };
    ///
    /// // Node 0 is always online.
    /// let t = Thread::spawn_on(Placement::Node(NumaNode::new(0)?), fmt!("kt_node0"), || {})?;
    /// drop(t);
    /// // A node that is not online is refused, before anything is created.
    /// for nid in 0..bindings::MAX_NUMNODES as i32 {
    ///     // SAFETY: `nid` is a valid node number.
    ///     if !unsafe { bindings::node_online(nid) } {
    ///         let node = Placement::Node(NumaNode::new(nid)?);
    ///         assert_eq!(Thread::spawn_on(node, fmt!("kt_off"), || {}).err(), Some(EINVAL));
    ///     }
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn spawn_on<F>(placement: Placement<'_>, name: fmt::Arguments<'_>, f: F) -> Result<Self>
    where
        F: FnOnce() + Send + 'static,
    {
        let node = match placement {
            Placement::Node(nid) if nid != NumaNode::NO_NODE => {
                let nid = nid.id();
                // SAFETY: `nid` is a valid node number (`NumaNode` checks the range).
                if !unsafe { bindings::node_online(nid) } {
                    return Err(EINVAL);
                }
                nid
            }
            _ => bindings::NUMA_NO_NODE,
        };
        let name = CString::try_from_fmt(name)?;
        let start = KBox::new(
            Start {
                f: UnsafeCell::new(Some(f)),
            },
            GFP_KERNEL,
        )?;
        let start = KBox::into_raw(start).cast::<c_void>();

        // SAFETY: `run::<F>` matches the data pointer `start`, which stays valid until after
        // `kthread_stop` (see the type invariants). The format is "%s" with one string argument.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(Self::run::<F>),
                start,
                node,
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        let task = match from_err_ptr(task) {
            Ok(task) => task,
            Err(e) => {
                // SAFETY: The thread was not created, so nothing else refers to `start`, which
                // came from `KBox::into_raw` above.
                unsafe { Self::drop_start::<F>(start) };
                return Err(e);
            }
        };
        // SAFETY: `task` was just created and has not exited (it has not even run yet).
        unsafe { bindings::get_task_struct(task) };
        // INVARIANT: `task` is our new kthread with `run::<F>` and `start`, and we hold a
        // reference to it.
        let thread = Thread {
            // SAFETY: `from_err_ptr` returned a valid pointer, which is not null.
            task: unsafe { NonNull::new_unchecked(task) },
            start,
            drop_start: Self::drop_start::<F>,
        };

        if let Placement::Cpus(mask) = placement {
            // A plain `set_cpus_allowed_ptr` here would be undone when the thread starts
            // (`kthread()` applies the node's affinity unless a preferred one was given). The
            // preferred affinity also survives CPU hotplug: while none of the CPUs is online the
            // thread runs elsewhere, and it comes back when one returns.
            // SAFETY: The task is a kthread that was never woken, and `mask` is a valid cpumask.
            // If this fails, dropping `thread` stops the thread before it ever ran.
            to_result(unsafe { bindings::kthread_affine_preferred(task, mask.as_raw()) })?;
        }
        thread.wake();
        Ok(thread)
    }

    /// Frees a `Start<F>` box.
    ///
    /// # Safety
    ///
    /// `start` must come from `KBox::<Start<F>>::into_raw` and no thread may use it anymore.
    unsafe fn drop_start<F>(start: *mut c_void) {
        // SAFETY: By the function's safety requirements.
        drop(unsafe { KBox::from_raw(start.cast::<Start<F>>()) });
    }

    /// The thread function: takes the closure and runs it.
    ///
    /// # Safety
    ///
    /// `data` must point to a live `Start<F>` that no other thread accesses while this one runs.
    unsafe extern "C" fn run<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
        // SAFETY: By the type invariants of `Thread`, `data` points to the `Start<F>` box, which
        // outlives this thread; only this thread touches the closure while it runs, and it runs
        // at most once.
        let f = unsafe { (*(*data.cast::<Start<F>>()).f.get()).take() };
        if let Some(f) = f {
            f();
        }
        0
    }

    /// Returns the thread's task.
    pub fn task(&self) -> &Task {
        // SAFETY: By the type invariants we hold a reference to the task, and `Task` is a
        // transparent wrapper of `task_struct`.
        unsafe { &*self.task.as_ptr().cast::<Task>() }
    }

    /// Wakes the thread if it sleeps in [`sleep`].
    pub fn wake(&self) {
        self.task().wake_up();
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we hold a reference to the task; `kthread_stop_put`
        // makes `should_stop` return true, wakes the thread, waits for it to exit (or for good
        // if it never ran) and drops our reference.
        unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
        // SAFETY: The thread has exited, so nobody uses `start` anymore; `drop_start` matches the
        // type of `start` by the type invariants.
        unsafe { (self.drop_start)(self.start) };
    }
}

/// Returns true when the current kernel thread has been asked to stop.
///
/// Must be called from a thread created by [`Thread`]; elsewhere it returns false.
pub fn should_stop() -> bool {
    if Task::current_raw().is_null() {
        return false;
    }
    // SAFETY: `current` is a task. `kthread_should_stop` only reads the current task's kthread
    // flags, and it returns false for tasks that are not kernel threads.
    unsafe {
        (*Task::current_raw()).flags & bindings::PF_KTHREAD != 0 && bindings::kthread_should_stop()
    }
}

/// Sleeps until [`Thread::wake`], a stop request, `timeout` (`None`: no timeout), or `wake_now`.
///
/// `wake_now` is checked after the task is marked as sleeping, so a condition made true by
/// another thread that then calls [`Thread::wake`] is never missed. Returns true if the sleep
/// ended early: `wake_now` was true, a stop was requested, or a wake-up came before the timeout.
pub fn sleep(timeout: Option<Delta>, wake_now: impl Fn() -> bool) -> bool {
    let jiffies: c_long = match timeout {
        None => MAX_SCHEDULE_TIMEOUT,
        Some(t) => {
            let ms = t.as_millis().clamp(0, i64::from(u32::MAX - 1));
            // Bounded above, so the conversion cannot fail.
            c_long::try_from(msecs_to_jiffies(ms as u32)).unwrap_or(MAX_SCHEDULE_TIMEOUT - 1)
        }
    };
    // SAFETY: Setting the current task's state is always allowed in process context.
    unsafe { bindings::set_current_state(TASK_INTERRUPTIBLE as u32) };
    if should_stop() || wake_now() {
        // SAFETY: As above.
        unsafe { bindings::set_current_state(bindings::TASK_RUNNING) };
        return true;
    }
    // SAFETY: The task state is set; `schedule_timeout` sleeps until woken or the timeout.
    let left = unsafe { bindings::schedule_timeout(jiffies) };
    // SAFETY: As above.
    unsafe { bindings::set_current_state(bindings::TASK_RUNNING) };
    left > 0
}

/// Lets other tasks run if the scheduler wants the CPU; for long loops in kernel threads.
pub fn cond_resched() {
    // SAFETY: Called from process context, where rescheduling is allowed.
    unsafe { bindings::cond_resched() };
}

/// Moves the current thread to the `SCHED_IDLE` class: it runs on a CPU only when no other
/// task wants that CPU, and any task that wakes up there preempts it. For background work that
/// must not show up in anyone's latency.
///
/// # Examples
///
/// ```
/// use kernel::kthread::{self, Thread};
///
/// let thread = Thread::spawn(fmt!("idle-work"), || {
///     assert_eq!(kthread::set_sched_idle(), Ok(()));
///     while !kthread::should_stop() {
///         kthread::sleep(None, || false);
///     }
/// })?;
/// drop(thread);
/// # Ok::<(), Error>(())
/// ```
pub fn set_sched_idle() -> Result {
    // SAFETY: `current` is a valid task; changing its own policy is always allowed in-kernel.
    to_result(unsafe { bindings::sched_set_idle(Task::current_raw()) })
}

/// Makes the current kernel thread freezable (kernel threads are not, by default).
///
/// Does nothing without `CONFIG_FREEZER`.
pub fn set_freezable() {
    #[cfg(CONFIG_FREEZER)]
    // SAFETY: `set_freezable` only changes the current task's flags.
    unsafe {
        bindings::set_freezable()
    };
}

/// Enters the refrigerator if the system is freezing; returns true if the thread was frozen.
pub fn try_to_freeze() -> bool {
    // SAFETY: `try_to_freeze` may sleep, which is allowed in a kernel thread.
    unsafe { bindings::try_to_freeze() }
}
