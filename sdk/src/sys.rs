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
//! declared `safe fn` except the five that *write* into linear memory at a
//! pointer (`port_in8_n`, `mmio_read64`, `dma_read`, `ipc_receive`,
//! `pci_bus_function`): those stay `unsafe fn`
//! and are called only from the safe wrappers in this crate, each with a
//! `// SAFETY:` comment.
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
}
