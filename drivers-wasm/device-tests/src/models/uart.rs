//! A 16550A UART: divisor latch, line and modem control, 16-byte receive and
//! transmit FIFOs, the interrupt-enable register and interrupt identification
//! with the real priorities (received data before "transmitter empty").

use cella_wasm_host::{Device, Width};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

const FIFO_BYTES: usize = 16;

#[derive(Debug, Default)]
struct State {
    divisor_latch: bool,
    divisor: u16,
    interrupt_enable: u8,
    line_control: u8,
    modem_control: u8,
    fifo_control: u8,
    scratch: u8,
    receive: VecDeque<u8>,
    transmit: VecDeque<u8>,
    /// Everything that left on the line, in order.
    transmitted: Vec<u8>,
    transmit_pending: bool,
    /// Bytes written to a full transmit FIFO (lost on real hardware).
    transmit_overruns: usize,
    /// Bytes that arrived to a full receive FIFO.
    receive_overruns: usize,
}

impl State {
    fn interrupt_id(&self) -> u8 {
        let fifo_bits = if self.fifo_control & 1 != 0 { 0xc0 } else { 0 };
        let id = if self.interrupt_enable & 0x01 != 0 && !self.receive.is_empty() {
            0x04
        } else if self.interrupt_enable & 0x02 != 0 && self.transmit_pending {
            0x02
        } else {
            0x01
        };
        fifo_bits | id
    }

    fn line_status(&self) -> u8 {
        let mut status = 0;
        if !self.receive.is_empty() {
            status |= 0x01;
        }
        if self.receive_overruns > 0 {
            status |= 0x02;
        }
        if self.transmit.is_empty() {
            status |= 0x60; // holding register and shifter empty
        }
        status
    }
}

/// A 16550A at offsets 0..8; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Uart16550 {
    state: Rc<RefCell<State>>,
}

impl Uart16550 {
    /// A UART in its reset state.
    pub fn new() -> Uart16550 {
        Uart16550::default()
    }

    /// Bytes arrive on the line (beyond 16 unread bytes they are lost).
    pub fn receive(&self, bytes: &[u8]) {
        let mut state = self.state.borrow_mut();
        for &byte in bytes {
            if state.receive.len() < FIFO_BYTES {
                state.receive.push_back(byte);
            } else {
                state.receive_overruns += 1;
            }
        }
    }

    /// The line sends every byte in the transmit FIFO; "transmitter empty"
    /// becomes pending if there were any.
    pub fn send_line(&self) {
        let mut state = self.state.borrow_mut();
        if state.transmit.is_empty() {
            return;
        }
        let bytes: Vec<u8> = state.transmit.drain(..).collect();
        state.transmitted.extend(bytes);
        state.transmit_pending = true;
    }

    /// Whether the UART asserts its interrupt line (OUT2 gates it on a PC).
    pub fn interrupt_pending(&self) -> bool {
        let state = self.state.borrow();
        state.modem_control & 0x08 != 0 && state.interrupt_id() & 0x01 == 0
    }

    /// Everything transmitted so far.
    pub fn transmitted(&self) -> Vec<u8> {
        self.state.borrow().transmitted.clone()
    }

    /// Bytes in the transmit FIFO, not yet on the line.
    pub fn transmit_fifo(&self) -> Vec<u8> {
        self.state.borrow().transmit.iter().copied().collect()
    }

    /// Unread bytes in the receive FIFO.
    pub fn receive_fifo_len(&self) -> usize {
        self.state.borrow().receive.len()
    }

    /// Bytes written while the transmit FIFO was full.
    pub fn transmit_overruns(&self) -> usize {
        self.state.borrow().transmit_overruns
    }

    /// Interrupt-enable register.
    pub fn interrupt_enable(&self) -> u8 {
        self.state.borrow().interrupt_enable
    }

    /// (divisor, line control, FIFO control, modem control).
    pub fn configuration(&self) -> (u16, u8, u8, u8) {
        let state = self.state.borrow();
        (
            state.divisor,
            state.line_control,
            state.fifo_control,
            state.modem_control,
        )
    }
}

impl Device for Uart16550 {
    fn read(&mut self, offset: u64, width: Width) -> u64 {
        if width != Width::Byte {
            return 0xffff_ffff;
        }
        let mut state = self.state.borrow_mut();
        let value = match (offset, state.divisor_latch) {
            (0, true) => state.divisor.to_le_bytes()[0],
            (1, true) => state.divisor.to_le_bytes()[1],
            (0, false) => state.receive.pop_front().unwrap_or(0),
            (1, false) => state.interrupt_enable,
            (2, _) => {
                let id = state.interrupt_id();
                if id & 0x0f == 0x02 {
                    state.transmit_pending = false; // reading IIR clears it
                }
                id
            }
            (3, _) => state.line_control,
            (4, _) => state.modem_control,
            (5, _) => {
                let status = state.line_status();
                state.receive_overruns = 0;
                status
            }
            (6, _) => 0xb0, // modem status: DCD, DSR, CTS
            (7, _) => state.scratch,
            _ => 0xff,
        };
        u64::from(value)
    }

    fn write(&mut self, offset: u64, width: Width, value: u64) {
        if width != Width::Byte {
            return;
        }
        let byte = value as u8;
        let mut state = self.state.borrow_mut();
        match (offset, state.divisor_latch) {
            (0, true) => state.divisor = (state.divisor & 0xff00) | u16::from(byte),
            (1, true) => state.divisor = (state.divisor & 0x00ff) | u16::from(byte) << 8,
            (0, false) => {
                state.transmit_pending = false;
                if state.transmit.len() < FIFO_BYTES {
                    state.transmit.push_back(byte);
                } else {
                    state.transmit_overruns += 1;
                }
            }
            (1, false) => {
                let newly = byte & !state.interrupt_enable;
                state.interrupt_enable = byte & 0x0f;
                if newly & 0x02 != 0 && state.transmit.is_empty() {
                    state.transmit_pending = true;
                }
            }
            (2, _) => {
                state.fifo_control = byte;
                if byte & 0x02 != 0 {
                    state.receive.clear();
                }
                if byte & 0x04 != 0 {
                    state.transmit.clear();
                }
            }
            (3, _) => {
                state.line_control = byte;
                state.divisor_latch = byte & 0x80 != 0;
            }
            (4, _) => state.modem_control = byte,
            (7, _) => state.scratch = byte,
            _ => {}
        }
    }
}
