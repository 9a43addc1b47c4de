//! cmos-rtc: Cella's CMOS real-time clock driver — reads the date and time (BCD or binary, 12 or 24 hours, respecting update-in-progress) and answers requests on the `rtc` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::rtc`: `time`
//! answers the time (UTC, as the RTC holds it) or why it could not be read.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::interfaces::rtc::{self, RtcError, Timestamp};
use cella_sdk::{ErrorCode, Message, Module, Ports, Result};

cella_sdk::module! {
    name: "cmos-rtc",
    version: "1.0.0",
    module: Rtc,
    capabilities: {
        cmos: port(0x70, 2),
    },
}

/// Port offsets: write a register number to `INDEX`, then read `DATA`.
const INDEX: u16 = 0;
const DATA: u16 = 1;

/// CMOS registers.
mod register {
    pub const SECONDS: u8 = 0x00;
    pub const MINUTES: u8 = 0x02;
    pub const HOURS: u8 = 0x04;
    pub const DAY: u8 = 0x07;
    pub const MONTH: u8 = 0x08;
    pub const YEAR: u8 = 0x09;
    pub const STATUS_A: u8 = 0x0a;
    pub const STATUS_B: u8 = 0x0b;
    /// The century, where the ACPI tables say (0x32 on PCs and QEMU).
    pub const CENTURY: u8 = 0x32;
}

/// Status A: the clock is updating its registers; do not read them now.
const UPDATE_IN_PROGRESS: u8 = 0x80;
/// Status B: values are binary (else BCD).
const BINARY: u8 = 0x04;
/// Status B: hours run 0-23 (else 1-12 with [`PM`]).
const TWENTY_FOUR_HOUR: u8 = 0x02;
/// In 12-hour mode, the hour's top bit means PM.
const PM: u8 = 0x80;
/// Polls of update-in-progress before giving up. An update keeps the flag
/// up for under 2 ms and a port read takes about a microsecond, so 2000 polls
/// (4000 port accesses) outlast it, and stay well inside one event's fuel.
const UPDATE_POLLS: usize = 2000;
/// Attempts at two agreeing reads.
const ATTEMPTS: usize = 8;

/// The registers of one reading, as the clock holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Raw {
    seconds: u8,
    minutes: u8,
    hours: u8,
    day: u8,
    month: u8,
    year: u8,
    century: u8,
}

/// The driver's state between events.
pub struct Rtc {
    cmos: Ports,
}

impl Module for Rtc {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Rtc> {
        let rtc = Rtc {
            cmos: capabilities.cmos,
        };
        let now = rtc.read_time()?;
        cella_sdk::info!("time {now}");
        Ok(rtc)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        message.answer(|request, reply| rtc::serve(self, request, reply))
    }
}

impl rtc::Server for Rtc {
    fn time(&mut self) -> core::result::Result<Timestamp, RtcError> {
        self.read_time().map_err(|error| match error {
            ErrorCode::Busy => RtcError::Stuck,
            ErrorCode::DeviceError => RtcError::Unreadable,
            _ => RtcError::Denied,
        })
    }
}

impl Rtc {
    fn read(&self, register: u8) -> Result<u8> {
        self.cmos.write8(INDEX, register)?;
        self.cmos.read8(DATA)
    }

    /// Waits until the clock is not updating.
    fn wait_for_update(&self) -> Result<()> {
        for _ in 0..UPDATE_POLLS {
            if self.read(register::STATUS_A)? & UPDATE_IN_PROGRESS == 0 {
                return Ok(());
            }
        }
        cella_sdk::error!("clock stuck in update");
        Err(ErrorCode::Busy)
    }

    fn read_raw(&self) -> Result<Raw> {
        self.wait_for_update()?;
        Ok(Raw {
            seconds: self.read(register::SECONDS)?,
            minutes: self.read(register::MINUTES)?,
            hours: self.read(register::HOURS)?,
            day: self.read(register::DAY)?,
            month: self.read(register::MONTH)?,
            year: self.read(register::YEAR)?,
            century: self.read(register::CENTURY)?,
        })
    }

    /// Reads until two readings agree (an update may have happened during
    /// one), then decodes by the format in status B.
    fn read_time(&self) -> Result<Timestamp> {
        let mut previous = self.read_raw()?;
        for _ in 0..ATTEMPTS {
            let current = self.read_raw()?;
            if current == previous {
                let format = self.read(register::STATUS_B)?;
                return decode(current, format).ok_or_else(|| {
                    cella_sdk::error!(
                        "implausible clock reading {current:?} (status B {format:#04x})"
                    );
                    ErrorCode::DeviceError
                });
            }
            previous = current;
        }
        cella_sdk::error!("clock readings never agreed");
        Err(ErrorCode::Busy)
    }
}

/// BCD to binary (`0x59` is 59); invalid digits give an out-of-range value.
fn from_bcd(value: u8) -> u8 {
    (value >> 4).wrapping_mul(10).wrapping_add(value & 0x0f)
}

/// Decodes a reading by status B; `None` if a field is out of range.
fn decode(raw: Raw, format: u8) -> Option<Timestamp> {
    let binary = format & BINARY != 0;
    let number = |value: u8| if binary { value } else { from_bcd(value) };
    let pm = raw.hours & PM != 0;
    let mut hour = number(raw.hours & !PM);
    if format & TWENTY_FOUR_HOUR == 0 {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour %= 12; // 12 AM is 0, 12 PM is 12
        if pm {
            hour += 12;
        }
    }
    let century = match number(raw.century) {
        century @ 19..=21 => century,
        _ => 20, // no century register: assume 20xx
    };
    let time = Timestamp {
        year: u16::from(century) * 100 + u16::from(number(raw.year)),
        month: number(raw.month),
        day: number(raw.day),
        hour,
        minute: number(raw.minutes),
        second: number(raw.seconds),
    };
    let plausible = number(raw.year) <= 99
        && (1..=12).contains(&time.month)
        && (1..=31).contains(&time.day)
        && time.hour <= 23
        && time.minute <= 59
        && time.second <= 59;
    plausible.then_some(time)
}
