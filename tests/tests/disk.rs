//! Every boot has an Intel IOMMU and a virtio-blk disk of its own (see `docs/storage.md`):
//! QEMU accepts both on the standard command line and the system boots to its prompt with
//! them, the disk QEMU opened is the test's own copy, and the test reads that copy back
//! after QEMU exited. The kernel has no disk driver yet, so these tests judge what QEMU
//! reports (its monitor) and the image's bytes, not what the guest read.

use cella::disk_image::{Header, SECTOR_SIZE};
use cella_qemu_tests::{Disk, Session};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// Boots the default test system with `disk` and waits for the shell's prompt.
fn at_prompt_with(label: &str, disk: &Disk) -> Session {
    let session = Session::start_with_disk(label, "", None, &[], disk);
    session.wait_for_boot(WAIT);
    session.wait_for("cella> ", WAIT);
    session
}

/// Checks, through the QEMU monitor, that the machine has the IOMMU and the virtio-blk
/// disk backed by `disk`'s file.
fn expect_devices(session: &Session, disk: &Disk) {
    let blocks = session.monitor("info block");
    let path = disk.path().display().to_string();
    if !blocks
        .lines()
        .any(|line| line.starts_with("disk0") && line.contains(&path))
    {
        session.fail(format!(
            "QEMU's `info block` has no disk0 on {path}:\n{blocks}"
        ));
    }
    let devices = session.monitor("info qtree");
    for device in ["dev: intel-iommu", "dev: virtio-blk-pci"] {
        if !devices.contains(device) {
            session.fail(format!("QEMU's `info qtree` has no `{device}`"));
        }
    }
    // The modern-only virtio-blk function (device id 0x1042) is on the PCI bus.
    let pci = session.monitor("info pci");
    if !pci.contains("1af4:1042") {
        session.fail(format!("QEMU's `info pci` has no 1af4:1042:\n{pci}"));
    }
}

#[test]
fn a_boot_with_its_own_disk_reaches_the_prompt_and_the_disk_is_read_back() {
    let disk = Disk::copy_for("disk");
    // A sector the test prepared, past the header.
    let mut marker = [0u8; SECTOR_SIZE];
    let text = b"written before the boot";
    marker[..text.len()].copy_from_slice(text);
    disk.write_block(9, &marker);
    let session = at_prompt_with("disk", &disk);
    expect_devices(&session, &disk);
    drop(session);
    let header = Header::read(&disk.read_block(0)).unwrap_or_else(|error| panic!("{error}"));
    let size = std::fs::metadata(disk.path()).map(|m| m.len()).unwrap_or(0);
    assert_eq!(header.size, size, "the header's size is the image's");
    assert_eq!(header.sectors * SECTOR_SIZE as u64, size);
    assert_eq!(disk.read_block(9), marker);
    // Sector 5 holds its own offsets.
    let offsets = disk.read_block(5);
    assert_eq!(offsets[..8], 2560u64.to_le_bytes());
}

#[test]
fn boots_at_the_same_time_each_open_a_disk_of_their_own() {
    let disks: Vec<Disk> = (0..3)
        .map(|index| Disk::copy_for(&format!("parallel-{index}")))
        .collect();
    let sessions: Vec<Session> = disks
        .iter()
        .enumerate()
        .map(|(index, disk)| {
            Session::start_with_disk(&format!("parallel-{index}"), "", None, &[], disk)
        })
        .collect();
    for (session, disk) in sessions.iter().zip(&disks) {
        session.wait_for_boot(WAIT);
        expect_devices(session, disk);
    }
    drop(sessions);
    let paths: Vec<_> = disks.iter().map(|disk| disk.path().to_owned()).collect();
    assert_eq!(
        paths
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "three boots, three images"
    );
    drop(disks);
    for path in &paths {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
}

#[test]
fn disks_made_and_dropped_many_times_leave_nothing_behind() {
    for round in 0..30 {
        let disk = Disk::copy_for("churn");
        let header = Header::read(&disk.read_block(0)).unwrap_or_else(|error| panic!("{error}"));
        assert!(header.size > 0, "round {round}");
        let directory = disk.path().parent().map(ToOwned::to_owned);
        drop(disk);
        let directory = directory.unwrap_or_default();
        assert!(
            !directory.exists(),
            "round {round}: {} was left behind",
            directory.display()
        );
    }
}
