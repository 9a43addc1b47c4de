//! The yardstick's disk figures: Linux reads and writes `/dev/vda` (the same virtio-blk disk
//! behind the same Intel IOMMU as Cella's boots) with `busybox dd` and O_DIRECT, timed by the
//! C benchmark (`bench time ...`), and does 4 KiB random reads with O_DIRECT and `pread`
//! (`bench random-read ...`). `/init` prints, and this module reads back:
//!
//! ```text
//! yardstick: iommu-domain DMA-FQ
//! yardstick: disk-seq-write 67108864 bytes in 2345678 ns
//! yardstick: disk-seq-read 67108864 bytes in 1234567 ns
//! yardstick: disk-random-read 4000 reads in 3456789 ns
//! ```
//!
//! Cella's own figures (the virtio-blk driver in Wasm, and as a native process) come from
//! the disk benchmark's boots (`commands::disk_bench`): one request at a time, as `dd` with
//! O_DIRECT, with each request's payload in a DMA buffer lent with the call (64 KiB
//! sequential requests, 4 KiB random reads, as Linux's). The table says the request sizes
//! beside each figure.

use super::report::PREFIX;

/// The sequential transfers: 64 MiB in 64 KiB requests.
pub const TRANSFER_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes per `dd` request.
pub const REQUEST_BYTES: u64 = 64 * 1024;
/// Random reads: at most this many...
pub const RANDOM_READS: u64 = 4000;
/// ...and for at most this many seconds.
pub const RANDOM_READ_SECONDS: u64 = 10;

/// A timed amount of work: bytes or reads, and the nanoseconds it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    /// Bytes moved, or reads done.
    pub amount: u64,
    /// Guest time it took.
    pub nanoseconds: u64,
}

impl Timed {
    /// Reads the words `NAME AMOUNT UNIT in NANOSECONDS ns` of `line` (the name is not
    /// checked).
    ///
    /// # Errors
    /// Other words, another unit, or a number that does not read.
    pub fn read(line: &str, words: &[&str], unit: &str) -> Result<Timed, String> {
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("`{line}`: `{text}` is not a number"))
        };
        match words {
            [_, amount, found_unit, "in", nanoseconds, "ns"] if *found_unit == unit => Ok(Timed {
                amount: number(amount)?,
                nanoseconds: number(nanoseconds)?,
            }),
            _ => Err(format!("`{line}`: expected `N {unit} in N ns`")),
        }
    }

    /// `amount` per second.
    pub fn per_second(&self) -> f64 {
        if self.nanoseconds == 0 {
            return 0.0;
        }
        self.amount as f64 * 1e9 / self.nanoseconds as f64
    }
}

/// Linux's disk figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskFigures {
    /// `dd if=/dev/vda iflag=direct bs=64k`, 64 MiB.
    pub sequential_read: Timed,
    /// `dd of=/dev/vda oflag=direct bs=64k`, 64 MiB.
    pub sequential_write: Timed,
    /// 4 KiB O_DIRECT `pread`s at random aligned offsets.
    pub random_read: Timed,
    /// The IOMMU domain Linux put the disk's PCI function in.
    pub iommu_domain: IommuDomain,
}

/// The kind of IOMMU domain of a device under Linux (`/sys/kernel/iommu_groups/N/type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IommuDomain {
    /// `DMA`: DMA addresses translated, the IOTLB invalidated at every unmap.
    Translated,
    /// `DMA-FQ`: translated, IOTLB invalidations batched (a flush queue).
    TranslatedLazy,
    /// `identity`: DMA addresses are physical (pass-through).
    Identity,
    /// `blocked`: no DMA at all.
    Blocked,
    /// `unmanaged`: owned by a user-space driver or a VM.
    Unmanaged,
    /// `none`: the device has no IOMMU group (DMA remapping off).
    NoGroup,
}

impl IommuDomain {
    /// Reads the word `/init` printed.
    fn read(word: &str) -> Option<IommuDomain> {
        Some(match word {
            "DMA" => IommuDomain::Translated,
            "DMA-FQ" => IommuDomain::TranslatedLazy,
            "identity" => IommuDomain::Identity,
            "blocked" => IommuDomain::Blocked,
            "unmanaged" => IommuDomain::Unmanaged,
            "none" => IommuDomain::NoGroup,
            _ => return None,
        })
    }

    /// What it means, in a few words.
    pub fn describe(&self) -> &'static str {
        match self {
            IommuDomain::Translated => "DMA remapping on, strict IOTLB invalidation",
            IommuDomain::TranslatedLazy => "DMA remapping on, lazy IOTLB invalidation",
            IommuDomain::Identity => "DMA remapping in pass-through",
            IommuDomain::Blocked => "DMA blocked",
            IommuDomain::Unmanaged => "an unmanaged IOMMU domain",
            IommuDomain::NoGroup => "no IOMMU group: DMA remapping off",
        }
    }
}

/// The `/init` lines that measure the disk, after the module loading (`insmod`) and device
/// set-up of `/init` itself. `bench` is the C benchmark's path in the initramfs.
pub fn init_commands(bench: &str) -> String {
    let count = TRANSFER_BYTES / REQUEST_BYTES;
    format!(
        "{bench} time disk-seq-write {TRANSFER_BYTES} /bin/busybox dd if=/dev/zero of=/dev/vda \
         bs=64k count={count} seek={count} oflag=direct 2>/dev/null\n\
         {bench} time disk-seq-read {TRANSFER_BYTES} /bin/busybox dd if=/dev/vda of=/dev/null \
         bs=64k count={count} skip={count} iflag=direct 2>/dev/null\n\
         {bench} random-read disk-random-read /dev/vda {RANDOM_READS} {RANDOM_READ_SECONDS}\n"
    )
}

/// Reads the disk lines out of `serial`.
///
/// # Errors
/// A line is missing or malformed.
pub fn parse(serial: &str) -> Result<DiskFigures, String> {
    let mut domain = None;
    let mut read = None;
    let mut write = None;
    let mut random = None;
    for line in serial
        .lines()
        .map(|line| line.trim_end_matches('\r').trim())
    {
        let Some(rest) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let timed = |unit: &str| Timed::read(line, &words, unit);
        match words.first().copied() {
            Some("iommu-domain") => match words.as_slice() {
                [_, word] => {
                    domain = Some(IommuDomain::read(word).ok_or_else(|| {
                        format!("`{line}`: `{word}` is not a kind of IOMMU domain")
                    })?);
                }
                _ => return Err(format!("`{line}`: expected one word")),
            },
            Some("disk-seq-read") => read = Some(timed("bytes")?),
            Some("disk-seq-write") => write = Some(timed("bytes")?),
            Some("disk-random-read") => random = Some(timed("reads")?),
            _ => {}
        }
    }
    let missing = |name: &str| format!("no `{name}` line in the benchmark's output");
    Ok(DiskFigures {
        sequential_read: read.ok_or_else(|| missing("disk-seq-read"))?,
        sequential_write: write.ok_or_else(|| missing("disk-seq-write"))?,
        random_read: random.ok_or_else(|| missing("disk-random-read"))?,
        iommu_domain: domain.ok_or_else(|| missing("iommu-domain"))?,
    })
}

/// One build of Cella's driver, as the disk benchmark measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverFigures {
    /// Sequential write.
    pub sequential_write: Timed,
    /// Sequential read.
    pub sequential_read: Timed,
    /// Random reads.
    pub random_read: Timed,
    /// Bytes of one sequential request.
    pub sequential_request_bytes: u64,
    /// Bytes of one random read.
    pub random_request_bytes: u64,
}

impl DriverFigures {
    /// Reads the `disk_bench: BUILD OPERATION N UNIT in N ns, requests of N bytes` lines
    /// of `serial` for `build` (`wasm`, `native`).
    ///
    /// # Errors
    /// A line is missing or malformed.
    pub fn parse(serial: &str, build: &str) -> Result<DriverFigures, String> {
        let mut figures: [Option<(Timed, u64)>; 3] = [None; 3];
        for line in serial
            .lines()
            .map(|line| line.trim_end_matches('\r').trim())
        {
            let Some(rest) = line.strip_prefix("disk_bench:") else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let [
                found,
                operation,
                amount,
                _unit,
                "in",
                nanoseconds,
                "ns,",
                "requests",
                "of",
                request,
                "bytes",
            ] = words.as_slice()
            else {
                return Err(format!(
                    "`{line}`: expected `BUILD OPERATION N UNIT in N ns, requests of N bytes`"
                ));
            };
            if *found != build {
                continue;
            }
            let number = |text: &str| {
                text.parse::<u64>()
                    .map_err(|_| format!("`{line}`: `{text}` is not a number"))
            };
            let timed = Timed {
                amount: number(amount)?,
                nanoseconds: number(nanoseconds)?,
            };
            let index = match *operation {
                "seq-write" => 0,
                "seq-read" => 1,
                "random-read" => 2,
                other => return Err(format!("`{line}`: unknown operation `{other}`")),
            };
            figures[index] = Some((timed, number(request)?));
        }
        let missing = |operation: &str| format!("no `disk_bench: {build} {operation}` line");
        let [write, read, random] = figures;
        let write = write.ok_or_else(|| missing("seq-write"))?;
        let read = read.ok_or_else(|| missing("seq-read"))?;
        let random = random.ok_or_else(|| missing("random-read"))?;
        Ok(DriverFigures {
            sequential_write: write.0,
            sequential_read: read.0,
            random_read: random.0,
            sequential_request_bytes: read.1,
            random_request_bytes: random.1,
        })
    }
}

/// Both builds of Cella's driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellaDisk {
    /// The Wasm module.
    pub wasm: DriverFigures,
    /// The native process.
    pub native: DriverFigures,
}

/// The disk table's lines (without a heading): Linux's figures beside Cella's virtio-blk
/// driver in Wasm and as a native process, each with its ratio to Linux.
pub fn table(disk: &DiskFigures, cella: &CellaDisk) -> Vec<String> {
    let megabytes = |timed: &Timed| timed.per_second() / 1e6;
    let rate = |timed: &Timed| timed.per_second();
    let size = |bytes: u64| {
        if bytes.is_multiple_of(1024) {
            format!("{} KiB", bytes / 1024)
        } else {
            format!("{:.1} KiB", bytes as f64 / 1024.0)
        }
    };
    let sequential = format!(
        "(Linux 64 KiB, Wasm {}, native {} requests)",
        size(cella.wasm.sequential_request_bytes),
        size(cella.native.sequential_request_bytes)
    );
    let random = format!(
        "random reads (Linux 4 KiB, Wasm {}, native {})",
        size(cella.wasm.random_request_bytes),
        size(cella.native.random_request_bytes)
    );
    let read = format!("sequential read {sequential}");
    let write = format!("sequential write {sequential}");
    let rows: [(&str, &str, f64, f64, f64); 3] = [
        (
            &read,
            "MB/s",
            megabytes(&disk.sequential_read),
            megabytes(&cella.wasm.sequential_read),
            megabytes(&cella.native.sequential_read),
        ),
        (
            &write,
            "MB/s",
            megabytes(&disk.sequential_write),
            megabytes(&cella.wasm.sequential_write),
            megabytes(&cella.native.sequential_write),
        ),
        (
            &random,
            "IOPS",
            rate(&disk.random_read),
            rate(&cella.wasm.random_read),
            rate(&cella.native.random_read),
        ),
    ];
    let mut lines = vec![format!(
        "{:<68} {:>12} | {:>20} | {:>20}",
        "disk (one request at a time, O_DIRECT)",
        "Linux",
        "Cella Wasm (x Linux)",
        "Cella native (x Linux)"
    )];
    for (label, unit, linux, wasm, native) in rows {
        let ratio = |value: f64| if linux > 0.0 { value / linux } else { 0.0 };
        lines.push(format!(
            "{label:<68} {:>12} | {:>13} ({:.2}) | {:>13} ({:.2})",
            format!("{linux:.1} {unit}"),
            format!("{wasm:.1} {unit}"),
            ratio(wasm),
            format!("{native:.1} {unit}"),
            ratio(native),
        ));
    }
    lines.push(format!(
        "(Linux: {} random reads in {}, the disk {}; Cella: the payload in a DMA buffer lent with each call, Wasm {:.1} MiB and native {:.1} MiB each way, {} random reads each)",
        disk.random_read.amount,
        super::comparison::format_ns(disk.random_read.nanoseconds),
        disk.iommu_domain.describe(),
        cella.wasm.sequential_read.amount as f64 / (1024.0 * 1024.0),
        cella.native.sequential_read.amount as f64 / (1024.0 * 1024.0),
        cella.wasm.random_read.amount
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "yardstick: init started\r\n\
        yardstick: iommu-domain DMA-FQ\r\n\
        yardstick: disk-seq-write 67108864 bytes in 2000000000 ns\r\n\
        yardstick: disk-seq-read 67108864 bytes in 500000000 ns\r\n\
        [    7.2] random kernel line\r\n\
        yardstick: disk-random-read 4000 reads in 1600000000 ns\r\n\
        yardstick: done\r\n";

    fn figures() -> DiskFigures {
        DiskFigures {
            sequential_read: Timed {
                amount: 67_108_864,
                nanoseconds: 500_000_000,
            },
            sequential_write: Timed {
                amount: 67_108_864,
                nanoseconds: 2_000_000_000,
            },
            random_read: Timed {
                amount: 4000,
                nanoseconds: 1_600_000_000,
            },
            iommu_domain: IommuDomain::TranslatedLazy,
        }
    }

    #[test]
    fn reads_the_disk_lines() {
        assert_eq!(parse(RUN), Ok(figures()));
    }

    #[test]
    fn a_missing_disk_line_is_named() {
        for name in [
            "disk-seq-read",
            "disk-seq-write",
            "disk-random-read",
            "iommu-domain",
        ] {
            let cut: String = RUN
                .lines()
                .filter(|line| !line.contains(name))
                .map(|line| format!("{line}\n"))
                .collect();
            assert_eq!(
                parse(&cut),
                Err(format!("no `{name}` line in the benchmark's output"))
            );
        }
    }

    #[test]
    fn malformed_disk_lines_are_errors() {
        let bad_number = RUN.replace("500000000 ns", "5x0 ns");
        assert!(parse(&bad_number).unwrap_err().contains("`5x0`"));
        let wrong_unit = RUN.replace("4000 reads", "4000 bytes");
        assert!(
            parse(&wrong_unit)
                .unwrap_err()
                .contains("expected `N reads in N ns`")
        );
        let no_word = RUN.replace("iommu-domain DMA-FQ", "iommu-domain");
        assert!(parse(&no_word).unwrap_err().contains("one word"));
        let unknown = RUN.replace("iommu-domain DMA-FQ", "iommu-domain sometimes");
        assert!(
            parse(&unknown)
                .unwrap_err()
                .contains("`sometimes` is not a kind of IOMMU domain")
        );
    }

    const CELLA_RUN: &str = "disk_bench: wasm seq-write 67108864 bytes in 4000000000 ns, requests of 65536 bytes\r\n\
        disk_bench: wasm seq-read 67108864 bytes in 1000000000 ns, requests of 65536 bytes\r\n\
        cella> disk_bench: nothing to see\r\n\
        disk_bench: wasm random-read 400 reads in 100000000 ns, requests of 4096 bytes\r\n\
        disk_bench: native seq-write 4193280 bytes in 200000000 ns, requests of 3584 bytes\r\n\
        disk_bench: native seq-read 4193280 bytes in 100000000 ns, requests of 3584 bytes\r\n\
        disk_bench: native random-read 400 reads in 50000000 ns, requests of 3584 bytes\r\n";

    fn cella() -> CellaDisk {
        let only = |build: &str| {
            let lines: String = CELLA_RUN
                .lines()
                .filter(|line| line.starts_with(&format!("disk_bench: {build} ")))
                .map(|line| format!("{line}\n"))
                .collect();
            DriverFigures::parse(&lines, build).unwrap()
        };
        CellaDisk {
            wasm: only("wasm"),
            native: only("native"),
        }
    }

    #[test]
    fn cella_s_lines_are_read_by_build_and_a_missing_one_is_named() {
        let figures = cella();
        assert_eq!(
            figures.wasm.sequential_read,
            Timed {
                amount: 67_108_864,
                nanoseconds: 1_000_000_000
            }
        );
        assert_eq!(figures.wasm.sequential_request_bytes, 65536);
        assert_eq!(figures.wasm.random_request_bytes, 4096);
        assert_eq!(figures.native.sequential_request_bytes, 3584);
        assert_eq!(figures.native.random_read.amount, 400);
        let cut: String = CELLA_RUN
            .lines()
            .filter(|line| !line.contains("native seq-read") && !line.contains("nothing"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(
            DriverFigures::parse(&cut, "native"),
            Err(String::from("no `disk_bench: native seq-read` line"))
        );
        assert!(
            DriverFigures::parse(
                "disk_bench: wasm seq-read many bytes in 1 ns, requests of 512 bytes",
                "wasm"
            )
            .unwrap_err()
            .contains("`many` is not a number")
        );
        assert!(
            DriverFigures::parse("disk_bench: wasm seq-read 1 bytes in 1 ns", "wasm")
                .unwrap_err()
                .contains("requests of N bytes")
        );
    }

    #[test]
    fn the_table_puts_each_build_beside_linux_with_its_ratio() {
        let lines = table(&figures(), &cella());
        let row = |start: &str| {
            lines
                .iter()
                .find(|line| line.starts_with(start))
                .unwrap_or_else(|| panic!("no row `{start}` in {lines:#?}"))
                .clone()
        };
        // Linux: 64 MiB in 0.5 s is 134.2 MB/s; Cella Wasm 64 MiB in 1 s is 67.1 MB/s
        // (0.50 of Linux), native 4,193,280 bytes in 0.1 s 41.9 MB/s (0.31).
        let read = row("sequential read (Linux 64 KiB, Wasm 64 KiB, native 3.5 KiB requests)");
        assert!(read.contains("134.2 MB/s"), "{read}");
        assert!(read.contains("67.1 MB/s (0.50)"), "{read}");
        assert!(read.contains("41.9 MB/s (0.31)"), "{read}");
        // 4000 reads in 1.6 s: 2500 IOPS; Cella 400 in 0.1 s (1.60) and 0.05 s (3.20).
        let random = row("random reads (Linux 4 KiB, Wasm 4 KiB, native 3.5 KiB)");
        assert!(random.contains("2500.0 IOPS"), "{random}");
        assert!(random.contains("4000.0 IOPS (1.60)"), "{random}");
        assert!(random.contains("8000.0 IOPS (3.20)"), "{random}");
        assert!(row("sequential write").contains("16.8 MB/s"));
        let last = lines.last().unwrap();
        assert!(
            last.contains(
                "DMA remapping on, lazy IOTLB invalidation; Cella: the payload in a DMA buffer lent with each call, Wasm 64.0 MiB and native 4.0 MiB each way, 400 random reads each"
            ),
            "{last}"
        );
    }

    #[test]
    fn init_reads_and_writes_the_second_half_of_the_disk_with_direct_io() {
        let commands = init_commands("/bench");
        let lines: Vec<&str> = commands.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("/bench time disk-seq-write 67108864 /bin/busybox dd"));
        assert!(lines[0].contains("of=/dev/vda bs=64k count=1024 seek=1024 oflag=direct"));
        assert!(lines[1].contains("if=/dev/vda of=/dev/null bs=64k count=1024 skip=1024"));
        assert!(lines[1].contains("iflag=direct"));
        assert_eq!(
            lines[2],
            "/bench random-read disk-random-read /dev/vda 4000 10"
        );
    }
}
