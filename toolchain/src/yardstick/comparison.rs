//! The yardstick table of `cella bench`: each Linux figure beside Cella's nearest figure
//! from the same run, with the ratio Cella / Linux. Cella's figures are read from the
//! `bench:` lines its in-system benchmark printed (`tests/kernel/src/scenarios/bench.rs`).

use super::disk::DiskFigures;
use super::report::LinuxFigures;
use super::vfat::VfatFigures;
use std::time::Duration;

/// Cella's figures that have a Linux counterpart, in nanoseconds of guest time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellaFigures {
    /// A null syscall from a native process.
    pub null_syscall_ns: u64,
    /// An IPC call and reply between two native processes.
    pub native_ipc_ns: u64,
    /// An IPC call from a native process to a Wasm server on a kernel thread, and its reply.
    pub wasm_ipc_ns: u64,
    /// The kernel starts a native process from its ELF file, the process exits, the kernel
    /// sees it end (absent from benchmarks that do not print it).
    pub process_start_exit_ns: Option<u64>,
    /// CRC-32 of 64 KiB in a native process.
    pub native_crc_ns: u64,
    /// That CRC.
    pub native_crc: u32,
}

/// The labels of the in-system benchmark's lines (after `bench: `).
const NULL_SYSCALL: &str = "null syscall (native process)";
const NATIVE_IPC: &str = "IPC round trip native -> native";
const WASM_IPC: &str = "IPC round trip native -> Wasm server";
const PROCESS_START_EXIT: &str = "process start + exit + wait (native)";
const NATIVE_CRC: &str = "CRC-32 64 KiB in a native process";

/// The number of nanoseconds after `label` on a `bench: LABEL   N ns ...` line of `serial`,
/// and the words after it.
fn figure<'a>(serial: &'a str, label: &str) -> Option<(u64, Vec<&'a str>)> {
    serial.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("bench: ")?.strip_prefix(label)?;
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        (words.next()? == "ns").then(|| (value, words.collect()))
    })
}

/// Reads Cella's figures from the in-system benchmark's serial output.
///
/// # Errors
/// A figure is missing.
pub fn parse_cella(serial: &str) -> Result<CellaFigures, String> {
    let value = |label: &str| {
        figure(serial, label)
            .map(|(value, _)| value)
            .ok_or_else(|| format!("no `{label}` figure in the in-system benchmark's output"))
    };
    let (native_crc_ns, rest) = figure(serial, NATIVE_CRC)
        .ok_or_else(|| format!("no `{NATIVE_CRC}` figure in the in-system benchmark's output"))?;
    let native_crc = match rest.as_slice() {
        ["(crc", hex, ..] => u32::from_str_radix(hex.trim_end_matches(')'), 16).ok(),
        _ => None,
    }
    .ok_or_else(|| format!("no `(crc XXXXXXXX)` after `{NATIVE_CRC}`"))?;
    Ok(CellaFigures {
        null_syscall_ns: value(NULL_SYSCALL)?,
        native_ipc_ns: value(NATIVE_IPC)?,
        wasm_ipc_ns: value(WASM_IPC)?,
        process_start_exit_ns: figure(serial, PROCESS_START_EXIT).map(|(value, _)| value),
        native_crc_ns,
        native_crc,
    })
}

/// A duration in nanoseconds as text with a unit that keeps it short: `652 ns`,
/// `95.1 us`, `1.19 ms`, `6.30 s`.
pub fn format_ns(nanoseconds: u64) -> String {
    let value = nanoseconds as f64;
    if nanoseconds < 10_000 {
        format!("{nanoseconds} ns")
    } else if nanoseconds < 1_000_000 {
        format!("{:.1} us", value / 1e3)
    } else if nanoseconds < 1_000_000_000 {
        format!("{:.2} ms", value / 1e6)
    } else {
        format!("{:.2} s", value / 1e9)
    }
}

/// `cella / linux` with two decimals, or `-` when either is missing or zero.
fn ratio(cella: Option<u64>, linux: u64) -> String {
    match cella {
        Some(cella) if linux > 0 && cella > 0 => format!("{:.2}", cella as f64 / linux as f64),
        _ => String::from("-"),
    }
}

/// The Linux side of the comparison: the benchmark's figures and the boot time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linux {
    /// The C benchmark's figures.
    pub figures: LinuxFigures,
    /// The disk figures.
    pub disk: DiskFigures,
    /// The file-system figures on the vfat volume.
    pub vfat: VfatFigures,
    /// QEMU start to /init's first line, on the host's clock.
    pub boot: Duration,
}

/// The Cella side: the in-system figures and the boot time (absent if it was not measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cella {
    /// Figures from the in-system benchmark.
    pub figures: CellaFigures,
    /// QEMU start to the shell's first prompt, on the host's clock.
    pub boot: Option<Duration>,
}

/// The table's lines (without a heading), each Linux figure beside Cella's.
pub fn table(linux: &Linux, cella: &Cella) -> Vec<String> {
    let boot_ns = |boot: Duration| u64::try_from(boot.as_nanos()).unwrap_or(u64::MAX);
    let (l, c) = (&linux.figures, &cella.figures);
    let rows: [(&str, u64, &str, Option<u64>); 6] = [
        (
            "null syscall (getppid)",
            l.null_syscall_ns,
            "null syscall (native process)",
            Some(c.null_syscall_ns),
        ),
        (
            "pipe round trip, two processes",
            l.pipe_round_trip_ns,
            "IPC round trip native -> native",
            Some(c.native_ipc_ns),
        ),
        (
            "futex round trip, two threads",
            l.futex_round_trip_ns,
            "IPC round trip native -> Wasm server",
            Some(c.wasm_ipc_ns),
        ),
        (
            "fork + exit + wait",
            l.fork_exit_wait_ns,
            if c.process_start_exit_ns.is_some() {
                "process start + exit + wait (from ELF)"
            } else {
                "(not measured)"
            },
            c.process_start_exit_ns,
        ),
        (
            "CRC-32 of 64 KiB (C, gcc -O2)",
            l.crc32_64k_ns,
            "CRC-32 of 64 KiB (native process)",
            Some(c.native_crc_ns),
        ),
        (
            "QEMU start to /init's first line",
            boot_ns(linux.boot),
            "QEMU start to the shell prompt",
            cella.boot.map(boot_ns),
        ),
    ];
    let mut lines = vec![format!(
        "{:<34} {:>10} | {:<40} {:>10} | Cella/Linux",
        "Linux", "", "Cella", ""
    )];
    for (linux_label, linux_ns, cella_label, cella_ns) in rows {
        lines.push(format!(
            "{:<34} {:>10} | {:<40} {:>10} | {}",
            linux_label,
            format_ns(linux_ns),
            cella_label,
            cella_ns.map_or_else(|| String::from("-"), format_ns),
            ratio(cella_ns, linux_ns)
        ));
    }
    lines.push(if l.crc32_64k == c.native_crc {
        format!("(both CRCs {:08x})", l.crc32_64k)
    } else {
        format!(
            "(the CRCs DIFFER: Linux {:08x}, Cella {:08x})",
            l.crc32_64k, c.native_crc
        )
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::super::disk::Timed;
    use super::*;

    const CELLA: &str = "in-system benchmark (one QEMU boot, TCG):\n\
        \x20 bench: all figures from one boot under TCG (ns of guest time; compare as ratios)\n\
        \x20 bench: null syscall (native process)                   94 ns\n\
        \x20 bench: IPC round trip native -> native               37865 ns\n\
        \x20 bench: IPC round trip native -> Wasm server          18919 ns\n\
        \x20 bench: direct kernel call of a Wasm event            13471 ns\n\
        \x20 bench: CRC-32 64 KiB in a native process            420934 ns (crc 1f50c2e7)\n\
        \x20 bench: CRC-32 64 KiB in the Wasm module           15234337 ns (crc 1f50c2e7)\n";

    fn linux() -> Linux {
        Linux {
            figures: LinuxFigures {
                null_syscall_ns: 652,
                pipe_round_trip_ns: 95_100,
                futex_round_trip_ns: 80_000,
                fork_exit_wait_ns: 1_190_000,
                crc32_64k_ns: 302_000,
                crc32_64k: 0x1f50_c2e7,
            },
            disk: DiskFigures {
                sequential_read: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                sequential_write: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                random_read: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                iommu_domain: super::super::disk::IommuDomain::NoGroup,
            },
            vfat: VfatFigures {
                small_write: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                small_read: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                large_write: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
                large_read: Timed {
                    amount: 1,
                    nanoseconds: 1,
                },
            },
            boot: Duration::from_millis(6_300),
        }
    }

    #[test]
    fn reads_cella_s_figures_from_the_bench_lines() {
        assert_eq!(
            parse_cella(CELLA),
            Ok(CellaFigures {
                null_syscall_ns: 94,
                native_ipc_ns: 37_865,
                wasm_ipc_ns: 18_919,
                process_start_exit_ns: None,
                native_crc_ns: 420_934,
                native_crc: 0x1f50_c2e7,
            })
        );
        let with_spawn =
            format!("{CELLA}  bench: process start + exit + wait (native)     812345 ns\n");
        assert_eq!(
            parse_cella(&with_spawn).unwrap().process_start_exit_ns,
            Some(812_345)
        );
    }

    #[test]
    fn a_missing_cella_figure_is_named() {
        let cut = CELLA.replace("bench: IPC round trip native -> native", "bench: other");
        assert_eq!(
            parse_cella(&cut),
            Err(String::from(
                "no `IPC round trip native -> native` figure in the in-system benchmark's output"
            ))
        );
    }

    #[test]
    fn units_keep_figures_short() {
        assert_eq!(format_ns(652), "652 ns");
        assert_eq!(format_ns(9_999), "9999 ns");
        assert_eq!(format_ns(95_123), "95.1 us");
        assert_eq!(format_ns(999_949), "999.9 us");
        assert_eq!(format_ns(1_187_000), "1.19 ms");
        assert_eq!(format_ns(12_345_678), "12.35 ms");
        assert_eq!(format_ns(6_300_000_000), "6.30 s");
    }

    #[test]
    fn each_row_puts_cella_beside_linux_with_the_ratio() {
        let cella = Cella {
            figures: parse_cella(CELLA).unwrap(),
            boot: Some(Duration::from_millis(1_260)),
        };
        let lines = table(&linux(), &cella);
        let row = |start: &str| {
            lines
                .iter()
                .find(|line| line.starts_with(start))
                .unwrap_or_else(|| panic!("no row `{start}` in {lines:#?}"))
                .clone()
        };
        let null = row("null syscall (getppid)");
        assert!(null.contains("652 ns") && null.contains("94 ns"), "{null}");
        assert!(null.ends_with("| 0.14"), "{null}");
        let pipe = row("pipe round trip");
        assert!(pipe.contains("IPC round trip native -> native"), "{pipe}");
        assert!(pipe.ends_with("| 0.40"), "{pipe}");
        assert!(row("futex round trip").ends_with("| 0.24"));
        let fork = row("fork + exit + wait");
        assert!(
            fork.contains("(not measured)") && fork.ends_with("| -"),
            "{fork}"
        );
        assert!(row("CRC-32 of 64 KiB").ends_with("| 1.39"));
        let boot = row("QEMU start to /init");
        assert!(boot.contains("6.30 s") && boot.contains("1.26 s"), "{boot}");
        assert!(boot.ends_with("| 0.20"), "{boot}");
        assert_eq!(lines.last().unwrap(), "(both CRCs 1f50c2e7)");
    }

    #[test]
    fn a_missing_boot_time_and_differing_crcs_are_shown() {
        let mut figures = parse_cella(CELLA).unwrap();
        figures.native_crc = 0;
        figures.process_start_exit_ns = Some(2_380_000);
        let lines = table(
            &linux(),
            &Cella {
                figures,
                boot: None,
            },
        );
        let boot = lines.iter().find(|line| line.starts_with("QEMU")).unwrap();
        assert!(boot.ends_with("- | -"), "{boot}");
        let fork = lines.iter().find(|line| line.starts_with("fork")).unwrap();
        assert!(fork.contains("process start + exit + wait"), "{fork}");
        assert!(fork.ends_with("| 2.00"), "{fork}");
        assert!(lines.last().unwrap().contains("DIFFER"));
    }
}
