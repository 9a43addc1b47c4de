//! The campaign's counts, per fault kind and per driver, and the table it prints.

use alloc::string::String;
use alloc::vec::Vec;
use cella_faults::FaultKind;
use cella_kernel::kprintln;

/// How a fault showed itself first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    Trap,
    Fuel,
    Capability,
    BadCall,
    /// The module's own check: `init` or `restore_state` returned an error.
    OwnCheck,
    /// Refused before it ran (loading or instantiation).
    Load,
    None,
}

impl Detection {
    pub const ALL: [Detection; 7] = [
        Detection::Trap,
        Detection::Fuel,
        Detection::Capability,
        Detection::BadCall,
        Detection::OwnCheck,
        Detection::Load,
        Detection::None,
    ];

    /// The table's column name.
    pub const fn name(self) -> &'static str {
        match self {
            Detection::Trap => "trap",
            Detection::Fuel => "fuel",
            Detection::Capability => "capability",
            Detection::BadCall => "bad call",
            Detection::OwnCheck => "own check",
            Detection::Load => "load",
            Detection::None => "none",
        }
    }

    /// From a fault's text (the Wasm host's `Fault` as the kernel records it:
    /// `module NAME faulted in ENTRY: KIND`, KIND in the words of
    /// `FaultKind`'s `Display`).
    pub fn from_reason(reason: &str) -> Detection {
        if reason.contains(": out of fuel") {
            Detection::Fuel
        } else if reason.contains(": trap: ") {
            Detection::Trap
        } else if reason.contains("capability violations, the last by") {
            Detection::Capability
        } else if reason.contains("malformed host calls, the last to") {
            Detection::BadCall
        } else if reason.contains(": init returned ")
            || reason.contains("`restore_state` refused the state")
        {
            Detection::OwnCheck
        } else {
            Detection::Load
        }
    }
}

/// How the driver came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The faulty version was refused at swap: the good one never stopped.
    Kept,
    /// The good version swapped back in over the running faulty one.
    SwapBack,
    /// The faulty instance was down (or its state unusable): the good version started fresh.
    Restart,
    /// Not back: the driver did not run or answer after recovery.
    NotBack,
}

impl Recovery {
    /// In words.
    pub const fn name(self) -> &'static str {
        match self {
            Recovery::Kept => "kept the good version",
            Recovery::SwapBack => "swapped back",
            Recovery::Restart => "restarted the good version",
            Recovery::NotBack => "NOT BACK",
        }
    }
}

/// One row of the table.
#[derive(Default)]
pub struct Row {
    pub injected: u64,
    pub no_site: u64,
    pub detected: [u64; 7],
    pub kept: u64,
    pub swapped_back: u64,
    pub restarted: u64,
    pub not_back: u64,
    /// Wrong answers from the faulty driver itself (inside the fault's reach).
    pub wrong_inside: u64,
    /// Faults recorded for modules other than the target.
    pub other_faulted: u64,
    /// Wrong or missing answers from drivers other than the target.
    pub corrupted_elsewhere: u64,
    /// PCI functions whose registers a fault changed.
    pub devices_changed: u64,
    /// Recovery times: microseconds from detection (or injection) to the
    /// good driver answering again, in quarter-octave buckets.
    pub recovery: Histogram,
}

/// Counts of values in quarter-octave buckets (bucket `4 * log2(v)`), so a
/// percentile is known to within 19 % in fixed memory; the maximum is exact.
pub struct Histogram {
    buckets: [u64; 160],
    samples: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: [0; 160],
            samples: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn bucket(value: u64) -> usize {
        if value < 4 {
            return value as usize;
        }
        let octave = 63 - value.leading_zeros() as usize;
        // The two bits after the leading one pick the quarter.
        let quarter = ((value >> (octave - 2)) & 0b11) as usize;
        (octave * 4 + quarter).min(159)
    }

    /// The largest value of bucket `index`.
    fn upper(index: usize) -> u64 {
        if index < 8 {
            return index as u64;
        }
        let octave = index / 4;
        let quarter = (index % 4) as u64;
        let base = 1u64 << octave;
        base + (base / 4) * (quarter + 1) - 1
    }

    pub fn add(&mut self, value: u64) {
        self.buckets[Self::bucket(value)] += 1;
        self.samples += 1;
        self.max = self.max.max(value);
    }

    /// The value below which `percent` % of the samples lie (bucket's upper bound).
    pub fn percentile(&self, percent: u64) -> u64 {
        let wanted = (self.samples * percent).div_ceil(100).max(1);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return Self::upper(index).min(self.max);
            }
        }
        self.max
    }
}

impl Row {
    pub fn count(&mut self, outcome: &Outcome) {
        self.injected += 1;
        self.detected[Detection::ALL
            .iter()
            .position(|kind| *kind == outcome.detection)
            .unwrap_or(6)] += 1;
        match outcome.recovery {
            Recovery::Kept => self.kept += 1,
            Recovery::SwapBack => self.swapped_back += 1,
            Recovery::Restart => self.restarted += 1,
            Recovery::NotBack => self.not_back += 1,
        }
        self.wrong_inside += outcome.wrong_inside;
        self.other_faulted += outcome.other_faulted;
        self.corrupted_elsewhere += outcome.corrupted_elsewhere;
        self.devices_changed += outcome.devices_changed;
        self.recovery.add(outcome.recovery_nanoseconds / 1000);
    }

    fn times(&self) -> (u64, u64, u64) {
        (
            self.recovery.percentile(50),
            self.recovery.percentile(99),
            self.recovery.max,
        )
    }
}

/// What one fault did.
pub struct Outcome {
    pub detection: Detection,
    pub recovery: Recovery,
    pub recovery_nanoseconds: u64,
    pub wrong_inside: u64,
    pub other_faulted: u64,
    pub corrupted_elsewhere: u64,
    pub devices_changed: u64,
    /// What went wrong outside the faulty driver, or why it is not back, in words.
    pub trouble: Vec<String>,
}

/// Every row: one per kind, one per driver, and the total.
pub struct Tally {
    pub kinds: Vec<Row>,
    pub drivers: Vec<(String, Row)>,
    pub total: Row,
    /// Seeds whose mutant the injector could not build (a defect of the injector).
    pub injector_errors: u64,
    /// Attempts not made: the good version could not hand its state over.
    pub not_handed_over: u64,
}

impl Tally {
    /// Empty rows; the table's size is fixed from here on.
    pub fn new(drivers: &[String]) -> Self {
        Tally {
            kinds: FaultKind::ALL.iter().map(|_| Row::default()).collect(),
            drivers: drivers
                .iter()
                .map(|name| (name.clone(), Row::default()))
                .collect(),
            total: Row::default(),
            injector_errors: 0,
            not_handed_over: 0,
        }
    }

    pub fn no_site(&mut self, kind: usize, driver: usize) {
        self.kinds[kind].no_site += 1;
        self.drivers[driver].1.no_site += 1;
        self.total.no_site += 1;
    }

    pub fn count(&mut self, kind: usize, driver: usize, outcome: &Outcome) {
        self.kinds[kind].count(outcome);
        self.drivers[driver].1.count(outcome);
        self.total.count(outcome);
    }

    /// Prints the table, one `faults-table` line per row.
    pub fn print(&self) {
        kprintln!(
            "faults-table: {:<12} {:>7} {:>6} | {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6} {:>6} | {:>7} {:>7} {:>7} | {:>6} {:>6} {:>6} {:>6}",
            "row",
            "faults",
            "nosite",
            "trap",
            "fuel",
            "capab",
            "badcal",
            "own",
            "load",
            "none",
            "kept",
            "swapbk",
            "restrt",
            "notbak",
            "p50_us",
            "p99_us",
            "max_us",
            "wrong",
            "other",
            "elsewh",
            "device"
        );
        for (kind, row) in FaultKind::ALL.iter().zip(&self.kinds) {
            print_row(kind.name(), row);
        }
        for (name, row) in &self.drivers {
            print_row(name, row);
        }
        print_row("total", &self.total);
    }
}

fn print_row(name: &str, row: &Row) {
    let (median, p99, max) = row.times();
    let d = &row.detected;
    kprintln!(
        "faults-table: {:<12} {:>7} {:>6} | {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6} {:>6} | {:>7} {:>7} {:>7} | {:>6} {:>6} {:>6} {:>6}",
        name,
        row.injected,
        row.no_site,
        d[0],
        d[1],
        d[2],
        d[3],
        d[4],
        d[5],
        d[6],
        row.kept,
        row.swapped_back,
        row.restarted,
        row.not_back,
        median,
        p99,
        max,
        row.wrong_inside,
        row.other_faulted,
        row.corrupted_elsewhere,
        row.devices_changed
    );
}
