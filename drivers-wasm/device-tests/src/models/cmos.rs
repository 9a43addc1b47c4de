//! A CMOS real-time clock (MC146818): index port 0x70, data port 0x71,
//! clock registers in BCD or binary and 12- or 24-hour mode as status B says,
//! an update-in-progress flag that can be held for a number of reads, and an
//! update that can land in the middle of a driver's reading.

use cella_wasm_host::{Device, Width};
use std::cell::RefCell;
use std::rc::Rc;

/// A calendar time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Full year, e.g. 2026.
    pub year: u16,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-59.
    pub second: u8,
}

impl DateTime {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[derive(Debug)]
struct State {
    registers: [u8; 128],
    index: u8,
    /// Reads of status A that still see update-in-progress.
    updating_reads: u32,
    /// After this many reads of clock registers, the clock moves to `next`.
    update_after_reads: Option<(u32, DateTime)>,
    clock_reads: u32,
    /// Reads of clock registers while update-in-progress was showing.
    reads_during_update: u32,
}

/// The clock; attach it at ports 0x70..0x72.
#[derive(Clone, Debug)]
pub struct CmosClock {
    state: Rc<RefCell<State>>,
}

const STATUS_A: usize = 0x0a;
const STATUS_B: usize = 0x0b;
const CLOCK_REGISTERS: [usize; 7] = [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32];

fn to_bcd(value: u8) -> u8 {
    (value / 10) << 4 | (value % 10)
}

impl CmosClock {
    /// A clock showing `time`; `binary` and `twenty_four_hour` set status B.
    pub fn new(time: DateTime, binary: bool, twenty_four_hour: bool) -> CmosClock {
        let mut registers = [0u8; 128];
        registers[STATUS_A] = 0x26; // 32.768 kHz base, 1024 Hz rate
        registers[STATUS_B] = u8::from(binary) << 2 | u8::from(twenty_four_hour) << 1;
        let clock = CmosClock {
            state: Rc::new(RefCell::new(State {
                registers,
                index: 0,
                updating_reads: 0,
                update_after_reads: None,
                clock_reads: 0,
                reads_during_update: 0,
            })),
        };
        clock.set_time(time);
        clock
    }

    /// Sets the clock registers to `time` in the format status B says.
    pub fn set_time(&self, time: DateTime) {
        let mut state = self.state.borrow_mut();
        let format = state.registers[STATUS_B];
        let encode = |value: u8| {
            if format & 0x04 != 0 {
                value
            } else {
                to_bcd(value)
            }
        };
        let hours = if format & 0x02 != 0 {
            encode(time.hour)
        } else {
            let twelve = match time.hour % 12 {
                0 => 12,
                hour => hour,
            };
            encode(twelve) | if time.hour >= 12 { 0x80 } else { 0 }
        };
        let values = [
            encode(time.second),
            encode(time.minute),
            hours,
            encode(time.day),
            encode(time.month),
            encode((time.year % 100) as u8),
            encode((time.year / 100) as u8),
        ];
        for (register, value) in CLOCK_REGISTERS.into_iter().zip(values) {
            state.registers[register] = value;
        }
    }

    /// The next `reads` reads of status A show update-in-progress.
    pub fn hold_update(&self, reads: u32) {
        self.state.borrow_mut().updating_reads = reads;
    }

    /// After `reads` more reads of clock registers, the clock shows `next`
    /// (an update between two of the driver's reads).
    pub fn update_after(&self, reads: u32, next: DateTime) {
        let mut state = self.state.borrow_mut();
        let target = state.clock_reads + reads;
        state.update_after_reads = Some((target, next));
    }

    /// Clock registers read while update-in-progress was showing.
    pub fn reads_during_update(&self) -> u32 {
        self.state.borrow().reads_during_update
    }
}

impl Device for CmosClock {
    fn read(&mut self, offset: u64, _width: Width) -> u64 {
        if offset != 1 {
            return u64::from(self.state.borrow().index);
        }
        let index = usize::from(self.state.borrow().index & 0x7f);
        if index == STATUS_A {
            let mut state = self.state.borrow_mut();
            let updating = state.updating_reads > 0;
            state.updating_reads = state.updating_reads.saturating_sub(1);
            return u64::from(state.registers[STATUS_A] | if updating { 0x80 } else { 0 });
        }
        if CLOCK_REGISTERS.contains(&index) {
            let pending = {
                let mut state = self.state.borrow_mut();
                if state.updating_reads > 0 {
                    state.reads_during_update += 1;
                }
                state.clock_reads += 1;
                match state.update_after_reads {
                    Some((reads, next)) if state.clock_reads > reads => {
                        state.update_after_reads = None;
                        Some(next)
                    }
                    _ => None,
                }
            };
            if let Some(next) = pending {
                self.set_time(next);
            }
        }
        u64::from(self.state.borrow().registers[index])
    }

    fn write(&mut self, offset: u64, _width: Width, value: u64) {
        let mut state = self.state.borrow_mut();
        if offset == 0 {
            state.index = value as u8;
        } else {
            let index = usize::from(state.index & 0x7f);
            state.registers[index] = value as u8;
        }
    }
}
