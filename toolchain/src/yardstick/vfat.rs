//! The yardstick's file-system figures: Linux mounts its disk, a copy of Cella's FAT32
//! file-system image ([`crate::fs_image`], a whole-disk volume), with Debian's `vfat` module
//! and works on it: 1,000 files of 4 KiB created and written, then read back, by the C
//! benchmark (`bench files-write`, `bench files-read`: one process, an open, a write or read
//! and a close per file), and one 16 MiB file written and read back by `busybox dd` in 64 KiB
//! requests. Each write ends with the data on the disk (`sync`, `conv=fsync`), and the page
//! cache is dropped (`echo 3 > /proc/sys/vm/drop_caches`) before each read-back. `/init`
//! prints, and this module reads back:
//!
//! ```text
//! yardstick: vfat-small-write 1000 files in 2345678 ns
//! yardstick: vfat-small-read 1000 files in 1234567 ns
//! yardstick: vfat-large-write 16777216 bytes in 3456789 ns
//! yardstick: vfat-large-read 16777216 bytes in 2345678 ns
//! ```
//!
//! The volume is unmounted before the raw disk figures ([`super::disk`]), whose writes then
//! overwrite the copy's second half.
//!
//! Cella's file server does the same work on a copy of the same image in the test kernel's
//! scenario `fs_bench`, whose lines [`parse_cella`] reads:
//!
//! ```text
//! fs_bench: fs-small-write 1000 files in 2345678 ns
//! ```

use super::comparison::format_ns;
use super::disk::Timed;
use super::report::{ERROR, PREFIX};

/// Small files written and read back.
pub const SMALL_FILES: u64 = 1000;
/// Bytes of each small file.
pub const SMALL_FILE_BYTES: u64 = 4096;
/// Bytes of the large file.
pub const LARGE_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes per `dd` request on the large file.
pub const LARGE_REQUEST_BYTES: u64 = 64 * 1024;
/// Bytes of the fs server's largest read or write (its interface's limit).
pub const FS_TRANSFER_BYTES: u64 = 3584;
/// Where the volume is mounted in the initramfs.
pub const MOUNT_POINT: &str = "/mnt";

/// The kernel modules the mount needs beside the virtio ones (paths under
/// `/lib/modules/VERSION/`): `vfat` (which needs `fat`), the code page the volume's short
/// names use (437) and the character set of the names Linux shows (UTF-8), as the mount's
/// options name them.
pub const MODULES: [&str; 3] = [
    "kernel/fs/fat/vfat.ko",
    "kernel/fs/nls/nls_cp437.ko",
    "kernel/fs/nls/nls_utf8.ko",
];

/// Linux's figures on the vfat volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfatFigures {
    /// [`SMALL_FILES`] files created and written, then `sync`.
    pub small_write: Timed,
    /// The same files read back, caches dropped.
    pub small_read: Timed,
    /// One file of [`LARGE_FILE_BYTES`] written, then `fsync`.
    pub large_write: Timed,
    /// That file read back, caches dropped.
    pub large_read: Timed,
}

/// The `/init` lines that measure the volume, after the modules are loaded, `/dev/vda` is
/// there and `/proc` is mounted. `bench` is the C benchmark's path in the initramfs.
pub fn init_commands(bench: &str) -> String {
    let directory = format!("{MOUNT_POINT}/small");
    let large = format!("{MOUNT_POINT}/large.bin");
    let count = LARGE_FILE_BYTES / LARGE_REQUEST_BYTES;
    let drop_caches = "/bin/busybox sync; echo 3 > /proc/sys/vm/drop_caches";
    format!(
        "/bin/busybox mkdir -p {MOUNT_POINT}\n\
         if /bin/busybox mount -t vfat -o codepage=437,iocharset=utf8 /dev/vda {MOUNT_POINT}; then\n\
         \x20 {bench} files-write vfat-small-write {directory} {SMALL_FILES} {SMALL_FILE_BYTES}\n\
         \x20 {drop_caches}\n\
         \x20 {bench} files-read vfat-small-read {directory} {SMALL_FILES} {SMALL_FILE_BYTES}\n\
         \x20 {bench} time vfat-large-write {LARGE_FILE_BYTES} /bin/busybox dd if=/dev/zero \
         of={large} bs=64k count={count} conv=fsync 2>/dev/null\n\
         \x20 {drop_caches}\n\
         \x20 {bench} time vfat-large-read {LARGE_FILE_BYTES} /bin/busybox dd if={large} \
         of=/dev/null bs=64k 2>/dev/null\n\
         \x20 /bin/busybox umount {MOUNT_POINT} || echo \"{ERROR} umount {MOUNT_POINT} failed\"\n\
         else\n\
         \x20 echo \"{ERROR} mount -t vfat /dev/vda failed\"\n\
         fi\n"
    )
}

/// The prefix of the `fs_bench` scenario's lines.
pub const CELLA_PREFIX: &str = "fs_bench: ";

/// Reads the vfat lines out of `serial`.
///
/// # Errors
/// A line is missing or malformed.
pub fn parse(serial: &str) -> Result<VfatFigures, String> {
    parse_figures(serial, PREFIX, "vfat")
}

/// Reads the `fs_bench` scenario's lines out of `serial`: Cella's file server's figures for
/// the same work.
///
/// # Errors
/// A line is missing or malformed.
pub fn parse_cella(serial: &str) -> Result<VfatFigures, String> {
    parse_figures(serial, CELLA_PREFIX, "fs")
}

/// Cella's file server's figures, phase by phase (small write, small read, large write,
/// large read): those of a run that stopped part of the way.
///
/// # Errors
/// A line is malformed.
pub fn parse_cella_phases(serial: &str) -> Result<[Option<Timed>; 4], String> {
    parse_phases(serial, CELLA_PREFIX, "fs").map(|(phases, _)| phases)
}

impl VfatFigures {
    /// The four figures, as [`table`] takes Cella's.
    pub fn phases(&self) -> [Option<Timed>; 4] {
        [
            Some(self.small_write),
            Some(self.small_read),
            Some(self.large_write),
            Some(self.large_read),
        ]
    }
}

/// The four figures of lines `{prefix}{stem}-PHASE AMOUNT UNIT in NS ns`.
fn parse_figures(serial: &str, prefix: &str, stem: &str) -> Result<VfatFigures, String> {
    let (figures, names) = parse_phases(serial, prefix, stem)?;
    let missing = |index: usize| format!("no `{}` line in the benchmark's output", names[index].0);
    let [small_write, small_read, large_write, large_read] = figures;
    Ok(VfatFigures {
        small_write: small_write.ok_or_else(|| missing(0))?,
        small_read: small_read.ok_or_else(|| missing(1))?,
        large_write: large_write.ok_or_else(|| missing(2))?,
        large_read: large_read.ok_or_else(|| missing(3))?,
    })
}

/// The phases found, and the phases' names and units.
type Phases = ([Option<Timed>; 4], [(String, &'static str); 4]);

/// The figures of the lines found, phase by phase.
fn parse_phases(serial: &str, prefix: &str, stem: &str) -> Result<Phases, String> {
    let mut figures: [Option<Timed>; 4] = [None; 4];
    let names = [
        (format!("{stem}-small-write"), "files"),
        (format!("{stem}-small-read"), "files"),
        (format!("{stem}-large-write"), "bytes"),
        (format!("{stem}-large-read"), "bytes"),
    ];
    for line in serial
        .lines()
        .map(|line| line.trim_end_matches('\r').trim())
    {
        // After the shell's prompt, where a system with a shell prints it.
        let Some(rest) = line.find(prefix).map(|at| &line[at + prefix.len()..]) else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let Some(index) = names
            .iter()
            .position(|(name, _)| words.first() == Some(&name.as_str()))
        else {
            continue;
        };
        figures[index] = Some(Timed::read(line, &words, names[index].1)?);
    }
    Ok((figures, names))
}

/// The section's lines (without its heading): Linux's figures, and Cella's file server's
/// for the same work beside them, phase by phase as [`VfatFigures::phases`] orders them
/// (`not measured` for a phase without a figure).
pub fn table(linux: &VfatFigures, cella: &[Option<Timed>; 4]) -> Vec<String> {
    let files = |timed: &Timed| {
        format!(
            "{} ({:.0} files/s)",
            format_ns(timed.nanoseconds),
            timed.per_second()
        )
    };
    let megabytes = |timed: &Timed| {
        format!(
            "{} ({:.1} MB/s)",
            format_ns(timed.nanoseconds),
            timed.per_second() / 1e6
        )
    };
    let small = format!("{SMALL_FILES} files of {} KiB", SMALL_FILE_BYTES / 1024);
    let large = format!("one file of {} MiB", LARGE_FILE_BYTES >> 20);
    type Row<'a> = (
        String,
        fn(&VfatFigures) -> Timed,
        &'a dyn Fn(&Timed) -> String,
    );
    let rows: [Row; 4] = [
        (
            format!("create and write {small}, then sync"),
            |figures| figures.small_write,
            &files,
        ),
        (
            format!("read back {small}, caches dropped"),
            |figures| figures.small_read,
            &files,
        ),
        (
            format!("write {large} (64 KiB writes), then fsync"),
            |figures| figures.large_write,
            &megabytes,
        ),
        (
            format!("read back {large} (64 KiB reads), caches dropped"),
            |figures| figures.large_read,
            &megabytes,
        ),
    ];
    let mut lines = vec![format!(
        "{:<60} {:>24} | {:>32}",
        "", "Linux vfat", "Cella fs server, time x Linux's"
    )];
    for ((label, figure, render), phase) in rows.into_iter().zip(cella) {
        let theirs = figure(linux);
        let ours = match phase {
            Some(ours) => {
                let ratio = if theirs.nanoseconds > 0 {
                    ours.nanoseconds as f64 / theirs.nanoseconds as f64
                } else {
                    0.0
                };
                format!("{} x{ratio:.2}", render(ours))
            }
            None => String::from("not measured"),
        };
        lines.push(format!("{label:<60} {:>24} | {ours:>32}", render(&theirs)));
    }
    match cella.iter().any(Option::is_some) {
        true => lines.push(format!(
            "(Cella: the fs module on a copy of the same image, called through the module \
             system; {} KiB reads and writes, each write on the disk when answered)",
            fs_transfer_kib()
        )),
        false => lines.push(String::from(
            "(Cella's column: the fs server doing the same work on the same image; this \
             run measured none of it)",
        )),
    }
    lines
}

/// [`FS_TRANSFER_BYTES`] in KiB, as the table's note prints it.
fn fs_transfer_kib() -> f64 {
    FS_TRANSFER_BYTES as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "yardstick: iommu-domain DMA-FQ\r\n\
        yardstick: vfat-small-write 1000 files in 2000000000 ns\r\n\
        [    7.2] FAT-fs (vda): a kernel line\r\n\
        yardstick: vfat-small-read 1000 files in 500000000 ns\r\n\
        yardstick: vfat-large-write 16777216 bytes in 1000000000 ns\r\n\
        yardstick: vfat-large-read 16777216 bytes in 250000000 ns\r\n\
        yardstick: disk-seq-write 67108864 bytes in 2000000000 ns\r\n\
        yardstick: done\r\n";

    fn figures() -> VfatFigures {
        let timed = |amount, nanoseconds| Timed {
            amount,
            nanoseconds,
        };
        VfatFigures {
            small_write: timed(1000, 2_000_000_000),
            small_read: timed(1000, 500_000_000),
            large_write: timed(16_777_216, 1_000_000_000),
            large_read: timed(16_777_216, 250_000_000),
        }
    }

    #[test]
    fn reads_the_four_figures() {
        assert_eq!(parse(RUN), Ok(figures()));
    }

    #[test]
    fn a_missing_or_malformed_line_is_named() {
        for name in [
            "vfat-small-write",
            "vfat-small-read",
            "vfat-large-write",
            "vfat-large-read",
        ] {
            let cut: String = RUN
                .lines()
                .filter(|line| !line.contains(name))
                .collect::<Vec<_>>()
                .join("\n");
            assert_eq!(
                parse(&cut),
                Err(format!("no `{name}` line in the benchmark's output"))
            );
        }
        let bad = RUN.replace("1000 files in 500000000", "1000 files in 5x");
        assert!(parse(&bad).unwrap_err().contains("`5x` is not a number"));
        let unit = RUN.replace(
            "16777216 bytes in 1000000000",
            "16777216 files in 1000000000",
        );
        assert!(
            parse(&unit)
                .unwrap_err()
                .contains("expected `N bytes in N ns`")
        );
    }

    #[test]
    fn the_table_shows_linux_and_marks_cellas_column() {
        let lines = table(&figures(), &[None; 4]);
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(lines[0].contains("Linux vfat") && lines[0].contains("Cella fs server"));
        assert!(lines[1].starts_with("create and write 1000 files of 4 KiB, then sync"));
        assert!(lines[1].contains("2.00 s (500 files/s)"), "{}", lines[1]);
        assert!(
            lines[2].contains("500.00 ms (2000 files/s)"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("1.00 s (16.8 MB/s)"), "{}", lines[3]);
        assert!(lines[4].contains("250.00 ms (67.1 MB/s)"), "{}", lines[4]);
        assert!(
            lines[1..5]
                .iter()
                .all(|line| line.ends_with("not measured"))
        );
        assert!(lines[5].contains("fs server"), "{}", lines[5]);
        let mut cella = figures();
        cella.small_write.nanoseconds = 3_000_000_000;
        cella.large_read.nanoseconds = 1_000_000_000;
        let lines = table(&figures(), &cella.phases());
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(
            lines[1].ends_with(" 3.00 s (333 files/s) x1.50"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with(" 500.00 ms (2000 files/s) x1.00"),
            "{}",
            lines[2]
        );
        assert!(
            lines[4].ends_with(" 1.00 s (16.8 MB/s) x4.00"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].contains("fs module") && lines[5].contains("3.5 KiB"),
            "{}",
            lines[5]
        );
        // A run that stopped after the small files.
        let mut phases = cella.phases();
        phases[2] = None;
        phases[3] = None;
        let lines = table(&figures(), &phases);
        assert!(lines[2].ends_with(" x1.00"), "{}", lines[2]);
        assert!(lines[3].ends_with(" not measured"), "{}", lines[3]);
        assert!(lines[4].ends_with(" not measured"), "{}", lines[4]);
        assert!(lines[5].contains("fs module"), "{}", lines[5]);
    }

    #[test]
    fn reads_cellas_four_figures_after_a_prompt() {
        let serial = "cella> fs_bench: fs-small-write 1000 files in 2000000000 ns\r\n\
            fs_bench: fs-small-read 1000 files in 500000000 ns\r\n\
            INFO  fs: volume mounted\r\n\
            fs_bench: cost of fs-small-read to fs: 30098722 fuel, 160 events, 320 host calls\r\n\
            fs_bench: fs-large-write 16777216 bytes in 1000000000 ns\r\n\
            fs_bench: fs-large-read 16777216 bytes in 250000000 ns\r\n\
            scenario fs_bench: passed\r\n";
        assert_eq!(parse_cella(serial), Ok(figures()));
        assert_eq!(parse_cella_phases(serial), Ok(figures().phases()));
        let stopped: String = serial
            .lines()
            .filter(|line| !line.contains("large"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut phases = figures().phases();
        phases[2] = None;
        phases[3] = None;
        assert_eq!(parse_cella_phases(&stopped), Ok(phases));
        // Linux's lines are not Cella's, nor the other way round.
        assert_eq!(
            parse_cella(RUN),
            Err(String::from(
                "no `fs-small-write` line in the benchmark's output"
            ))
        );
        assert!(parse(serial).is_err());
        let bad = serial.replace("1000 files in 500000000", "1000 files in 5x");
        assert!(
            parse_cella(&bad)
                .unwrap_err()
                .contains("`5x` is not a number")
        );
    }

    #[test]
    fn init_mounts_measures_in_order_and_unmounts() {
        let script = init_commands("/bench");
        let at = |needle: &str| {
            script
                .find(needle)
                .unwrap_or_else(|| panic!("no `{needle}` in:\n{script}"))
        };
        let order = [
            "mount -t vfat -o codepage=437,iocharset=utf8 /dev/vda /mnt",
            "/bench files-write vfat-small-write /mnt/small 1000 4096",
            "echo 3 > /proc/sys/vm/drop_caches",
            "/bench files-read vfat-small-read /mnt/small 1000 4096",
            "/bench time vfat-large-write 16777216 /bin/busybox dd if=/dev/zero of=/mnt/large.bin bs=64k count=256 conv=fsync",
            "/bench time vfat-large-read 16777216 /bin/busybox dd if=/mnt/large.bin",
            "umount /mnt",
            "yardstick: error: mount -t vfat /dev/vda failed",
        ];
        for pair in order.windows(2) {
            assert!(
                at(pair[0]) < at(pair[1]),
                "`{}` before `{}`",
                pair[0],
                pair[1]
            );
        }
        // Caches are dropped before each read-back.
        let large_read = at("vfat-large-read");
        assert!(script[at("vfat-large-write")..large_read].contains("drop_caches"));
    }
}
