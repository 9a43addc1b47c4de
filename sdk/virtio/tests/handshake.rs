//! The transport's handshake against the device model: status bits in
//! order, features chosen by the rule, queue set-up, and each way a device
//! or its capability list can make the handshake fail.

mod model;

use cella_virtio::Error;
use cella_virtio::block::Disk;
use cella_virtio::capabilities::Structure;
use model::*;

const LARGEST: u32 = 7 * 512;

fn start(model: &Model) -> Result<Disk<FakeWindow, impl cella_virtio::DmaRegion>, Error> {
    Disk::start(&model.pci(), &model.dma(), LARGEST)
}

#[test]
fn the_handshake_ends_in_driver_ok_with_only_the_features_the_driver_implements() {
    let model = Model::new(64, OFFERED);
    let disk = start(&model).expect("the device comes up");
    let device = model.device.borrow();
    assert_eq!(
        device.status,
        1 | 2 | 8 | 4,
        "ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK"
    );
    assert_eq!(
        device.driver_features,
        VERSION_1 | ACCESS_PLATFORM | BLOCK_FLUSH,
        "packed rings, indirect descriptors, event index and segment limits are refused"
    );
    assert_eq!(disk.features(), device.driver_features);
    assert_eq!(disk.capacity(), 64);
    assert!(device.queue_enabled);
    assert_eq!(
        device.queue_size, 16,
        "the device offers 256; the driver asks for 16"
    );
    assert_ne!(device.descriptors, 0);
    assert!(device.driver_ring > device.descriptors && device.device_ring > device.driver_ring);
    let command = u16::from_le_bytes([model.config.borrow()[4], model.config.borrow()[5]]);
    assert_eq!(command & 0b110, 0b110, "memory space and bus master are on");
}

#[test]
fn access_platform_is_taken_only_when_offered() {
    let model = Model::new(8, VERSION_1 | BLOCK_READ_ONLY);
    let disk = start(&model).expect("the device comes up");
    assert_eq!(
        model.device.borrow().driver_features,
        VERSION_1 | BLOCK_READ_ONLY
    );
    assert!(disk.read_only());
}

#[test]
fn a_device_without_version_1_is_refused_and_told_failed() {
    let model = Model::new(8, OFFERED & !VERSION_1);
    assert_eq!(start(&model).err(), Some(Error::FeatureMissing { bit: 32 }));
    assert_eq!(model.status() & 0x80, 0x80, "FAILED is set");
    assert_eq!(model.status() & 4, 0, "never DRIVER_OK");
}

#[test]
fn a_device_that_drops_features_ok_is_refused_and_told_failed() {
    let model = Model::new(8, OFFERED);
    model.device.borrow_mut().keep_features_ok = false;
    assert_eq!(start(&model).err(), Some(Error::FeaturesRefused));
    assert_eq!(model.status() & 0x80, 0x80);
    assert!(!model.device.borrow().queue_enabled, "no queue was set up");
}

#[test]
fn a_device_with_no_queue_is_refused() {
    let model = Model::new(8, OFFERED);
    model.device.borrow_mut().queue_size_offered = 0;
    assert_eq!(start(&model).err(), Some(Error::NoSuchQueue { index: 0 }));
    assert_eq!(model.status() & 0x80, 0x80);
}

#[test]
fn a_broken_capability_list_is_an_error() {
    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[6] = 0;
    assert_eq!(start(&model).err(), Some(Error::NoCapabilityList));

    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[0x81] = 0x50; // the notify capability points back: a loop
    assert!(matches!(
        start(&model).err(),
        Some(Error::BadCapabilityList { .. })
    ));

    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[0x41] = 0x20; // into the standard header
    assert_eq!(
        start(&model).err(),
        Some(Error::BadCapabilityList { at: 0x20 })
    );

    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[0x71] = 0; // the list ends before the notify capability
    assert_eq!(
        start(&model).err(),
        Some(Error::MissingStructure(Structure::Notify))
    );

    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[0x5c] = 0x10; // a common configuration of 16 bytes
    assert_eq!(
        start(&model).err(),
        Some(Error::StructureTooSmall(Structure::Common))
    );

    let model = Model::new(8, OFFERED);
    model.config.borrow_mut()[0x54] = 2; // the common configuration in a BAR that is not memory
    assert_eq!(
        start(&model).err(),
        Some(Error::Platform(cella_abi::ErrorCode::NotFound))
    );
}

#[test]
fn a_notify_address_past_the_notify_structure_is_refused() {
    let model = Model::new(8, OFFERED);
    // 0x400 times the multiplier 4 is 0x1000: just past the structure.
    model.device.borrow_mut().notify_off = 0x400;
    assert_eq!(start(&model).err(), Some(Error::NotifyOutside { index: 0 }));
    assert_eq!(model.status() & 0x80, 0x80);

    let model = Model::new(8, OFFERED);
    model.device.borrow_mut().notify_off = 0x3ff;
    assert!(
        start(&model).is_ok(),
        "the last notify address inside it is taken"
    );

    let model = Model::new(8, OFFERED);
    // A notify structure of one byte cannot hold the 16-bit write.
    model.config.borrow_mut()[0x8c..0x90].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        start(&model).err(),
        Some(Error::StructureTooSmall(Structure::Notify))
    );
}

#[test]
fn errors_read_as_plain_sentences() {
    let texts = [
        Error::FeatureMissing { bit: 32 }.to_string(),
        Error::UsedIndexAhead { ahead: 40 }.to_string(),
        Error::MissingStructure(Structure::Isr).to_string(),
    ];
    assert_eq!(texts[0], "the device does not offer feature bit 32");
    assert_eq!(
        texts[1],
        "the device moved the used index 40 entries ahead, more than the queue holds"
    );
    assert_eq!(texts[2], "no capability describes the interrupt status");
}

#[test]
fn device_configuration_is_read_again_while_its_generation_changes() {
    let model = Model::new(64, OFFERED);
    model.device.borrow_mut().generation_changes = 2;
    let disk = start(&model).expect("the device comes up");
    assert_eq!(disk.capacity(), 64);
    assert_eq!(
        model.device.borrow().capacity_reads,
        3,
        "two torn reads, one whole"
    );

    let model = Model::new(64, OFFERED);
    model.device.borrow_mut().generation_changes = 1000;
    let disk = start(&model).expect("a configuration that keeps changing is still read");
    assert_eq!(disk.capacity(), 64);
    assert_eq!(
        model.device.borrow().capacity_reads,
        9,
        "eight tries and a last read"
    );
}
