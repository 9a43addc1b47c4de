//! The two cascaded 8259 interrupt controllers of the PC: IRQ lines 0-15.
//!
//! They are remapped to vectors 32-47 (the CPU's exceptions own 0-31), every
//! line starts masked, and only the kernel unmasks a line: for the timer, or
//! when the module holding the line's capability enables it. Lines 7 and 15
//! can fire spuriously; the in-service register tells a real one apart.

use x86_64::instructions::port::Port;

/// Vector of IRQ line 0.
pub const VECTOR_BASE: u8 = 32;
/// Number of lines.
pub const LINES: u8 = 16;
/// The master's input that the slave is cascaded into.
const CASCADE_LINE: u8 = 2;

const MASTER_COMMAND: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_COMMAND: u16 = 0xa0;
const SLAVE_DATA: u16 = 0xa1;
const END_OF_INTERRUPT: u8 = 0x20;
const READ_IN_SERVICE: u8 = 0x0b;

fn write(port: u16, value: u8) {
    // SAFETY: the PIC's ports belong to the kernel; writes configure only the PIC.
    unsafe { Port::<u8>::new(port).write(value) };
}

fn read(port: u16) -> u8 {
    // SAFETY: reading the PIC's mask or status has no side effect on memory.
    unsafe { Port::<u8>::new(port).read() }
}

/// Remaps both controllers to vectors 32-47 and masks every line except the cascade.
pub fn initialise() {
    // ICW1: initialise, expect ICW4. ICW2: vector base. ICW3: wiring. ICW4: 8086 mode.
    write(MASTER_COMMAND, 0x11);
    write(SLAVE_COMMAND, 0x11);
    write(MASTER_DATA, VECTOR_BASE);
    write(SLAVE_DATA, VECTOR_BASE + 8);
    write(MASTER_DATA, 1 << CASCADE_LINE);
    write(SLAVE_DATA, 2);
    write(MASTER_DATA, 0x01);
    write(SLAVE_DATA, 0x01);
    write(MASTER_DATA, !(1 << CASCADE_LINE));
    write(SLAVE_DATA, 0xff);
}

/// Masks every line, the cascade too: the I/O APIC carries them instead.
pub fn mask_all() {
    write(MASTER_DATA, 0xff);
    write(SLAVE_DATA, 0xff);
}

/// Masks (`true`) or unmasks one line. Call with interrupts off (read-modify-write).
pub fn set_masked(line: u8, masked: bool) {
    let (port, bit) = if line < 8 {
        (MASTER_DATA, line)
    } else {
        (SLAVE_DATA, line - 8)
    };
    let mask = read(port);
    let mask = if masked {
        mask | (1 << bit)
    } else {
        mask & !(1 << bit)
    };
    write(port, mask);
}

/// Signals end of interrupt for `line`.
pub fn end_of_interrupt(line: u8) {
    if line >= 8 {
        write(SLAVE_COMMAND, END_OF_INTERRUPT);
    }
    write(MASTER_COMMAND, END_OF_INTERRUPT);
}

/// Whether an interrupt on `line` is spurious (7 or 15 with no line in service).
/// A spurious 15 still needs an end of interrupt on the master, done here.
pub fn filter_spurious(line: u8) -> bool {
    let (command, spurious_line) = match line {
        7 => (MASTER_COMMAND, 7),
        15 => (SLAVE_COMMAND, 7),
        _ => return false,
    };
    write(command, READ_IN_SERVICE);
    let in_service = read(command);
    let spurious = in_service & (1 << spurious_line) == 0;
    if spurious && line == 15 {
        write(MASTER_COMMAND, END_OF_INTERRUPT);
    }
    spurious
}
