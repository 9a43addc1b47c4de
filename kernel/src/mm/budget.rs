//! What a module may make the kernel spend: a heap account per module with a
//! limit, and a reserve that only the kernel's own work may use.
//!
//! Every block on the kernel heap is charged to the account of the thread
//! that allocated it ([`crate::mm::heap`]); the module system runs each
//! module's work (loading, instantiating, its events, a swap's preparation
//! and hand-over) charged to that module's account. The rules:
//! - **Admission.** Loading or preparing a module needs room for it within
//!   its limit, and room above the kernel reserve for the most a load of its
//!   size can take at its peak ([`admit_load`]); otherwise the operation is
//!   refused with the figures, and nothing changes.
//! - **Linear memory** (the bulk of a module's memory) grows only within the
//!   limit and above the reserve ([`may_grow`]); otherwise `memory.grow`
//!   returns -1 and instantiation fails, as Wasm allows.
//! - **Afterwards.** A module whose account is over its limit after an event
//!   is faulted ([`over_limit`]); a load or swap that ends over the limit is
//!   undone.
//!
//! So a module's appetite ends in an error for that module, never in the
//! kernel running out of heap.

use super::heap::{self, ACCOUNTS};
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Heap bytes only the kernel's own work may use.
pub const KERNEL_RESERVE_BYTES: usize = 4 << 20;

/// Physical frames (4 MiB) that modules' DMA buffers may never take: page
/// tables, kernel stacks and processes need them. A module's DMA is also
/// bounded by its own grant (`dma BYTES` in the system manifest).
pub const KERNEL_FRAME_RESERVE: u64 = 1024;

pub use super::accounts::DEFAULT_MODULE_LIMIT_BYTES;

/// Compiled code and instance bookkeeping per byte of `.wasm` for ordinary
/// compiler output (measured: the UART driver's 20 KiB compile to about
/// 50 KiB), with room; the peak of a hostile module is bounded separately.
const COMPILED_BYTES_PER_WASM_BYTE: usize = 8;
/// Fixed cost of an engine, store and instance, with room.
const INSTANCE_OVERHEAD_BYTES: usize = 64 * 1024;

static LIMITS: [AtomicUsize; ACCOUNTS] =
    [const { AtomicUsize::new(DEFAULT_MODULE_LIMIT_BYTES) }; ACCOUNTS];

/// Sets the limit of `account`.
pub fn set_limit(account: u32, bytes: usize) {
    if let Some(limit) = LIMITS.get(account as usize) {
        limit.store(bytes, Ordering::Relaxed);
    }
}

/// The limit of `account` (the kernel's own account has none).
pub fn limit(account: u32) -> usize {
    if account == heap::KERNEL_ACCOUNT {
        return usize::MAX;
    }
    LIMITS
        .get(account as usize)
        .map_or(0, |limit| limit.load(Ordering::Relaxed))
}

/// Heap bytes that module work may still take before the reserve.
fn above_reserve() -> usize {
    heap::free_bytes().saturating_sub(KERNEL_RESERVE_BYTES)
}

/// What loading and instantiating `wasm_bytes` of module code usually costs
/// (what stays charged to the module afterwards).
pub fn load_estimate(wasm_bytes: usize) -> usize {
    wasm_bytes
        .saturating_mul(COMPILED_BYTES_PER_WASM_BYTE)
        .saturating_add(INSTANCE_OVERHEAD_BYTES)
}

/// Whether `account` may start work that costs up to `bytes`.
///
/// # Errors
/// Why not, with the figures.
pub fn admit(account: u32, bytes: usize) -> Result<(), String> {
    admit_with_peak(account, bytes, bytes)
}

/// Whether `account` may load `wasm_bytes` of module: its usual cost must
/// fit its limit ([`load_estimate`]; what a load really keeps is checked
/// after it, [`over_limit`]), and the most a load of that size can take at
/// its peak ([`cella_wasm_host::peak_load_bytes`]) must fit above the kernel
/// reserve, so that no compile can run the heap out.
///
/// # Errors
/// Why not, with the figures.
pub fn admit_load(account: u32, wasm_bytes: usize) -> Result<(), String> {
    admit_with_peak(
        account,
        load_estimate(wasm_bytes),
        cella_wasm_host::peak_load_bytes(wasm_bytes),
    )
}

fn admit_with_peak(account: u32, bytes: usize, peak: usize) -> Result<(), String> {
    let charged = heap::charged(account);
    let limit = limit(account);
    if charged.saturating_add(bytes) > limit {
        return Err(format!(
            "it would need up to {} KiB of kernel memory beyond the {} KiB it holds; its limit is {} KiB",
            bytes.div_ceil(1024),
            charged / 1024,
            limit / 1024
        ));
    }
    if peak > above_reserve() {
        return Err(format!(
            "the kernel heap has {} KiB free, {} KiB of them kept for the kernel; up to {} KiB are needed",
            heap::free_bytes() / 1024,
            KERNEL_RESERVE_BYTES / 1024,
            peak.div_ceil(1024)
        ));
    }
    Ok(())
}

/// Whether the running thread's account may grow a linear memory by
/// `additional` bytes (called by the Wasm host before it allocates).
pub fn may_grow(additional: usize) -> bool {
    let account = heap::current_account();
    admit(account, additional).is_ok()
}

/// If `account` is over its limit, why (for a fault report).
pub fn over_limit(account: u32) -> Option<String> {
    let charged = heap::charged(account);
    let limit = limit(account);
    (charged > limit).then(|| {
        format!(
            "it holds {} KiB of kernel memory, over its limit of {} KiB",
            charged.div_ceil(1024),
            limit / 1024
        )
    })
}
