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

/// A C operation table that may be shared between threads in a `static`.
///
/// # Safety
///
/// Implementers are C structures of function pointers and constant data (names, modes) with no
/// interior mutability, which nothing writes after compilation.
pub unsafe trait Table {}

// SAFETY: Function pointers and the owning module's pointer, never written once compiled.
unsafe impl Table for bindings::file_operations {}

// SAFETY: Function pointers and a name pointer, never written once compiled.
unsafe impl Table for bindings::vm_operations_struct {}

/// A C operation table in a `static`.
#[repr(transparent)]
pub struct StaticOps<T: Table>(T);

// SAFETY: A `Table` holds function pointers and constant data that nothing writes after
// compilation (its safety requirement), and `StaticOps` gives no mutable access.
unsafe impl<T: Table> Sync for StaticOps<T> {}

impl<T: Table> StaticOps<T> {
    /// Wraps `ops` for a `static`.
    pub const fn new(ops: T) -> Self {
        Self(ops)
    }

    /// Returns the table, for the C structure that points at it.
    pub const fn get(&'static self) -> &'static T {
        &self.0
    }
}
