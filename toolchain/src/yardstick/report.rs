//! What the yardstick's C benchmark (`toolchain/yardstick/bench.c`) prints, read back:
//! `yardstick: NAME VALUE ns` lines, an optional `(crc XXXXXXXX)` after the CRC figure, or
//! `yardstick: error: ...` if it failed; and `yardstick: done`, which `/init` prints once
//! everything ran (the disk figures too, read by [`super::disk`]).

/// The prefix of every line the benchmark prints.
pub const PREFIX: &str = "yardstick: ";
/// The line that ends a complete run.
pub const DONE: &str = "yardstick: done";
/// The start of a failure line.
pub const ERROR: &str = "yardstick: error:";

/// The figures of one run, in nanoseconds of guest time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxFigures {
    /// `syscall(SYS_getppid)`.
    pub null_syscall_ns: u64,
    /// One byte to another process through a pipe and back.
    pub pipe_round_trip_ns: u64,
    /// Two threads taking turns on a futex.
    pub futex_round_trip_ns: u64,
    /// `fork`, the child `_exit`s, `waitpid`.
    pub fork_exit_wait_ns: u64,
    /// CRC-32 (table) of 64 KiB of LCG bytes.
    pub crc32_64k_ns: u64,
    /// The CRC itself (must equal Cella's).
    pub crc32_64k: u32,
}

/// Reads the benchmark's lines out of `serial` (the whole console output: kernel lines and
/// carriage returns are ignored).
///
/// # Errors
/// The benchmark reported an error, did not finish, or a figure is missing or malformed.
pub fn parse(serial: &str) -> Result<LinuxFigures, String> {
    let mut null_syscall = None;
    let mut pipe = None;
    let mut futex = None;
    let mut fork = None;
    let mut crc = None;
    let mut done = false;
    for line in serial
        .lines()
        .map(|line| line.trim_end_matches('\r').trim())
    {
        if let Some(error) = line.strip_prefix(ERROR) {
            return Err(format!("the benchmark failed: {}", error.trim()));
        }
        if line == DONE {
            done = true;
            continue;
        }
        let Some(rest) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(name), Some(value), Some("ns")) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let value: u64 = value
            .parse()
            .map_err(|_| format!("`{line}`: `{value}` is not a number of nanoseconds"))?;
        match name {
            "null-syscall" => null_syscall = Some(value),
            "pipe-round-trip" => pipe = Some(value),
            "futex-round-trip" => futex = Some(value),
            "fork-exit-wait" => fork = Some(value),
            "crc32-64k" => {
                let checksum = match (words.next(), words.next()) {
                    (Some("(crc"), Some(hex)) => {
                        u32::from_str_radix(hex.trim_end_matches(')'), 16).ok()
                    }
                    _ => None,
                }
                .ok_or_else(|| format!("`{line}`: no `(crc XXXXXXXX)` after the figure"))?;
                crc = Some((value, checksum));
            }
            _ => {}
        }
    }
    if !done {
        return Err(String::from(
            "the benchmark did not finish (no `yardstick: done` line)",
        ));
    }
    let missing = |name: &str| format!("no `{name}` figure in the benchmark's output");
    let (crc32_64k_ns, crc32_64k) = crc.ok_or_else(|| missing("crc32-64k"))?;
    Ok(LinuxFigures {
        null_syscall_ns: null_syscall.ok_or_else(|| missing("null-syscall"))?,
        pipe_round_trip_ns: pipe.ok_or_else(|| missing("pipe-round-trip"))?,
        futex_round_trip_ns: futex.ok_or_else(|| missing("futex-round-trip"))?,
        fork_exit_wait_ns: fork.ok_or_else(|| missing("fork-exit-wait"))?,
        crc32_64k_ns,
        crc32_64k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "[    0.000000] Linux version 6.1.0\r\n\
        yardstick: init started\r\n\
        yardstick: null-syscall 652 ns\r\n\
        yardstick: pipe-round-trip 95123 ns\r\n\
        yardstick: futex-round-trip 80456 ns\r\n\
        yardstick: fork-exit-wait 1187000 ns\r\n\
        yardstick: crc32-64k 302000 ns (crc 1f50c2e7)\r\n\
        yardstick: done\r\n\
        [    9.1] reboot: Power down\r\n";

    #[test]
    fn reads_every_figure_of_a_complete_run() {
        assert_eq!(
            parse(RUN),
            Ok(LinuxFigures {
                null_syscall_ns: 652,
                pipe_round_trip_ns: 95_123,
                futex_round_trip_ns: 80_456,
                fork_exit_wait_ns: 1_187_000,
                crc32_64k_ns: 302_000,
                crc32_64k: 0x1f50_c2e7,
            })
        );
    }

    #[test]
    fn a_run_without_the_done_line_is_incomplete() {
        let cut = RUN.replace("yardstick: done", "");
        assert!(parse(&cut).unwrap_err().contains("did not finish"));
    }

    #[test]
    fn a_missing_figure_is_named() {
        let cut = RUN.replace("yardstick: futex-round-trip 80456 ns", "");
        assert_eq!(
            parse(&cut),
            Err(String::from(
                "no `futex-round-trip` figure in the benchmark's output"
            ))
        );
    }

    #[test]
    fn the_benchmark_s_own_error_is_reported() {
        let failed = "yardstick: null-syscall 700 ns\nyardstick: error: fork: Out of memory\n";
        assert_eq!(
            parse(failed),
            Err(String::from("the benchmark failed: fork: Out of memory"))
        );
    }

    #[test]
    fn a_malformed_number_or_crc_is_an_error() {
        let bad_number = RUN.replace("652 ns", "6x2 ns");
        assert!(parse(&bad_number).unwrap_err().contains("`6x2`"));
        let no_crc = RUN.replace(" (crc 1f50c2e7)", "");
        assert!(parse(&no_crc).unwrap_err().contains("(crc XXXXXXXX)"));
    }
}
