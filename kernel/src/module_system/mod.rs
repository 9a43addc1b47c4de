//! The module system: Wasm modules in the kernel, as four owned parts with
//! typed boundaries, generic over what they need from the kernel
//! ([`services::KernelServices`]) so all of it is tested on the host.
//!
//! - [`table`]: the module table (slots, lifecycle states, loading and
//!   starting instances), with [`slot`] for one entry;
//! - [`router`]: the endpoints and the requests in flight, and where each
//!   message goes (every endpoint is a kernel IPC endpoint, whoever serves
//!   it); [`calls`] for the calls modules make, [`served_endpoints`] for
//!   the endpoints modules serve, whose queues the router receives from;
//!   [`prompt`] tells
//!   the shell to draw its prompt again after the kernel printed;
//! - [`event_loop`]: the one loop that collects IRQs and due timers, picks
//!   the next event and lends it out; [`lifecycle`] carries out what the
//!   supervisor decides about a module, [`operations`] the commands under
//!   way (a hot swap or a restart is a state the loop advances), carried out
//!   in [`commands`], [`removal`] and [`swap`]; [`disk_files`] reads
//!   module files from the `fs` server and writes pushed ones there;
//!   [`install`] adds a module
//!   pushed with its manifest entry to the running system; [`host_commands`]
//!   takes the host's commands from the push link; [`inspection`] answers
//!   the typed `supervisor` interface's reading operations and
//!   [`command_calls`] its commands, called by the shell; [`device_faults`]
//!   faults the module whose device did a DMA the IOMMU blocked;
//! - the supervisor itself is pure: `crate::supervisor::decisions` turns
//!   typed events into typed actions.
#![forbid(unsafe_code)]

pub mod calls;
pub mod command_calls;
pub mod commands;
pub mod device_faults;
pub mod disk_files;
pub mod event_loop;
pub mod host_commands;
pub mod inspection;
pub mod install;
pub mod lifecycle;
pub mod operations;
pub mod prompt;
pub mod removal;
pub mod router;
pub mod served_endpoints;
pub mod services;
pub mod slot;
pub mod swap;
pub mod table;
#[cfg(test)]
mod tests;
