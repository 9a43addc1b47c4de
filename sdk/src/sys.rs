//! The raw ABI v1 imports: the only `unsafe` in a Cella module's source tree.
//!
//! On `wasm32` every host function is imported from [`cella_abi::IMPORT_MODULE`]
//! with the exact name and signature that `cella-abi` lists (a host test checks
//! the table below against it). On any other target (host tests of the SDK,
//! rustdoc, and later the native backend) the same functions exist as stubs
//! that refuse with [`ErrorCode::DeviceError`], so SDK code type-checks and
//! tests everywhere.
//!
//! # Why most imports are declared `safe`
//! A host function cannot break the guest's memory safety unless it writes
//! into linear memory: the host validates every handle, offset and value, and
//! refuses (with an error code) anything outside the module's grant. Functions
//! that only *read* guest memory (`log`, `ipc_send`, `ipc_reply`, `ipc_call`,
//! `dma_write`, `port_out8_n`)
//! read a range the caller passes from a live Rust slice. So every import is
//! declared `safe fn` except the six that *write* into linear memory at a
//! pointer (`port_in8_n`, `mmio_read64`, `dma_read`, `ipc_receive`,
//! `ipc_wait`, `pci_bus_function`): those stay `unsafe fn` and are called
//! only from the safe wrappers at the end of this file (`*_into`), each
//! taking the exclusive slice the host writes into, with a `// SAFETY:`
//! comment. The rest of the SDK calls the wrappers, so this file and the
//! native backend (`native/`) hold all of its `unsafe`.
#![allow(unsafe_code)]

#[cfg(not(any(
    target_arch = "wasm32",
    all(feature = "native", target_arch = "x86_64", target_os = "none")
)))]
use cella_abi::ErrorCode;

macro_rules! imports {
    ($( $(#[$attribute:meta])* $safety:ident fn $name:ident ( $($param:ident : $ty:ident),* ) -> $ret:ident = $function:ident ; )*) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "cella")]
        unsafe extern "C" {
            $( $(#[$attribute])* pub(crate) $safety fn $name($($param: $ty),*) -> $ret; )*
        }

        /// Host stubs: every call is refused (see the module docs).
        #[cfg(not(any(target_arch = "wasm32", all(feature = "native", target_arch = "x86_64", target_os = "none"))))]
        mod stubs {
            use super::ErrorCode;
            $( stub!($safety fn $name($($param: $ty),*) -> $ret); )*

            trait Refusal {
                fn refused() -> Self;
            }
            impl Refusal for i32 {
                fn refused() -> i32 {
                    ErrorCode::DeviceError.code()
                }
            }
            impl Refusal for i64 {
                fn refused() -> i64 {
                    i64::from(ErrorCode::DeviceError.code())
                }
            }
            fn stub_result<T: Refusal>() -> T {
                T::refused()
            }
        }
        #[cfg(not(any(target_arch = "wasm32", all(feature = "native", target_arch = "x86_64", target_os = "none"))))]
        pub(crate) use stubs::*;
        #[cfg(all(feature = "native", target_arch = "x86_64", target_os = "none"))]
        pub(crate) use crate::native::*;

        /// What this file declares, for the host test that compares it with
        /// `cella-abi`: (ABI function, import name, parameter types, result type).
        #[cfg(test)]
        pub(crate) const DECLARED: &[(cella_abi::HostFunction, &str, &[&str], &str)] = &[
            $( (cella_abi::HostFunction::$function, stringify!($name), &[$(stringify!($ty)),*], stringify!($ret)), )*
        ];
    };
}

/// One host stub, `safe` (a plain `fn`) or `unsafe`.
#[cfg(not(any(
    target_arch = "wasm32",
    all(feature = "native", target_arch = "x86_64", target_os = "none")
)))]
macro_rules! stub {
    (safe fn $name:ident ( $($param:ident : $ty:ident),* ) -> $ret:ident) => {
        #[allow(unused_variables)]
        pub(crate) fn $name($($param: $ty),*) -> $ret {
            stub_result()
        }
    };
    (unsafe fn $name:ident ( $($param:ident : $ty:ident),* ) -> $ret:ident) => {
        /// # Safety
        /// None needed: the stub touches no memory.
        #[allow(unused_variables)]
        pub(crate) unsafe fn $name($($param: $ty),*) -> $ret {
            stub_result()
        }
    };
}

imports! {
    safe fn log(level: i32, pointer: i32, length: i32) -> i32 = Log;
    safe fn cap_handle(index: i32) -> i32 = CapabilityHandle;
    safe fn port_in8(handle: i32, offset: i32) -> i64 = PortIn8;
    safe fn port_in16(handle: i32, offset: i32) -> i64 = PortIn16;
    safe fn port_in32(handle: i32, offset: i32) -> i64 = PortIn32;
    safe fn port_out8(handle: i32, offset: i32, value: i32) -> i32 = PortOut8;
    safe fn port_out16(handle: i32, offset: i32, value: i32) -> i32 = PortOut16;
    safe fn port_out32(handle: i32, offset: i32, value: i32) -> i32 = PortOut32;
    /// Writes `count` bytes at `pointer`.
    unsafe fn port_in8_n(handle: i32, offset: i32, pointer: i32, count: i32) -> i32 = PortIn8Bytes;
    safe fn port_out8_n(handle: i32, offset: i32, pointer: i32, count: i32) -> i32 = PortOut8Bytes;
    safe fn mmio_read8(handle: i32, offset: i32) -> i64 = MmioRead8;
    safe fn mmio_read16(handle: i32, offset: i32) -> i64 = MmioRead16;
    safe fn mmio_read32(handle: i32, offset: i32) -> i64 = MmioRead32;
    /// Writes 8 bytes at `out_pointer`.
    unsafe fn mmio_read64(handle: i32, offset: i32, out_pointer: i32) -> i32 = MmioRead64;
    safe fn mmio_write8(handle: i32, offset: i32, value: i32) -> i32 = MmioWrite8;
    safe fn mmio_write16(handle: i32, offset: i32, value: i32) -> i32 = MmioWrite16;
    safe fn mmio_write32(handle: i32, offset: i32, value: i32) -> i32 = MmioWrite32;
    safe fn mmio_write64(handle: i32, offset: i32, value: i64) -> i32 = MmioWrite64;
    safe fn irq_enable(handle: i32) -> i32 = IrqEnable;
    safe fn irq_disable(handle: i32) -> i32 = IrqDisable;
    safe fn irq_ack(handle: i32) -> i32 = IrqAck;
    safe fn dma_alloc(pool: i32, size: i32) -> i32 = DmaAlloc;
    safe fn dma_free(buffer: i32) -> i32 = DmaFree;
    safe fn dma_address(buffer: i32) -> i64 = DmaAddress;
    safe fn dma_size(buffer: i32) -> i64 = DmaSize;
    safe fn dma_write(buffer: i32, offset: i32, source: i32, length: i32) -> i32 = DmaWrite;
    /// Writes `length` bytes at `destination`.
    unsafe fn dma_read(buffer: i32, offset: i32, destination: i32, length: i32) -> i32 = DmaRead;
    safe fn ipc_send(endpoint: i32, pointer: i32, length: i32) -> i32 = IpcSend;
    /// Writes up to `capacity` bytes at `pointer`.
    unsafe fn ipc_receive(pointer: i32, capacity: i32) -> i32 = IpcReceive;
    safe fn ipc_reply(request: i32, pointer: i32, length: i32) -> i32 = IpcReply;
    safe fn ipc_call(endpoint: i32, pointer: i32, length: i32, deadline_milliseconds: i32) -> i32 = IpcCall;
    safe fn ipc_call_lending(endpoint: i32, pointer: i32, length: i32, deadline_milliseconds: i32, buffer: i32, access: i32) -> i32 = IpcCallLending;
    safe fn ipc_loan(request: i32, access: i32) -> i32 = IpcLoan;
    /// Writes up to `capacity` bytes at `pointer`.
    unsafe fn ipc_wait(call: i32, pointer: i32, capacity: i32) -> i32 = IpcWait;
    safe fn time_now() -> i64 = TimeNow;
    safe fn timer_set(timer: i32, deadline: i64) -> i32 = TimerSet;
    safe fn timer_cancel(timer: i32) -> i32 = TimerCancel;
    safe fn pci_config_read(device: i32, offset: i32, width: i32) -> i64 = PciConfigRead;
    safe fn pci_config_write(device: i32, offset: i32, width: i32, value: i32) -> i32 = PciConfigWrite;
    safe fn pci_bar(device: i32, index: i32) -> i32 = PciBar;
    safe fn pci_io_bar(device: i32, index: i32) -> i32 = PciIoBar;
    safe fn pci_irq(device: i32) -> i32 = PciIrq;
    safe fn pci_msix(device: i32, entry: i32) -> i32 = PciMsix;
    /// Writes up to `capacity` bytes at `pointer`.
    unsafe fn pci_bus_function(bus: i32, index: i32, pointer: i32, capacity: i32) -> i32 = PciBusFunction;
}

/// A guest pointer: the address of `bytes` in linear memory. On wasm32
/// pointers are 32 bits, so the conversion is exact; elsewhere (host stubs)
/// the value is never dereferenced.
pub(crate) fn pointer(bytes: &[u8]) -> i32 {
    bytes.as_ptr() as usize as i32
}

/// A guest pointer for the host to write through: the address of `bytes`,
/// taken from the exclusive reference so the write is allowed.
pub(crate) fn pointer_mut(bytes: &mut [u8]) -> i32 {
    bytes.as_mut_ptr() as usize as i32
}

/// A guest length (slices passed to the host are far below 2 GiB on wasm32;
/// longer ones are clamped and the host refuses them by length).
pub(crate) fn length(bytes: &[u8]) -> i32 {
    i32::try_from(bytes.len()).unwrap_or(i32::MAX)
}

/// `ipc_receive` into `buffer`: the message being handled, or the host's
/// refusal.
pub(crate) fn ipc_receive_into(buffer: &mut [u8]) -> i32 {
    let capacity = length(buffer);
    let pointer = pointer_mut(buffer);
    // SAFETY: `pointer` and `capacity` name `buffer`, a live exclusive
    // slice; the host writes at most `capacity` bytes there.
    unsafe { ipc_receive(pointer, capacity) }
}

/// `ipc_wait` for `call`'s answer into `reply`.
#[cfg_attr(
    all(feature = "native", target_arch = "x86_64", target_os = "none"),
    allow(dead_code)
)]
pub(crate) fn ipc_wait_into(call: i32, reply: &mut [u8]) -> i32 {
    let capacity = length(reply);
    let pointer = pointer_mut(reply);
    // SAFETY: `pointer` and `capacity` name `reply`, a live exclusive slice;
    // the host writes at most `capacity` bytes there.
    unsafe { ipc_wait(call, pointer, capacity) }
}

/// `port_in8_n`: `buffer.len()` bytes read from port `offset` of `handle`.
pub(crate) fn port_in8_n_into(handle: i32, offset: i32, buffer: &mut [u8]) -> i32 {
    let count = length(buffer);
    let pointer = pointer_mut(buffer);
    // SAFETY: `pointer` and `count` name `buffer`, a live exclusive slice;
    // the host writes at most `count` bytes there.
    unsafe { port_in8_n(handle, offset, pointer, count) }
}

/// `mmio_read64` at `offset` of `handle` into `value`.
pub(crate) fn mmio_read64_into(handle: i32, offset: i32, value: &mut [u8; 8]) -> i32 {
    let pointer = pointer_mut(value);
    // SAFETY: the host writes exactly 8 bytes at `pointer`, the address of
    // `value`, a live exclusive 8-byte array.
    unsafe { mmio_read64(handle, offset, pointer) }
}

/// `dma_read` of `destination.len()` bytes at `offset` of buffer `handle`.
pub(crate) fn dma_read_into(handle: i32, offset: i32, destination: &mut [u8]) -> i32 {
    let count = length(destination);
    let pointer = pointer_mut(destination);
    // SAFETY: `pointer` and `count` name `destination`, a live exclusive
    // slice; the host writes at most `count` bytes there.
    unsafe { dma_read(handle, offset, pointer, count) }
}

/// `pci_bus_function`: the `index`-th function's record into `record`.
pub(crate) fn pci_bus_function_into(bus: i32, index: i32, record: &mut [u8]) -> i32 {
    let capacity = length(record);
    let pointer = pointer_mut(record);
    // SAFETY: `pointer` and `capacity` name `record`, a live exclusive
    // slice; the host writes at most `capacity` bytes there.
    unsafe { pci_bus_function(bus, index, pointer, capacity) }
}

#[cfg(test)]
mod tests {
    use super::DECLARED;
    use cella_abi::{HostFunction, ValueType};

    fn type_name(value: ValueType) -> &'static str {
        match value {
            ValueType::I32 => "i32",
            ValueType::I64 => "i64",
        }
    }

    #[test]
    fn imports_match_the_abi() {
        assert_eq!(DECLARED.len(), HostFunction::ALL.len());
        for (function, name, params, result) in DECLARED {
            assert_eq!(function.name(), *name);
            let signature = function.signature();
            let expected: Vec<&str> = signature.params.iter().map(|v| type_name(*v)).collect();
            assert_eq!(expected.as_slice(), *params, "{name}");
            assert_eq!(type_name(signature.results[0]), *result, "{name}");
        }
        for function in HostFunction::ALL {
            assert!(DECLARED.iter().any(|(declared, ..)| declared == function));
        }
    }

    /// Every host call that writes into linear memory is called through
    /// the safe wrappers here: no other file of the SDK has an `unsafe`
    /// block, function or impl, except the native backend (system calls)
    /// and the module state's `Slot` (see its documentation).
    #[test]
    fn unsafe_code_lives_only_in_the_imports_the_native_backend_and_the_slot() {
        fn files(directory: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(directory).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, found);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    found.push(path);
                }
            }
        }
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        files(&source, &mut found);
        assert!(found.len() > 10, "{found:?}");
        let allowed = ["sys.rs", "module.rs", "module/tests.rs", "native/"];
        for path in found {
            let relative = path.strip_prefix(&source).unwrap().to_string_lossy();
            if allowed.iter().any(|name| relative.starts_with(name)) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for pattern in ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern"] {
                assert!(!text.contains(pattern), "{relative} has `{pattern}`");
            }
        }
    }
}
