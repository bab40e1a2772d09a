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
//!
//! With `driver_stats=1` the adapter must be driven by `i2c_mv64xxx_rs`, and the handler also
//! checks that driver's own account of the transfers, from its debugfs counters
//! (`/sys/kernel/debug/i2c_mv64xxx_rs-<controller>/stats`): the number of atomic transfers must
//! have risen by exactly the number this handler made, and none of them may have been entered
//! with interrupts enabled. Nothing else can tell that the driver's `xfer_atomic` ran: a
//! driver without one gets its sleeping `xfer` called instead (with a warning), and one that
//! took its sleeping path from `xfer_atomic` would read and write the same bytes.
//!
//! The counters are read the way a `read(2)` of the file reads them, without a user buffer:
//! the file is opened at load time, in process context, and read once there (which also
//! allocates the `seq_file` buffer); at power-off the handler takes the same debugfs
//! reference a read would (`debugfs_file_get()`, so a file being removed fails with `EIO`)
//! and calls `seq_read_iter()` into a kernel buffer. Neither allocates or waits: with every
//! other CPU stopped the `seq_file` mutex is free, and the driver's `show` only takes its
//! interrupt-safe spinlock.

use core::ptr::NonNull;

use kernel::{
    bindings,
    device::Device,
    ffi::{
        c_int,
        c_ulong, //
    },
    i2c::{
        I2cAdapter,
        Message, //
    },
    prelude::*,
    str::CString,
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
        driver_stats: u32 {
            default: 0,
            description: "1: also check i2c_mv64xxx_rs's atomic transfer counters (debugfs)",
        },
    },
}

/// Written before power-off, read back at power-off.
const BEFORE: [u8; 4] = [0x5a, 0xc3, 0x0f, 0x96];
/// Written and read back at power-off.
const AT: [u8; 4] = [0xa5, 0x3c, 0xf0, 0x69];

/// `DEBUGFS_MAGIC` of `include/uapi/linux/magic.h`.
const DEBUGFS_MAGIC: c_ulong = 0x6462_6720;

/// Transfers the handler makes: a read, a write and a read.
const TRANSFERS: u32 = 3;

/// The bus driver's counters this test checks.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// Atomic transfers (`atomic`).
    atomic: u32,
    /// Atomic transfers entered with interrupts enabled (`atomic_irqs_on`).
    irqs_on: u32,
}

impl Counters {
    /// Parses the `name value` lines of the driver's stats file.
    fn parse(text: &[u8]) -> Option<Self> {
        let mut atomic = None;
        let mut irqs_on = None;
        for line in text.split(|&b| b == b'\n') {
            let mut words = line.split(|&b| b == b' ');
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let value = core::str::from_utf8(value).ok()?.parse::<u32>().ok()?;
            match name {
                b"atomic" => atomic = Some(value),
                b"atomic_irqs_on" => irqs_on = Some(value),
                _ => {}
            }
        }
        Some(Self {
            atomic: atomic?,
            irqs_on: irqs_on?,
        })
    }
}

/// The bus driver's debugfs stats file, open from load time on.
///
/// # Invariants
///
/// `file` is an open file of `i2c_mv64xxx_rs`'s `stats` in debugfs, which that driver creates
/// with the kernel crate's `debugfs` module and so opens with `single_open()`: its
/// `private_data` is a `seq_file`. This object holds the only reference to `file`.
struct DriverStats {
    file: NonNull<bindings::file>,
}

impl DriverStats {
    /// Opens the stats file of the controller that drives `adap`. Process context only.
    fn open(adap: &I2cAdapter) -> Result<Self> {
        // CAST: `Device` is a transparent wrapper of `struct device`.
        let dev = core::ptr::from_ref::<Device>(adap.device())
            .cast_mut()
            .cast::<bindings::device>();
        // SAFETY: `dev` is the adapter's valid device; its parent, the controller, outlives it.
        let parent = unsafe { (*dev).parent };
        if parent.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `parent` is a valid device (see above) that outlives this borrow.
        let name = unsafe { <Device>::from_raw(parent) }.name();
        let path = CString::try_from_fmt(fmt!(
            "/sys/kernel/debug/i2c_mv64xxx_rs-{}/stats",
            name.to_str().map_err(|_| EINVAL)?
        ))?;
        // SAFETY: `path` is a NUL-terminated string; this runs in process context.
        let file =
            unsafe { bindings::filp_open(path.as_char_ptr(), bindings::O_RDONLY as c_int, 0) };
        let file = NonNull::new(kernel::error::from_err_ptr(file)?).ok_or(ENOENT)?;
        // SAFETY: `file` is open, so its dentry and super block are valid.
        let magic = unsafe {
            (*(*file.as_ptr()).__bindgen_anon_1.f_path.dentry)
                .d_sb
                .as_ref()
        }
        .map(|sb| sb.s_magic);
        // INVARIANT: A debugfs file by that name is the driver's stats file. If it is not on
        // debugfs, dropping `this` closes it again.
        let this = Self { file };
        if magic != Some(DEBUGFS_MAGIC) {
            return Err(ENODEV);
        }
        Ok(this)
    }

    /// Reads the counters. Neither allocates nor sleeps once a first read has been made.
    fn read(&self) -> Result<Counters> {
        let mut buf = [0u8; 512];
        let file = self.file.as_ptr();
        // SAFETY: `file` is open (type invariant), so its dentry is valid.
        let dentry = unsafe { (*file).__bindgen_anon_1.f_path.dentry };
        // SAFETY: `dentry` is a debugfs file's; a successful get is balanced below.
        kernel::error::to_result(unsafe { bindings::debugfs_file_get(dentry) })?;
        let kvec = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut iter = bindings::iov_iter::default();
        // SAFETY: `kvec` describes `buf`, which outlives `iter`.
        unsafe { bindings::iov_iter_kvec(&mut iter, bindings::ITER_DEST, &kvec, 1, buf.len()) };
        let mut kiocb = bindings::kiocb {
            ki_filp: file,
            ki_pos: 0,
            ..Default::default()
        };
        // SAFETY: The file's `private_data` is a `seq_file` (type invariant) and the debugfs
        // reference keeps the driver's data alive; `kiocb` and `iter` are valid.
        let n = unsafe { bindings::seq_read_iter(&mut kiocb, &mut iter) };
        // SAFETY: Balances the successful `debugfs_file_get` above.
        unsafe { bindings::debugfs_file_put(dentry) };
        let n = usize::try_from(n).map_err(|_| EIO)?;
        Counters::parse(buf.get(..n).ok_or(EIO)?).ok_or(EPROTO)
    }
}

impl Drop for DriverStats {
    fn drop(&mut self) {
        // SAFETY: `file` is open and owned by `self` (type invariant).
        unsafe { bindings::filp_close(self.file.as_ptr(), core::ptr::null_mut()) };
    }
}

/// What the handler works on.
struct Target {
    adap: ARef<I2cAdapter>,
    addr: u16,
    reg: u8,
    /// The bus driver's counters, and their values once the handler was armed.
    stats: Option<(DriverStats, Counters)>,
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
    pr_emerg!("1..{}\n", if t.stats.is_some() { 6 } else { 4 });
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
    if let Some((stats, before)) = &t.stats {
        match stats.read() {
            Ok(after) => {
                pr_emerg!(
                    "# driver: atomic {} -> {}, with interrupts on {} -> {}\n",
                    before.atomic,
                    after.atomic,
                    before.irqs_on,
                    after.irqs_on
                );
                result(
                    5,
                    after.atomic.wrapping_sub(before.atomic) == TRANSFERS,
                    "the bus driver's xfer_atomic carried out each of them",
                );
                result(
                    6,
                    after.irqs_on == 0,
                    "interrupts were off whenever xfer_atomic ran",
                );
            }
            Err(e) => {
                pr_emerg!("# reading the driver's counters failed: {:?}\n", e);
                result(
                    5,
                    false,
                    "the bus driver's xfer_atomic carried out each of them",
                );
                result(6, false, "interrupts were off whenever xfer_atomic ran");
            }
        }
    }
    pr_emerg!("@@kt298 end rc=0\n");
    bindings::NOTIFY_DONE as c_int
}

struct PoweroffI2c {
    /// The registered handler and its target, if armed.
    armed: Option<(*mut bindings::sys_off_handler, KBox<Target>)>,
}

// SAFETY: The handler pointer is only used to unregister it; the target is only read, and its
// stats file only by the handler.
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
        let mut target = KBox::new(
            Target {
                adap,
                addr,
                reg,
                stats: None,
            },
            GFP_KERNEL,
        )?;
        let rc = target.write(&BEFORE);
        if rc != 1 {
            pr_err!("writing the pattern before power-off failed: {}\n", rc);
            return Err(EIO);
        }
        if *module_parameters::driver_stats.value() != 0 {
            let stats = DriverStats::open(&target.adap).inspect_err(|e| {
                pr_err!("no i2c_mv64xxx_rs stats for adapter {}: {:?}\n", nr, e)
            })?;
            // The first read, here in process context, also sets up what the one at
            // power-off needs.
            let before = stats.read()?;
            target.stats = Some((stats, before));
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
