//! The driver itself: the UART's registers, its queues, and the `Module` implementation.
//!
//! It names three items of the crate it is compiled into: `Capabilities` (made by
//! `cella_sdk::module!`), `VERSION` and `STATE_FORMAT`. The driver crate compiles it with
//! version 1.0.0 (its Cargo.toml's) and state format 1; the swap fixtures under
//! `tests/fixtures/` compile this same file with the versions of their own Cargo.toml files
//! and other state formats.

use crate::{Capabilities, STATE_FORMAT, VERSION};
use cella_sdk::interfaces::{console, uart};
use cella_sdk::{ByteQueue, Endpoint, ErrorCode, Handle, Irq, MAX_MESSAGE_BYTES, Message};
use cella_sdk::{Module, Ports, Result};

/// Register offsets from the UART's base port.
mod register {
    /// Receive buffer (read) / transmit holding (write); divisor low with DLAB.
    pub const DATA: u16 = 0;
    /// Interrupt enable; divisor high with DLAB.
    pub const INTERRUPT_ENABLE: u16 = 1;
    /// Interrupt identification (read) / FIFO control (write).
    pub const INTERRUPT_ID_FIFO: u16 = 2;
    /// Line control: word length, parity, stop bits, DLAB.
    pub const LINE_CONTROL: u16 = 3;
    /// Modem control: DTR, RTS, OUT2 (which gates the IRQ on a PC).
    pub const MODEM_CONTROL: u16 = 4;
    /// Line status.
    pub const LINE_STATUS: u16 = 5;
}

/// Interrupt-enable bits.
const RECEIVE_INTERRUPT: u8 = 0x01;
const TRANSMIT_INTERRUPT: u8 = 0x02;
/// Interrupt identification: no interrupt pending.
const NO_INTERRUPT_PENDING: u8 = 0x01;
/// Rounds of service per interrupt, at most (each moves at most one FIFO each way).
const SERVICE_ROUNDS: usize = 8;
/// Line-status bits.
const DATA_READY: u8 = 0x01;
const TRANSMIT_EMPTY: u8 = 0x20;
/// Line control: divisor latch access.
const DLAB: u8 = 0x80;
/// Line control: 8 data bits, no parity, 1 stop bit.
const EIGHT_N_ONE: u8 = 0x03;
/// FIFO control: enable, clear both FIFOs, interrupt at 14 received bytes (or
/// after four character times of silence, the FIFO's receive timeout). A
/// trigger level of one byte made QEMU hand over one byte per interrupt:
/// typed text streamed at well under 1 KiB/s.
const FIFO_ENABLE_AND_CLEAR: u8 = 0xc7;
/// Modem control: DTR, RTS, OUT2.
const MODEM_READY: u8 = 0x0b;
/// 115200 baud = 115200 / 1.
const DIVISOR: u16 = 1;
/// The transmit FIFO's depth.
const TRANSMIT_FIFO_BYTES: usize = 16;
/// Bytes waiting to be transmitted, at most.
const TRANSMIT_QUEUE_BYTES: usize = 64 * 1024;
/// Bytes read per interrupt, at most (the device cannot keep us busy forever).
const MAX_RECEIVE_PER_INTERRUPT: usize = 256;
/// Received bytes waiting for the console, at most.
const RECEIVE_PENDING_BYTES: usize = 1024;
/// Text made of the received bytes, at most (an invalid byte becomes the
/// three bytes of U+FFFD): always one `input` message.
const RECEIVED_TEXT_BYTES: usize = RECEIVE_PENDING_BYTES * 3;
const _: () = assert!(RECEIVED_TEXT_BYTES <= console::MAX_INPUT_BYTES);

/// The driver's state between events.
pub struct Uart {
    com1: Ports,
    irq: Irq,
    console: Endpoint,
    transmit: ByteQueue<TRANSMIT_QUEUE_BYTES>,
    /// Received bytes not yet accepted by the console.
    received: ByteQueue<RECEIVE_PENDING_BYTES>,
    /// Interrupt-enable register as last written.
    interrupts: u8,
    /// Received bytes dropped because the console was not taking them.
    dropped: u64,
}

impl Module for Uart {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Uart> {
        let Capabilities { com1, irq, console } = capabilities;
        use register::*;
        com1.write8(INTERRUPT_ENABLE, 0)?;
        com1.write8(LINE_CONTROL, DLAB)?;
        let [low, high] = DIVISOR.to_le_bytes();
        com1.write8(DATA, low)?;
        com1.write8(INTERRUPT_ENABLE, high)?;
        com1.write8(LINE_CONTROL, EIGHT_N_ONE)?;
        com1.write8(INTERRUPT_ID_FIFO, FIFO_ENABLE_AND_CLEAR)?;
        com1.write8(MODEM_CONTROL, MODEM_READY)?;
        // Forget whatever arrived before we were ready.
        for _ in 0..MAX_RECEIVE_PER_INTERRUPT {
            if com1.read8(LINE_STATUS)? & DATA_READY == 0 {
                break;
            }
            com1.read8(DATA)?;
        }
        com1.write8(INTERRUPT_ENABLE, RECEIVE_INTERRUPT)?;
        irq.enable()?;
        cella_sdk::info!("COM1 ready (115200 8N1, receive and transmit interrupt-driven)");
        Ok(Uart {
            com1,
            irq,
            console,
            transmit: ByteQueue::new(),
            received: ByteQueue::new(),
            interrupts: RECEIVE_INTERRUPT,
            dropped: 0,
        })
    }

    /// A `uart` message: a `write` is queued (see [`uart::Server`]); a
    /// message that is not one is refused with a warning, and the driver
    /// goes on serving.
    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut writer = Writer {
            uart: self,
            written: Ok(()),
        };
        message.accept(|request, reply| uart::serve(&mut writer, request, reply))?;
        writer.written
    }

    /// `[interrupt enable][transmit length: u32 LE][bytes][received length: u16 LE][bytes]`.
    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        let transmit = self.transmit.len();
        let received = self.received.len();
        let needed = 1 + 4 + transmit + 2 + received;
        if needed > out.len() {
            cella_sdk::warn!("cannot hand over {transmit} queued bytes: swap later");
            return Err(ErrorCode::Exhausted);
        }
        let (header, rest) = out.split_at_mut(5);
        header[0] = self.interrupts;
        header[1..5].copy_from_slice(&(transmit as u32).to_le_bytes());
        let (queued, rest) = rest.split_at_mut(transmit);
        self.transmit.peek_into(queued);
        let (length, rest) = rest.split_at_mut(2);
        length.copy_from_slice(&(received as u16).to_le_bytes());
        self.received.peek_into(&mut rest[..received]);
        Ok(needed)
    }

    fn restore_state(capabilities: Capabilities, saved: &[u8], format: u32) -> Result<Uart> {
        if format != STATE_FORMAT {
            cella_sdk::error!("state format {format} is not {STATE_FORMAT}: refused");
            return Err(ErrorCode::BadArgument);
        }
        let Capabilities { com1, irq, console } = capabilities;
        let mut uart = Uart {
            com1,
            irq,
            console,
            transmit: ByteQueue::new(),
            received: ByteQueue::new(),
            interrupts: 0,
            dropped: 0,
        };
        let (&interrupts, rest) = saved.split_first().ok_or(ErrorCode::BadArgument)?;
        let (length, rest) = rest.split_at_checked(4).ok_or(ErrorCode::BadArgument)?;
        let transmit = u32::from_le_bytes(length.try_into().map_err(|_| ErrorCode::BadArgument)?);
        let (queued, rest) = rest
            .split_at_checked(transmit as usize)
            .ok_or(ErrorCode::BadArgument)?;
        let (length, rest) = rest.split_at_checked(2).ok_or(ErrorCode::BadArgument)?;
        let received = u16::from_le_bytes(length.try_into().map_err(|_| ErrorCode::BadArgument)?);
        let received = rest
            .get(..usize::from(received))
            .ok_or(ErrorCode::BadArgument)?;
        uart.transmit.push_all(queued)?;
        uart.received.push_all(received)?;
        // The UART kept running: keep its interrupt enables, unmask our line.
        uart.interrupts = interrupts & (RECEIVE_INTERRUPT | TRANSMIT_INTERRUPT);
        uart.irq.enable()?;
        cella_sdk::info!(
            "version {} took over with {} bytes queued",
            VERSION,
            uart.transmit.len()
        );
        Ok(uart)
    }

    fn on_irq(&mut self, _irq: Handle) -> Result<()> {
        // Serve the UART until it says no interrupt is pending: IRQ 4 is
        // edge-triggered, so a cause still pending when the line is
        // acknowledged would raise no new edge and the driver would stall
        // (receive and transmit busy at once made that happen). Reading the
        // identification register clears a pending "transmitter empty"
        // interrupt; the status register says the rest.
        let mut outcome = Ok(());
        let mut served = false;
        for _ in 0..SERVICE_ROUNDS {
            if self.com1.read8(register::INTERRUPT_ID_FIFO)? & NO_INTERRUPT_PENDING != 0 {
                served = true;
                break;
            }
            outcome = self.receive().and_then(|()| self.fill_transmit_fifo());
            if outcome.is_err() {
                break;
            }
        }
        if !served {
            // Still pending after our share of the event's fuel: switch the
            // interrupt sources off and on again, which lowers and raises the
            // line, so the next edge comes once the line is acknowledged.
            self.com1.write8(register::INTERRUPT_ENABLE, 0)?;
            self.com1
                .write8(register::INTERRUPT_ENABLE, self.interrupts)?;
        }
        self.irq.acknowledge()?;
        outcome
    }
}

/// The driver serving one `uart` message, and what became of its `write`.
struct Writer<'a> {
    uart: &'a mut Uart,
    written: Result<()>,
}

impl uart::Server for Writer<'_> {
    fn write(&mut self, bytes: uart::Bytes<'_>) {
        self.written = self.uart.queue(bytes.0);
    }
}

impl Uart {
    /// Bytes to transmit: queues them whole (or refuses them whole), then
    /// starts the transmitter if it is idle.
    fn queue(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(error) = self.transmit.push_all(bytes) {
            cella_sdk::warn!(
                "transmit queue full: refused {} bytes ({} queued)",
                bytes.len(),
                self.transmit.len()
            );
            return Err(error);
        }
        if self.interrupts & TRANSMIT_INTERRUPT == 0 {
            self.fill_transmit_fifo()?;
        }
        Ok(())
    }

    /// Drains the receive FIFO and hands the text to the console.
    fn receive(&mut self) -> Result<()> {
        for _ in 0..MAX_RECEIVE_PER_INTERRUPT {
            if self.com1.read8(register::LINE_STATUS)? & DATA_READY == 0 {
                break;
            }
            let byte = self.com1.read8(register::DATA)?;
            if self.received.push(byte).is_err() {
                self.dropped += 1;
            }
        }
        self.forward_received()
    }

    /// Sends the received bytes to the console as UTF-8 text, in one
    /// `input` message. An incomplete
    /// character at the end waits for its next bytes; an invalid byte
    /// becomes U+FFFD. If the console is busy, the bytes wait for the next
    /// interrupt.
    fn forward_received(&mut self) -> Result<()> {
        let mut raw = [0u8; RECEIVE_PENDING_BYTES];
        let count = self.received.peek_into(&mut raw);
        let raw = raw.get(..count).unwrap_or_default();
        let mut text = [0u8; RECEIVED_TEXT_BYTES];
        let mut length = 0;
        let mut consumed = 0;
        let mut rest = raw;
        while !rest.is_empty() {
            match core::str::from_utf8(rest) {
                Ok(valid) => {
                    append(&mut text, &mut length, valid.as_bytes());
                    consumed += rest.len();
                    rest = &[];
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    append(&mut text, &mut length, valid);
                    consumed += valid.len();
                    match error.error_len() {
                        Some(bad) => {
                            append(&mut text, &mut length, "\u{fffd}".as_bytes());
                            consumed += bad;
                            rest = after.get(bad..).unwrap_or_default();
                        }
                        // Incomplete character at the end: wait for more.
                        None => rest = &[],
                    }
                }
            }
        }
        if length > 0 {
            // Whole characters only went into `text`, so it is UTF-8.
            let text = core::str::from_utf8(text.get(..length).unwrap_or_default())
                .map_err(|_| ErrorCode::BadArgument)?;
            let mut message = [0u8; MAX_MESSAGE_BYTES as usize];
            let message_length =
                console::input::request(&mut message, text).map_err(|_| ErrorCode::BadArgument)?;
            match self
                .console
                .send(message.get(..message_length).unwrap_or_default())
            {
                Ok(()) => {}
                Err(ErrorCode::Busy) => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        self.received.discard(consumed);
        if self.dropped > 0 {
            cella_sdk::warn!(
                "dropped {} received bytes: console not taking them",
                self.dropped
            );
            self.dropped = 0;
        }
        Ok(())
    }

    /// If the transmitter has room, gives it up to one FIFO of queued bytes;
    /// keeps the "transmitter empty" interrupt on exactly while bytes wait.
    fn fill_transmit_fifo(&mut self) -> Result<()> {
        if !self.transmit.is_empty()
            && self.com1.read8(register::LINE_STATUS)? & TRANSMIT_EMPTY != 0
        {
            for _ in 0..TRANSMIT_FIFO_BYTES {
                let Some(byte) = self.transmit.peek() else {
                    break;
                };
                self.com1.write8(register::DATA, byte)?;
                self.transmit.pop();
            }
        }
        let wanted = if self.transmit.is_empty() {
            RECEIVE_INTERRUPT
        } else {
            RECEIVE_INTERRUPT | TRANSMIT_INTERRUPT
        };
        // While it stays enabled, the interrupt fires each time the FIFO
        // runs empty; there is no need to write it again.
        if wanted != self.interrupts {
            self.com1.write8(register::INTERRUPT_ENABLE, wanted)?;
            self.interrupts = wanted;
        }
        Ok(())
    }
}

/// Appends `bytes` to `text[..*length]` as far as it fits.
fn append(text: &mut [u8], length: &mut usize, bytes: &[u8]) {
    for &byte in bytes {
        if let Some(slot) = text.get_mut(*length) {
            *slot = byte;
            *length += 1;
        }
    }
}
