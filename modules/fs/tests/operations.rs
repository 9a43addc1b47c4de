//! The fs server's operations on a volume made by mkfs.fat: files and
//! directories made, written, read back, listed, stat'ed and removed; the
//! space; long names; what mtools and fsck.vfat see afterwards.

mod common;

use cella_sdk::interfaces::fs::{Kind, Mode, Server};
use common::*;

#[test]
fn a_file_is_created_written_read_back_listed_and_removed() {
    let disk = ImageDisk::open(&fresh_image("basic"));
    let mut server = server(&disk);
    let space_before = server.space().unwrap();
    assert_eq!(space_before.cluster, 1024);
    assert!(space_before.total > 120 * 1024 * 1024, "{space_before}");
    let text = b"hello, Cella".repeat(1000);
    put(&mut server, "/hello.txt", &text);
    assert_eq!(get(&mut server, "/hello.txt").unwrap(), text);
    let status = server.stat("/hello.txt").unwrap();
    assert_eq!((status.kind, status.size), (Kind::File, text.len() as u64));
    assert_eq!(
        list(&mut server, "/").unwrap(),
        [("hello.txt".to_string(), Kind::File, text.len() as u64)]
    );
    let space_after = server.space().unwrap();
    assert_eq!(
        space_before.free - space_after.free,
        (text.len() as u64).div_ceil(1024) * 1024
    );
    server.remove("/hello.txt").unwrap();
    assert!(list(&mut server, "/").unwrap().is_empty());
    assert_eq!(server.space().unwrap().free, space_before.free);
    server.sync().unwrap();
    let (clean, report) = disk.fsck("basic-fsck");
    assert!(clean, "{report}");
}

#[test]
fn long_names_and_directories_are_kept_and_mtools_reads_them() {
    let disk = ImageDisk::open(&fresh_image("names"));
    let mut server = server(&disk);
    server.create("/modules", Kind::Directory).unwrap();
    server.create("/modules/drivers", Kind::Directory).unwrap();
    let module = pattern(1, 20_000);
    put(&mut server, "/modules/uart16550-v2.wasm", &module);
    put(
        &mut server,
        "/modules/drivers/A Name With Spaces.wasm",
        b"x",
    );
    assert_eq!(
        get(&mut server, "/modules/uart16550-v2.wasm").unwrap(),
        module
    );
    assert_eq!(
        get(&mut server, "/MODULES/UART16550-V2.WASM").unwrap(),
        module,
        "FAT names do not tell case apart"
    );
    let mut entries = list(&mut server, "/modules").unwrap();
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    assert_eq!(
        entries,
        [
            ("drivers".to_string(), Kind::Directory, 0),
            ("uart16550-v2.wasm".to_string(), Kind::File, 20_000),
        ]
    );
    assert_eq!(server.stat("/modules").unwrap().kind, Kind::Directory);
    server.sync().unwrap();
    let image = scratch("names-saved");
    disk.save(&image);
    let image_name = image.to_str().unwrap();
    let listing = run("mdir", &["-i", image_name, "::/modules"]);
    assert!(listing.contains("uart16550-v2.wasm"), "{listing}");
    let copy = scratch("names-copy");
    run(
        "mcopy",
        &[
            "-n",
            "-i",
            image_name,
            "::/modules/uart16550-v2.wasm",
            copy.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&copy).unwrap(), module);
    let (clean, report) = common::fsck(&image);
    assert!(clean, "{report}");
}

#[test]
fn files_mtools_wrote_are_read() {
    let image = fresh_image("from-mtools");
    let source = scratch("from-mtools-source");
    let bytes = pattern(2, 5000);
    std::fs::write(&source, &bytes).unwrap();
    let image_name = image.to_str().unwrap();
    run("mmd", &["-i", image_name, "::/boot"]);
    run(
        "mcopy",
        &[
            "-i",
            image_name,
            source.to_str().unwrap(),
            "::/boot/a-long-file-name.bin",
        ],
    );
    let disk = ImageDisk::open(&image);
    let mut server = server(&disk);
    assert_eq!(
        get(&mut server, "/boot/a-long-file-name.bin").unwrap(),
        bytes
    );
}

#[test]
fn writes_overwrite_append_and_truncate() {
    let disk = ImageDisk::open(&fresh_image("overwrite"));
    let mut server = server(&disk);
    let handle = open(&mut server, "/data.bin", Mode::Create);
    let mut expected = pattern(3, 10_000);
    write_all(&mut server, handle, 0, &expected);
    let patch = pattern(4, 3000);
    write_all(&mut server, handle, 2500, &patch);
    expected[2500..5500].copy_from_slice(&patch);
    let tail = pattern(5, 2000);
    write_all(&mut server, handle, 10_000, &tail);
    expected.extend_from_slice(&tail);
    assert_eq!(read_all(&mut server, handle).unwrap(), expected);
    let part = server.read(handle, 9_999, 3).unwrap();
    assert_eq!(part.bytes, &expected[9_999..10_002]);
    assert!(server.read(handle, 12_000, 10).unwrap().bytes.is_empty());
    server.truncate(handle, 4096).unwrap();
    expected.truncate(4096);
    assert_eq!(read_all(&mut server, handle).unwrap(), expected);
    server.truncate(handle, 0).unwrap();
    assert!(read_all(&mut server, handle).unwrap().is_empty());
    server.close(handle).unwrap();
    let again = server.open("/data.bin", Mode::Read).unwrap();
    assert_eq!(again.size, 0);
    server.close(again.handle).unwrap();
    put(&mut server, "/data.bin", b"short");
    let reopened = server.open("/data.bin", Mode::Truncate).unwrap();
    assert_eq!(reopened.size, 0, "Truncate empties the file");
    server.close(reopened.handle).unwrap();
    let (clean, report) = disk.fsck("overwrite-fsck");
    assert!(clean, "{report}");
}

#[test]
fn two_handles_of_one_file_see_each_others_writes() {
    let disk = ImageDisk::open(&fresh_image("shared"));
    let mut server = server(&disk);
    let writer = open(&mut server, "/shared.txt", Mode::Create);
    let reader = open(&mut server, "/SHARED.TXT", Mode::Read);
    write_all(&mut server, writer, 0, b"first");
    assert_eq!(read_all(&mut server, reader).unwrap(), b"first");
    write_all(&mut server, writer, 5, b" second");
    assert_eq!(read_all(&mut server, reader).unwrap(), b"first second");
    server.close(writer).unwrap();
    assert_eq!(read_all(&mut server, reader).unwrap(), b"first second");
    server.close(reader).unwrap();
}

#[test]
fn a_directory_listing_comes_in_parts() {
    let disk = ImageDisk::open(&fresh_image("listing"));
    let mut server = server(&disk);
    server.create("/many", Kind::Directory).unwrap();
    let names: Vec<String> = (0..150)
        .map(|index| format!("a-rather-long-file-name-number-{index:04}.txt"))
        .collect();
    for name in &names {
        server.create(&format!("/many/{name}"), Kind::File).unwrap();
    }
    let first = server.list("/many", 0).unwrap();
    assert!(
        first.next > 0 && first.next < 150,
        "one answer cannot hold 150 names"
    );
    assert_eq!(first.count, first.next);
    let mut listed: Vec<String> = list(&mut server, "/many")
        .unwrap()
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    listed.sort();
    assert_eq!(listed, names);
}
