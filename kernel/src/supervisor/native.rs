//! Native processes in the supervisor's commands: their rows in `ps`, and
//! `call ENDPOINT TEXT`, which calls an endpoint a native process registered
//! (the IPC name service of `kernel/src/ipc`) and shows the reply. Modules'
//! endpoints go through the sandboxes' router instead (`send`).

use crate::{ipc, proc, time};
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// How long `call` waits for the reply.
const CALL_TIMEOUT_NS: u64 = 1_000_000_000;

/// One `ps` row per live native process: its name, `native` for the version,
/// its thread, and each endpoint it may serve, marked `*` once it has
/// registered it (it is serving).
pub fn process_rows() -> String {
    let mut out = String::new();
    for (thread, name, serves) in proc::running() {
        let endpoints: alloc::vec::Vec<String> = serves
            .iter()
            .map(|endpoint| {
                let mark = if ipc::lookup(endpoint).is_ok() {
                    "*"
                } else {
                    ""
                };
                format!("{endpoint}{mark}")
            })
            .collect();
        let _ = writeln!(
            out,
            "{name:<14} {:<8} {:>4} {:<10} thread {thread}, serves [{}]",
            "native",
            "-",
            "running",
            endpoints.join(", ")
        );
    }
    out
}

/// `call ENDPOINT TEXT`: calls the registered endpoint with TEXT and shows
/// the reply's bytes in hex.
pub fn call(endpoint: &str, text: &str) -> Result<String, String> {
    let id = ipc::lookup(endpoint).map_err(|_| {
        format!("no native process serves `{endpoint}` (module endpoints take `send`)")
    })?;
    let deadline = time::now_nanoseconds() + CALL_TIMEOUT_NS;
    let reply = ipc::call(id, text.as_bytes(), Some(deadline))
        .map_err(|error| format!("call {endpoint}: {error:?}"))?;
    let mut hex = String::new();
    for byte in &reply {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(format!(
        "reply from {endpoint}: {} bytes: {hex}",
        reply.len()
    ))
}
