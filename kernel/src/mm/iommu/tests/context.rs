use super::fake_memory::FakeMemory;
use crate::mm::iommu::context::{ContextTables, context_entry, root_entry};
use crate::mm::iommu::registers::AddressWidth;
use crate::mm::iommu::{IommuError, PciAddress};

const EDU: PciAddress = PciAddress {
    bus: 0,
    device: 3,
    function: 0,
};

#[test]
fn entries_encode_table_width_and_domain() {
    assert_eq!(root_entry(0x5000), 0x5001);
    assert_eq!(
        context_entry(0x9000, AddressWidth::Bits39, 7),
        (0x9001, 0x701)
    );
    assert_eq!(
        context_entry(0x9000, AddressWidth::Bits48, 0x1234),
        (0x9001, 0x12_3402)
    );
}

#[test]
fn attach_sets_one_entry_and_detach_clears_it() {
    let mut memory = FakeMemory::new(16);
    let mut tables = ContextTables::new(&mut memory).unwrap();
    assert_eq!(tables.entry(&memory, EDU), None);
    tables
        .attach(&mut memory, EDU, 0x9000, AddressWidth::Bits39, 1)
        .unwrap();
    assert_eq!(tables.entry(&memory, EDU), Some((0x9001, 0x101)));
    let neighbour = PciAddress { function: 1, ..EDU };
    assert_eq!(tables.entry(&memory, neighbour), Some((0, 0)));
    assert_eq!(
        tables.attach(&mut memory, EDU, 0xa000, AddressWidth::Bits39, 2),
        Err(IommuError::AlreadyAttached(EDU))
    );
    tables.detach(&mut memory, EDU).unwrap();
    assert_eq!(tables.entry(&memory, EDU), Some((0, 0)));
    assert_eq!(
        tables.detach(&mut memory, EDU),
        Err(IommuError::NotAttached(EDU))
    );
    let other_bus = PciAddress { bus: 4, ..EDU };
    assert_eq!(
        tables.detach(&mut memory, other_bus),
        Err(IommuError::NotAttached(other_bus))
    );
}

#[test]
fn a_bus_gets_one_context_table_however_often_devices_come_and_go() {
    let mut memory = FakeMemory::new(16);
    let mut tables = ContextTables::new(&mut memory).unwrap();
    for round in 0..500u16 {
        tables
            .attach(
                &mut memory,
                EDU,
                0x9000,
                AddressWidth::Bits48,
                round % 255 + 1,
            )
            .unwrap();
        tables.detach(&mut memory, EDU).unwrap();
    }
    // The root table and bus 0's context table.
    assert_eq!(memory.live(), 2);
}

#[test]
fn bad_devices_and_exhausted_memory_are_refused() {
    let mut memory = FakeMemory::new(1);
    let mut tables = ContextTables::new(&mut memory).unwrap();
    let bad = PciAddress {
        bus: 0,
        device: 32,
        function: 0,
    };
    assert_eq!(
        tables.attach(&mut memory, bad, 0x9000, AddressWidth::Bits39, 1),
        Err(IommuError::BadDevice(bad))
    );
    assert_eq!(
        tables.attach(&mut memory, EDU, 0x9000, AddressWidth::Bits39, 1),
        Err(IommuError::OutOfMemory)
    );
    assert_eq!(tables.entry(&memory, EDU), None);
}
