//! MSI-X on the transport against the device model: the request queue's
//! vector set before `DRIVER_OK` and read back, the configuration interrupt
//! off, and INTx kept when the device does not take the vector.

mod model;

use cella_virtio::block::Disk;
use cella_virtio::transport::NO_VECTOR;
use model::*;

const LARGEST: u32 = 7 * 512;

#[test]
fn the_queue_interrupt_goes_to_the_entry_the_device_took() {
    let model = Model::new(64, OFFERED);
    model.device.borrow_mut().config_vector = 1;
    let disk = Disk::start_with_msix(&model.pci(), &model.dma(), LARGEST, Some(1))
        .expect("the device comes up");
    assert_eq!(disk.msix_entry(), Some(1));
    let device = model.device.borrow();
    assert_eq!(device.queue_vector, 1);
    assert_eq!(
        device.config_vector, NO_VECTOR,
        "no configuration interrupt"
    );
    assert_eq!(device.status & 4, 4, "DRIVER_OK");
}

#[test]
fn a_vector_the_device_refuses_leaves_the_queue_on_intx() {
    for entries in [0, 1] {
        let model = Model::new(64, OFFERED);
        model.device.borrow_mut().msix_entries = entries;
        let disk = Disk::start_with_msix(&model.pci(), &model.dma(), LARGEST, Some(1))
            .expect("the device comes up");
        assert_eq!(disk.msix_entry(), None, "{entries} entries");
        assert_eq!(model.device.borrow().queue_vector, NO_VECTOR);
    }
}

#[test]
fn starting_without_msix_touches_no_vector_and_dropping_it_takes_it_away() {
    let model = Model::new(64, OFFERED);
    let disk = Disk::start(&model.pci(), &model.dma(), LARGEST).expect("comes up");
    assert_eq!(disk.msix_entry(), None);
    assert_eq!(model.device.borrow().queue_vector, NO_VECTOR);
    let mut disk = Disk::start_with_msix(&model.pci(), &model.dma(), LARGEST, Some(0))
        .expect("comes up again");
    assert_eq!(model.device.borrow().queue_vector, 0);
    disk.drop_msix().expect("taken away");
    assert_eq!(disk.msix_entry(), None);
    assert_eq!(model.device.borrow().queue_vector, NO_VECTOR);
}

#[test]
fn a_reset_takes_the_vector_away_and_each_start_sets_it_again() {
    let model = Model::new(64, OFFERED);
    // As many starts as the model's DMA memory holds buffers for.
    for round in 0..3 {
        let disk =
            Disk::start_with_msix(&model.pci(), &model.dma(), LARGEST, Some(0)).expect("comes up");
        assert_eq!(disk.msix_entry(), Some(0), "round {round}");
        assert_eq!(model.device.borrow().queue_vector, 0, "round {round}");
        disk.transport().reset().expect("resets");
        assert_eq!(
            model.device.borrow().queue_vector,
            NO_VECTOR,
            "round {round}"
        );
    }
}
