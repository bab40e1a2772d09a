// SPDX-License-Identifier: GPL-2.0

//! Writes the relayfs uapi definitions (`struct relayfs_info`, the `RELAYFS_IOC_*` numbers)
//! from `include/uapi/linux/relayfs.h`, the header the kernel side is built from, so that
//! the tools and the kernel cannot disagree.

use std::{
    env,
    fs,
    path::Path, //
};

#[path = "src/relayfs/header.rs"]
mod header;

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let path = Path::new(&dir).join("../../include/uapi/linux/relayfs.h");
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-changed=src/relayfs/header.rs");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = header::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("relayfs.rs");
    fs::write(&out, header.to_rust()).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
