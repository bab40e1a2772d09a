// SPDX-License-Identifier: GPL-2.0

//! Marvell MV64xxx (and Allwinner) TWSI I2C host controller driver.
//!
//! A Rust port of `drivers/i2c/busses/i2c-mv64xxx.c`: the I2C controller of Marvell's
//! MV64xxx host bridges, Orion and Armada SoCs, which also lives on in Allwinner SoCs with
//! its registers moved around. Transfers run interrupt driven through a pure state machine
//! ([`fsm`]) with repeated START between messages; atomic transfers poll. Beyond the C
//! driver: `I2C_M_RECV_LEN` (SMBus block reads), bus recovery through the Allwinner line
//! control register, rate-limited error messages.
//!
//! The C driver runs short transfers on the mv78230 (`marvell,mv78230-i2c`) through that
//! SoC's offload engine, and falls back to the byte-wise path for atomic transfers, longer
//! ones, and the A0 stepping. This driver always takes the byte-wise path, which every variant
//! has: the engine only saves interrupts on transfers of at most 8 bytes, and no emulator
//! models it, so a port of it could not be tested.

#[path = "i2c_mv64xxx_rs/bus.rs"]
mod bus;
#[path = "i2c_mv64xxx_rs/divider.rs"]
mod divider;
#[path = "i2c_mv64xxx_rs/driver.rs"]
mod driver;
#[path = "i2c_mv64xxx_rs/fsm.rs"]
mod fsm;
#[path = "i2c_mv64xxx_rs/power.rs"]
mod power;
#[path = "i2c_mv64xxx_rs/regs.rs"]
mod regs;
#[path = "i2c_mv64xxx_rs/step.rs"]
mod step;
#[path = "i2c_mv64xxx_rs/xfer.rs"]
mod xfer;

kernel::module_platform_driver! {
    type: driver::I2cMv64xxx,
    name: "i2c_mv64xxx_rs",
    authors: ["kt298 developers"],
    description: "Marvell mv64xxx / Allwinner TWSI I2C controller (Rust)",
    license: "GPL",
}
