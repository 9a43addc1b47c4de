//! Every refusal of the fs server: bad paths, bad arguments, missing and
//! existing things, the wrong kind, a full disk, a disk without FAT, and a
//! disk that fails; each answers its error and changes nothing.

mod common;

use cella_fs::disk::Sectors;
use cella_sdk::interfaces::fs::{FsError, Handle, Kind, MAX_TRANSFER_BYTES, Mode, Server};
use common::*;

#[test]
fn bad_paths_are_refused_by_every_operation() {
    let disk = ImageDisk::open(&fresh_image("bad-paths"));
    let mut server = server(&disk);
    let long_name = format!("/{}", "n".repeat(256));
    for (path, error) in [
        ("relative.txt", FsError::BadPath),
        ("", FsError::BadPath),
        ("/a//b", FsError::BadPath),
        ("/a/", FsError::BadPath),
        ("/.", FsError::BadPath),
        ("/dir/..", FsError::BadPath),
        ("/nul\0byte", FsError::BadPath),
        ("/what?", FsError::BadPath),
        (long_name.as_str(), FsError::TooLong),
    ] {
        assert_eq!(
            server.open(path, Mode::Create).map(|_| ()),
            Err(error),
            "{path:?}"
        );
        assert_eq!(
            server.create(path, Kind::File).map(|_| ()),
            Err(error),
            "{path:?}"
        );
        assert_eq!(server.remove(path).map(|_| ()), Err(error), "{path:?}");
        assert_eq!(server.stat(path).map(|_| ()), Err(error), "{path:?}");
        assert_eq!(server.list(path, 0).map(|_| ()), Err(error), "{path:?}");
    }
    assert!(
        list(&mut server, "/").unwrap().is_empty(),
        "nothing was made"
    );
}

#[test]
fn missing_existing_and_wrong_kinds_answer_their_errors() {
    let disk = ImageDisk::open(&fresh_image("kinds"));
    let mut server = server(&disk);
    server.create("/dir", Kind::Directory).unwrap();
    put(&mut server, "/dir/file", b"data");
    assert_eq!(
        server.open("/missing", Mode::Read).map(|_| ()),
        Err(FsError::NotFound)
    );
    assert_eq!(
        server.open("/missing", Mode::ReadWrite).map(|_| ()),
        Err(FsError::NotFound)
    );
    assert_eq!(
        server.open("/no/such/dir", Mode::Create).map(|_| ()),
        Err(FsError::NotFound)
    );
    assert_eq!(server.stat("/missing").map(|_| ()), Err(FsError::NotFound));
    assert_eq!(
        server.remove("/missing").map(|_| ()),
        Err(FsError::NotFound)
    );
    assert_eq!(
        server.create("/dir", Kind::File).map(|_| ()),
        Err(FsError::Exists)
    );
    assert_eq!(
        server.create("/DIR/FILE", Kind::Directory).map(|_| ()),
        Err(FsError::Exists)
    );
    assert_eq!(
        server.create("/", Kind::Directory).map(|_| ()),
        Err(FsError::Exists)
    );
    assert_eq!(
        server.open("/dir", Mode::Read).map(|_| ()),
        Err(FsError::IsDirectory)
    );
    assert_eq!(
        server.open("/", Mode::Read).map(|_| ()),
        Err(FsError::IsDirectory)
    );
    assert_eq!(
        server.list("/dir/file", 0).map(|_| ()),
        Err(FsError::NotDirectory)
    );
    assert_eq!(
        server.open("/dir/file/x", Mode::Create).map(|_| ()),
        Err(FsError::NotDirectory)
    );
    assert_eq!(server.remove("/dir").map(|_| ()), Err(FsError::NotEmpty));
    assert_eq!(server.remove("/").map(|_| ()), Err(FsError::BadPath));
    assert_eq!(
        get(&mut server, "/dir/file").unwrap(),
        b"data",
        "nothing was lost"
    );
    server.remove("/dir/file").unwrap();
    server.remove("/dir").unwrap();
    let (clean, report) = disk.fsck("kinds-fsck");
    assert!(clean, "{report}");
}

#[test]
fn bad_arguments_and_read_only_handles_are_refused() {
    let disk = ImageDisk::open(&fresh_image("arguments"));
    let mut server = server(&disk);
    put(&mut server, "/file", b"0123456789");
    let handle = open(&mut server, "/file", Mode::ReadWrite);
    assert_eq!(
        server.write(handle, 0, &[]).map(|_| ()),
        Err(FsError::BadArgument)
    );
    assert_eq!(
        server.write(handle, 11, b"x").map(|_| ()),
        Err(FsError::BadArgument),
        "past the end"
    );
    let too_much = vec![0u8; MAX_TRANSFER_BYTES + 1];
    assert_eq!(
        server.write(handle, 0, &too_much).map(|_| ()),
        Err(FsError::TooLong)
    );
    assert_eq!(
        server.read(handle, 0, 0).map(|_| ()),
        Err(FsError::BadArgument)
    );
    assert_eq!(
        server
            .read(handle, 0, MAX_TRANSFER_BYTES as u32 + 1)
            .map(|_| ()),
        Err(FsError::TooLong)
    );
    assert_eq!(
        server.truncate(handle, 11).map(|_| ()),
        Err(FsError::BadArgument)
    );
    server.close(handle).unwrap();
    let reader = open(&mut server, "/file", Mode::Read);
    assert_eq!(
        server.write(reader, 0, b"x").map(|_| ()),
        Err(FsError::ReadOnly)
    );
    assert_eq!(
        server.truncate(reader, 0).map(|_| ()),
        Err(FsError::ReadOnly)
    );
    server.close(reader).unwrap();
    let forged = Handle {
        slot: 99,
        generation: 1,
    };
    assert_eq!(server.read(forged, 0, 1).map(|_| ()), Err(FsError::Stale));
    assert_eq!(server.close(forged).map(|_| ()), Err(FsError::Stale));
    assert_eq!(get(&mut server, "/file").unwrap(), b"0123456789");
}

#[test]
fn the_thirty_third_open_file_is_refused_and_closing_one_makes_room() {
    let disk = ImageDisk::open(&fresh_image("too-many"));
    let mut server = server(&disk);
    let handles: Vec<Handle> = (0..32)
        .map(|index| open(&mut server, &format!("/file-{index}"), Mode::Create))
        .collect();
    assert_eq!(
        server.open("/one-more", Mode::Create).map(|_| ()),
        Err(FsError::TooManyOpen)
    );
    assert_eq!(
        server.stat("/one-more").map(|_| ()),
        Err(FsError::NotFound),
        "not created"
    );
    server.close(handles[5]).unwrap();
    let again = open(&mut server, "/one-more", Mode::Create);
    assert_eq!(again.slot, handles[5].slot);
    assert_ne!(again.generation, handles[5].generation);
    assert_eq!(
        server.read(handles[5], 0, 1).map(|_| ()),
        Err(FsError::Stale)
    );
}

#[test]
fn a_full_disk_answers_no_space_and_keeps_the_file_as_it_was() {
    // A small FAT32 volume (512-byte clusters, the fewest FAT32 allows).
    let image = make_image("full", &["-F", "32", "-s", "1", "-R", "96"], 34 * 1024);
    let disk = ImageDisk::open(&image);
    let mut server = server(&disk);
    let handle = open(&mut server, "/big", Mode::Create);
    let chunk = pattern(9, MAX_TRANSFER_BYTES);
    let mut offset = 0u64;
    let error = loop {
        match server.write(handle, offset, &chunk) {
            Ok(written) => offset = written.size,
            Err(error) => break error,
        }
    };
    assert_eq!(error, FsError::NoSpace);
    let status = server.stat("/big").unwrap();
    assert_eq!(
        status.size, offset,
        "the refused write left the file as it was"
    );
    let data = server.read(handle, offset - 100, 100).unwrap();
    assert_eq!(data.bytes, &chunk[chunk.len() - 100..]);
    // The clusters left, one at a time.
    let error = loop {
        match server.write(handle, offset, &chunk[..512]) {
            Ok(written) => offset = written.size,
            Err(error) => break error,
        }
    };
    assert_eq!(error, FsError::NoSpace);
    assert_eq!(server.space().unwrap().free, 0);
    assert_eq!(
        server.create("/another", Kind::Directory).map(|_| ()),
        Err(FsError::NoSpace)
    );
    server.truncate(handle, 0).unwrap();
    server.close(handle).unwrap();
    server.create("/another", Kind::Directory).unwrap();
    let (clean, report) = disk.fsck("full-fsck");
    assert!(clean, "{report}");
}

#[test]
fn a_disk_without_fat_answers_no_file_system_and_is_mounted_once_formatted() {
    let path = scratch("blank");
    let blank = std::fs::File::create(&path).unwrap();
    blank.set_len(IMAGE_KIB * 1024).unwrap();
    let disk = ImageDisk::open(&path);
    let mut server = server(&disk);
    for _ in 0..3 {
        assert_eq!(server.space().map(|_| ()), Err(FsError::NoFileSystem));
        assert_eq!(
            server.open("/x", Mode::Create).map(|_| ()),
            Err(FsError::NoFileSystem)
        );
        assert!(!server.is_mounted());
    }
    assert_eq!(disk.sector_writes(), 0, "a blank disk is never written");
    // The disk formatted under the running server: the next request mounts it.
    let formatted = std::fs::read(fresh_image("blank-formatted")).unwrap();
    let mut writer = disk.clone();
    let metadata_sectors = 96 + 2 * 1024 + 8;
    for sector in 0..metadata_sectors {
        let at = sector as usize * 512;
        writer.write(sector, &formatted[at..at + 512]).unwrap();
    }
    assert!(server.space().is_ok());
    put(&mut server, "/after", b"formatted");
    assert_eq!(get(&mut server, "/after").unwrap(), b"formatted");
}

#[test]
fn a_failing_disk_answers_device_error_and_the_volume_stays_consistent() {
    let disk = ImageDisk::open(&fresh_image("failing"));
    let mut server = server(&disk);
    put(&mut server, "/kept", b"kept");
    disk.stop_after(0);
    assert_eq!(
        server.create("/lost", Kind::File).map(|_| ()),
        Err(FsError::DeviceError)
    );
    assert!(!server.is_mounted(), "a failed transaction unmounts");
    let survivor = disk.copy();
    let mut next = common::server(&survivor);
    assert_eq!(get(&mut next, "/kept").unwrap(), b"kept");
    assert_eq!(next.stat("/lost").map(|_| ()), Err(FsError::NotFound));
    let (clean, report) = survivor.fsck("failing-fsck");
    assert!(clean, "{report}");
}

#[test]
fn a_directory_whose_cluster_chain_loops_answers_corrupt_and_never_hangs() {
    let image = fresh_image("looping");
    let disk = ImageDisk::open(&image);
    let mut server = server(&disk);
    // 40 entries fill the root's first cluster (32 entries of 1 KiB) and take a second.
    for index in 0..40 {
        server.create(&format!("/f{index:02}"), Kind::File).unwrap();
    }
    drop(server);
    // The root's second cluster's FAT entry, in both FATs, pointed back at the first.
    let boot = disk.sector(0);
    let reserved = u64::from(u16::from_le_bytes([boot[14], boot[15]]));
    let fat_sectors = u64::from(u32::from_le_bytes([boot[36], boot[37], boot[38], boot[39]]));
    let root = u64::from(u32::from_le_bytes([boot[44], boot[45], boot[46], boot[47]]));
    let entry = |cluster: u64| (reserved + cluster * 4 / 512, (cluster * 4 % 512) as usize);
    let (sector, offset) = entry(root);
    let fat = disk.sector(sector);
    let second = u64::from(u32::from_le_bytes(
        fat[offset..offset + 4].try_into().unwrap(),
    ));
    assert!(
        (2..0x0fff_fff8).contains(&second),
        "the root has a second cluster"
    );
    let (sector, offset) = entry(second);
    for copy in 0..2 {
        let at = sector + copy * fat_sectors;
        let mut bytes = disk.sector(at);
        bytes[offset..offset + 4].copy_from_slice(&(root as u32).to_le_bytes());
        let mut writer = disk.clone();
        writer.write(at, &bytes).unwrap();
    }
    let mut server = common::server(&disk);
    assert_eq!(server.stat("/missing").map(|_| ()), Err(FsError::Corrupt));
    assert_eq!(
        server.create("/new", Kind::File).map(|_| ()),
        Err(FsError::Corrupt)
    );
    assert_eq!(
        server.open("/missing", Mode::Create).map(|_| ()),
        Err(FsError::Corrupt)
    );
    let mut start = 0;
    let listed = loop {
        match server.list("/", start) {
            Ok(listing) if listing.next == 0 => break Ok(()),
            Ok(listing) => start = listing.next,
            Err(error) => break Err(error),
        }
    };
    assert_eq!(listed, Err(FsError::Corrupt));
    // What the loop does not hide still reads.
    assert_eq!(server.stat("/f00").unwrap().kind, Kind::File);
}
