// SPDX-License-Identifier: GPL-2.0

//! Transfers to and from an I2C client device.
//!
//! C header: [`include/linux/i2c.h`](srctree/include/linux/i2c.h)
//!
//! A bound [`I2cClient`] can run plain I2C transfers of several messages
//! (`i2c_transfer()`, one START ... STOP with repeated starts between the
//! messages) and the SMBus commands (`i2c_smbus_*()`), which the I2C core
//! emulates with I2C messages on adapters that only do plain I2C.
//! [`I2cClient::check_functionality`] says which of them the adapter supports.
//!
//! Every call sleeps and returns the adapter's error, for example [`ENXIO`]
//! when the device does not acknowledge its address.

use super::{
    adapter::{
        Functionality,
        Message,
        SMBUS_BLOCK_MAX, //
    },
    I2cAdapter, I2cClient,
};
use crate::{
    bindings,
    device::Bound,
    error::to_result,
    prelude::*, //
};

impl I2cAdapter {
    /// Runs `msgs` as one I2C transfer on this adapter (`i2c_transfer()`), each message to the
    /// address it carries. Returns the number of messages transferred, or the adapter's error.
    ///
    /// Sleeps, except where the I2C core runs transfers atomically (with interrupts off, as at
    /// power-off), where it uses the adapter's `xfer_atomic`.
    pub fn transfer(&self, msgs: &mut [Message<'_>]) -> Result<usize> {
        let num = i32::try_from(msgs.len()).map_err(|_| EINVAL)?;
        // SAFETY: The adapter is valid (type invariant); `Message` is a transparent wrapper of
        // `struct i2c_msg` whose buffers are borrowed (mutably for reads) for the call.
        let ret = unsafe { bindings::i2c_transfer(self.as_raw(), msgs.as_mut_ptr().cast(), num) };
        to_result(ret)?;
        // CAST: `to_result` returned `Ok`, so `ret` is not negative.
        Ok(ret as usize)
    }
}

/// Maps the return value of an SMBus call to a value or an error.
fn smbus_result(ret: i32) -> Result<u32> {
    to_result(ret)?;
    // CAST: `to_result` returned `Ok`, so `ret` is not negative.
    Ok(ret as u32)
}

impl I2cClient<Bound> {
    fn adapter_raw(&self) -> *mut bindings::i2c_adapter {
        // SAFETY: By the type invariant the client is valid; its adapter is set at creation and
        // outlives the client.
        unsafe { (*self.as_raw()).adapter }
    }

    /// Returns what the client's adapter can do (`i2c_get_functionality()`).
    pub fn functionality(&self) -> Functionality {
        let adap = self.adapter_raw();
        // SAFETY: A registered adapter always has an algorithm with a `functionality` method;
        // the adapter is valid while the client is bound.
        let func = unsafe { (*(*adap).algo).functionality };
        // SAFETY: See above; the method takes the adapter it belongs to.
        Functionality::from_raw(func.map_or(0, |f| unsafe { f(adap) }))
    }

    /// Returns whether the client's adapter supports all of `func` (`i2c_check_functionality()`).
    pub fn check_functionality(&self, func: impl Into<Functionality>) -> bool {
        self.functionality().contains_all(func.into())
    }

    /// Runs `msgs` as one I2C transfer (`i2c_transfer()`): a START, the messages separated by
    /// repeated STARTs, and a STOP.
    ///
    /// The messages go on the client's bus as they are: build them for the client with
    /// [`I2cClient::write_message`] and [`I2cClient::read_message`]. Returns [`EOPNOTSUPP`] if
    /// the adapter cannot do plain I2C, [`EIO`] if fewer messages than given were transferred,
    /// or the adapter's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, i2c::I2cClient};
    ///
    /// /// Reads the registers from `first` on, the way most register-based chips want it:
    /// /// write the register address, then read with a repeated start.
    /// fn read_regs(client: &I2cClient<Bound>, first: u8, regs: &mut [u8]) -> Result {
    ///     let addr = [first];
    ///     client.transfer(&mut [client.write_message(&addr)?, client.read_message(regs)?])
    /// }
    /// ```
    pub fn transfer(&self, msgs: &mut [Message<'_>]) -> Result {
        let num = i32::try_from(msgs.len()).map_err(|_| EINVAL)?;
        // SAFETY: `Message` is a transparent wrapper of `struct i2c_msg` whose buffers are
        // borrowed (mutably for reads) for the duration of the call, by its type invariant.
        let ret =
            unsafe { bindings::i2c_transfer(self.adapter_raw(), msgs.as_mut_ptr().cast(), num) };
        to_result(ret)?;
        if ret != num {
            return Err(EIO);
        }
        Ok(())
    }

    /// Returns the client's address and whether it is a 10-bit one.
    fn address(&self) -> (u16, bool) {
        // SAFETY: By the type invariant the client is valid; its address and flags are set at
        // creation.
        let (addr, flags) = unsafe { ((*self.as_raw()).addr, (*self.as_raw()).flags) };
        (addr, u32::from(flags) & bindings::I2C_CLIENT_TEN != 0)
    }

    /// Returns a message that writes `data` to this client, for [`I2cClient::transfer`].
    ///
    /// Fails with `EINVAL` if `data` has more than 65535 bytes.
    pub fn write_message<'a>(&self, data: &'a [u8]) -> Result<Message<'a>> {
        match self.address() {
            (addr, true) => Message::write_ten_bit(addr, data),
            (addr, false) => Message::write(addr, data),
        }
    }

    /// Returns a message that reads `buf.len()` bytes from this client into `buf`, for
    /// [`I2cClient::transfer`].
    ///
    /// Fails with `EINVAL` if `buf` has more than 65535 bytes.
    pub fn read_message<'a>(&self, buf: &'a mut [u8]) -> Result<Message<'a>> {
        match self.address() {
            (addr, true) => Message::read_ten_bit(addr, buf),
            (addr, false) => Message::read(addr, buf),
        }
    }

    /// Writes `data` to the device in one message (`i2c_master_send()`).
    pub fn write(&self, data: &[u8]) -> Result {
        let mut msg = [self.write_message(data)?];
        self.transfer(&mut msg)
    }

    /// Reads `buf.len()` bytes from the device in one message (`i2c_master_recv()`).
    pub fn read(&self, buf: &mut [u8]) -> Result {
        let mut msg = [self.read_message(buf)?];
        self.transfer(&mut msg)
    }

    /// SMBus receive byte (`i2c_smbus_read_byte()`).
    pub fn smbus_read_byte(&self) -> Result<u8> {
        // SAFETY: By the type invariant the client is valid.
        let v = smbus_result(unsafe { bindings::i2c_smbus_read_byte(self.as_raw()) })?;
        // CAST: the core returns a byte.
        Ok(v as u8)
    }

    /// SMBus send byte (`i2c_smbus_write_byte()`).
    pub fn smbus_write_byte(&self, value: u8) -> Result {
        // SAFETY: By the type invariant the client is valid.
        smbus_result(unsafe { bindings::i2c_smbus_write_byte(self.as_raw(), value) }).map(|_| ())
    }

    /// SMBus read byte data: the byte of register `command` (`i2c_smbus_read_byte_data()`).
    pub fn smbus_read_byte_data(&self, command: u8) -> Result<u8> {
        // SAFETY: By the type invariant the client is valid.
        let v =
            smbus_result(unsafe { bindings::i2c_smbus_read_byte_data(self.as_raw(), command) })?;
        // CAST: the core returns a byte.
        Ok(v as u8)
    }

    /// SMBus write byte data: `value` to register `command` (`i2c_smbus_write_byte_data()`).
    pub fn smbus_write_byte_data(&self, command: u8, value: u8) -> Result {
        // SAFETY: By the type invariant the client is valid.
        smbus_result(unsafe { bindings::i2c_smbus_write_byte_data(self.as_raw(), command, value) })
            .map(|_| ())
    }

    /// SMBus read word data, little endian on the wire (`i2c_smbus_read_word_data()`).
    pub fn smbus_read_word_data(&self, command: u8) -> Result<u16> {
        // SAFETY: By the type invariant the client is valid.
        let v =
            smbus_result(unsafe { bindings::i2c_smbus_read_word_data(self.as_raw(), command) })?;
        // CAST: the core returns a 16-bit word.
        Ok(v as u16)
    }

    /// SMBus write word data, little endian on the wire (`i2c_smbus_write_word_data()`).
    pub fn smbus_write_word_data(&self, command: u8, value: u16) -> Result {
        // SAFETY: By the type invariant the client is valid.
        smbus_result(unsafe { bindings::i2c_smbus_write_word_data(self.as_raw(), command, value) })
            .map(|_| ())
    }

    /// SMBus block read: the device sends a length byte, then that many bytes
    /// (`i2c_smbus_read_block_data()`).
    ///
    /// Returns the number of bytes stored in `buf`.
    pub fn smbus_read_block_data(
        &self,
        command: u8,
        buf: &mut [u8; SMBUS_BLOCK_MAX],
    ) -> Result<usize> {
        // SAFETY: By the type invariant the client is valid; `buf` has room for the largest
        // block the core can return.
        let n = smbus_result(unsafe {
            bindings::i2c_smbus_read_block_data(self.as_raw(), command, buf.as_mut_ptr())
        })?;
        Ok(n as usize)
    }

    /// SMBus block write: a length byte, then `data` (`i2c_smbus_write_block_data()`).
    ///
    /// Returns [`EINVAL`] if `data` is longer than [`SMBUS_BLOCK_MAX`].
    pub fn smbus_write_block_data(&self, command: u8, data: &[u8]) -> Result {
        if data.len() > SMBUS_BLOCK_MAX {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the client is valid; `data` is valid for reads of its
        // length, which fits in a `u8`.
        smbus_result(unsafe {
            bindings::i2c_smbus_write_block_data(
                self.as_raw(),
                command,
                data.len() as u8,
                data.as_ptr(),
            )
        })
        .map(|_| ())
    }

    /// I2C block read: `buf.len()` bytes from register `command` on, without a length byte
    /// (`i2c_smbus_read_i2c_block_data()`).
    ///
    /// Returns the number of bytes read, or [`EINVAL`] if `buf` is longer than
    /// [`SMBUS_BLOCK_MAX`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, i2c::{Function, I2cClient}};
    ///
    /// /// Reads registers 0-6 in one transaction on any adapter that can.
    /// fn read_seven(client: &I2cClient<Bound>) -> Result<[u8; 7]> {
    ///     let mut regs = [0u8; 7];
    ///     if !client.check_functionality(Function::SmbusI2cBlock) {
    ///         return Err(ENODEV);
    ///     }
    ///     if client.smbus_read_i2c_block_data(0, &mut regs)? != regs.len() {
    ///         return Err(EIO);
    ///     }
    ///     Ok(regs)
    /// }
    /// ```
    pub fn smbus_read_i2c_block_data(&self, command: u8, buf: &mut [u8]) -> Result<usize> {
        if buf.len() > SMBUS_BLOCK_MAX {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the client is valid; `buf` is valid for writes of its
        // length, which fits in a `u8`.
        let n = smbus_result(unsafe {
            bindings::i2c_smbus_read_i2c_block_data(
                self.as_raw(),
                command,
                buf.len() as u8,
                buf.as_mut_ptr(),
            )
        })?;
        Ok(n as usize)
    }

    /// I2C block write: `data` to register `command` on, without a length byte
    /// (`i2c_smbus_write_i2c_block_data()`).
    ///
    /// Returns [`EINVAL`] if `data` is longer than [`SMBUS_BLOCK_MAX`].
    pub fn smbus_write_i2c_block_data(&self, command: u8, data: &[u8]) -> Result {
        if data.len() > SMBUS_BLOCK_MAX {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the client is valid; `data` is valid for reads of its
        // length, which fits in a `u8`.
        smbus_result(unsafe {
            bindings::i2c_smbus_write_i2c_block_data(
                self.as_raw(),
                command,
                data.len() as u8,
                data.as_ptr(),
            )
        })
        .map(|_| ())
    }
}
