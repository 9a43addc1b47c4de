//! The 16550 UART on COM1: the kernel's own console, used from the first line of Rust.
//!
//! The Wasm UART driver takes over the console in a later stage; this writer
//! stays as the early-boot and fallback path so log lines are never lost.

use core::fmt;
use x86_64::instructions::port::Port;

/// I/O base of COM1.
pub const COM1: u16 = 0x3f8;
/// I/O base of COM2 (the push channel).
pub const COM2: u16 = 0x2f8;

/// Line status register bit: a received byte is waiting.
const DATA_READY: u8 = 0x01;
/// Line status register bit: the transmit holding register is empty.
const TRANSMIT_EMPTY: u8 = 0x20;
/// How long to wait for the transmitter before writing anyway (QEMU never needs it).
const TRANSMIT_SPIN_LIMIT: u32 = 100_000;

/// A polled 16550 at an I/O base.
pub struct SerialPort {
    base: u16,
}

impl SerialPort {
    /// A handle to COM1, the kernel's console; no I/O until used.
    pub const fn com1() -> Self {
        Self { base: COM1 }
    }

    /// A handle to COM2, the push channel; no I/O until used. (There is no
    /// constructor for any other base: the kernel drives only these two.)
    pub const fn com2() -> Self {
        Self { base: COM2 }
    }

    fn register(&self, offset: u16) -> Port<u8> {
        Port::new(self.base + offset)
    }

    /// 115200 baud, 8N1, FIFOs on, UART interrupts off.
    pub fn initialise(&mut self) {
        let settings: [(u16, u8); 7] = [
            (1, 0x00), // interrupt enable: none
            (3, 0x80), // line control: divisor latch access
            (0, 0x01), // divisor low: 115200 baud
            (1, 0x00), // divisor high
            (3, 0x03), // line control: 8 bits, no parity, one stop bit
            (2, 0xc7), // FIFO control: enable, clear, 14-byte threshold
            (4, 0x0b), // modem control: DTR, RTS, OUT2
        ];
        for (offset, value) in settings {
            // SAFETY: the base is COM1 or COM2, UARTs the kernel owns (see
            // `com1`, `com2`); writing them changes only the UART's configuration.
            unsafe { self.register(offset).write(value) };
        }
    }

    /// Sends one byte, waiting (boundedly) for room in the transmitter.
    pub fn write_byte(&mut self, byte: u8) {
        for _ in 0..TRANSMIT_SPIN_LIMIT {
            // SAFETY: reading the line status register has no side effect.
            let status = unsafe { self.register(5).read() };
            if status & TRANSMIT_EMPTY != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        // SAFETY: writing the transmit register sends a byte and touches no memory.
        unsafe { self.register(0).write(byte) };
    }
}

impl SerialPort {
    /// Whether a UART answers at this base: its scratch register keeps what is
    /// written (an absent port reads back all ones).
    pub fn is_present(&mut self) -> bool {
        [0x5a_u8, 0xa5].iter().all(|&pattern| {
            // SAFETY: the scratch register has no function; writing and reading
            // it affects nothing else on the UART and touches no memory.
            unsafe {
                self.register(7).write(pattern);
                self.register(7).read() == pattern
            }
        })
    }

    /// A received byte, if one is waiting.
    pub fn try_read(&mut self) -> Option<u8> {
        // SAFETY: reading the line status register has no side effect.
        let status = unsafe { self.register(5).read() };
        if status & DATA_READY == 0 {
            return None;
        }
        // SAFETY: reading the receive buffer takes the waiting byte; no memory is touched.
        Some(unsafe { self.register(0).read() })
    }
}

impl fmt::Write for SerialPort {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}
