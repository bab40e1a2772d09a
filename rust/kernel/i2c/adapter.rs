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

use core::marker::{
    PhantomData,
    PhantomPinned, //
};

/// The largest SMBus block, in bytes (`I2C_SMBUS_BLOCK_MAX`): what an SMBus block read may
/// announce, and the most an SMBus block call moves.
pub const SMBUS_BLOCK_MAX: usize = bindings::I2C_SMBUS_BLOCK_MAX as usize;

crate::impl_flags!(
    /// Flags of one I2C message (`I2C_M_*`): a set of [`MessageFlag`]s.
    ///
    /// A message read from C may carry bits this type has no name for (`I2C_M_DMA_SAFE`, say);
    /// [`MessageFlags::bits`] keeps them.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::i2c::adapter::{MessageFlag, MessageFlags};
    ///
    /// let flags = MessageFlag::Read | MessageFlag::RecvLen;
    /// assert!(flags.contains(MessageFlag::Read));
    /// assert!(!flags.contains(MessageFlag::TenBit));
    /// assert_eq!(flags.bits(), 0x0401);
    /// assert_eq!(MessageFlags::empty().bits(), 0);
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct MessageFlags(u16);

    /// One flag of an I2C message (`I2C_M_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum MessageFlag {
        /// The message reads from the target (`I2C_M_RD`).
        Read = bindings::I2C_M_RD as u16,
        /// The address is a 10-bit address (`I2C_M_TEN`).
        TenBit = bindings::I2C_M_TEN as u16,
        /// The first byte read is the length of the rest (`I2C_M_RECV_LEN`, SMBus block read).
        RecvLen = bindings::I2C_M_RECV_LEN as u16,
        /// Do not send a (repeated) START before this message (`I2C_M_NOSTART`).
        NoStart = bindings::I2C_M_NOSTART as u16,
        /// Treat a NACK from the target as an ACK (`I2C_M_IGNORE_NAK`).
        IgnoreNak = bindings::I2C_M_IGNORE_NAK as u16,
        /// Invert the read/write bit of the address (`I2C_M_REV_DIR_ADDR`).
        RevDirAddr = bindings::I2C_M_REV_DIR_ADDR as u16,
        /// Do not ACK the bytes read (`I2C_M_NO_RD_ACK`).
        NoRdAck = bindings::I2C_M_NO_RD_ACK as u16,
        /// Send a STOP after this message (`I2C_M_STOP`).
        Stop = bindings::I2C_M_STOP as u16,
    }
);

impl MessageFlags {
    /// Returns the raw `I2C_M_*` bits, including any this type has no name for.
    pub const fn bits(self) -> u16 {
        self.0
    }
}

crate::impl_flags!(
    /// What an adapter can do (`I2C_FUNC_*`): a set of [`Function`]s that an adapter driver
    /// reports to the I2C core and to user space, and that a client driver sees
    /// ([`I2cClient::functionality`]).
    ///
    /// [`I2cClient::functionality`]: crate::i2c::I2cClient::functionality
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::i2c::adapter::Function;
    ///
    /// let func = Function::I2c | Function::TenBitAddr | Function::SmbusEmul;
    ///
    /// // SMBus emulation covers byte, word and block transfers, but not quick or host notify.
    /// assert!(func.contains_all(Function::SmbusByteData | Function::SmbusWordData));
    /// assert!(func.contains(Function::SmbusQuick));
    /// assert!(!func.contains(Function::SmbusReadBlockData));
    /// assert!(!func.contains(Function::NoStart));
    /// assert_eq!(func.bits(), 0x0eff_0009 | 0x2);
    ///
    /// // SMBus block reads need I2C_M_RECV_LEN in the adapter.
    /// let with_block = func | Function::SmbusReadBlockData;
    /// assert!(with_block.contains(Function::SmbusReadBlockData));
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Functionality(u32);

    /// One thing an adapter can do, or a group of them as the C header defines it
    /// (`I2C_FUNC_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Function {
        /// Plain I2C messages (`I2C_FUNC_I2C`).
        I2c = bindings::I2C_FUNC_I2C,
        /// 10-bit addresses (`I2C_FUNC_10BIT_ADDR`).
        TenBitAddr = bindings::I2C_FUNC_10BIT_ADDR,
        /// `I2C_M_IGNORE_NAK`, `I2C_M_REV_DIR_ADDR` and `I2C_M_NO_RD_ACK`.
        ProtocolMangling = bindings::I2C_FUNC_PROTOCOL_MANGLING,
        /// `I2C_M_NOSTART`.
        NoStart = bindings::I2C_FUNC_NOSTART,
        /// SMBus quick command.
        SmbusQuick = bindings::I2C_FUNC_SMBUS_QUICK,
        /// SMBus receive and send byte.
        SmbusByte = bindings::I2C_FUNC_SMBUS_BYTE,
        /// SMBus read and write byte data.
        SmbusByteData = bindings::I2C_FUNC_SMBUS_BYTE_DATA,
        /// SMBus read and write word data.
        SmbusWordData = bindings::I2C_FUNC_SMBUS_WORD_DATA,
        /// SMBus block read and write (both of the next two).
        SmbusBlockData = bindings::I2C_FUNC_SMBUS_BLOCK_DATA,
        /// SMBus block read (needs `I2C_M_RECV_LEN` when emulated).
        SmbusReadBlockData = bindings::I2C_FUNC_SMBUS_READ_BLOCK_DATA,
        /// SMBus block write.
        SmbusWriteBlockData = bindings::I2C_FUNC_SMBUS_WRITE_BLOCK_DATA,
        /// SMBus block process call.
        SmbusBlockProcCall = bindings::I2C_FUNC_SMBUS_BLOCK_PROC_CALL,
        /// I2C block read and write.
        SmbusI2cBlock = bindings::I2C_FUNC_SMBUS_I2C_BLOCK,
        /// Everything the I2C core can emulate on top of plain I2C, except what needs
        /// `I2C_M_RECV_LEN` (`I2C_FUNC_SMBUS_EMUL`).
        SmbusEmul = bindings::I2C_FUNC_SMBUS_EMUL,
        /// All of [`Function::SmbusEmul`] plus block reads (`I2C_FUNC_SMBUS_EMUL_ALL`).
        SmbusEmulAll = bindings::I2C_FUNC_SMBUS_EMUL_ALL,
    }
);

impl Functionality {
    /// Returns the raw `I2C_FUNC_*` bits, including any this type has no name for.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Returns the set of the raw `I2C_FUNC_*` bits `bits`, as an adapter reports them.
    pub const fn from_raw(bits: u32) -> Self {
        Self(bits)
    }
}

/// One I2C message: a START (or repeated START), an address and bytes in one direction.
///
/// A safe view of the C `struct i2c_msg`. An adapter's [`Algorithm::xfer`] receives the
/// messages of a transfer as `&mut [Message<'_>]`. A read message's buffer may be written
/// ([`Message::buf_mut`]); a write message's buffer is only read.
///
/// # Invariants
///
/// `self.0.buf` is valid for reads of `self.0.len` bytes for `'a` (or `len` is zero), and, if
/// `I2C_M_RD` is set, valid for writes of that many bytes too. If `I2C_M_RECV_LEN` is set as
/// well, the buffer has room for [`SMBUS_BLOCK_MAX`] more bytes than the original length (the
/// contract of `I2C_M_RECV_LEN`).
///
/// # Examples
///
/// ```
/// use kernel::i2c::adapter::{Message, MessageFlag, MessageFlags};
///
/// // Set the EEPROM's address pointer to 0x10, then read 4 bytes from there.
/// let offset = [0x10u8];
/// let mut data = [0u8; 4];
/// let msgs = [Message::write(0x50, &offset)?, Message::read(0x50, &mut data)?];
///
/// assert!(!msgs[0].is_read());
/// assert_eq!(msgs[0].addr(), 0x50);
/// assert_eq!(msgs[0].addr_byte(), 0xa0);
/// assert_eq!(msgs[0].buf(), &[0x10]);
/// assert!(msgs[1].is_read());
/// assert_eq!(msgs[1].addr_byte(), 0xa1);
/// assert_eq!(msgs[1].len(), 4);
///
/// // A 10-bit address is sent as two bytes: 0b11110 + address bits 9:8 + R/W, then bits 7:0.
/// let mut byte = [0u8; 1];
/// let ten = Message::read_ten_bit(0x2a5, &mut byte)?;
/// assert!(ten.is_ten_bit());
/// assert_eq!(ten.ten_bit_addr(), (0xf5, 0xa5));
///
/// // Addresses that don't fit are refused, and so is changing the direction afterwards.
/// assert!(Message::write(0x80, &offset).is_err());
/// assert!(Message::write_ten_bit(0x400, &offset).is_err());
/// assert!(Message::write(0x50, &offset)?.with_flags(MessageFlag::Read).is_err());
/// let stop = Message::write(0x50, &offset)?.with_flags(MessageFlag::Stop)?;
/// assert_eq!(stop.flags(), MessageFlags::from(MessageFlag::Stop));
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct Message<'a>(bindings::i2c_msg, PhantomData<&'a mut [u8]>);

// SAFETY: A `Message` only refers to a byte buffer, which may be accessed from any thread.
unsafe impl Send for Message<'_> {}

// SAFETY: `&Message` only gives read access to the buffer.
unsafe impl Sync for Message<'_> {}

impl<'a> Message<'a> {
    fn new(addr: u16, flags: MessageFlags, buf: *mut u8, len: usize) -> Result<Self> {
        let len = u16::try_from(len).map_err(|_| EINVAL)?;
        let max = if flags.contains(MessageFlag::TenBit) {
            0x3ff
        } else {
            0x7f
        };
        if addr > max {
            return Err(EINVAL);
        }
        // INVARIANT: The callers pass a buffer valid for `len` bytes for `'a`, writable if
        // `flags` has `MessageFlag::Read`.
        Ok(Self(
            bindings::i2c_msg {
                addr,
                flags: flags.bits(),
                len,
                buf,
            },
            PhantomData,
        ))
    }

    /// Returns a message that writes `buf` to the target at 7-bit address `addr`.
    ///
    /// Fails with `EINVAL` if the address has more than 7 bits or `buf` has more than 65535
    /// bytes.
    pub fn write(addr: u16, buf: &'a [u8]) -> Result<Self> {
        // CAST: The buffer of a write message is never written.
        Self::new(
            addr,
            MessageFlags::empty(),
            buf.as_ptr().cast_mut(),
            buf.len(),
        )
    }

    /// Returns a message that reads `buf.len()` bytes into `buf` from the target at 7-bit
    /// address `addr`.
    ///
    /// Fails with `EINVAL` if the address has more than 7 bits or `buf` has more than 65535
    /// bytes.
    pub fn read(addr: u16, buf: &'a mut [u8]) -> Result<Self> {
        Self::new(addr, MessageFlag::Read.into(), buf.as_mut_ptr(), buf.len())
    }

    /// Returns a message that writes `buf` to the target at 10-bit address `addr`.
    ///
    /// Fails with `EINVAL` if the address has more than 10 bits or `buf` has more than 65535
    /// bytes.
    pub fn write_ten_bit(addr: u16, buf: &'a [u8]) -> Result<Self> {
        // CAST: The buffer of a write message is never written.
        Self::new(
            addr,
            MessageFlag::TenBit.into(),
            buf.as_ptr().cast_mut(),
            buf.len(),
        )
    }

    /// Returns a message that reads into `buf` from the target at 10-bit address `addr`.
    ///
    /// Fails with `EINVAL` if the address has more than 10 bits or `buf` has more than 65535
    /// bytes.
    pub fn read_ten_bit(addr: u16, buf: &'a mut [u8]) -> Result<Self> {
        let flags = MessageFlag::Read | MessageFlag::TenBit;
        Self::new(addr, flags, buf.as_mut_ptr(), buf.len())
    }

    /// Adds `flags` to this message.
    ///
    /// Fails with `EINVAL` for [`MessageFlag::Read`] and [`MessageFlag::TenBit`] (direction and
    /// address width are fixed by the constructor) and for [`MessageFlag::RecvLen`] (its
    /// buffer contract can't be checked here).
    pub fn with_flags(mut self, flags: impl Into<MessageFlags>) -> Result<Self> {
        let flags = flags.into();
        let fixed = MessageFlag::Read | MessageFlag::TenBit | MessageFlag::RecvLen;
        if flags.contains_any(fixed) {
            return Err(EINVAL);
        }
        self.0.flags |= flags.bits();
        Ok(self)
    }
}

impl Message<'_> {
    /// Returns the target address (7 or 10 bits, see [`Message::is_ten_bit`]).
    pub fn addr(&self) -> u16 {
        self.0.addr
    }

    /// Returns the message's flags.
    pub fn flags(&self) -> MessageFlags {
        MessageFlags(self.0.flags)
    }

    /// Returns `true` if the message reads from the target.
    pub fn is_read(&self) -> bool {
        self.flags().contains(MessageFlag::Read)
    }

    /// Returns `true` if the message uses a 10-bit address.
    pub fn is_ten_bit(&self) -> bool {
        self.flags().contains(MessageFlag::TenBit)
    }

    /// Returns `true` if the first byte read gives the number of bytes that follow.
    pub fn is_recv_len(&self) -> bool {
        self.is_read() && self.flags().contains(MessageFlag::RecvLen)
    }

    /// Returns the number of bytes in the message.
    pub fn len(&self) -> usize {
        usize::from(self.0.len)
    }

    /// Returns `true` if the message has no data bytes (an address-only probe).
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Returns the address byte sent after START for a 7-bit address: the address shifted left
    /// with the read bit below it (`i2c_8bit_addr_from_msg`).
    pub fn addr_byte(&self) -> u8 {
        // The address has 7 bits for a 7-bit message, so the shift can't lose bits.
        ((self.0.addr << 1) as u8) | u8::from(self.is_read())
    }

    /// Returns the two address bytes of a 10-bit address: `0b11110` with address bits 9:8 and
    /// the read bit, then address bits 7:0 (`i2c_10bit_addr_hi_from_msg` and `_lo_`).
    pub fn ten_bit_addr(&self) -> (u8, u8) {
        let hi = 0xf0 | (((self.0.addr & 0x300) >> 7) as u8) | u8::from(self.is_read());
        (hi, (self.0.addr & 0xff) as u8)
    }

    /// Returns the message's bytes.
    pub fn buf(&self) -> &[u8] {
        if self.0.len == 0 || self.0.buf.is_null() {
            return &[];
        }
        // SAFETY: By the type invariant, `buf` is valid for reads of `len` bytes while `self`
        // is borrowed.
        unsafe { core::slice::from_raw_parts(self.0.buf, self.len()) }
    }

    /// Returns the buffer a read message fills.
    ///
    /// Fails with `EINVAL` for a write message, whose buffer must not be written.
    pub fn buf_mut(&mut self) -> Result<&mut [u8]> {
        if !self.is_read() {
            return Err(EINVAL);
        }
        if self.0.len == 0 || self.0.buf.is_null() {
            return Ok(&mut []);
        }
        // SAFETY: By the type invariant, a read message's `buf` is valid for writes of `len`
        // bytes, and `&mut self` makes this the only access.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.0.buf, self.len()) })
    }

    /// Grows an `I2C_M_RECV_LEN` message by the block length `count` the target announced in
    /// its first byte, as the I2C core expects the adapter to do.
    ///
    /// Fails with `EPROTO` if `count` is zero or more than [`SMBUS_BLOCK_MAX`], and with
    /// `EINVAL` if the message isn't an `I2C_M_RECV_LEN` read or was grown already.
    pub fn recv_len_extend(&mut self, count: u8) -> Result {
        if !self.is_recv_len() {
            return Err(EINVAL);
        }
        if count == 0 || usize::from(count) > SMBUS_BLOCK_MAX {
            return Err(EPROTO);
        }
        // The message may only grow once: clearing the flag records that it did.
        self.0.flags &= !(MessageFlag::RecvLen as u16);
        // INVARIANT: `I2C_M_RECV_LEN` guarantees room for `SMBUS_BLOCK_MAX` more bytes, and the
        // flag is now cleared so it can't be used twice.
        self.0.len += u16::from(count);
        Ok(())
    }
}

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
