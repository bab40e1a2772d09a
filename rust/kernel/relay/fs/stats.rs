// SPDX-License-Identifier: GPL-2.0

//! The `<name>.stats` file of a channel.

use super::{
    super::{registry::Shared, Mode, Stats},
    target_of,
};
use crate::{
    bindings,
    ffi::{c_char, c_int},
    ops_table::StaticOps,
    prelude::*,
    sync::Arc,
};
use core::fmt::Write;

pub(super) static STATS_FOPS: StaticOps<bindings::file_operations> =
    StaticOps::new(bindings::file_operations {
        open: Some(stats_open),
        release: Some(stats_release),
        read: Some(stats_read),
        ..pin_init::zeroed()
    });

/// `open` of a stats file.
///
/// # Safety
///
/// Called by the VFS with a stats file's inode and the file being opened.
unsafe extern "C" fn stats_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `inode` is one of our stats files.
    match unsafe { target_of(inode) } {
        Ok((shared, None)) => {
            // SAFETY: `stats_release` takes the reference back.
            unsafe { (*file).private_data = Arc::into_raw(shared).cast_mut().cast() };
            0
        }
        Ok(_) => EINVAL.to_errno(),
        Err(e) => e.to_errno(),
    }
}

/// `release` of a stats file.
///
/// # Safety
///
/// Called by the VFS, once, with a file opened by [`stats_open`].
unsafe extern "C" fn stats_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `stats_open` stored the reference; it is given back once.
    drop(unsafe { Arc::from_raw((*file).private_data.cast::<Shared>()) });
    0
}

/// A growing text buffer.
struct Text(KVec<u8>);

impl Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// The text of a stats file.
fn stats_text(shared: &Shared) -> Result<KVec<u8>> {
    let g = &shared.config.geometry;
    let mut t = Text(KVec::new());
    let mode = match shared.config.mode {
        Mode::Overwrite => "overwrite",
        Mode::NoOverwrite => "no-overwrite",
    };
    let ok = writeln!(t, "subbuf_size {}", g.subbuf_size()).is_ok()
        && writeln!(t, "n_subbufs {}", g.n_subbufs()).is_ok()
        && writeln!(t, "mode {}", mode).is_ok()
        && shared.bufs.iter().flatten().all(|b| {
            let s: Stats = b.stats();
            writeln!(
                t,
                "cpu{} events={} bytes={} lost_full={} lost_too_big={} lost_busy={} \
                 produced={} consumed={}",
                b.cpu,
                s.events,
                s.bytes,
                s.lost_full,
                s.lost_too_big,
                s.lost_busy,
                s.produced,
                s.consumed
            )
            .is_ok()
        });
    if ok {
        Ok(t.0)
    } else {
        Err(ENOMEM)
    }
}

/// `read` of a stats file.
///
/// # Safety
///
/// Called by the VFS with a file opened by [`stats_open`], a user buffer of `count` bytes and
/// the file position.
unsafe extern "C" fn stats_read(
    file: *mut bindings::file,
    ubuf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `stats_open` stored a channel reference.
    let shared = unsafe { &*(*file).private_data.cast::<Shared>() };
    match stats_text(shared) {
        // SAFETY: The arguments come from `read()`; the text is a live kernel buffer.
        Ok(text) => unsafe {
            bindings::simple_read_from_buffer(
                ubuf.cast(),
                count,
                ppos,
                text.as_ptr().cast(),
                text.len(),
            )
        },
        Err(e) => e.to_errno() as isize,
    }
}
