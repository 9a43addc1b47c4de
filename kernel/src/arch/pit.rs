//! The 8254 programmable interval timer: the kernel's tick (IRQ 0), and the
//! reference that calibrates the time-stamp counter.

use x86_64::instructions::port::Port;

/// The PIT's input clock in Hz.
pub const INPUT_HZ: u64 = 1_193_182;
/// Ticks per second of the periodic timer.
pub const TICK_HZ: u64 = 1000;

const CHANNEL_0: u16 = 0x40;
const CHANNEL_2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER_CONTROL: u16 = 0x61;

fn write(port: u16, value: u8) {
    // SAFETY: the PIT and speaker-control ports belong to the kernel; writing
    // them programs timers and touches no memory.
    unsafe { Port::<u8>::new(port).write(value) };
}

fn read(port: u16) -> u8 {
    // SAFETY: reading the speaker-control port has no side effect.
    unsafe { Port::<u8>::new(port).read() }
}

/// Channel 0 as a rate generator at [`TICK_HZ`] (IRQ 0).
pub fn start_periodic() {
    let divisor = (INPUT_HZ / TICK_HZ) as u16;
    write(COMMAND, 0x34);
    write(CHANNEL_0, divisor as u8);
    write(CHANNEL_0, (divisor >> 8) as u8);
}

/// Measures the time-stamp counter's rate against channel 2 over `milliseconds`;
/// `None` if the channel's output never went high (no PIT).
pub fn measure_tsc_hz(milliseconds: u64) -> Option<u64> {
    let count = INPUT_HZ * milliseconds / 1000;
    let count = u16::try_from(count).ok()?;
    // Gate off, speaker off; channel 2 in mode 0 (interrupt on terminal count).
    let control = read(SPEAKER_CONTROL) & !0x03;
    write(SPEAKER_CONTROL, control);
    write(COMMAND, 0xb0);
    write(CHANNEL_2, count as u8);
    write(CHANNEL_2, (count >> 8) as u8);
    write(SPEAKER_CONTROL, control | 0x01);
    let start = super::tsc::read();
    // Bounded wait: the output goes high after `count` PIT cycles.
    for _ in 0..50_000_000u32 {
        if read(SPEAKER_CONTROL) & 0x20 != 0 {
            let elapsed = super::tsc::read().wrapping_sub(start);
            write(SPEAKER_CONTROL, control);
            return Some(elapsed * 1000 / milliseconds);
        }
    }
    write(SPEAKER_CONTROL, control);
    None
}
