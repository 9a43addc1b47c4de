//! uart16550: Cella's COM1 driver — a 16550 UART, interrupt-driven receive (IRQ 4) and transmit, serving the `uart` endpoint.
//!
//! - It serves the one-way interface `cella_sdk::interfaces::uart`: each
//!   `write` carries bytes to transmit. They go into a bounded queue
//!   (64 KiB, a message that does not fit is refused whole), and the
//!   transmitter is fed 16 bytes (one FIFO) at a time, each time the
//!   "transmit holding register empty" interrupt says there is room. A
//!   message that is not a `write` is refused with a warning and the driver
//!   serves on.
//! - Received bytes are drained from the receive FIFO on every interrupt and
//!   sent to the `console` endpoint as UTF-8 text, one `input` message
//!   (`cella_sdk::interfaces::console`) each time.
//! - Hot swap (state format 1) carries the queued bytes over to the new
//!   instance, which takes the running UART as it is: no byte is lost or sent
//!   twice. A swap with more queued than the SDK's state area holds is refused
//!   (the old instance keeps running; try again when the queue is shorter).
#![no_std]
#![forbid(unsafe_code)]

mod uart;

pub use uart::Uart;

cella_sdk::module! {
    name: "uart16550",
    state: 1,
    module: Uart,
    capabilities: {
        com1: port(0x3f8, 8),
        irq: irq(4),
        console: endpoint("console"),
    },
}

/// This build's version (its Cargo.toml's, as in its manifest; for the log).
const VERSION: &str = CELLA_VERSION;
/// The state format `save_state` writes and `restore_state` reads.
const STATE_FORMAT: u32 = 1;
