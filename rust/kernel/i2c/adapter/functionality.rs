// SPDX-License-Identifier: GPL-2.0

//! [`Functionality`]: what an I2C adapter can do (`I2C_FUNC_*`).

use crate::bindings;

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
