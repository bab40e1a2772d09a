// SPDX-License-Identifier: GPL-2.0

//! relayfs: the file system that shows relay channels to user space.
//!
//! Loading this module registers the `relayfs` file system type:
//!
//! ```text
//! # modprobe relayfs
//! # mount -t relayfs none /sys/kernel/relayfs
//! # ls /sys/kernel/relayfs/kt298
//! events.stats  events0  events1  events2  events3
//! ```
//!
//! The channels themselves, their buffers and the file operations are in the kernel crate
//! (`kernel::relay`), so that any module can open a channel and files outlive the module that
//! opened it. See `kernel::relay::fs` for what the files do. While relayfs is mounted or any
//! channel exists, this module cannot be unloaded.

use kernel::{prelude::*, relay};

module! {
    type: RelayFs,
    name: "relayfs",
    authors: ["kt298 developers"],
    description: "relayfs: per-CPU relay channels as files",
    license: "GPL",
}

struct RelayFs {
    _fs: relay::fs::Registration,
}

impl kernel::Module for RelayFs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        Ok(Self {
            _fs: relay::fs::Registration::new(module)?,
        })
    }
}
