//! The virtio-blk driver as a native ring-3 process serving `block`: the
//! same driver source, run by the SDK's native backend (its PCI function's
//! BAR mapped into the process, its interrupt routed to it, its DMA buffers
//! mapped into it and into the device's IOMMU domain).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_sdk::native_process!(name: "block", module: cella_virtio_blk);
