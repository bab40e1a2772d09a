// SPDX-License-Identifier: GPL-2.0

//! I2C adapters: the bus side of I2C.
//!
//! A bus driver (an I2C host controller) provides an [`Algorithm`] that moves [`Message`]s on
//! the wire, and registers an adapter for its parent device with [`Registration::new`]. The
//! adapter stays registered until the [`Registration`] is dropped, which the driver normally
//! arranges by keeping it in its device private data, or until the parent is unbound,
//! whichever comes first: the registration is device-managed, so no callback reaches the
//! driver's hardware after unbind.
//!
//! C header: [`include/linux/i2c.h`](srctree/include/linux/i2c.h)

use crate::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    devres::Devres,
    error::{
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    i2c::I2cAdapter,
    prelude::*,
    str::CStr,
    time::{
        msecs_to_jiffies,
        Msecs, //
    },
    types::Opaque,
    ThisModule, //
};

use core::marker::PhantomPinned;

mod functionality;
mod message;

pub use functionality::{Function, Functionality};
pub use message::{Message, MessageFlag, MessageFlags};

/// The largest SMBus block, in bytes (`I2C_SMBUS_BLOCK_MAX`): what an SMBus block read may
/// announce, and the most an SMBus block call moves.
pub const SMBUS_BLOCK_MAX: usize = bindings::I2C_SMBUS_BLOCK_MAX as usize;

/// The operations of an I2C adapter (`struct i2c_algorithm` and bus recovery).
///
/// Callbacks run in process context (`xfer`) or with interrupts possibly disabled
/// (`xfer_atomic`), always while the adapter is registered and its parent device bound; the
/// I2C core serialises transfers on one adapter.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     i2c::{
///         adapter::{Algorithm, Function, Functionality, Message},
///         I2cAdapter,
///     },
/// };
///
/// /// A bus on which nobody answers.
/// struct Empty;
///
/// #[vtable]
/// impl Algorithm for Empty {
///     fn xfer(
///         &self,
///         _adapter: &I2cAdapter,
///         _parent: &Device<Bound>,
///         msgs: &mut [Message<'_>],
///     ) -> Result<usize> {
///         // Every message starts with an address nobody ACKs.
///         if msgs.is_empty() {
///             Ok(0)
///         } else {
///             Err(ENXIO)
///         }
///     }
///
///     fn functionality(&self) -> Functionality {
///         Function::I2c | Function::SmbusEmul
///     }
/// }
///
/// // Only what is implemented reaches the C `i2c_algorithm` and recovery info.
/// assert!(!<Empty as Algorithm>::HAS_XFER_ATOMIC);
/// assert!(!<Empty as Algorithm>::HAS_GET_SCL);
/// assert!(Empty.functionality().contains(Function::SmbusByteData));
/// ```
#[vtable]
pub trait Algorithm: Send + Sync {
    /// Carries out `msgs` in order as one combined transfer (repeated START between messages,
    /// STOP at the end).
    ///
    /// Returns the number of messages done, which must be `msgs.len()` when everything went
    /// through. Errors follow `Documentation/i2c/fault-codes.rst`: `ENXIO` for an address NACK,
    /// `EAGAIN` for a lost arbitration, `ETIMEDOUT` for a stuck bus.
    fn xfer(
        &self,
        adapter: &I2cAdapter,
        parent: &Device<Bound>,
        msgs: &mut [Message<'_>],
    ) -> Result<usize>;

    /// Like [`Algorithm::xfer`], but must not sleep: used when interrupts are off (for example
    /// at power-off).
    fn xfer_atomic(
        &self,
        _adapter: &I2cAdapter,
        _parent: &Device<Bound>,
        _msgs: &mut [Message<'_>],
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns what the adapter can do.
    fn functionality(&self) -> Functionality;

    /// Reads the SCL line, for bus recovery. Implementing it together with
    /// [`Algorithm::set_scl`] enables the core's generic SCL recovery (nine clock pulses and
    /// a STOP) on [`I2cAdapter::recover_bus`].
    fn get_scl(&self, _adapter: &I2cAdapter) -> bool {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Drives the SCL line (`true`: released high), for bus recovery.
    fn set_scl(&self, _adapter: &I2cAdapter, _high: bool) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads the SDA line, for bus recovery.
    fn get_sda(&self, _adapter: &I2cAdapter) -> bool {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Drives the SDA line (`true`: released high), for bus recovery.
    fn set_sda(&self, _adapter: &I2cAdapter, _high: bool) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Hands the lines over to [`Algorithm::set_scl`] and friends before a recovery.
    fn prepare_recovery(&self, _adapter: &I2cAdapter) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Gives the lines back to the controller after a recovery.
    fn unprepare_recovery(&self, _adapter: &I2cAdapter) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

impl I2cAdapter {
    /// Runs the adapter's bus recovery (`i2c_recover_bus`): clocks SCL until the target that
    /// holds SDA low lets go, then sends a STOP.
    ///
    /// Fails with `EBUSY` if the bus stays stuck and `EOPNOTSUPP` if the adapter has no
    /// recovery.
    pub fn recover_bus(&self) -> Result {
        // SAFETY: `self.as_raw()` is a valid adapter by the type invariant.
        to_result(unsafe { bindings::i2c_recover_bus(self.as_raw()) })
    }

    /// Returns the adapter's own device (`i2c-N`).
    pub fn device(&self) -> &Device {
        // SAFETY: `self.as_raw()` is a valid adapter, which embeds a valid `struct device` that
        // lives as long as the adapter.
        unsafe { Device::from_raw(&raw mut (*self.as_raw()).dev) }
    }

    /// Returns the transfer timeout in jiffies.
    pub fn timeout(&self) -> crate::time::Jiffies {
        // SAFETY: `self.as_raw()` is a valid adapter; `timeout` is only written before
        // registration.
        let timeout = unsafe { (*self.as_raw()).timeout };
        crate::time::Jiffies::try_from(timeout).unwrap_or(0)
    }
}

/// How to register an adapter: name, number, timeout and retries.
///
/// # Examples
///
/// ```
/// use kernel::i2c::adapter::Options;
///
/// let opts = Options::new(c"mv64xxx_i2c adapter").number(Some(2)).timeout_ms(1000).retries(3);
/// assert_eq!(opts.nr, Some(2));
/// assert_eq!(opts.retries, 3);
/// ```
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// The adapter's name (`/sys/class/i2c-adapter/i2c-N/name`), cut at 47 bytes.
    pub name: &'a CStr,
    /// The bus number to ask for (`i2c_add_numbered_adapter`); `None` takes the number of the
    /// parent's `i2cN` device tree alias if it has one, else the next free number.
    pub nr: Option<i32>,
    /// The transfer timeout in milliseconds; `None` keeps the core's default of one second.
    pub timeout_ms: Option<Msecs>,
    /// How many times the core retries a transfer that failed with `EAGAIN`.
    pub retries: i32,
    /// Attach the core's generic SCL recovery, driven by [`Algorithm::get_scl`] and
    /// [`Algorithm::set_scl`] (ignored if the algorithm doesn't implement both).
    pub recovery: bool,
}

impl<'a> Options<'a> {
    /// Returns options with name `name` and everything else at its default.
    pub const fn new(name: &'a CStr) -> Self {
        Self {
            name,
            nr: None,
            timeout_ms: None,
            retries: 0,
            recovery: false,
        }
    }

    /// Asks for bus number `nr` (see [`Options::nr`]).
    pub const fn number(mut self, nr: Option<i32>) -> Self {
        self.nr = nr;
        self
    }

    /// Sets the transfer timeout.
    pub const fn timeout_ms(mut self, ms: Msecs) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sets the number of retries after `EAGAIN`.
    pub const fn retries(mut self, retries: i32) -> Self {
        self.retries = retries;
        self
    }

    /// Attaches bus recovery or not (see [`Options::recovery`]).
    pub const fn recovery(mut self, recovery: bool) -> Self {
        self.recovery = recovery;
        self
    }
}

/// A registered I2C adapter with its algorithm data `T`.
///
/// Dropping it unregisters the adapter (`i2c_del_adapter`), which waits until no client uses
/// it any more; the algorithm data is dropped after that. The adapter is unregistered when the
/// parent device is unbound at the latest (it lives in a [`Devres`]), so a `Registration` that
/// outlives the binding (kept in an `Arc`, say) no longer calls into the driver.
///
/// # Invariants
///
/// While the adapter in `inner` is registered, its `algo_data` points to `data`, which is
/// pinned and outlives it (`inner` is dropped first).
#[pin_data]
pub struct Registration<T: Algorithm> {
    /// The registered adapter. Declared first, so it is unregistered before `data` drops.
    #[pin]
    inner: Devres<RegisteredAdapter>,
    #[pin]
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

/// The C adapter and its recovery information, registered with the I2C core while it lives.
///
/// # Invariants
///
/// `adapter` is registered with the I2C core from the end of its initialisation until `drop`;
/// if it has bus recovery, its `bus_recovery_info` points to `recovery`. Both are pinned.
#[pin_data(PinnedDrop)]
struct RegisteredAdapter {
    #[pin]
    recovery: Opaque<bindings::i2c_bus_recovery_info>,
    #[pin]
    adapter: Opaque<bindings::i2c_adapter>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The C adapter may be used and unregistered from any thread.
unsafe impl Send for RegisteredAdapter {}

// SAFETY: `&RegisteredAdapter` only gives access to the adapter, whose C API is thread safe.
unsafe impl Sync for RegisteredAdapter {}

#[pinned_drop]
impl PinnedDrop for RegisteredAdapter {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the adapter is registered. `i2c_del_adapter` returns
        // once the adapter's device is released, so no callback runs after this.
        unsafe { bindings::i2c_del_adapter(self.adapter.get()) };
    }
}

impl<T: Algorithm + 'static> Registration<T> {
    const ALGORITHM: bindings::i2c_algorithm = Self::make_algorithm();

    const fn make_algorithm() -> bindings::i2c_algorithm {
        let mut algo = pin_init::zeroed::<bindings::i2c_algorithm>();
        algo.__bindgen_anon_1.xfer = Some(Self::xfer_callback);
        if T::HAS_XFER_ATOMIC {
            algo.__bindgen_anon_2.xfer_atomic = Some(Self::xfer_atomic_callback);
        }
        algo.functionality = Some(Self::functionality_callback);
        algo
    }

    const HAS_RECOVERY: bool = T::HAS_GET_SCL && T::HAS_SET_SCL;

    /// Registers an adapter for the bound device `parent` with algorithm data `data`.
    ///
    /// The adapter takes the parent's firmware node, so targets described under the
    /// controller's device tree node are instantiated on it. If `opts` asks for recovery and
    /// `T` implements [`Algorithm::get_scl`] and [`Algorithm::set_scl`], the adapter gets the
    /// core's generic SCL recovery. The adapter is unregistered when the returned
    /// `Registration` is dropped or `parent` is unbound, whichever comes first.
    ///
    /// Fails with the error of `data`, or of `i2c_add_adapter` (for example `EBUSY` when the
    /// requested number is taken).
    pub fn new<'a>(
        parent: &'a Device<Bound>,
        module: &'static ThisModule,
        opts: Options<'a>,
        data: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a {
        try_pin_init!(&this in Self {
            // The data first: the adapter's callbacks may run as soon as it is registered.
            data <- data,
            inner <- Devres::new(
                parent,
                try_pin_init!(&registered in RegisteredAdapter {
                    recovery <- Opaque::ffi_init(
                        move |slot: *mut bindings::i2c_bus_recovery_info| {
                            // SAFETY: `slot` is valid for writes.
                            unsafe { slot.write(Self::recovery_info(opts.recovery)) };
                        }
                    ),
                    adapter <- Opaque::try_ffi_init(move |slot: *mut bindings::i2c_adapter| {
                        // SAFETY: `slot` is valid for writes; an all-zero `i2c_adapter` is what
                        // `kzalloc` gives C drivers.
                        unsafe { slot.write(pin_init::zeroed()) };

                        // SAFETY: `slot` points to the zeroed adapter written above, which
                        // nothing else references yet.
                        let adap = unsafe { &mut *slot };
                        adap.owner = module.as_ptr();
                        adap.algo = const { &Self::ALGORITHM };
                        // CAST: `algo_data` is how the callbacks find the data again; it is
                        // pinned in `this`, which outlives the adapter (`inner` drops first).
                        //
                        // SAFETY: `this` is valid; `data` was initialised above.
                        adap.algo_data =
                            unsafe { &raw const (*this.as_ptr()).data }.cast_mut().cast();
                        adap.retries = opts.retries;
                        if let Some(ms) = opts.timeout_ms {
                            adap.timeout = i32::try_from(msecs_to_jiffies(ms)).unwrap_or(i32::MAX);
                        }
                        if Self::HAS_RECOVERY && opts.recovery {
                            // SAFETY: `registered` is valid; `recovery` was initialised above and
                            // is pinned with it.
                            let recovery = unsafe { &raw const (*registered.as_ptr()).recovery };
                            adap.bus_recovery_info = Opaque::cast_into(recovery);
                        }
                        let name = opts.name.to_bytes();
                        let n = name.len().min(adap.name.len() - 1);
                        for (dst, src) in adap.name.iter_mut().zip(&name[..n]) {
                            *dst = c_char::from_ne_bytes([*src]);
                        }
                        adap.dev.parent = parent.as_raw();

                        // SAFETY: Both devices are valid; the parent's fwnode outlives the
                        // adapter, which is unregistered before the parent is unbound.
                        unsafe {
                            bindings::device_set_node(&mut adap.dev, (*parent.as_raw()).fwnode)
                        };

                        // INVARIANT: Registered here, unregistered in `drop`.
                        // SAFETY: The adapter is fully set up and pinned; it is unregistered
                        // in `drop` before it goes away.
                        to_result(unsafe {
                            match opts.nr {
                                Some(nr) => {
                                    adap.nr = nr;
                                    bindings::i2c_add_numbered_adapter(adap)
                                }
                                None => bindings::i2c_add_adapter(adap),
                            }
                        })
                    }),
                    _pin: PhantomPinned,
                }),
            ),
            _pin: PhantomPinned,
        })
    }

    /// The recovery information for an adapter of `T`: the core's generic SCL recovery on
    /// `T`'s line callbacks, if asked for and `T` has them, else none.
    fn recovery_info(wanted: bool) -> bindings::i2c_bus_recovery_info {
        let mut rinfo = pin_init::zeroed::<bindings::i2c_bus_recovery_info>();
        if Self::HAS_RECOVERY && wanted {
            rinfo.recover_bus = Some(bindings::i2c_generic_scl_recovery);
            rinfo.get_scl = Some(Self::get_scl_callback);
            rinfo.set_scl = Some(Self::set_scl_callback);
            if T::HAS_GET_SDA {
                rinfo.get_sda = Some(Self::get_sda_callback);
            }
            if T::HAS_SET_SDA {
                rinfo.set_sda = Some(Self::set_sda_callback);
            }
            if T::HAS_PREPARE_RECOVERY {
                rinfo.prepare_recovery = Some(Self::prepare_recovery_callback);
            }
            if T::HAS_UNPREPARE_RECOVERY {
                rinfo.unprepare_recovery = Some(Self::unprepare_recovery_callback);
            }
        }
        rinfo
    }
}

impl<T: Algorithm> Registration<T> {
    /// Returns the algorithm data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// Returns the registered adapter, while `parent` (the device it was registered for) is
    /// bound. Fails with `ENODEV` if `parent` is not that device.
    pub fn adapter<'a>(&'a self, parent: &'a Device<Bound>) -> Result<&'a I2cAdapter> {
        let inner = self.inner.access(parent)?;
        // SAFETY: `I2cAdapter` is a transparent wrapper of `i2c_adapter`; the adapter is valid
        // and registered while `inner` lives, which `access` guarantees while `parent` is
        // bound.
        Ok(unsafe { &*inner.adapter.get().cast::<I2cAdapter>() })
    }

    /// # Safety
    ///
    /// `adap` must be an adapter registered by a `Registration<T>`, as the I2C core passes to
    /// its callbacks.
    unsafe fn from_adapter<'b>(adap: *mut bindings::i2c_adapter) -> (&'b T, &'b I2cAdapter) {
        // SAFETY: By the function's contract and the type invariant, `algo_data` points to the
        // live, pinned data of the `Registration<T>`.
        let this = unsafe { &*(*adap).algo_data.cast::<T>() };
        // SAFETY: `I2cAdapter` is a transparent wrapper of the valid `i2c_adapter`.
        let adapter = unsafe { &*adap.cast::<I2cAdapter>() };
        (this, adapter)
    }

    /// # Safety
    ///
    /// Same as [`Self::from_adapter`]; the parent must be bound, which holds during callbacks
    /// because the adapter is unregistered when the parent unbinds at the latest (by devres).
    unsafe fn parent<'b>(adap: *mut bindings::i2c_adapter) -> &'b Device<Bound> {
        // SAFETY: The adapter's parent was set in `new` and is valid while it is registered.
        let parent: &Device = unsafe { Device::from_raw((*adap).dev.parent) };
        // SAFETY: By the function's contract, the parent is bound.
        unsafe { parent.as_bound() }
    }

    /// # Safety
    ///
    /// `msgs` must point to `num` valid messages, as the I2C core passes to `xfer`.
    unsafe fn messages<'b>(
        msgs: *mut bindings::i2c_msg,
        num: c_int,
    ) -> Result<&'b mut [Message<'b>]> {
        let num = usize::try_from(num).map_err(|_| EINVAL)?;
        if num == 0 || msgs.is_null() {
            return Ok(&mut []);
        }
        // SAFETY: `Message` is a transparent wrapper of `i2c_msg`; the I2C core gives us the
        // messages for the duration of the call, with buffers as `Message` requires.
        Ok(unsafe { core::slice::from_raw_parts_mut(msgs.cast::<Message<'b>>(), num) })
    }

    /// Carries out a transfer the I2C core asked for, with `xfer` (an [`Algorithm`] method),
    /// and gives its result as the core wants it: messages done, or an error code.
    ///
    /// # Safety
    ///
    /// As for [`Self::xfer_callback`].
    unsafe fn transfer(
        adap: *mut bindings::i2c_adapter,
        msgs: *mut bindings::i2c_msg,
        num: c_int,
        xfer: fn(&T, &I2cAdapter, &Device<Bound>, &mut [Message<'_>]) -> Result<usize>,
    ) -> c_int {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        // SAFETY: By the function's contract.
        let parent = unsafe { Self::parent(adap) };
        // SAFETY: By the function's contract.
        let done =
            unsafe { Self::messages(msgs, num) }.and_then(|msgs| xfer(this, adapter, parent, msgs));
        match done {
            Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>` and `num`
    /// valid messages.
    unsafe extern "C" fn xfer_callback(
        adap: *mut bindings::i2c_adapter,
        msgs: *mut bindings::i2c_msg,
        num: c_int,
    ) -> c_int {
        // SAFETY: Same requirements.
        unsafe { Self::transfer(adap, msgs, num, T::xfer) }
    }

    /// # Safety
    ///
    /// Same as [`Self::xfer_callback`].
    unsafe extern "C" fn xfer_atomic_callback(
        adap: *mut bindings::i2c_adapter,
        msgs: *mut bindings::i2c_msg,
        num: c_int,
    ) -> c_int {
        // SAFETY: Same requirements.
        unsafe { Self::transfer(adap, msgs, num, T::xfer_atomic) }
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn functionality_callback(adap: *mut bindings::i2c_adapter) -> u32 {
        // SAFETY: By the function's contract.
        let (this, _) = unsafe { Self::from_adapter(adap) };
        this.functionality().bits()
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn get_scl_callback(adap: *mut bindings::i2c_adapter) -> c_int {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        c_int::from(this.get_scl(adapter))
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn set_scl_callback(adap: *mut bindings::i2c_adapter, val: c_int) {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        this.set_scl(adapter, val != 0);
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn get_sda_callback(adap: *mut bindings::i2c_adapter) -> c_int {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        c_int::from(this.get_sda(adapter))
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn set_sda_callback(adap: *mut bindings::i2c_adapter, val: c_int) {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        this.set_sda(adapter, val != 0);
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn prepare_recovery_callback(adap: *mut bindings::i2c_adapter) {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        this.prepare_recovery(adapter);
    }

    /// # Safety
    ///
    /// Called by the I2C core with an adapter registered by a `Registration<T>`.
    unsafe extern "C" fn unprepare_recovery_callback(adap: *mut bindings::i2c_adapter) {
        // SAFETY: By the function's contract.
        let (this, adapter) = unsafe { Self::from_adapter(adap) };
        this.unprepare_recovery(adapter);
    }
}
