//! The network benchmark's report: Cella's figures with the Wasm driver and with the
//! driver as a native process, beside the Linux yardstick's, each Cella path's ratio to
//! Linux and the goal lines (see `super::network_bench`).

use crate::network_measure::Figures;

/// One line of the comparison: what is measured, each system's figure as text, and each
/// Cella path's value over Linux's.
struct Row {
    what: String,
    cella: String,
    native: Option<String>,
    linux: Option<String>,
    ratio: Option<f64>,
    native_ratio: Option<f64>,
}

/// Figures over Linux's, if Linux's is above zero.
fn over(value: fn(&Figures) -> f64, figures: &Figures, linux: Option<&Figures>) -> Option<f64> {
    linux
        .map(value)
        .filter(|&linux| linux > 0.0)
        .map(|linux| value(figures) / linux)
}

impl Row {
    fn new(
        what: String,
        measured: Measured<'_>,
        value: fn(&Figures) -> f64,
        text: fn(f64) -> String,
    ) -> Row {
        let Measured {
            cella,
            native,
            linux,
        } = measured;
        Row {
            what,
            cella: text(value(cella)),
            native: native.map(|native| text(value(native))),
            linux: linux.map(|linux| text(value(linux))),
            ratio: over(value, cella, linux),
            native_ratio: native.and_then(|native| over(value, native, linux)),
        }
    }
}

/// What the benchmark measured: Cella's production system (the Wasm driver), the same
/// system with the driver as a native process, and the Linux yardstick.
#[derive(Clone, Copy)]
pub struct Measured<'a> {
    pub cella: &'a Figures,
    pub native: Option<&'a Figures>,
    pub linux: Option<&'a Figures>,
}

fn rate(value: f64) -> String {
    format!("{value:.2} MB/s")
}

fn milliseconds(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| String::from("-"), |ratio| format!("{ratio:.2}"))
}

/// The worse of `figures`' two throughputs over Linux's.
fn worst_throughput(figures: &Figures, linux: &Figures) -> f64 {
    (figures.download_rate() / linux.download_rate())
        .min(figures.upload_rate() / linux.upload_rate())
}

/// The lines printed for Cella's figures (the Wasm driver's, and the native driver's when
/// measured) beside Linux's.
pub fn report(measured: Measured<'_>) -> Vec<String> {
    let cella = measured.cella;
    let mib = cella.bytes / (1024 * 1024);
    let requests = cella.latencies.len();
    let rows = [
        Row::new(
            format!("download {mib} MiB (guest -> host)"),
            measured,
            Figures::download_rate,
            rate,
        ),
        Row::new(
            format!("upload {mib} MiB (host -> guest)"),
            measured,
            Figures::upload_rate,
            rate,
        ),
        Row::new(
            format!("{requests} small requests, median"),
            measured,
            |figures| figures.latency(0.5).as_secs_f64(),
            milliseconds,
        ),
        Row::new(
            format!("{requests} small requests, p99"),
            measured,
            |figures| figures.latency(0.99).as_secs_f64(),
            milliseconds,
        ),
    ];
    let mut lines = vec![format!(
        "  {:<40} {:>15} | {:>14} | {:>14} | {:>11} | native/Linux",
        "", "Linux (busybox)", "Cella (Wasm)", "Cella (native)", "Cella/Linux"
    )];
    for row in rows {
        lines.push(format!(
            "  {:<40} {:>15} | {:>14} | {:>14} | {:>11} | {}",
            row.what,
            row.linux.unwrap_or_else(|| String::from("-")),
            row.cella,
            row.native.unwrap_or_else(|| String::from("-")),
            ratio_text(row.ratio),
            ratio_text(row.native_ratio),
        ));
    }
    let verdict = |worst: f64, goal: f64| if worst >= goal { "met" } else { "NOT met" };
    if let Some(linux) = measured.linux {
        let worst = worst_throughput(cella, linux);
        lines.push(format!(
            "  goal: the Wasm path's throughput at least half of Linux's both ways: {} (worst {worst:.2})",
            verdict(worst, 0.5)
        ));
        if let Some(native) = measured.native {
            let worst = worst_throughput(native, linux);
            lines.push(format!(
                "  goal: native path at least 0.8x of Linux's throughput both ways: {} (worst {worst:.2})",
                verdict(worst, 0.8)
            ));
        }
    }
    lines
}

/// The line printed when the native path could not be measured: one line, whatever
/// lines the reason had.
pub fn native_failure_line(reason: &str) -> String {
    let reason: Vec<&str> = reason
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    format!(
        "Cella (native), the virtio-net driver as a native process: not measured: {}",
        reason.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn figures(download_ms: u64, upload_ms: u64, latency_ms: u64) -> Figures {
        Figures {
            bytes: 16 * 1024 * 1024,
            download: Duration::from_millis(download_ms),
            upload: Duration::from_millis(upload_ms),
            latencies: vec![Duration::from_millis(latency_ms); 10],
        }
    }

    /// A row's cells after the first: Cella (Wasm), Cella (native), Cella/Linux,
    /// native/Linux.
    fn cells(line: &str) -> Vec<&str> {
        line.split('|').skip(1).map(str::trim).collect()
    }

    #[test]
    fn the_report_sets_both_cella_paths_beside_linux_with_ratios_and_the_goals() {
        let (cella, native, linux) = (
            figures(4000, 8000, 4),
            figures(1100, 2200, 2),
            figures(1000, 2000, 1),
        );
        let lines = report(Measured {
            cella: &cella,
            native: Some(&native),
            linux: Some(&linux),
        });
        assert!(lines[0].contains("Cella (Wasm)") && lines[0].contains("Cella (native)"));
        assert!(
            lines[1].contains("download 16 MiB (guest -> host)") && lines[1].contains("16.78 MB/s"),
            "{lines:#?}"
        );
        assert_eq!(
            cells(&lines[1]),
            ["4.19 MB/s", "15.25 MB/s", "0.25", "0.91"],
            "{lines:#?}"
        );
        assert_eq!(
            cells(&lines[3]),
            ["4.00 ms", "2.00 ms", "4.00", "2.00"],
            "{lines:#?}"
        );
        assert!(lines[5].contains("NOT met (worst 0.25)"), "{lines:#?}");
        assert_eq!(
            lines[6],
            "  goal: native path at least 0.8x of Linux's throughput both ways: met (worst 0.91)"
        );
        let slow = figures(1000, 4000, 1);
        let lines = report(Measured {
            cella: &cella,
            native: Some(&slow),
            linux: Some(&linux),
        });
        assert!(lines[6].ends_with(": NOT met (worst 0.50)"), "{lines:#?}");
    }

    #[test]
    fn without_the_native_path_its_column_is_empty_and_it_has_no_goal() {
        let (cella, linux) = (figures(4000, 8000, 4), figures(1000, 2000, 1));
        let lines = report(Measured {
            cella: &cella,
            native: None,
            linux: Some(&linux),
        });
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert_eq!(cells(&lines[2]), ["2.10 MB/s", "-", "0.25", "-"]);
        assert!(
            lines[5].contains("the Wasm path's throughput"),
            "{lines:#?}"
        );
    }

    #[test]
    fn without_linux_the_report_has_no_ratios_and_no_goal() {
        let (cella, native) = (figures(4000, 8000, 4), figures(2000, 2000, 2));
        let lines = report(Measured {
            cella: &cella,
            native: Some(&native),
            linux: None,
        });
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert_eq!(cells(&lines[1]), ["4.19 MB/s", "8.39 MB/s", "-", "-"]);
    }

    #[test]
    fn a_native_path_that_was_not_measured_is_one_line_with_the_reason() {
        let line = native_failure_line(
            "GET /api/ps answered 404: no HTTP server module (httpd) serves the guest's port 80",
        );
        assert_eq!(
            line,
            "Cella (native), the virtio-net driver as a native process: not measured: GET /api/ps answered 404: no HTTP server module (httpd) serves the guest's port 80"
        );
        let line = native_failure_line("building the test system:\n  cargo failed\n");
        assert!(
            line.ends_with("not measured: building the test system: cargo failed"),
            "{line}"
        );
    }
}
