use super::*;
use std::os::unix::fs::MetadataExt;

/// A directory of this test's own, removed first if a run before left it.
fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("cella-fs-image-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// 50 KiB of bytes that differ from sector to sector, so a misplaced cluster shows.
fn pattern(seed: u8) -> Vec<u8> {
    (0..50 * 1024u32)
        .map(|index| (index.wrapping_mul(31) >> 3) as u8 ^ seed)
        .collect()
}

fn files() -> Vec<ImageFile> {
    vec![
        ImageFile::new(README_PATH, README_TEXT),
        ImageFile::new("modules/a-module-with-a-long-name.wasm", pattern(1)),
        ImageFile::new("modules/b.wasm", b"\0asm\x01\0\0\0".to_vec()),
    ]
}

fn shell() -> Shell {
    Shell::new(false)
}

#[test]
fn a_new_image_is_a_clean_whole_disk_fat32_volume_holding_the_files() {
    let directory = scratch("new");
    let image = path(&directory);
    assert_eq!(
        ensure(&shell(), &image, &files()).unwrap(),
        Ensured::Created
    );
    let metadata = std::fs::metadata(&image).unwrap();
    assert_eq!(metadata.len(), 128 * 1024 * 1024);
    assert!(
        metadata.blocks() * 512 < 8 * 1024 * 1024,
        "not sparse: {} blocks",
        metadata.blocks()
    );
    let verdict = access::check(&shell(), &image).unwrap();
    assert!(verdict.clean, "{}", verdict.report);
    for file in files() {
        assert_eq!(
            access::read(&shell(), &image, &file.path).unwrap(),
            file.bytes,
            "{}",
            file.path
        );
    }
    let listing = access::list(&shell(), &image, "modules").unwrap();
    assert!(
        listing.contains("a-module-with-a-long-name.wasm"),
        "the long name is kept: {listing}"
    );
    // The boot sector: no partition table, the volume itself from sector 0.
    let boot = crate::disk_image::read_sector(&image, 0).unwrap();
    assert_eq!(&boot[82..90], b"FAT32   ");
    assert_eq!(u16::from_le_bytes([boot[11], boot[12]]), 512);
    assert_eq!(boot[13], 2, "sectors per cluster");
    assert_eq!(u16::from_le_bytes([boot[14], boot[15]]), 96, "reserved");
    assert_eq!(&boot[71..82], b"CELLA      ");
    assert_eq!(&boot[510..], [0x55, 0xaa]);
    assert_eq!(boot[446..510], [0u8; 64], "no partition entries");
    // The journal's reserved sectors are free for the server.
    for sector in JOURNAL_SECTORS {
        assert_eq!(
            crate::disk_image::read_sector(&image, sector).unwrap(),
            [0u8; 512],
            "sector {sector}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(record_path(&image)).unwrap(),
        contents_record(&files())
    );
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn an_image_holding_the_same_files_is_kept_with_what_was_written_to_it() {
    let directory = scratch("kept");
    let image = path(&directory);
    ensure(&shell(), &image, &files()).unwrap();
    access::write(&shell(), &image, "NOTES.TXT", b"written by a person\n").unwrap();
    for _ in 0..2 {
        assert_eq!(ensure(&shell(), &image, &files()).unwrap(), Ensured::Kept);
    }
    assert_eq!(
        access::read(&shell(), &image, "NOTES.TXT").unwrap(),
        b"written by a person\n"
    );
    assert!(!previous_path(&image).exists());
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn changed_modules_remake_the_image_and_the_old_one_is_kept() {
    let directory = scratch("remade");
    let image = path(&directory);
    ensure(&shell(), &image, &files()).unwrap();
    access::write(&shell(), &image, "NOTES.TXT", b"keep me\n").unwrap();
    let mut changed = files();
    changed[2].bytes.push(0);
    changed.push(ImageFile::new("modules/c.wasm", b"c".to_vec()));
    changed.remove(1);
    let Ensured::Remade { reason } = ensure(&shell(), &image, &changed).unwrap() else {
        panic!("not remade");
    };
    assert_eq!(
        reason,
        "modules/b.wasm changed, modules/c.wasm added, \
         modules/a-module-with-a-long-name.wasm removed"
    );
    assert_eq!(
        access::read(&shell(), &image, "modules/b.wasm").unwrap(),
        changed[1].bytes
    );
    assert!(access::read(&shell(), &image, "NOTES.TXT").is_err());
    assert!(access::read(&shell(), &image, "modules/a-module-with-a-long-name.wasm").is_err());
    // What was written on the old image is in the previous one.
    let previous = previous_path(&image);
    assert_eq!(
        access::read(&shell(), &previous, "NOTES.TXT").unwrap(),
        b"keep me\n"
    );
    assert!(access::check(&shell(), &image).unwrap().clean);
    assert_eq!(ensure(&shell(), &image, &changed).unwrap(), Ensured::Kept);
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn an_image_of_another_size_or_without_its_record_is_made_again() {
    let directory = scratch("size");
    let image = path(&directory);
    ensure(&shell(), &image, &files()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&image)
        .unwrap()
        .set_len(SIZE / 2)
        .unwrap();
    assert_eq!(
        ensure(&shell(), &image, &files()).unwrap(),
        Ensured::Remade {
            reason: format!("it had {} bytes, not {SIZE}", SIZE / 2)
        }
    );
    assert_eq!(std::fs::metadata(&image).unwrap().len(), SIZE);
    std::fs::remove_file(record_path(&image)).unwrap();
    assert_eq!(
        ensure(&shell(), &image, &files()).unwrap(),
        Ensured::Remade {
            reason: String::from("there is no record of what it holds")
        }
    );
    assert!(access::check(&shell(), &image).unwrap().clean);
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn paths_that_leave_the_volume_and_a_directory_in_the_way_are_clear_errors() {
    let directory = scratch("errors");
    let image = path(&directory);
    for bad in [
        "../escape.wasm",
        "/absolute",
        "",
        "modules//twice",
        "modules/./x",
    ] {
        let mut files = files();
        files.push(ImageFile::new(bad, b"x".to_vec()));
        let error = ensure(&shell(), &image, &files).unwrap_err().to_string();
        assert!(
            error.contains("not a plain relative path"),
            "{bad}: {error}"
        );
        assert!(!image.exists(), "{bad}");
    }
    std::fs::create_dir_all(&image).unwrap();
    let error = ensure(&shell(), &image, &files()).unwrap_err().to_string();
    assert!(error.contains("is not a file"), "{error}");
    assert!(image.is_dir());
    // A bad path leaves an existing image as it was.
    std::fs::remove_dir_all(&image).unwrap();
    ensure(&shell(), &image, &files()).unwrap();
    let mut bad = files();
    bad[2].path = String::from("../b.wasm");
    assert!(ensure(&shell(), &image, &bad).is_err());
    assert!(!previous_path(&image).exists());
    assert_eq!(ensure(&shell(), &image, &files()).unwrap(), Ensured::Kept);
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn the_files_are_the_production_manifests_modules_from_the_archive() {
    let directory = scratch("plan");
    std::fs::create_dir_all(directory.join("modules")).unwrap();
    std::fs::write(
        directory.join(crate::system_manifest::SOURCE),
        "[[module]]\nname = \"first\"\npackage = \"cella-first\"\n\n\
         [[module]]\nname = \"second\"\npackage = \"cella-second\"\n",
    )
    .unwrap();
    let entries = vec![
        ArchiveEntry::new("build-info.txt", b"info".to_vec()),
        ArchiveEntry::new("modules/teaching-only.wasm", b"t".to_vec()),
        ArchiveEntry::new("modules/second.wasm", b"2".to_vec()),
        ArchiveEntry::new("modules/first.wasm", b"1".to_vec()),
    ];
    assert_eq!(
        module_files(&directory, &entries).unwrap(),
        [
            ImageFile::new(README_PATH, README_TEXT),
            ImageFile::new("modules/first.wasm", b"1".to_vec()),
            ImageFile::new("modules/second.wasm", b"2".to_vec()),
        ]
    );
    let error = module_files(&directory, &entries[..3])
        .unwrap_err()
        .to_string();
    assert!(error.contains("no modules/first.wasm"), "{error}");
    std::fs::remove_dir_all(&directory).unwrap();
}
