//! The environment variables through which `cella test` tells the QEMU test harness
//! (`tests/`, package `cella-qemu-tests`) what to boot. Each is optional for the harness:
//! without them it builds and finds what it needs itself.

/// Path of the kernel ELF to boot: the test kernel (`cella-test-kernel`).
pub const KERNEL: &str = "CELLA_KERNEL";
/// Path of the production kernel ELF (`cella-kernel`), which the harness checks holds no
/// test scenario.
pub const PRODUCTION_KERNEL: &str = "CELLA_PRODUCTION_KERNEL";
/// Path of the QEMU binary (also honoured by `cella` itself instead of searching `PATH`).
pub const QEMU: &str = "CELLA_QEMU";
/// Path of the default boot archive (the test system's, `<target>/cella/test-boot.tar`).
pub const BOOT_ARCHIVE: &str = "CELLA_BOOT_ARCHIVE";
/// Path of the disk image (`<target>/cella/disk.img`) of which each QEMU boot gets a copy
/// of its own.
pub const DISK: &str = "CELLA_DISK";
/// Path of the FAT32 file-system image (`<target>/cella/fs.img`, see `crate::fs_image`) of
/// which a QEMU test that asks for it gets a copy of its own.
pub const FS_IMAGE: &str = "CELLA_FS_IMAGE";
/// Accelerator, `tcg` (default) or `kvm`.
pub const ACCEL: &str = "CELLA_ACCEL";
/// Per-scenario timeout in seconds (default 60).
pub const TIMEOUT_SECONDS: &str = "CELLA_TEST_TIMEOUT";
/// Path of the `cella` tool itself, which the QEMU tests of `cargo cella ps` and its kin run
/// (default: `cella` beside the test binary's `deps` directory, where `cargo cella` builds it).
pub const TOOL: &str = "CELLA_TOOL";
/// File the harness appends one `scenario<TAB>seconds<TAB>outcome` line to per QEMU boot.
pub const TIMINGS_FILE: &str = "CELLA_TIMINGS_FILE";
