//! ps2-keyboard: Cella's PS/2 keyboard driver — the i8042 controller on IRQ 1, scancode set 1 decoded to text sent to the console.
//!
//! The controller translates the keyboard's codes to scancode set 1 (QEMU's
//! and most firmware's default; `init` makes sure translation is on). Each
//! interrupt drains the controller's output buffer, [`scancode::Decoder`]
//! turns the codes into key presses, and the characters go to the `console`
//! endpoint as one `input` message of the typed interface
//! `cella_sdk::interfaces::console`.
#![no_std]
#![forbid(unsafe_code)]

mod scancode;

use cella_sdk::interfaces::console;
use cella_sdk::{Endpoint, ErrorCode, Handle, Irq, Module, Ports, Result, TextBuffer};
use scancode::Decoder;

cella_sdk::module! {
    name: "ps2-keyboard",
    version: "1.0.0",
    module: Keyboard,
    capabilities: {
        data: port(0x60, 1),
        control: port(0x64, 1),
        irq: irq(1),
        console: endpoint("console"),
    },
}

/// Status register (read from port 0x64) bits.
const OUTPUT_FULL: u8 = 0x01;
const INPUT_FULL: u8 = 0x02;
const MOUSE_DATA: u8 = 0x20;
/// Controller commands (written to port 0x64).
const READ_CONFIGURATION: u8 = 0x20;
const WRITE_CONFIGURATION: u8 = 0x60;
const ENABLE_KEYBOARD: u8 = 0xae;
/// Configuration byte bits.
const KEYBOARD_INTERRUPT: u8 = 0x01;
const KEYBOARD_CLOCK_DISABLED: u8 = 0x10;
const TRANSLATION: u8 = 0x40;
/// Status polls before giving up on the controller.
const POLLS: usize = 1000;
/// Bytes read per interrupt, at most.
const MAX_BYTES_PER_INTERRUPT: usize = 32;
/// Text decoded in one interrupt, at most (a character is at most 4 bytes).
const MAX_TEXT_BYTES: usize = 4 * MAX_BYTES_PER_INTERRUPT;
/// The `input` message of [`MAX_TEXT_BYTES`]: its name, a zero byte and the
/// 16-bit length before the text.
const MAX_INPUT_MESSAGE_BYTES: usize = MAX_TEXT_BYTES + 8;

/// The driver's state between events.
pub struct Keyboard {
    data: Ports,
    control: Ports,
    irq: Irq,
    console: Endpoint,
    decoder: Decoder,
}

impl Module for Keyboard {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Keyboard> {
        let Capabilities {
            data,
            control,
            irq,
            console,
        } = capabilities;
        let keyboard = Keyboard {
            data,
            control,
            irq,
            console,
            decoder: Decoder::new(),
        };
        keyboard.flush()?;
        // Keyboard interrupt on, keyboard clock on, set-1 translation on.
        keyboard.command(READ_CONFIGURATION)?;
        let configuration = keyboard.read_data()?;
        let configuration =
            (configuration | KEYBOARD_INTERRUPT | TRANSLATION) & !KEYBOARD_CLOCK_DISABLED;
        keyboard.command(WRITE_CONFIGURATION)?;
        keyboard.write_data(configuration)?;
        keyboard.command(ENABLE_KEYBOARD)?;
        keyboard.flush()?;
        keyboard.irq.enable()?;
        cella_sdk::info!("ready");
        Ok(keyboard)
    }

    fn on_irq(&mut self, _irq: Handle) -> Result<()> {
        let mut text = TextBuffer::<MAX_TEXT_BYTES>::new();
        let mut outcome = Ok(());
        for _ in 0..MAX_BYTES_PER_INTERRUPT {
            let status = self.control.read8(0)?;
            if status & OUTPUT_FULL == 0 {
                break;
            }
            let byte = self.data.read8(0)?;
            if status & MOUSE_DATA != 0 {
                continue; // a mouse byte: not ours
            }
            if let Some(character) = self.decoder.feed(byte) {
                let mut encoded = [0u8; 4];
                text.push_str(character.encode_utf8(&mut encoded));
            }
        }
        if !text.is_empty() {
            let mut message = [0u8; MAX_INPUT_MESSAGE_BYTES];
            outcome = match console::input::request(&mut message, text.as_str()) {
                Ok(length) => match self.console.send(message.get(..length).unwrap_or_default()) {
                    Err(ErrorCode::Busy) => {
                        cella_sdk::warn!(
                            "console busy: dropped \"{}\"",
                            text.as_str().escape_debug()
                        );
                        Ok(())
                    }
                    other => other,
                },
                Err(_) => Err(ErrorCode::BadArgument),
            };
        }
        self.irq.acknowledge()?;
        outcome
    }
}

impl Keyboard {
    /// Reads and discards whatever the controller holds.
    fn flush(&self) -> Result<()> {
        for _ in 0..MAX_BYTES_PER_INTERRUPT {
            if self.control.read8(0)? & OUTPUT_FULL == 0 {
                break;
            }
            self.data.read8(0)?;
        }
        Ok(())
    }

    /// Waits until the controller can take a byte.
    fn wait_input_empty(&self) -> Result<()> {
        for _ in 0..POLLS {
            if self.control.read8(0)? & INPUT_FULL == 0 {
                return Ok(());
            }
        }
        cella_sdk::error!("controller not accepting input");
        Err(ErrorCode::DeviceError)
    }

    fn command(&self, command: u8) -> Result<()> {
        self.wait_input_empty()?;
        self.control.write8(0, command)
    }

    fn write_data(&self, byte: u8) -> Result<()> {
        self.wait_input_empty()?;
        self.data.write8(0, byte)
    }

    /// Waits for a byte from the controller and reads it.
    fn read_data(&self) -> Result<u8> {
        for _ in 0..POLLS {
            if self.control.read8(0)? & OUTPUT_FULL != 0 {
                return self.data.read8(0);
            }
        }
        cella_sdk::error!("controller did not answer");
        Err(ErrorCode::DeviceError)
    }
}
