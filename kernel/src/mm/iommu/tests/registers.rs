use crate::mm::iommu::registers::{
    AddressWidth, Capabilities, global_command, iotlb_invalidate_domain, iotlb_invalidate_global,
    version,
};

/// QEMU 7.2's intel-iommu with its defaults (39-bit, no caching mode), as it reports them.
const QEMU_CAPABILITY: u64 = 0x00d2_008c_2226_0206;
const QEMU_EXTENDED: u64 = 0x0000_0000_00f0_0f4a;

fn qemu() -> Capabilities {
    Capabilities {
        capability: QEMU_CAPABILITY,
        extended: QEMU_EXTENDED,
    }
}

#[test]
fn capability_fields_decode() {
    let unit = qemu();
    assert_eq!(unit.supported_widths(), 0b010);
    assert_eq!(unit.address_width(), Some(AddressWidth::Bits39));
    assert_eq!(unit.maximum_address_bits(), 39);
    assert_eq!(unit.fault_record_offset(), 0x220);
    assert_eq!(unit.fault_record_count(), 1);
    assert_eq!(unit.iotlb_offset(), 0xf0);
    assert_eq!(unit.domain_count(), 65536);
    assert!(!unit.caching_mode());
    assert!(!unit.needs_write_buffer_flush());
    assert!(!unit.coherent());
    assert_eq!(unit.drains(), (true, true));
    assert_eq!(unit.register_extent(), 0x230);
}

#[test]
fn the_widest_supported_table_is_chosen() {
    let mut unit = qemu();
    unit.capability |= 0b100 << 8;
    assert_eq!(unit.address_width(), Some(AddressWidth::Bits48));
    assert_eq!(AddressWidth::Bits48.levels(), 4);
    assert_eq!(AddressWidth::Bits39.levels(), 3);
    unit.capability &= !(0x1f << 8);
    unit.capability |= 0b1000 << 8;
    assert_eq!(unit.address_width(), None);
}

#[test]
fn commands_keep_persistent_bits_and_drop_one_shot_ones() {
    // Translation on, root table pointer status set: a new command keeps TE only.
    assert_eq!(global_command(0xc000_0000, 1 << 30), 0xc000_0000);
    assert_eq!(global_command(0x4000_0000, 1 << 31), 0x8000_0000);
    assert_eq!(global_command(0x0200_0000 | (1 << 24), 0), 0x0200_0000);
}

#[test]
fn invalidation_commands_name_granularity_domain_and_drains() {
    let unit = qemu();
    assert_eq!(
        iotlb_invalidate_domain(5, &unit),
        (1 << 63) | (2 << 60) | (1 << 49) | (1 << 48) | (5 << 32)
    );
    assert_eq!(
        iotlb_invalidate_global(&unit),
        (1 << 63) | (1 << 60) | (1 << 49) | (1 << 48)
    );
    assert_eq!(version(0x10), (1, 0));
    assert_eq!(version(0x61), (6, 1));
}
