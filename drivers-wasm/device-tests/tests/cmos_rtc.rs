//! The cmos-rtc driver against a CMOS clock model.

use cella_device_tests::models::{CmosClock, DateTime};
use cella_device_tests::{TestSandbox, log_messages, port_accesses, replies_to, start, try_start};
use cella_interfaces::rtc;
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

fn time(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> DateTime {
    DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
}

fn platform(clock: &CmosClock) -> SimulatedPlatform {
    let platform = SimulatedPlatform::new();
    platform.attach_ports(0x70, 2, clock.clone());
    platform
}

fn grant() -> Grant {
    Grant::new().port_range(0x70, 2)
}

/// Asks the driver for the time through the typed `rtc` interface; the
/// answer as a person reads it.
fn ask(sandbox: &mut TestSandbox, request: u32) -> String {
    let mut bytes = [0; 16];
    let length = rtc::time::request(&mut bytes).unwrap();
    sandbox
        .deliver(Event::Message {
            request,
            bytes: &bytes[..length],
        })
        .unwrap();
    let replies = replies_to(&sandbox.outbox().drain(), request);
    assert_eq!(replies.len(), 1);
    match rtc::time::reply(&replies[0]).expect("an answer of `time`") {
        Ok(time) => time.to_string(),
        Err(error) => format!("error: {error}"),
    }
}

/// The registers the driver selected, in order.
fn selected_registers(platform: &SimulatedPlatform) -> Vec<u32> {
    port_accesses(&platform.accesses())
        .into_iter()
        .filter(|(kind, port, _)| *kind == 'w' && *port == 0x70)
        .map(|(_, _, value)| value)
        .collect()
}

#[test]
fn bcd_twelve_hour_waits_for_the_update_to_finish() {
    let clock = CmosClock::new(time(2026, 11, 21, 15, 4, 5), false, false);
    clock.hold_update(5);
    let platform = platform(&clock);
    let mut sandbox = start("cella-cmos-rtc", &grant(), &platform);
    assert_eq!(log_messages(&platform), ["time 2026-11-21T15:04:05Z"]);
    assert_eq!(clock.reads_during_update(), 0, "read the clock mid-update");
    // Five polls of status A while updating, then two full readings and status B.
    let reading = [0x0a, 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32];
    let mut expected = vec![0x0a; 5];
    expected.extend(reading);
    expected.extend(reading);
    expected.push(0x0b);
    assert_eq!(selected_registers(&platform), expected);
    // The hour register holds 0x83: BCD 3 with the PM bit.
    assert!(port_accesses(&platform.accesses()).contains(&('r', 0x71, 0x83)));
    assert_eq!(ask(&mut sandbox, 7), "2026-11-21T15:04:05Z");
}

#[test]
fn binary_twenty_four_hour_reads_again_when_an_update_lands_mid_reading() {
    let clock = CmosClock::new(time(1999, 12, 31, 23, 59, 59), true, true);
    // The first reading sees three old registers, then the clock rolls over.
    clock.update_after(3, time(2000, 1, 1, 0, 0, 0));
    let platform = platform(&clock);
    let mut sandbox = start("cella-cmos-rtc", &grant(), &platform);
    assert_eq!(log_messages(&platform), ["time 2000-01-01T00:00:00Z"]);
    // Three readings: the torn one, then two that agree.
    assert_eq!(
        selected_registers(&platform)
            .iter()
            .filter(|register| **register == 0x32)
            .count(),
        3
    );
    clock.set_time(time(2000, 1, 1, 0, 0, 7));
    assert_eq!(ask(&mut sandbox, 1), "2000-01-01T00:00:07Z");
}

#[test]
fn twelve_am_and_twelve_pm() {
    let clock = CmosClock::new(time(2030, 6, 1, 0, 30, 0), false, false);
    let platform = platform(&clock);
    let mut sandbox = start("cella-cmos-rtc", &grant(), &platform);
    assert_eq!(ask(&mut sandbox, 2), "2030-06-01T00:30:00Z");
    clock.set_time(time(2030, 6, 1, 12, 0, 1));
    assert_eq!(ask(&mut sandbox, 3), "2030-06-01T12:00:01Z");
}

#[test]
fn a_clock_stuck_in_update_fails_init_without_reading_it() {
    let clock = CmosClock::new(time(2026, 1, 1, 0, 0, 0), false, true);
    clock.hold_update(u32::MAX);
    let platform = platform(&clock);
    let Err(error) = try_start("cella-cmos-rtc", &grant(), &platform) else {
        panic!("init succeeded on a stuck clock");
    };
    assert!(error.contains("init returned"), "{error}"); // not OutOfFuel: it gave up by itself
    assert_eq!(clock.reads_during_update(), 0);
    assert!(log_messages(&platform).contains(&"clock stuck in update".to_string()));
}

#[test]
fn garbage_registers_are_refused_not_trusted() {
    let clock = CmosClock::new(time(2026, 1, 1, 0, 0, 0), false, true);
    let platform = platform(&clock);
    let mut sandbox = start("cella-cmos-rtc", &grant(), &platform);
    // A month register of 0x13 (BCD 13): logged, and answered with the error.
    clock.set_time(time(2026, 13, 1, 0, 0, 0));
    assert_eq!(
        ask(&mut sandbox, 9),
        "error: the clock's registers do not read as a date"
    );
    assert!(sandbox.is_alive());
    assert!(
        log_messages(&platform)
            .iter()
            .any(|line| line.starts_with("implausible clock reading"))
    );
}

#[test]
fn a_request_that_is_not_of_the_interface_gets_an_empty_reply_and_the_driver_goes_on() {
    let clock = CmosClock::new(time(2026, 1, 1, 0, 0, 0), false, true);
    let platform = platform(&clock);
    let mut sandbox = start("cella-cmos-rtc", &grant(), &platform);
    for (request, bytes) in [(4, &b"time?"[..]), (5, b"time\0\x01"), (6, b"")] {
        sandbox.deliver(Event::Message { request, bytes }).unwrap();
        let replies = replies_to(&sandbox.outbox().drain(), request);
        assert_eq!(replies, [Vec::<u8>::new()], "request {bytes:?}");
        assert!(rtc::time::reply(&replies[0]).is_err());
    }
    assert_eq!(ask(&mut sandbox, 7), "2026-01-01T00:00:00Z");
}
