//! `rtc`: the real-time clock, served by the `cmos-rtc` driver.

use core::fmt;

crate::wire_record! {
    /// A moment in UTC, to the second, as the clock holds it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Timestamp {
        pub year: u16,
        pub month: u8,
        pub day: u8,
        pub hour: u8,
        pub minute: u8,
        pub second: u8,
    }
}

impl fmt::Display for Timestamp {
    /// ISO 8601: `2026-12-05T08:44:02Z`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

crate::wire_enum! {
    /// Why the clock could not be read.
    pub enum RtcError {
        /// The clock stayed in its update cycle.
        Stuck = 1 => "the clock stays in its update cycle",
        /// Two readings in a row never agreed, or a register held a value
        /// no date has.
        Unreadable = 2 => "the clock's registers do not read as a date",
        /// The driver was refused access to its ports.
        Denied = 3 => "the driver was refused its ports",
    }
}

crate::interface! {
    endpoint "rtc";
    /// The time now, in UTC.
    idempotent fn time() -> Result<Timestamp, RtcError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireError;

    struct Clock(Result<Timestamp, RtcError>);

    impl Server for Clock {
        fn time(&mut self) -> Result<Timestamp, RtcError> {
            self.0
        }
    }

    const NOON: Timestamp = Timestamp {
        year: 2026,
        month: 12,
        day: 5,
        hour: 12,
        minute: 0,
        second: 7,
    };

    fn ask(clock: &mut Clock) -> Result<Timestamp, RtcError> {
        let mut request = [0; 8];
        let length = time::request(&mut request).expect("fits");
        assert_eq!(
            &request[..length],
            b"time",
            "a call without arguments is its name"
        );
        let mut reply = [0; 16];
        let answered = serve(clock, &request[..length], &mut reply).expect("served");
        time::reply(&reply[..answered]).expect("an answer of `time`")
    }

    #[test]
    fn the_time_and_the_error_travel_typed() {
        assert_eq!(ask(&mut Clock(Ok(NOON))), Ok(NOON));
        assert_eq!(ask(&mut Clock(Err(RtcError::Stuck))), Err(RtcError::Stuck));
    }

    #[test]
    fn a_person_reads_the_answer_as_text() {
        let mut reply = [0; 16];
        let mut clock = Clock(Ok(NOON));
        let answered = serve(&mut clock, b"time", &mut reply).unwrap();
        let mut text = crate::Text::default();
        render_reply(b"time", &reply[..answered], &mut text).unwrap();
        assert_eq!(text.as_str(), "2026-12-05T12:00:07Z");
        let mut clock = Clock(Err(RtcError::Unreadable));
        let answered = serve(&mut clock, b"time", &mut reply).unwrap();
        let mut text = crate::Text::default();
        render_reply(b"time", &reply[..answered], &mut text).unwrap();
        assert_eq!(
            text.as_str(),
            "error: the clock's registers do not read as a date"
        );
    }

    #[test]
    fn bad_requests_and_answers_are_refused_not_misread() {
        let mut reply = [0; 16];
        let mut clock = Clock(Ok(NOON));
        assert_eq!(
            serve(&mut clock, b"date", &mut reply),
            Err(WireError::UnknownOperation)
        );
        assert_eq!(
            serve(&mut clock, b"time\0extra", &mut reply),
            Err(WireError::TrailingBytes)
        );
        assert_eq!(
            serve(&mut clock, b"time", &mut [0; 3]),
            Err(WireError::Full)
        );
        assert_eq!(time::reply(&[0, 0xea, 7, 12]), Err(WireError::Truncated));
        assert_eq!(time::reply(&[2]), Err(WireError::BadValue));
        assert_eq!(time::reply(&[1, 9]), Err(WireError::BadValue));
        assert_eq!(
            request_from_text("time now", &mut [0; 8]),
            Err(WireError::BadArgument)
        );
        assert_eq!(request_from_text("time", &mut [0; 8]), Ok(4));
        assert_eq!(idempotent(b"time"), Some(true));
        assert_eq!(idempotent(b"date"), None);
    }
}
