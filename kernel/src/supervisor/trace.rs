//! `trace NAME on`: print each device access of a module as it happens.

use crate::sandboxes::slot::KernelSandbox;

/// Prints the trace entries (device accesses, refusals, messages) `sandbox`
/// recorded since its `trace_entries` counter stood at `before`.
pub fn print_new_accesses(module: &str, sandbox: &KernelSandbox, before: u64) {
    let new = sandbox.counters().trace_entries.saturating_sub(before);
    if new == 0 {
        return;
    }
    let recent = sandbox.recent_accesses();
    let shown = usize::try_from(new).unwrap_or(usize::MAX).min(recent.len());
    if (shown as u64) < new {
        crate::kprintln!(
            "trace {module}: ({} earlier accesses not kept)",
            new - shown as u64
        );
    }
    for access in &recent[recent.len() - shown..] {
        crate::kprintln!("trace {module}: {access}");
    }
}
