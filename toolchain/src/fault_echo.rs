//! The console side of the kernel's fault campaign (`test=faults`): every
//! workload round writes `fault-echo N DRIVER PAYLOAD FNV` through the
//! console, and the UART driver carries it unless the UART driver is the one
//! under fault. Here those lines are read back from the serial output and
//! their checksums checked. A damaged line is the faulty driver's own doing
//! when the UART driver was under fault in that round or the round next to it
//! (a faulty UART can merge or split lines), or when the UART driver's own
//! log text (`uart16550: ...`) follows the cut-off line on the same line: a
//! new instance of the UART driver took over in the middle of it, which
//! happens only in a round with the UART driver under fault. Any other damaged
//! line is a corrupted byte outside the faulty driver.

use cella_system::fnv::fnv1a_64;

/// The driver that carries the console.
pub const CONSOLE_DRIVER: &str = "uart16550";

/// What the echo lines showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoReport {
    /// Lines that contain `fault-echo`.
    pub lines: u64,
    /// Lines whose checksum matches.
    pub intact: u64,
    /// Damaged while (or next to a round where) the console driver was under fault.
    pub damaged_by_console_driver: u64,
    /// Damaged while another driver was under fault: a corrupted byte outside it.
    pub damaged_elsewhere: u64,
}

/// One echo line: its driver field if it is intact.
enum Line<'a> {
    Intact(&'a str),
    /// The driver field as far as it reads, and whether the console driver's
    /// own log text follows on the same line.
    Damaged(Option<&'a str>, bool),
}

fn parse(text: &str) -> Line<'_> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let driver = fields.get(1).copied();
    let intact = match fields.as_slice() {
        [number, _, payload, checksum] => {
            number.parse::<u64>().is_ok()
                && payload.len() == 16
                && payload.bytes().all(|byte| byte.is_ascii_lowercase())
                && u64::from_str_radix(checksum, 16).ok() == Some(fnv1a_64(payload.as_bytes()))
        }
        _ => false,
    };
    match (intact, driver) {
        (true, Some(driver)) => Line::Intact(driver),
        // A damaged line whose words still name the console driver is its
        // round's line, wherever the damage moved the name to (the start of
        // the line printed twice, say).
        _ if fields.contains(&CONSOLE_DRIVER) => Line::Damaged(Some(CONSOLE_DRIVER), false),
        _ => Line::Damaged(driver, text.contains(&format!("{CONSOLE_DRIVER}:"))),
    }
}

impl EchoReport {
    /// The report in one line of plain words.
    pub fn summary(&self) -> String {
        format!(
            "console lines through {CONSOLE_DRIVER}: {} read, {} intact, {} damaged while it was under fault, {} damaged while another driver was",
            self.lines, self.intact, self.damaged_by_console_driver, self.damaged_elsewhere
        )
    }

    /// Whether lines were read and none was damaged outside the faulty driver.
    pub fn passed(&self) -> bool {
        self.lines > 0 && self.damaged_elsewhere == 0
    }
}

/// Checks every echo line of `serial`.
pub fn check(serial: &str) -> EchoReport {
    let lines: Vec<Line<'_>> = serial
        .lines()
        .filter_map(|line| line.split_once("fault-echo ").map(|(_, rest)| parse(rest)))
        .collect();
    let console_round = |line: Option<&Line<'_>>| match line {
        Some(Line::Intact(driver)) | Some(Line::Damaged(Some(driver), _)) => {
            *driver == CONSOLE_DRIVER
        }
        _ => false,
    };
    let mut report = EchoReport {
        lines: lines.len() as u64,
        ..EchoReport::default()
    };
    for (index, line) in lines.iter().enumerate() {
        match line {
            Line::Intact(_) => report.intact += 1,
            Line::Damaged(_, console_took_over) => {
                let near_console_fault = *console_took_over
                    || console_round(Some(line))
                    || console_round(index.checked_sub(1).and_then(|before| lines.get(before)))
                    || console_round(lines.get(index + 1));
                if near_console_fault {
                    report.damaged_by_console_driver += 1;
                } else {
                    report.damaged_elsewhere += 1;
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(number: u64, driver: &str, payload: &str) -> String {
        format!(
            "fault-echo {number} {driver} {payload} {:016x}",
            fnv1a_64(payload.as_bytes())
        )
    }

    #[test]
    fn intact_lines_pass_and_noise_around_them_is_ignored() {
        let serial = format!(
            "boot\n{}\r\nINFO x\n[log] {}\n",
            line(0, "pci", "abcdefghijklmnop"),
            line(1, "cmos-rtc", "qrstuvwxyzabcdef")
        );
        let report = check(&serial);
        assert_eq!(
            report,
            EchoReport {
                lines: 2,
                intact: 2,
                ..EchoReport::default()
            }
        );
    }

    #[test]
    fn a_changed_byte_is_caught_and_attributed_by_the_driver_under_fault() {
        let good = line(4, "pci", "abcdefghijklmnop");
        let bad_elsewhere = good.replace("abcdefghijklmnop", "abcdefghijklmnoq");
        let uart = line(5, CONSOLE_DRIVER, "abcdefghijklmnop");
        let bad_uart = uart.replace("abcdefghijklmnop", "abcdefgh!jklmnop");
        let serial = [
            line(1, "pci", "aaaaaaaaaaaaaaaa"),
            bad_elsewhere,
            line(2, "ps2-keyboard", "bbbbbbbbbbbbbbbb"),
            bad_uart,
            line(3, "cmos-rtc", "cccccccccccccccc"),
        ]
        .join("\n");
        let report = check(&serial);
        assert_eq!(report.lines, 5);
        assert_eq!(report.intact, 3);
        assert_eq!(report.damaged_elsewhere, 1);
        assert_eq!(report.damaged_by_console_driver, 1);
    }

    #[test]
    fn a_line_cut_off_by_a_new_console_driver_instance_is_the_console_drivers() {
        let serial = [
            line(140, "pci", "abcdefghijklmnop"),
            format!("fault-echo 141 uINFO  {CONSOLE_DRIVER}: COM1 ready"),
            line(142, "ps2-keyboard", "abcdefghijklmnop"),
            String::from("fault-echo 143 cmos-rtc abcdefghijklmnop 0000000000000000"),
            line(144, "pci", "abcdefghijklmnop"),
        ]
        .join("\n");
        let report = check(&serial);
        assert_eq!(report.damaged_by_console_driver, 1);
        assert_eq!(
            report.damaged_elsewhere, 1,
            "a wrong checksum elsewhere still counts"
        );
    }

    #[test]
    fn a_console_driver_line_printed_twice_is_the_console_drivers_wherever_its_name_moved() {
        // Seen in a long run: the UART driver under fault wrote the start of
        // its round's line twice, which shifted the driver's name.
        let serial = [
            line(12487, "pci", "xzzkvhtogylolwrq"),
            String::from(
                "fault-echo 12488fault-echo 12488 uart16550 diroujqojvaskvnu bd9f41955da9cee6",
            ),
            line(12489, "ps2-keyboard", "rszlexxbrisjdbrg"),
        ]
        .join("\n");
        let report = check(&serial);
        assert_eq!(report.intact, 2);
        assert_eq!(report.damaged_by_console_driver, 1);
        assert_eq!(report.damaged_elsewhere, 0);
    }

    #[test]
    fn a_garbled_line_next_to_a_console_driver_round_is_the_console_drivers() {
        let serial = [
            line(7, CONSOLE_DRIVER, "abcdefghijklmnop"),
            String::from("fault-echo 8 p\u{fffd}i abcdefg"),
            line(9, "pci", "abcdefghijklmnop"),
        ]
        .join("\n");
        let report = check(&serial);
        assert_eq!(report.damaged_by_console_driver, 1);
        assert_eq!(report.damaged_elsewhere, 0);
    }
}
