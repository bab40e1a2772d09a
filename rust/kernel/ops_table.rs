// SPDX-License-Identifier: GPL-2.0

//! C operation tables in `static`s.
//!
//! A file, a mapping or a super block keeps a pointer to its operation table
//! (`file_operations`, `vm_operations_struct`, ...) for as long as it lives, which can be
//! longer than the module that created it. A `static` is defined once, in the crate that
//! declares it, so a table declared in the kernel crate is in the kernel image and outlives
//! every module. A `const` would not do: `&CONST` is promoted in whichever crate compiles the
//! expression, which may be a module (through generic or inlined code).

use crate::bindings;

mod private {
    pub(crate) trait Sealed {}
}

/// A C operation table: function pointers and constant data (names, modes), no field that is
/// written after compilation.
pub(crate) trait Table: private::Sealed {}

macro_rules! tables {
    ($($t:ty),* $(,)?) => {
        $(
            impl private::Sealed for $t {}
            impl Table for $t {}
        )*
    };
}

tables!(
    bindings::file_operations,
    bindings::vm_operations_struct,
    bindings::fs_context_operations,
    bindings::dentry_operations,
);

// The file list of `simple_fill_super()`; its names are static strings.
impl<const N: usize> private::Sealed for [bindings::tree_descr; N] {}
impl<const N: usize> Table for [bindings::tree_descr; N] {}

/// A C operation table in a `static`.
#[repr(transparent)]
pub(crate) struct StaticOps<T: Table>(T);

// SAFETY: A `Table` holds function pointers and plain data that nothing writes after
// compilation (`StaticOps` gives no mutable access), so sharing it between threads is sound.
unsafe impl<T: Table> Sync for StaticOps<T> {}

impl<T: Table> StaticOps<T> {
    /// Wraps `ops` for a `static`.
    pub(crate) const fn new(ops: T) -> Self {
        Self(ops)
    }

    /// Returns the table, for the C structure that points at it.
    pub(crate) const fn get(&'static self) -> &'static T {
        &self.0
    }
}
