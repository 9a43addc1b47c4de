use crate::mm::iommu::PciAddress;
use crate::mm::iommu::device::{device_function, source_id};
use crate::mm::iommu::faults::{DmaFault, RECORD_FULL};

#[test]
fn a_fault_record_decodes_to_source_page_reason_and_direction() {
    let source = (0u64 << 8) | (3 << 3) | 1;
    let write = DmaFault::from_record(0x0abc_d123, RECORD_FULL | (6 << 32) | source).unwrap();
    assert_eq!(
        write,
        DmaFault {
            source: PciAddress {
                bus: 0,
                device: 3,
                function: 1
            },
            address: 0x0abc_d000,
            reason: 6,
            write: true,
        }
    );
    let read = DmaFault::from_record(0x5000, RECORD_FULL | (1 << 62) | (2 << 32) | 0x0218).unwrap();
    assert!(!read.write);
    assert_eq!(read.source.to_string(), "02:03.0");
    assert_eq!(read.reason, 2);
    assert_eq!(
        read.to_string(),
        "DMA read by 02:03.0 at 0x5000 blocked: the device has no context entry (reason 2)"
    );
}

#[test]
fn an_empty_record_is_no_fault() {
    assert_eq!(DmaFault::from_record(0x5000, (6 << 32) | 0x18), None);
}

#[test]
fn source_ids_round_trip_and_bad_functions_have_none() {
    let device = PciAddress {
        bus: 0x12,
        device: 31,
        function: 7,
    };
    assert_eq!(source_id(device), Some(0x12ff));
    assert_eq!(PciAddress::from_packed(0x12ff), device);
    assert_eq!(device_function(device), 0xff);
    let bad = PciAddress {
        bus: 0,
        device: 0,
        function: 8,
    };
    assert_eq!(source_id(bad), None);
}
