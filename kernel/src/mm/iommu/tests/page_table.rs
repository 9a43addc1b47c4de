use super::fake_memory::FakeMemory;
use crate::mm::iommu::IommuError;
use crate::mm::iommu::page_table::{
    MAX_RANGE, PageTable, check_range, index, leaf_entry, table_entry,
};
use crate::mm::iommu::registers::AddressWidth;

#[test]
fn indices_take_nine_bits_per_level_above_the_page_offset() {
    let address = (3u64 << 39) | (5 << 30) | (7 << 21) | (9 << 12) | 0xabc;
    assert_eq!(index(address, 1), 9);
    assert_eq!(index(address, 2), 7);
    assert_eq!(index(address, 3), 5);
    assert_eq!(index(address, 4), 3);
}

#[test]
fn entries_carry_the_frame_and_the_permissions() {
    assert_eq!(leaf_entry(0x1234_5000, false), 0x1234_5001);
    assert_eq!(leaf_entry(0x1234_5000, true), 0x1234_5003);
    assert_eq!(table_entry(0x7000), 0x7003);
    // Bits outside the frame address never leak into an entry.
    assert_eq!(
        leaf_entry(0xfff0_0000_0000_0fff, false),
        0x0000_0000_0000_0001
    );
}

#[test]
fn ranges_must_be_whole_pages_bounded_and_inside_the_width() {
    assert_eq!(check_range(0x1000, 0x2000, 39), Ok(2));
    assert_eq!(
        check_range(0x1001, 0x1000, 39),
        Err(IommuError::Misaligned(0x1001))
    );
    assert_eq!(check_range(0x1000, 0, 39), Err(IommuError::BadLength(0)));
    assert_eq!(
        check_range(0x1000, 0x1800, 39),
        Err(IommuError::BadLength(0x1800))
    );
    assert_eq!(
        check_range(0x1000, MAX_RANGE + 0x1000, 48),
        Err(IommuError::BadLength(MAX_RANGE + 0x1000))
    );
    assert_eq!(
        check_range((1 << 39) - 0x1000, 0x2000, 39),
        Err(IommuError::OutOfRange {
            address: (1 << 39) - 0x1000,
            length: 0x2000
        })
    );
    assert_eq!(
        check_range(u64::MAX & !0xfff, 0x2000, 48),
        Err(IommuError::OutOfRange {
            address: u64::MAX & !0xfff,
            length: 0x2000
        })
    );
    assert_eq!(check_range((1 << 39) - 0x1000, 0x1000, 39), Ok(1));
}

#[test]
fn a_mapped_range_translates_with_its_permissions_and_nothing_else_does() {
    for width in [AddressWidth::Bits39, AddressWidth::Bits48] {
        let mut memory = FakeMemory::new(64);
        let mut table = PageTable::new(&mut memory, width).unwrap();
        table
            .map(&mut memory, 0x20_0000, 0x20_0000, 0x3000, true)
            .unwrap();
        table
            .map(&mut memory, 0x40_0000, 0x40_0000, 0x1000, false)
            .unwrap();
        assert_eq!(
            table.translate(&mut memory, 0x20_0000),
            Some((0x20_0000, true))
        );
        assert_eq!(
            table.translate(&mut memory, 0x20_2000),
            Some((0x20_2000, true))
        );
        assert_eq!(
            table.translate(&mut memory, 0x40_0000),
            Some((0x40_0000, false))
        );
        assert_eq!(table.translate(&mut memory, 0x20_3000), None);
        assert_eq!(table.translate(&mut memory, 0x1f_f000), None);
        // The root, one table per level between, and two leaf tables (two 2 MiB regions).
        assert_eq!(memory.live(), usize::from(width.levels()) + 1);
    }
}

#[test]
fn mapping_a_mapped_page_fails_and_undoes_the_pages_it_mapped() {
    let mut memory = FakeMemory::new(64);
    let mut table = PageTable::new(&mut memory, AddressWidth::Bits39).unwrap();
    table
        .map(&mut memory, 0x5000, 0x5000, 0x1000, true)
        .unwrap();
    assert_eq!(
        table.map(&mut memory, 0x3000, 0x3000, 0x4000, true),
        Err(IommuError::AlreadyMapped(0x5000))
    );
    assert_eq!(table.translate(&mut memory, 0x3000), None);
    assert_eq!(table.translate(&mut memory, 0x4000), None);
    assert_eq!(table.translate(&mut memory, 0x5000), Some((0x5000, true)));
    assert_eq!(table.translate(&mut memory, 0x6000), None);
}

#[test]
fn running_out_of_table_frames_is_an_error_and_maps_nothing() {
    // Root only: the first map needs two more tables (39-bit).
    let mut memory = FakeMemory::new(2);
    let mut table = PageTable::new(&mut memory, AddressWidth::Bits39).unwrap();
    assert_eq!(
        table.map(&mut memory, 0x1000, 0x1000, 0x1000, true),
        Err(IommuError::OutOfMemory)
    );
    assert_eq!(table.translate(&mut memory, 0x1000), None);
    let mut none = FakeMemory::new(0);
    assert_eq!(
        PageTable::new(&mut none, AddressWidth::Bits39).unwrap_err(),
        IommuError::OutOfMemory
    );
}

#[test]
fn unmap_is_all_or_nothing() {
    let mut memory = FakeMemory::new(64);
    let mut table = PageTable::new(&mut memory, AddressWidth::Bits48).unwrap();
    table
        .map(&mut memory, 0x10_0000, 0x10_0000, 0x2000, true)
        .unwrap();
    assert_eq!(
        table.unmap(&mut memory, 0x10_0000, 0x3000),
        Err(IommuError::NotMapped(0x10_2000))
    );
    assert_eq!(
        table.translate(&mut memory, 0x10_0000),
        Some((0x10_0000, true))
    );
    table.unmap(&mut memory, 0x10_0000, 0x2000).unwrap();
    assert_eq!(table.translate(&mut memory, 0x10_0000), None);
    assert_eq!(table.translate(&mut memory, 0x10_1000), None);
    assert_eq!(
        table.unmap(&mut memory, 0x10_0000, 0x1000),
        Err(IommuError::NotMapped(0x10_0000))
    );
}

#[test]
fn destroy_frees_every_table_once_and_repeated_use_does_not_grow() {
    let mut memory = FakeMemory::new(10_000);
    for _ in 0..200 {
        let mut table = PageTable::new(&mut memory, AddressWidth::Bits48).unwrap();
        // Spread over two top-level slots so every level has several tables.
        for base in [0x1000u64, 0x4000_0000, 1 << 39] {
            table.map(&mut memory, base, base, 0x2000, false).unwrap();
        }
        table.unmap(&mut memory, 0x1000, 0x2000).unwrap();
        table
            .map(&mut memory, 0x1000, 0x1000, 0x2000, true)
            .unwrap();
        let live = memory.live();
        assert_eq!(table.destroy(&mut memory), live as u64);
        assert_eq!(memory.live(), 0);
    }
}
