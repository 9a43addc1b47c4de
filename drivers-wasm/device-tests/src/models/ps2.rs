//! An i8042 PS/2 controller with a keyboard: the status register, the
//! configuration byte (read with command 0x20, written with 0x60), the
//! keyboard enable command (0xAE) and an output buffer the keyboard fills.

use cella_wasm_host::{Device, Width};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

#[derive(Debug)]
struct State {
    output: VecDeque<u8>,
    configuration: u8,
    expecting_configuration: bool,
    commands: Vec<u8>,
}

/// The controller; attach [`Ps2Controller::data_port`] at 0x60 and
/// [`Ps2Controller::control_port`] at 0x64.
#[derive(Clone, Debug)]
pub struct Ps2Controller {
    state: Rc<RefCell<State>>,
}

/// Port 0x60 of a [`Ps2Controller`].
#[derive(Clone, Debug)]
pub struct DataPort(Ps2Controller);

/// Port 0x64 of a [`Ps2Controller`].
#[derive(Clone, Debug)]
pub struct ControlPort(Ps2Controller);

impl Ps2Controller {
    /// A controller with configuration byte `configuration` (firmware may
    /// leave translation or the keyboard interrupt off; the driver must fix
    /// that).
    pub fn new(configuration: u8) -> Ps2Controller {
        Ps2Controller {
            state: Rc::new(RefCell::new(State {
                output: VecDeque::new(),
                configuration,
                expecting_configuration: false,
                commands: Vec::new(),
            })),
        }
    }

    /// The device at port 0x60.
    pub fn data_port(&self) -> DataPort {
        DataPort(self.clone())
    }

    /// The device at port 0x64.
    pub fn control_port(&self) -> ControlPort {
        ControlPort(self.clone())
    }

    /// The keyboard sends these bytes (already translated to set 1).
    pub fn press(&self, scancodes: &[u8]) {
        self.state.borrow_mut().output.extend(scancodes);
    }

    /// Whether IRQ 1 is asserted: data waiting and the interrupt enabled.
    pub fn interrupt_pending(&self) -> bool {
        let state = self.state.borrow();
        state.configuration & 0x01 != 0 && !state.output.is_empty()
    }

    /// The configuration byte.
    pub fn configuration(&self) -> u8 {
        self.state.borrow().configuration
    }

    /// Commands written to port 0x64, in order.
    pub fn commands(&self) -> Vec<u8> {
        self.state.borrow().commands.clone()
    }

    /// Bytes not yet read.
    pub fn pending_output(&self) -> usize {
        self.state.borrow().output.len()
    }
}

impl Device for DataPort {
    fn read(&mut self, _offset: u64, _width: Width) -> u64 {
        u64::from(self.0.state.borrow_mut().output.pop_front().unwrap_or(0))
    }

    fn write(&mut self, _offset: u64, _width: Width, value: u64) {
        let mut state = self.0.state.borrow_mut();
        if state.expecting_configuration {
            state.configuration = value as u8;
            state.expecting_configuration = false;
        }
    }
}

impl Device for ControlPort {
    fn read(&mut self, _offset: u64, _width: Width) -> u64 {
        let state = self.0.state.borrow();
        let output_full = u64::from(!state.output.is_empty());
        output_full | 0x04 // system flag
    }

    fn write(&mut self, _offset: u64, _width: Width, value: u64) {
        let mut state = self.0.state.borrow_mut();
        let command = value as u8;
        state.commands.push(command);
        match command {
            0x20 => {
                let configuration = state.configuration;
                state.output.push_front(configuration);
            }
            0x60 => state.expecting_configuration = true,
            0xad => state.configuration |= 0x10,
            0xae => state.configuration &= !0x10,
            _ => {}
        }
    }
}
