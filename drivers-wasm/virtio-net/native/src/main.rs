//! The virtio-net driver as a native ring-3 process serving `net`: the
//! same driver source, run by the SDK's native backend (its PCI function's
//! BAR mapped into the process, its interrupt routed to it, its DMA buffers
//! mapped into it and into the device's IOMMU domain, its poll timer kept
//! by the backend's event loop).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_sdk::native_process!(name: "net", module: cella_virtio_net);
