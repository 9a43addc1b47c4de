//! The valid modules that mutations start from: every built module (the
//! release wasm32 `.wasm` files, as `cargo cella test` passes them in
//! `CELLA_WASM_DIR`, or as found under the target directory), each with a
//! grant of exactly what its manifest asks and a platform with registers on
//! its ports and MMIO windows.

use cella_wasm_host::abi::{CapabilityRequest, MANIFEST_SECTION, Manifest};
use cella_wasm_host::{Grant, PciFunction, Registers, SimulatedPlatform};
use std::path::{Path, PathBuf};

/// A built module and what it needs to run.
pub struct Seed {
    pub name: String,
    pub wasm: Vec<u8>,
    pub grant: Grant,
    /// (base, count) port ranges and (base, length) MMIO windows to attach.
    ports: Vec<(u16, u32)>,
    mmio: Vec<(u64, u64)>,
}

impl Seed {
    /// A fresh platform with register files where the manifest asks.
    pub fn platform(&self) -> SimulatedPlatform {
        let platform = SimulatedPlatform::new();
        for (base, count) in &self.ports {
            platform.attach_ports(*base, *count, Registers::new(*count as usize));
        }
        for (base, length) in &self.mmio {
            let size = (*length).min(0x1_0000) as usize;
            platform.attach_mmio(*base, *length, Registers::new(size));
        }
        platform
    }
}

fn directories() -> Vec<PathBuf> {
    if let Some(directory) = std::env::var_os("CELLA_WASM_DIR") {
        return vec![PathBuf::from(directory)];
    }
    // <target>/debug/deps/corpus-HASH
    let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
    else {
        return Vec::new();
    };
    let release = Path::new("wasm32-unknown-unknown").join("release");
    vec![
        target.join(&release),
        target.join("cella-wasm-tests").join(&release),
    ]
}

fn manifest_text(wasm: &[u8]) -> Option<Vec<u8>> {
    wasmparser::Parser::new(0)
        .parse_all(wasm)
        .find_map(|payload| match payload {
            Ok(wasmparser::Payload::CustomSection(section))
                if section.name() == MANIFEST_SECTION =>
            {
                Some(section.data().to_vec())
            }
            _ => None,
        })
}

/// A seed for `wasm`, or `None` if it has no readable manifest.
pub fn seed(name: &str, wasm: Vec<u8>) -> Option<Seed> {
    let text = manifest_text(&wasm)?;
    let manifest = Manifest::parse_bytes(&text).ok()?;
    let mut grant = Grant::new();
    let (mut ports, mut mmio) = (Vec::new(), Vec::new());
    let (mut dma, mut timers, mut endpoint_id) = (0, 0, 1);
    for request in manifest.capabilities() {
        grant = match request {
            CapabilityRequest::PortRange { base, count } => {
                ports.push((base, count));
                grant.port_range(base, count)
            }
            CapabilityRequest::MmioRegion { base, length } => {
                mmio.push((base, length));
                grant.mmio_region(base, length)
            }
            CapabilityRequest::IrqLine { line } => grant.irq_line(line),
            CapabilityRequest::DmaPool { bytes } => {
                dma += bytes;
                grant
            }
            CapabilityRequest::Endpoint { name } => {
                endpoint_id += 1;
                grant.endpoint(name, endpoint_id)
            }
            CapabilityRequest::Timer => {
                timers += 1;
                grant
            }
            CapabilityRequest::PciDevice { vendor, device } => {
                grant.pci_function(PciFunction::unresolved(vendor, device, None))
            }
            CapabilityRequest::PciBus => grant.pci_bus(std::sync::Arc::from([])),
        };
    }
    let grant = grant.dma_bytes(dma).timers(timers);
    Some(Seed {
        name: name.to_string(),
        wasm,
        grant,
        ports,
        mmio,
    })
}

/// Every built module found, sorted by name, one per name.
pub fn built() -> Vec<Seed> {
    let mut files: Vec<PathBuf> = directories()
        .iter()
        .filter_map(|directory| std::fs::read_dir(directory).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "wasm")
        })
        .collect();
    files.sort_by_key(|path| path.file_name().map(|name| name.to_os_string()));
    files.dedup_by_key(|path| path.file_name().map(|name| name.to_os_string()));
    files
        .iter()
        .filter_map(|path| {
            let name = path.file_stem()?.to_string_lossy().to_string();
            seed(&name, std::fs::read(path).ok()?)
        })
        .collect()
}
