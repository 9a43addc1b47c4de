//! The DMA escape: the virtio-blk driver's `escape` variant tells its
//! device to read sector 0 over the kernel's own image. Nothing in the
//! module's sandbox stops that (it writes only its own DMA buffer); the
//! IOMMU does: the device's write is blocked, recorded against the module,
//! which is faulted and restarted, and the kernel's code is unchanged.

use alloc::format;
use alloc::string::String;
use cella_interfaces::block;
use cella_kernel::kprintln;
use cella_kernel::mm::{iommu, setup};
use cella_kernel::module_host::services::System;

const MODULE: &str = "virtio-blk";
const ESCAPE: &str = "modules/virtio-blk-escape.wasm";
const PLAIN: &str = "modules/virtio-blk.wasm";

fn faults_of_module(system: &System) -> usize {
    system
        .faults()
        .iter()
        .filter(|record| record.module == MODULE)
        .count()
}

/// The scenario `dma_escape`.
pub fn run(system: &mut System) -> Result<(), String> {
    if !iommu::present() {
        return Err(String::from("no IOMMU: the escape would reach the kernel"));
    }
    system.run_for(200_000_000);
    let image = setup::kernel_image_physical();
    let before = setup::code_checksum();
    kprintln!(
        "dma_escape: kernel image at {:#x}..{:#x}, code checksum {before:#018x}",
        image.start,
        image.end
    );
    system.swap(MODULE, ESCAPE)?;
    let faults = faults_of_module(system);
    let mut request = [0u8; 64];
    let length = block::flush::request(&mut request, 1).map_err(|error| format!("{error}"))?;
    system
        .send_collected("block", &request[..length])
        .ok_or_else(|| String::from("the flush was not sent"))?;
    let limit = cella_kernel::time::now_nanoseconds() + 5_000_000_000;
    while faults_of_module(system) == faults {
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(String::from(
                "no fault recorded against the escaping driver in 5 s",
            ));
        }
        system.run_for(1_000_000);
    }
    let record = system
        .faults()
        .into_iter()
        .rev()
        .find(|record| record.module == MODULE)
        .ok_or_else(|| String::from("the fault record vanished"))?;
    kprintln!("dma_escape: fault recorded: {}", record.reason);
    if !record.reason.contains("DMA write") {
        return Err(format!(
            "the fault is not the blocked DMA: {}",
            record.reason
        ));
    }
    system.run_for(100_000_000);
    let index = system
        .find(MODULE)
        .ok_or_else(|| format!("no module {MODULE}"))?;
    if !system.module(index).is_running() {
        return Err(format!("{MODULE} was not restarted"));
    }
    let after = setup::code_checksum();
    kprintln!("dma_escape: code checksum {after:#018x} after the escape, {MODULE} running again");
    if after != before {
        return Err(String::from("the kernel's code changed"));
    }
    system.swap(MODULE, PLAIN)?;
    kprintln!("dma_escape: the plain driver swapped back in");
    // The console driver writes what the kernel printed before QEMU exits.
    system.settle();
    Ok(())
}
