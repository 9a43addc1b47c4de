//! cella-wasm-host: one capability-checked wasmi sandbox per Cella module (driver or server).
//!
//! # Design principles
//! - **Guest input never panics the host.** Every host call decodes and
//!   checks all its arguments first and touches hardware only after all checks
//!   pass. Nothing indexes, unwraps or does unchecked arithmetic on a value a
//!   guest controls. The crate forbids `unsafe`. The engine is guarded too:
//!   `wasmparser` validates every module in full before wasmi sees it, and
//!   the stores wasmi 2.0.0's translator cannot encode are rewritten at load
//!   (docs/reliability.md, "Engine defects reported upstream").
//! - **Two kinds of "no".** A refused host call returns an ABI
//!   [`cella_abi::ErrorCode`] to the guest and is counted; only a module that
//!   misbehaves past its limits, traps, runs out of fuel or breaks the state
//!   protocol is faulted, with a typed [`Fault`] naming the module.
//! - **Least privilege, declared up front.** A module's manifest lists what it
//!   needs; loading fails unless the [`Grant`] covers every request, and an
//!   instance holds exactly what it asked for (an endpoint with the send
//!   right) and the endpoints it serves (with the receive right), named by
//!   handles that carry the instance's generation.
//! - **All hardware behind one trait.** [`Platform`] is the only way out: the
//!   kernel implements it with real I/O, tests with [`SimulatedPlatform`].
//!   Messages leave through the embedder's [`Outbox`]; time-outs are deadlines
//!   the embedder reads and turns into [`Event::Timer`].
//! - **One event at a time, bounded.** Each event runs to completion under a
//!   fuel budget, with bounded memory, tables, instances and call depth.
//!   Between events a module is quiescent: that is where restart and hot swap
//!   happen, and a swap either completes or leaves the old instance running.
//!
//! # Embedding
//! ```text
//! let mut runtime = Runtime::<MyPlatform, MyOutbox>::new(Limits::default());
//! let module = runtime.load("uart", &wasm_bytes, &grant)?;        // LoadError
//! let mut sandbox = runtime.start(&module, platform, outbox)?;     // Fault
//! sandbox.deliver(Event::Irq { line: 4 })?;                        // Fault
//! runtime.swap(&mut sandbox, &new_module)?;                        // SwapError
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod access;
mod calls;
mod capabilities;
mod events;
mod faults;
mod fuel;
mod grant;
mod handles;
mod held;
mod limits;
mod linker;
mod loader;
mod loans;
mod log_budget;
mod memory_limiter;
mod outbox;
mod outstanding;
mod platform;
mod prepare;
mod replies;
mod rewrite;
mod runtime;
mod sandbox;
mod simulated;
mod snapshot;
mod state;
mod swap;
mod trace;
mod validate;
mod waiting;

pub use access::{Access, Attempt, OperationName, Place};
pub use capabilities::{Capability, MAX_SERVED_ENDPOINTS};
pub use events::{Delivery, Event};
pub use faults::{Entry, Fault, FaultKind, StateError, TrapCode};
pub use fuel::{BYTES_PER_FUEL, HOST_CALL_FUEL, PORT_BYTE_FUEL};
pub use grant::Grant;
pub use handles::{Handle, MAX_GENERATION, SLOTS};
pub use held::MAX_HELD_MESSAGES;
pub use limits::Limits;
pub use loader::{
    LoadError, LoadErrorKind, LoadedModule, PEAK_LOAD_BYTES_PER_WASM_BYTE, PEAK_LOAD_FIXED_BYTES,
    manifest_name, peak_load_bytes,
};
pub use outbox::{Loan, Outbox, Outgoing, QueueOutbox};
pub use platform::{Platform, Width};
pub use prepare::{Prepared, Preparer};
pub use runtime::Runtime;
pub use sandbox::Sandbox;
pub use simulated::{ByteStream, DMA_BASE, Device, LogLine, Registers, SimulatedPlatform};
pub use snapshot::SavedState;
pub use swap::{SwapError, SwapStage};
pub use trace::{Counters, Trace};

pub use cella_abi as abi;
pub use cella_system::devices::{Bar, PciFunction};
