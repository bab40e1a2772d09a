// SPDX-License-Identifier: GPL-2.0

//! Test module: I2C transfers at power-off, in the I2C core's atomic mode.
//!
//! When the kernel powers off it calls the sys-off handlers with interrupts disabled, and the
//! I2C core then carries out transfers with the adapter's `xfer_atomic` (polling, no sleeping)
//! instead of `xfer`: the path a PMIC driver takes to switch a board off. Nothing else uses
//! it, so this module does, on a real bus.
//!
//! Loaded with `adapter=N` (the default, -1, does nothing), it writes a 4-byte pattern to
//! registers `reg` to `reg + 3` of the device at `addr` (by default the RAM of a DS1338 at
//! 0x68, from register 0x08) and registers a power-off handler that runs before the
//! firmware's. At power-off the handler reads the pattern back, writes another one and reads
//! that back, and prints the results on the console as a KTAP section for the suite's
//! harness: `@@kt298 begin poweroff:i2c_atomic`, the results, `@@kt298 end rc=0`.

use kernel::{
    bindings,
    ffi::c_int,
    i2c::{
        I2cAdapter,
        Message, //
    },
    prelude::*,
    sync::aref::ARef, //
};

module! {
    type: PoweroffI2c,
    name: "kt298_poweroff_i2c",
    authors: ["kt298 developers"],
    description: "Test: atomic I2C transfers from a power-off handler",
    license: "GPL",
    params: {
        adapter: i32 {
            default: -1,
            description: "I2C adapter number to test at power-off (-1: none)",
        },
        addr: u32 {
            default: 0x68,
            description: "Address of a device with 4 bytes of RAM (default: DS1338)",
        },
        reg: u32 {
            default: 0x08,
            description: "First RAM register (default: the DS1338's RAM)",
        },
    },
}

/// Written before power-off, read back at power-off.
const BEFORE: [u8; 4] = [0x5a, 0xc3, 0x0f, 0x96];
/// Written and read back at power-off.
const AT: [u8; 4] = [0xa5, 0x3c, 0xf0, 0x69];

/// What the handler works on.
struct Target {
    adap: ARef<I2cAdapter>,
    addr: u16,
    reg: u8,
}

impl Target {
    /// Carries out `msgs` as one transfer; the I2C core's result (`msgs.len()` on success).
    fn transfer(&self, msgs: &mut [Message<'_>]) -> c_int {
        match self.adap.transfer(msgs) {
            Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            Err(e) => e.to_errno(),
        }
    }

    /// Writes `data` from register `reg`; the I2C core's result (1 on success).
    fn write(&self, data: &[u8; 4]) -> c_int {
        let buf = [self.reg, data[0], data[1], data[2], data[3]];
        match Message::write(self.addr, &buf) {
            Ok(m) => self.transfer(&mut [m]),
            Err(e) => e.to_errno(),
        }
    }

    /// Reads 4 bytes from register `reg`; the I2C core's result (2 on success).
    fn read(&self, out: &mut [u8; 4]) -> c_int {
        let r = [self.reg];
        match (Message::write(self.addr, &r), Message::read(self.addr, out)) {
            (Ok(w), Ok(rd)) => self.transfer(&mut [w, rd]),
            (Err(e), _) | (_, Err(e)) => e.to_errno(),
        }
    }

    /// Reads the registers back and prints KTAP result `n`: whether they hold `want`.
    fn check_read(&self, n: u32, want: &[u8; 4], name: &str) {
        let mut got = [0u8; 4];
        let rc = self.read(&mut got);
        pr_emerg!("# read: rc={} bytes={:02x?}\n", rc, got);
        result(n, rc == 2 && got == *want, name);
    }
}

/// Prints one KTAP result line.
fn result(n: u32, ok: bool, name: &str) {
    pr_emerg!("{}ok {} {}\n", if ok { "" } else { "not " }, n, name);
}

/// The power-off handler.
///
/// # Safety
///
/// Called by the kernel's sys-off chain with the `Target` registered in `init`.
unsafe extern "C" fn power_off(data: *mut bindings::sys_off_data) -> c_int {
    // SAFETY: `cb_data` is the `Target` given to `register_sys_off_handler`, which lives until
    // the handler is unregistered.
    let t = unsafe { &*(*data).cb_data.cast::<Target>() };
    pr_emerg!("@@kt298 begin poweroff:i2c_atomic\n");
    pr_emerg!("KTAP version 1\n");
    pr_emerg!("1..4\n");
    // SAFETY: Reading the system state is always allowed.
    let state = unsafe { bindings::system_state };
    result(
        1,
        state == bindings::system_states_SYSTEM_POWER_OFF,
        "the handler runs at power-off, where the I2C core uses xfer_atomic",
    );
    t.check_read(2, &BEFORE, "an atomic read finds what was written before");
    let rc = t.write(&AT);
    pr_emerg!("# write: rc={}\n", rc);
    result(3, rc == 1, "an atomic write goes through");
    t.check_read(4, &AT, "an atomic read finds the atomic write");
    pr_emerg!("@@kt298 end rc=0\n");
    bindings::NOTIFY_DONE as c_int
}

struct PoweroffI2c {
    /// The registered handler and its target, if armed.
    armed: Option<(*mut bindings::sys_off_handler, KBox<Target>)>,
}

// SAFETY: The handler pointer is only used to unregister it; the target is only read.
unsafe impl Sync for PoweroffI2c {}
// SAFETY: As above.
unsafe impl Send for PoweroffI2c {}

impl kernel::Module for PoweroffI2c {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let nr = *module_parameters::adapter.value();
        if nr < 0 {
            return Ok(Self { armed: None });
        }
        let addr = u16::try_from(*module_parameters::addr.value()).map_err(|_| EINVAL)?;
        let reg = u8::try_from(*module_parameters::reg.value()).map_err(|_| EINVAL)?;
        let adap = I2cAdapter::get(nr).inspect_err(|_| pr_err!("no I2C adapter {}\n", nr))?;
        let target = KBox::new(Target { adap, addr, reg }, GFP_KERNEL)?;
        let rc = target.write(&BEFORE);
        if rc != 1 {
            pr_err!("writing the pattern before power-off failed: {}\n", rc);
            return Err(EIO);
        }
        // Before the firmware's handler (PSCI), which switches the machine off.
        let prio = bindings::SYS_OFF_PRIO_FIRMWARE as c_int + 1;
        // SAFETY: The callback and its data (boxed, so at a stable address) stay valid until
        // `drop` unregisters the handler.
        let h = unsafe {
            bindings::register_sys_off_handler(
                bindings::sys_off_mode_SYS_OFF_MODE_POWER_OFF,
                prio,
                Some(power_off),
                core::ptr::from_ref::<Target>(&target).cast_mut().cast(),
            )
        };
        let h = kernel::error::from_err_ptr(h).inspect_err(|e| {
            pr_err!("registering the power-off handler failed: {:?}\n", e);
        })?;
        pr_info!("armed: I2C adapter {} at power-off\n", nr);
        Ok(Self {
            armed: Some((h, target)),
        })
    }
}

impl Drop for PoweroffI2c {
    fn drop(&mut self) {
        if let Some((h, _target)) = self.armed.take() {
            // SAFETY: Registered in `init`; after this the callback no longer runs.
            unsafe { bindings::unregister_sys_off_handler(h) };
        }
    }
}
