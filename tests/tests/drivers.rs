//! The Wasm drivers run real (emulated) hardware: each is loaded from the boot archive with its
//! grants, serial input comes back through the UART driver's interrupt path, keys pressed in
//! QEMU arrive through the PS/2 driver, the RTC agrees with the host's clock, the PCI list
//! matches the devices QEMU was started with, and a module asking for more than its grant is
//! refused while the rest of the system boots.

use cella_qemu_tests::{Session, default_archive_with};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(40);

/// Boots the modules scenario (modules run for `run_ms`, then the kernel exits) and checks it passed.
fn modules_scenario(label: &str, run_ms: u32, extra: &[&str]) -> Session {
    let mut session = Session::start(label, &format!("test=modules run_ms={run_ms}"), None, extra);
    let status = session.wait_exit();
    if status != 33 {
        session.fail(format!(
            "QEMU exit status {status}, expected 33 (scenario passed)"
        ));
    }
    session.wait_for("scenario modules: passed", WAIT);
    session
}

#[test]
fn every_driver_is_loaded_with_its_grants() {
    let session = modules_scenario("grants", 500, &[]);
    session.wait_for_boot(WAIT);
    // No second serial port was given: the push channel must be off, not reading noise.
    session.wait_for("push: no second serial port", WAIT);
    let output = session.output();
    if output.contains("upload rejected") {
        session.fail("the kernel read an upload from an absent serial port");
    }
    let expected = [
        (
            "uart16550",
            &["port 0x3f8 8", "irq 4", "endpoint console"][..],
            "serves [uart]",
        ),
        (
            "ps2-keyboard",
            &["port 0x60 1", "port 0x64 1", "irq 1", "endpoint console"][..],
            "serves []",
        ),
        ("cmos-rtc", &["port 0x70 2"][..], "serves [rtc]"),
        ("pci", &["pci-bus"][..], "serves [pci]"),
        (
            "shell",
            &["endpoint uart", "endpoint supervisor"][..],
            "serves [console]",
        ),
    ];
    for (module, grants, serves) in expected {
        let prefix = format!("module {module} ");
        let Some(line) = output
            .lines()
            .find(|line| line.contains(&prefix) && line.contains(" up (generation"))
        else {
            session.fail(format!("no `module {module} ... up` line"));
        };
        for grant in grants {
            if !line.contains(grant) {
                session.fail(format!("`{line}` does not list the grant `{grant}`"));
            }
        }
        if !line.contains(serves) {
            session.fail(format!("`{line}` does not say `{serves}`"));
        }
    }
}

/// Letters and digits only: what the console echoes unchanged.
fn payload(length: usize) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

#[test]
fn serial_input_echoes_through_the_uart_driver() {
    let mut session = Session::start("serial-echo", "", None, &[]);
    session.wait_for_boot(WAIT);
    let ready = session.wait_for("shell: ready", WAIT);
    // Let the boot log drain before typing, so the echo is not interleaved with it.
    std::thread::sleep(Duration::from_millis(500));
    // Five lines of 60 characters (the shell holds lines of up to 200), each typed and echoed.
    let text = payload(300);
    let mut from = session.output().len().max(ready);
    for line in text.as_bytes().chunks(60) {
        session.write_serial(line);
        let line = std::str::from_utf8(line).expect("payload is ASCII");
        from = session.wait_for_from(from, line, WAIT);
        session.write_serial(b"\r");
        from = session.wait_for_from(from, "\r\n", WAIT);
    }
    let echoed = session.output();
    for line in text.as_bytes().chunks(60) {
        let line = std::str::from_utf8(line).expect("payload is ASCII");
        // Echoed once as typed, and quoted once more in the shell's "unknown command" answer.
        if echoed.matches(line).count() != 2 {
            session.fail(format!("`{line}` was not echoed exactly once"));
        }
    }
}

#[test]
fn keys_pressed_in_qemu_arrive_through_the_ps2_driver() {
    let session = Session::start("sendkey", "", None, &[]);
    session.wait_for_boot(WAIT);
    let ready = session.wait_for("ps2-keyboard: ready", WAIT);
    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(500));
    let from = session.output().len().max(ready);
    for key in ["c", "e", "l", "l", "a", "shift-x", "7", "spc", "shift-q"] {
        session.monitor(&format!("sendkey {key}"));
        std::thread::sleep(Duration::from_millis(50));
    }
    session.wait_for_from(from, "cellaX7 Q", WAIT);
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_utc(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 20 || bytes[4] != b'-' || bytes[10] != b'T' || bytes[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let days = days_from_civil(number(0..4)?, number(5..7)?, number(8..10)?);
    Some(days * 86_400 + number(11..13)? * 3600 + number(14..16)? * 60 + number(17..19)?)
}

#[test]
fn the_rtc_agrees_with_the_host_clock() {
    assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_utc("2026-11-21T22:40:01Z"), Some(1_795_300_801));
    let session = modules_scenario("rtc", 500, &[]);
    let host = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let output = session.output();
    let Some(time) = output
        .lines()
        .find_map(|line| line.split("cmos-rtc: time ").nth(1))
    else {
        session.fail("no `cmos-rtc: time ...` line");
    };
    let Some(guest) = parse_utc(time.trim()) else {
        session.fail(format!("`{time}` is not YYYY-MM-DDTHH:MM:SSZ"));
    };
    if (guest - host).abs() > 120 {
        session.fail(format!(
            "RTC says {time} ({guest}), host UTC is {host}: more than two minutes apart"
        ));
    }
    // The kernel's own request to the rtc endpoint was answered too.
    session.wait_for("answered the kernel's time request: ", WAIT);
}

#[test]
fn the_pci_list_matches_the_devices_qemu_was_given() {
    // q35's host bridge and ICH9 LPC (ISA) bridge, and an extra PCI test device.
    let session = modules_scenario("pci", 500, &["-device", "pci-testdev"]);
    let output = session.output();
    let functions: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("pci: ") && line.contains(" class "))
        .collect();
    for (what, id) in [
        ("host bridge", "8086:29c0"),
        ("ISA bridge", "8086:2918"),
        ("pci-testdev", "1b36:0005"),
    ] {
        if !functions.iter().any(|line| line.contains(id)) {
            session.fail(format!("the {what} ({id}) is not in the PCI list"));
        }
    }
    let count = format!("pci: {} functions", functions.len());
    session.wait_for(&count, WAIT);
}

/// Eight ports no `grant port` line of `manifest` (the compiled system manifest) touches,
/// so a test's own module never collides with whatever the production manifest grants.
fn free_ports(manifest: &str) -> u16 {
    let granted: Vec<(u32, u32)> = manifest
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("grant port ")?.split_whitespace();
            let base = u32::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
            let count: u32 = words.next()?.parse().ok()?;
            Some((base, base + count))
        })
        .collect();
    (0x2e8..0xf000u32)
        .step_by(0x100)
        .find(|&base| {
            granted
                .iter()
                .all(|&(first, end)| base + 8 <= first || end <= base)
        })
        .expect("a free range of eight ports") as u16
}

/// The default archive plus a module whose manifest asks for COM1's ports while its grant is
/// eight ports nobody else holds (COM4's unless the production manifest grants them).
fn archive_with_greedy_module() -> PathBuf {
    let module = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname greedy\nversion 1.0.0\nport 0x3f8 8\n"))"#,
    )
    .expect("valid WAT");
    default_archive_with(
        "greedy",
        |manifest| {
            let base = free_ports(manifest);
            format!("{manifest}\nmodule greedy modules/greedy.wasm\ngrant port {base:#x} 8\n")
        },
        vec![("modules/greedy.wasm".to_owned(), module)],
    )
}

#[test]
fn a_module_asking_beyond_its_grant_is_refused_and_the_system_boots() {
    let archive = archive_with_greedy_module();
    let mut session = Session::start("greedy", "", Some(archive.clone()), &[]);
    // The whole line: the serial output may stop in the middle of it.
    let refused = session.wait_for("module greedy refused at load", WAIT);
    session.wait_for_from(refused, "\n", WAIT);
    let output = session.output();
    let line = output
        .lines()
        .find(|candidate| candidate.contains("module greedy refused at load"))
        .unwrap_or_default();
    if !line.contains("port 0x3f8") {
        session.fail(format!("`{line}` does not name the port it was refused"));
    }
    // The boot line names greedy among the modules that are not up.
    let boot = session.wait_for_boot(WAIT);
    if !boot.not_up.iter().any(|name| name == "greedy") {
        session.fail(format!(
            "the boot line does not name greedy as not up: {boot:?}"
        ));
    }
    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let from = session.output().len();
    session.write_serial(b"stillalive");
    session.wait_for_from(from, "stillalive", WAIT);
    let _ = std::fs::remove_file(archive);
}

/// A module whose `init` fails at every start: the boot line names it as not up, its restart
/// policy runs (`ps` shows it restarting or held, never `stopped` or `not-started`), and the
/// rest of the system boots and answers.
#[test]
fn a_module_failing_at_boot_is_named_and_follows_its_restart_policy() {
    let module = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 1))
            (@custom "cella.manifest" "cella 1\nname sulky\nversion 1.0.0\n"))"#,
    )
    .expect("valid WAT");
    let archive = default_archive_with(
        "sulky",
        |manifest| format!("{manifest}\nmodule sulky modules/sulky.wasm\n"),
        vec![("modules/sulky.wasm".to_owned(), module)],
    );
    let mut session = Session::start("sulky", "", Some(archive.clone()), &[]);
    let boot = session.wait_for_boot(WAIT);
    if boot.not_up != ["sulky"] || boot.up + 1 != boot.of {
        session.fail(format!(
            "the boot line should name sulky alone as not up: {boot:?}"
        ));
    }
    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let from = session.output().len();
    session.write_serial(b"ps\r");
    session.wait_for_from(from, "ps\r\n", WAIT);
    let end = session.wait_for_from(from, "cella> ", WAIT);
    let answer = session.output()[from..end].to_owned();
    let line = answer
        .lines()
        .find(|line| line.starts_with("sulky"))
        .unwrap_or_default();
    if !(line.contains("restarting") || line.contains("held")) {
        session.fail(format!("`ps` shows sulky as `{line}`:\n{answer}"));
    }
    let _ = std::fs::remove_file(archive);
}
