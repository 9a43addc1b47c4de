//! A corrupt FAT written into a FAT32 image, for testing what reads it (`cargo cella disk
//! corrupt-fat`): in every FAT copy, the root directory's first cluster is made to point at
//! itself (a cluster chain that loops), and the first cluster of `/README.TXT` (or, without
//! that file, the first free cluster) is made to point one past the volume's last cluster.
//! `fsck.vfat -n` reports both.

use crate::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What the boot sector says about where things are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per sector.
    pub bytes_per_sector: u64,
    /// Sectors per cluster.
    pub sectors_per_cluster: u64,
    /// Sectors before the first FAT.
    pub reserved_sectors: u64,
    /// FAT copies.
    pub fat_count: u64,
    /// Sectors per FAT copy.
    pub fat_sectors: u64,
    /// Sectors of the volume.
    pub total_sectors: u64,
    /// The root directory's first cluster.
    pub root_cluster: u32,
}

impl Geometry {
    /// Reads a FAT32 boot sector, or says why it is not one.
    ///
    /// # Errors
    /// The sector is short, has no boot signature, or a field is impossible for FAT32.
    pub fn read(boot: &[u8]) -> std::result::Result<Geometry, String> {
        if boot.len() < 512 || boot[510..512] != [0x55, 0xaa] {
            return Err(String::from("sector 0 has no boot signature (55 aa)"));
        }
        let half = |at: usize| u64::from(u16::from_le_bytes([boot[at], boot[at + 1]]));
        let word =
            |at: usize| u32::from_le_bytes([boot[at], boot[at + 1], boot[at + 2], boot[at + 3]]);
        let geometry = Geometry {
            bytes_per_sector: half(11),
            sectors_per_cluster: u64::from(boot[13]),
            reserved_sectors: half(14),
            fat_count: u64::from(boot[16]),
            fat_sectors: u64::from(word(36)),
            total_sectors: u64::from(word(32)),
            root_cluster: word(44),
        };
        if ![512, 1024, 2048, 4096].contains(&geometry.bytes_per_sector) {
            return Err(format!(
                "{} bytes per sector is not a FAT sector size",
                geometry.bytes_per_sector
            ));
        }
        if !geometry.sectors_per_cluster.is_power_of_two() {
            return Err(format!(
                "{} sectors per cluster is not a power of two",
                geometry.sectors_per_cluster
            ));
        }
        if half(22) != 0 || geometry.fat_sectors == 0 {
            return Err(String::from(
                "the FAT size is in the FAT12/16 field: not FAT32",
            ));
        }
        if geometry.reserved_sectors == 0 || !(1..=4).contains(&geometry.fat_count) {
            return Err(format!(
                "{} reserved sectors and {} FATs are impossible",
                geometry.reserved_sectors, geometry.fat_count
            ));
        }
        let first_data = geometry.first_data_sector();
        if geometry.total_sectors <= first_data {
            return Err(format!(
                "{} sectors leave no room for data after sector {first_data}",
                geometry.total_sectors
            ));
        }
        let last = geometry.last_cluster();
        if geometry.root_cluster < 2 || geometry.root_cluster > last {
            return Err(format!(
                "the root directory's cluster {} is outside 2..={last}",
                geometry.root_cluster
            ));
        }
        if (u64::from(last) + 1) * 4 > geometry.fat_sectors * geometry.bytes_per_sector {
            return Err(format!(
                "a FAT of {} sectors cannot hold {last} clusters",
                geometry.fat_sectors
            ));
        }
        Ok(geometry)
    }

    /// The first sector of the data area (cluster 2).
    pub fn first_data_sector(&self) -> u64 {
        self.reserved_sectors + self.fat_count * self.fat_sectors
    }

    /// The volume's last cluster: clusters are numbered from 2.
    pub fn last_cluster(&self) -> u32 {
        let clusters = (self.total_sectors - self.first_data_sector()) / self.sectors_per_cluster;
        u32::try_from(clusters + 1)
            .unwrap_or(u32::MAX)
            .min(0x0fff_fff6)
    }

    /// The byte offset of `cluster`'s entry in FAT copy `copy`.
    pub fn fat_entry_offset(&self, copy: u64, cluster: u32) -> u64 {
        (self.reserved_sectors + copy * self.fat_sectors) * self.bytes_per_sector
            + 4 * u64::from(cluster)
    }

    /// The byte offset of `cluster`'s data.
    pub fn cluster_offset(&self, cluster: u32) -> u64 {
        (self.first_data_sector() + u64::from(cluster - 2) * self.sectors_per_cluster)
            * self.bytes_per_sector
    }

    /// Bytes per cluster.
    pub fn cluster_bytes(&self) -> u64 {
        self.sectors_per_cluster * self.bytes_per_sector
    }
}

/// One FAT entry the corruption changed (in every copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The cluster whose entry changed.
    pub cluster: u32,
    /// Its entry before (the low 28 bits).
    pub old: u32,
    /// Its entry now.
    pub new: u32,
    /// Whose cluster it is and what the new entry does, in words.
    pub what: String,
}

/// What [`corrupt_fat`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The volume's layout.
    pub geometry: Geometry,
    /// The entries changed, each in every FAT copy.
    pub changes: Vec<Change>,
}

impl Corruption {
    /// What was written, as lines for a person.
    pub fn describe(&self) -> Vec<String> {
        let geometry = &self.geometry;
        let starts: Vec<String> = (0..geometry.fat_count)
            .map(|copy| (geometry.reserved_sectors + copy * geometry.fat_sectors).to_string())
            .collect();
        let mut lines = vec![format!(
            "in each of the {} FAT copies (from sectors {}):",
            geometry.fat_count,
            starts.join(" and ")
        )];
        for change in &self.changes {
            lines.push(format!(
                "  cluster {}: entry {:#010x} -> {:#010x}: {}",
                change.cluster, change.old, change.new, change.what
            ));
        }
        lines
    }
}

fn io_error(what: &str, image: &Path, error: std::io::Error) -> Error {
    Error::new(format!("{what} {}: {error}", image.display()))
}

fn read_at(file: &mut File, image: &Path, offset: u64, bytes: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(bytes))
        .map_err(|error| io_error("reading", image, error))
}

fn read_entry(file: &mut File, image: &Path, offset: u64) -> Result<u32> {
    let mut bytes = [0u8; 4];
    read_at(file, image, offset, &mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

/// The first cluster of the root directory's short entry `README  TXT`, if the root
/// directory's first cluster has one.
fn readme_cluster(file: &mut File, image: &Path, geometry: &Geometry) -> Result<Option<u32>> {
    let size = usize::try_from(geometry.cluster_bytes()).unwrap_or(0);
    let mut directory = vec![0u8; size];
    read_at(
        file,
        image,
        geometry.cluster_offset(geometry.root_cluster),
        &mut directory,
    )?;
    for entry in directory.chunks_exact(32) {
        match entry[0] {
            0 => break,
            0xe5 => continue,
            _ if entry[11] == 0x0f => continue,
            _ if &entry[..11] == b"README  TXT" => {
                let high = u32::from(u16::from_le_bytes([entry[20], entry[21]]));
                let low = u32::from(u16::from_le_bytes([entry[26], entry[27]]));
                let cluster = high << 16 | low;
                return Ok((2..=geometry.last_cluster())
                    .contains(&cluster)
                    .then_some(cluster));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Writes the corrupt FAT into the image at `image` (in place: give it a copy): the root
/// directory's chain loops, and `/README.TXT`'s first cluster (or the first free one) points
/// one past the last cluster, in every FAT copy.
///
/// # Errors
/// The image cannot be read or written, or is not a FAT32 volume.
pub fn corrupt_fat(image: &Path) -> Result<Corruption> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .open(image)
        .map_err(|error| io_error("opening", image, error))?;
    let mut boot = [0u8; 512];
    read_at(&mut file, image, 0, &mut boot)?;
    let geometry = Geometry::read(&boot)
        .map_err(|why| Error::new(format!("{} is not a FAT32 volume: {why}", image.display())))?;
    let last = geometry.last_cluster();
    let root = geometry.root_cluster;
    let mut changes = vec![Change {
        cluster: root,
        old: read_entry(&mut file, image, geometry.fat_entry_offset(0, root))? & 0x0fff_ffff,
        new: root,
        what: String::from(
            "the root directory's first cluster now follows itself: a cluster chain that loops",
        ),
    }];
    let (target, whose) = match readme_cluster(&mut file, image, &geometry)? {
        Some(cluster) if cluster != root => (cluster, "README.TXT's first cluster"),
        _ => {
            let mut free = None;
            for cluster in 2..=last {
                let entry = read_entry(&mut file, image, geometry.fat_entry_offset(0, cluster))?;
                if entry & 0x0fff_ffff == 0 {
                    free = Some(cluster);
                    break;
                }
            }
            let cluster = free.ok_or_else(|| {
                Error::new(format!(
                    "{} has no README.TXT and no free cluster to corrupt",
                    image.display()
                ))
            })?;
            (cluster, "the first free cluster")
        }
    };
    changes.push(Change {
        cluster: target,
        old: read_entry(&mut file, image, geometry.fat_entry_offset(0, target))? & 0x0fff_ffff,
        new: last + 1,
        what: format!(
            "{whose} now points to cluster {}, past the last cluster ({last})",
            last + 1
        ),
    });
    for copy in 0..geometry.fat_count {
        for change in &changes {
            let offset = geometry.fat_entry_offset(copy, change.cluster);
            let kept = read_entry(&mut file, image, offset)? & 0xf000_0000;
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.write_all(&(kept | change.new).to_le_bytes()))
                .map_err(|error| io_error("writing", image, error))?;
        }
    }
    file.sync_all()
        .map_err(|error| io_error("writing", image, error))?;
    Ok(Corruption { geometry, changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs_image::{ImageFile, README_PATH, README_TEXT, access, ensure};
    use crate::shell::Shell;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let directory = std::env::temp_dir().join(format!(
            "cella-fat-corruption-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    fn entry(image: &Path, geometry: &Geometry, copy: u64, cluster: u32) -> u32 {
        let mut file = File::open(image).unwrap();
        read_entry(&mut file, image, geometry.fat_entry_offset(copy, cluster)).unwrap()
    }

    #[test]
    fn fsck_finds_the_loop_and_the_entry_past_the_end_in_both_fat_copies() {
        let directory = scratch("both");
        let image = directory.join("fs.img");
        let files = [
            ImageFile::new(README_PATH, README_TEXT),
            ImageFile::new("modules/one.wasm", vec![7u8; 5000]),
        ];
        ensure(&Shell::new(false), &image, &files).unwrap();
        let mut first = None;
        // Each copy corrupted the same way, the image itself untouched.
        for round in 0..5 {
            let copy = directory.join(format!("corrupt-{round}.img"));
            crate::disk_image::copy(&image, &copy).unwrap();
            let corruption = corrupt_fat(&copy).unwrap();
            let geometry = corruption.geometry;
            assert_eq!(geometry.fat_count, 2);
            assert_eq!(geometry.reserved_sectors, 96);
            let [looped, past] = corruption.changes.as_slice() else {
                panic!("two changes: {:?}", corruption.changes);
            };
            assert_eq!(
                (looped.cluster, looped.new),
                (geometry.root_cluster, geometry.root_cluster)
            );
            assert!(looped.old >= 0x0fff_fff8, "the root ended in one cluster");
            assert_eq!(past.new, geometry.last_cluster() + 1);
            assert!(past.what.contains("README.TXT"), "{}", past.what);
            for fat in 0..2 {
                for change in [looped, past] {
                    assert_eq!(
                        entry(&copy, &geometry, fat, change.cluster) & 0x0fff_ffff,
                        change.new
                    );
                }
            }
            let verdict = access::check(&Shell::new(false), &copy).unwrap();
            assert!(!verdict.clean, "{}", verdict.report);
            assert!(
                verdict.report.contains("Circular cluster chain"),
                "{}",
                verdict.report
            );
            assert!(
                verdict.report.contains("out of range"),
                "{}",
                verdict.report
            );
            let text = corruption.describe().join("\n");
            assert!(text.contains("from sectors 96 and "), "{text}");
            assert!(
                text.contains("loops") && text.contains("past the last cluster"),
                "{text}"
            );
            match &first {
                None => first = Some(corruption.changes.clone()),
                Some(changes) => assert_eq!(changes, &corruption.changes),
            }
            std::fs::remove_file(&copy).unwrap();
        }
        assert!(access::check(&Shell::new(false), &image).unwrap().clean);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn without_a_readme_the_first_free_cluster_points_past_the_end() {
        let directory = scratch("free");
        let image = directory.join("fs.img");
        ensure(
            &Shell::new(false),
            &image,
            &[ImageFile::new("modules/x.wasm", vec![1u8; 10])],
        )
        .unwrap();
        let corruption = corrupt_fat(&image).unwrap();
        let past = &corruption.changes[1];
        assert_eq!(past.old, 0, "a free cluster");
        assert!(
            past.what.starts_with("the first free cluster"),
            "{}",
            past.what
        );
        let verdict = access::check(&Shell::new(false), &image).unwrap();
        assert!(!verdict.clean, "{}", verdict.report);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn what_is_not_a_fat32_volume_is_refused_and_left_alone() {
        let directory = scratch("refused");
        let raw = directory.join("disk.img");
        crate::disk_image::create(&raw, crate::disk_image::MINIMUM_SIZE * 8).unwrap();
        let before = std::fs::read(&raw).unwrap();
        let error = corrupt_fat(&raw).unwrap_err().to_string();
        assert!(
            error.contains("is not a FAT32 volume: sector 0 has no boot signature"),
            "{error}"
        );
        assert_eq!(std::fs::read(&raw).unwrap(), before);
        assert!(corrupt_fat(&directory.join("missing.img")).is_err());
        // A FAT32 boot sector with one field spoilt at a time.
        let image = directory.join("fs.img");
        ensure(&Shell::new(false), &image, &[]).unwrap();
        let boot = crate::disk_image::read_sector(&image, 0).unwrap();
        assert!(Geometry::read(&boot).is_ok());
        for (at, value, why) in [
            (11, 3u8, "bytes per sector"),
            (13, 3, "power of two"),
            (22, 1, "not FAT32"),
            (16, 0, "FATs are impossible"),
            (44, 0, "root directory"),
        ] {
            let mut spoilt = boot;
            spoilt[at] = value;
            let error = Geometry::read(&spoilt).unwrap_err();
            assert!(error.contains(why), "byte {at}: {error}");
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
