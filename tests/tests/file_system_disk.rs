//! The FAT32 file-system image (`target/cella/fs.img`, docs/storage.md) as a boot's disk, as
//! `cargo cella run` boots with it: the test system boots with a copy of its own to the line
//! that says every module is up, the virtio-blk driver reports the volume's size and reads
//! its boot sector with the checksum the host computes, and after QEMU is gone the volume
//! still passes `fsck.vfat -n` and holds what the tool and the test put on it.

use cella::fs_image::{README_PATH, SIZE};
use cella_qemu_tests::{Disk, Session, fnv1a};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const LABEL: &str = "file-system-disk";

#[test]
fn the_system_boots_with_the_file_system_image_and_the_block_driver_reads_its_boot_sector() {
    let disk = Disk::file_system_for(LABEL);
    let readme = disk
        .read_file(README_PATH)
        .unwrap_or_else(|error| panic!("the image has no {README_PATH}: {error}"));
    let note = b"written by the test before the boot\n";
    disk.write_file("NOTE.TXT", note);
    let boot_sector = disk.read_block(0);
    assert_eq!(&boot_sector[82..90], b"FAT32   ", "a FAT32 boot sector");

    let mut session = Session::start_with_disk(LABEL, "", None, &[], &disk);
    let boot = session.wait_for_boot(WAIT);
    if !boot.not_up.is_empty() || boot.up != boot.of {
        session.fail(format!(
            "with the file-system disk, {} of {} modules are up (not up: {})",
            boot.up,
            boot.of,
            boot.not_up.join(", ")
        ));
    }
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    session.expect_answer(
        "call block capacity",
        &format!("reply from block: {} sectors of 512 bytes", SIZE / 512),
    );
    session.expect_answer(
        "call block read 1 0 1",
        &format!("request 1: 512 bytes, FNV-1a {:#010x}", fnv1a(&boot_sector)),
    );
    drop(session);

    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the boot:\n{}",
        verdict.report
    );
    assert_eq!(disk.read_file(README_PATH).as_deref(), Ok(&readme[..]));
    assert_eq!(disk.read_file("NOTE.TXT").as_deref(), Ok(&note[..]));
}
