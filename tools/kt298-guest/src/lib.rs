// SPDX-License-Identifier: GPL-2.0

//! What the guest tools (`kscrubd-test`, `kt298-i2c`, `kt298-rtc`, `relay-consume`) share:
//! the C library calls and constants they use, the ioctl number encoding, the relayfs uapi
//! (generated from `include/uapi/linux/relayfs.h`), the record format of the relay sample
//! producer, the dispatch of `main()` and the arithmetic of timed loops.
//!
//! Std only, so that the tools link statically for both guests (x86_64 with musl, 32-bit
//! arm with glibc); every value here is the same on the two.

pub mod cli;
pub mod ioctl;
pub mod map;
pub mod record;
pub mod relayfs;
pub mod sys;
pub mod timing;
