// SPDX-License-Identifier: GPL-2.0

//! [`Message`]: one message of an I2C transfer, and its [`MessageFlags`].

use super::SMBUS_BLOCK_MAX;
use crate::{bindings, prelude::*};
use core::marker::PhantomData;

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
