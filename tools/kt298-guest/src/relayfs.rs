// SPDX-License-Identifier: GPL-2.0

//! The relayfs uapi: `struct relayfs_info` as [`Info`] and the ioctls of a channel's per-CPU
//! file, written by the build script from `include/uapi/linux/relayfs.h`.

use crate::ioctl::{
    ior,
    iow,
    iowr, //
};
use std::os::raw::c_ulong;

#[cfg(test)]
mod header;

include!(concat!(env!("OUT_DIR"), "/relayfs.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{
        offset_of,
        size_of, //
    };

    /// The header the definitions come from.
    const HEADER: &str = include_str!("../../../include/uapi/linux/relayfs.h");

    #[test]
    fn abi() {
        // A uapi does not change once released: these are the numbers consumers were built
        // with, so a header edit that moves one fails here.
        assert_eq!(size_of::<Info>(), 32);
        assert_eq!(offset_of!(Info, produced), 16);
        assert_eq!(offset_of!(Info, consumed), 24);
        assert_eq!(RELAYFS_IOC_INFO, 0x8020_5270);
        assert_eq!(RELAYFS_IOC_PADDING, 0xc008_5271);
        assert_eq!(RELAYFS_IOC_CONSUMED, 0x4008_5272);
    }

    #[test]
    fn header_read_whole() {
        let h = header::parse(HEADER).unwrap();
        assert_eq!(
            h.fields,
            ["subbuf_size", "n_subbufs", "produced", "consumed"]
        );
        let names: Vec<_> = h.ioctls.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "RELAYFS_IOC_INFO",
                "RELAYFS_IOC_PADDING",
                "RELAYFS_IOC_CONSUMED"
            ]
        );
        // What the build wrote is what the header says now.
        let generated = include_str!(concat!(env!("OUT_DIR"), "/relayfs.rs"));
        assert_eq!(h.to_rust(), generated);
    }

    #[test]
    fn header_shapes_not_understood_fail() {
        let edit = |from: &str, to: &str| {
            assert!(HEADER.contains(from), "{from}");
            header::parse(&HEADER.replacen(from, to, 1))
        };
        assert!(edit("__u64 produced;", "__u32 produced;").is_err());
        assert!(edit("_IOR('R', 0x70", "_IO('R', 0x70").is_err());
        assert!(edit("'R', 0x71", "'RR', 0x71").is_err());
        assert!(edit("0x72, __u64", "114, __u64").is_err());
        assert!(edit("0x72, __u64", "0x72, __u32").is_err());
        assert!(edit("struct relayfs_info {", "struct relayfs_inf {").is_err());
        let h = edit("0x72, __u64", "0x73, __u64").unwrap();
        assert_eq!(h.ioctls[2].nr, 0x73);
    }
}
