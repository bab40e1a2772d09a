// SPDX-License-Identifier: GPL-2.0

//! Register I/O over I2C: single registers and the time block, as plain I2C transfers or
//! SMBus I2C block commands.

use super::regs::{
    Reg,
    Register,
    Sec,
    TimeRegs, //
};
use kernel::{
    device::Bound,
    i2c::{
        Function,
        I2cClient, //
    },
    prelude::*,
};

/// How registers are moved, in one bus transaction per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bus {
    /// Plain I2C: a register-address write and a read joined by a repeated start.
    I2c,
    /// SMBus I2C block commands (for example on `i2c-stub`).
    SmbusBlock,
}

impl Bus {
    /// Picks the way to move blocks on `client`'s adapter.
    ///
    /// Returns [`ENODEV`] if the adapter can do neither.
    pub(crate) fn for_client(client: &I2cClient<Bound>) -> Result<Self> {
        if client.check_functionality(Function::I2c) {
            Ok(Self::I2c)
        } else if client.check_functionality(Function::SmbusI2cBlock) {
            Ok(Self::SmbusBlock)
        } else {
            Err(ENODEV)
        }
    }

    /// Reads `buf.len()` registers from `first` on in one bus transaction.
    fn read_bytes(self, client: &I2cClient<Bound>, first: Reg, buf: &mut [u8]) -> Result {
        match self {
            Self::I2c => {
                let addr = [first.addr()];
                client.transfer(&mut [client.write_message(&addr)?, client.read_message(buf)?])
            }
            Self::SmbusBlock => {
                if client.smbus_read_i2c_block_data(first.addr(), buf)? != buf.len() {
                    return Err(EIO);
                }
                Ok(())
            }
        }
    }

    /// Writes `data` to the registers from `first` on in one bus transaction.
    ///
    /// Returns [`EINVAL`] if `data` is longer than the time block.
    fn write_bytes(self, client: &I2cClient<Bound>, first: Reg, data: &[u8]) -> Result {
        match self {
            Self::I2c => {
                let mut buf = [0u8; 1 + TimeRegs::LEN];
                let msg = buf.get_mut(..1 + data.len()).ok_or(EINVAL)?;
                msg[0] = first.addr();
                msg[1..].copy_from_slice(data);
                client.write(msg)
            }
            Self::SmbusBlock => client.smbus_write_i2c_block_data(first.addr(), data),
        }
    }

    /// Reads the register `R`.
    pub(crate) fn read<R: Register>(self, client: &I2cClient<Bound>) -> Result<R> {
        let mut byte = [0u8];
        self.read_bytes(client, R::ADDR, &mut byte)?;
        Ok(R::from(byte[0]))
    }

    /// Writes `value` to its register.
    pub(crate) fn write<R: Register>(self, client: &I2cClient<Bound>, value: R) -> Result {
        self.write_bytes(client, R::ADDR, &[value.into()])
    }

    /// Reads the time registers as one block.
    pub(crate) fn read_time(self, client: &I2cClient<Bound>) -> Result<TimeRegs> {
        let mut bytes = [0u8; TimeRegs::LEN];
        self.read_bytes(client, TimeRegs::ADDR, &mut bytes)?;
        Ok(TimeRegs::from_bytes(bytes))
    }

    /// Writes the time registers as one block.
    pub(crate) fn write_time(self, client: &I2cClient<Bound>, regs: &TimeRegs) -> Result {
        self.write_bytes(client, TimeRegs::ADDR, &regs.to_bytes())
    }

    /// Reads the seven time registers and then the seconds register again, in one transfer
    /// of four messages joined by repeated starts (for [`read_checked`]).
    ///
    /// Only for [`Bus::I2c`].
    ///
    /// [`read_checked`]: super::read::read_checked
    pub(crate) fn read_time_checked(client: &I2cClient<Bound>) -> Result<(TimeRegs, Sec)> {
        let time_addr = [TimeRegs::ADDR.addr()];
        let sec_addr = [Sec::ADDR.addr()];
        let mut time = [0u8; TimeRegs::LEN];
        let mut sec = [0u8];
        client.transfer(&mut [
            client.write_message(&time_addr)?,
            client.read_message(&mut time)?,
            client.write_message(&sec_addr)?,
            client.read_message(&mut sec)?,
        ])?;
        Ok((TimeRegs::from_bytes(time), Sec::from(sec[0])))
    }
}
