//! Heap accounts: the kernel's is 0, each module slot has its own, and a
//! module's limit when its plan names none. Shared by the heap, its budget
//! and the module table (which is host-tested, so this file has no hardware).

/// Heap accounts there are (account 0 is the kernel's).
pub const ACCOUNTS: usize = 64;
/// The kernel's own account.
pub const KERNEL_ACCOUNT: u32 = 0;
/// A module's heap limit when its plan names none.
pub const DEFAULT_MODULE_LIMIT_BYTES: usize = 4 << 20;

/// The heap account of the module in table slot `index` (modules past the
/// last account share it).
pub fn account_of(index: usize) -> u32 {
    let last = ACCOUNTS - 1;
    u32::try_from(index.saturating_add(1).min(last)).unwrap_or(0)
}
