//! Every host function of ABI v1: its import name and its Wasm signature.
//!
//! All functions are imported from [`crate::IMPORT_MODULE`]. Handles are `i32`
//! values obtained from `cap_handle`; offsets, ports and lengths are `i32`
//! values read as unsigned 32-bit numbers; pointers are offsets into the
//! module's exported linear memory.

/// A Wasm value type used in ABI signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
}

/// A host function's parameter and result types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types in order.
    pub params: &'static [ValueType],
    /// Result types in order (every ABI v1 function returns exactly one value).
    pub results: &'static [ValueType],
}

use ValueType::{I32, I64};

const fn signature(params: &'static [ValueType], results: &'static [ValueType]) -> Signature {
    Signature { params, results }
}

macro_rules! host_functions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal ($($param:ident),*) -> $result:ident ;)*) => {
        /// Every host function of ABI v1.
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum HostFunction {
            $( $(#[$doc])* $variant, )*
        }

        impl HostFunction {
            /// Every host function, in declaration order.
            pub const ALL: &'static [HostFunction] = &[$(HostFunction::$variant,)*];

            /// The import name.
            pub const fn name(self) -> &'static str {
                match self {
                    $( HostFunction::$variant => $name, )*
                }
            }

            /// The Wasm signature.
            pub const fn signature(self) -> Signature {
                match self {
                    $( HostFunction::$variant => signature(&[$($param),*], &[$result]), )*
                }
            }
        }
    };
}

host_functions! {
    /// `log(level, pointer, length) -> error`: write a UTF-8 message at a
    /// [`crate::LogLevel`]. Needs no capability.
    Log = "log" (I32, I32, I32) -> I32;
    /// `cap_handle(index) -> handle | error`: the handle of the capability the
    /// manifest requested at `index` (0-based, capability lines only).
    CapabilityHandle = "cap_handle" (I32) -> I32;
    /// `port_in8(handle, offset) -> value | error`.
    PortIn8 = "port_in8" (I32, I32) -> I64;
    /// `port_in16(handle, offset) -> value | error`.
    PortIn16 = "port_in16" (I32, I32) -> I64;
    /// `port_in32(handle, offset) -> value | error`.
    PortIn32 = "port_in32" (I32, I32) -> I64;
    /// `port_out8(handle, offset, value) -> error`.
    PortOut8 = "port_out8" (I32, I32, I32) -> I32;
    /// `port_out16(handle, offset, value) -> error`.
    PortOut16 = "port_out16" (I32, I32, I32) -> I32;
    /// `port_out32(handle, offset, value) -> error`.
    PortOut32 = "port_out32" (I32, I32, I32) -> I32;
    /// `port_in8_n(handle, offset, pointer, count) -> error`: read `count`
    /// bytes (at most [`crate::MAX_PORT_BYTES`]) from the one 8-bit port at
    /// `offset` into linear memory at `pointer`, checked once.
    PortIn8Bytes = "port_in8_n" (I32, I32, I32, I32) -> I32;
    /// `port_out8_n(handle, offset, pointer, count) -> error`: write `count`
    /// bytes (at most [`crate::MAX_PORT_BYTES`]) from linear memory at
    /// `pointer` to the one 8-bit port at `offset`, checked once.
    PortOut8Bytes = "port_out8_n" (I32, I32, I32, I32) -> I32;
    /// `mmio_read8(handle, offset) -> value | error`.
    MmioRead8 = "mmio_read8" (I32, I32) -> I64;
    /// `mmio_read16(handle, offset) -> value | error`.
    MmioRead16 = "mmio_read16" (I32, I32) -> I64;
    /// `mmio_read32(handle, offset) -> value | error`.
    MmioRead32 = "mmio_read32" (I32, I32) -> I64;
    /// `mmio_read64(handle, offset, out_pointer) -> error`: stores the value
    /// little-endian at `out_pointer` (8 bytes).
    MmioRead64 = "mmio_read64" (I32, I32, I32) -> I32;
    /// `mmio_write8(handle, offset, value) -> error`.
    MmioWrite8 = "mmio_write8" (I32, I32, I32) -> I32;
    /// `mmio_write16(handle, offset, value) -> error`.
    MmioWrite16 = "mmio_write16" (I32, I32, I32) -> I32;
    /// `mmio_write32(handle, offset, value) -> error`.
    MmioWrite32 = "mmio_write32" (I32, I32, I32) -> I32;
    /// `mmio_write64(handle, offset, value) -> error`.
    MmioWrite64 = "mmio_write64" (I32, I32, I64) -> I32;
    /// `irq_enable(handle) -> error`: unmask a granted IRQ line.
    IrqEnable = "irq_enable" (I32) -> I32;
    /// `irq_disable(handle) -> error`: mask a granted IRQ line.
    IrqDisable = "irq_disable" (I32) -> I32;
    /// `irq_ack(handle) -> error`: acknowledge (end of interrupt) a granted line.
    IrqAck = "irq_ack" (I32) -> I32;
    /// `dma_alloc(pool_handle, size) -> buffer_handle | error`.
    DmaAlloc = "dma_alloc" (I32, I32) -> I32;
    /// `dma_free(buffer_handle) -> error`.
    DmaFree = "dma_free" (I32) -> I32;
    /// `dma_address(buffer_handle) -> device_address | error`.
    DmaAddress = "dma_address" (I32) -> I64;
    /// `dma_size(buffer_handle) -> bytes | error`: the buffer's size (an own
    /// buffer's or a lent one's).
    DmaSize = "dma_size" (I32) -> I64;
    /// `dma_write(buffer_handle, offset, source_pointer, length) -> error`:
    /// copy from linear memory into the buffer.
    DmaWrite = "dma_write" (I32, I32, I32, I32) -> I32;
    /// `dma_read(buffer_handle, offset, destination_pointer, length) -> error`:
    /// copy from the buffer into linear memory.
    DmaRead = "dma_read" (I32, I32, I32, I32) -> I32;
    /// `ipc_send(endpoint_handle, pointer, length) -> error`.
    IpcSend = "ipc_send" (I32, I32, I32) -> I32;
    /// `ipc_receive(pointer, capacity) -> length | error`: copy the message
    /// being handled into linear memory.
    IpcReceive = "ipc_receive" (I32, I32) -> I32;
    /// `ipc_reply(request, pointer, length) -> error`: answer a request.
    IpcReply = "ipc_reply" (I32, I32, I32) -> I32;
    /// `ipc_call(endpoint_handle, pointer, length, deadline_milliseconds) ->
    /// call_id | error`: send a request to the module serving the endpoint and
    /// return at once with a positive call id; the reply (or the failure)
    /// arrives later as an `on_reply(call_id, status, length)` event. The
    /// deadline is capped at [`crate::MAX_CALL_DEADLINE_MILLISECONDS`]; at most
    /// [`crate::DEFAULT_MAX_OUTSTANDING_CALLS`] calls (or the module's own
    /// limit) are outstanding at once.
    IpcCall = "ipc_call" (I32, I32, I32, I32) -> I32;
    /// `ipc_call_lending(endpoint_handle, pointer, length, deadline_milliseconds,
    /// buffer_handle, access) -> call_id | error`: `ipc_call` that lends one
    /// of the caller's own DMA buffers to the server for the call. `access`
    /// is [`crate::LEND_READ_ONLY`] (the server and its device may only read
    /// it) or [`crate::LEND_READ_WRITE`]. The server reaches the buffer with
    /// `ipc_loan`; the loan ends when the server answers the request or its
    /// instance ends, and the buffer's memory stays allocated until then even
    /// if the caller frees it or dies.
    IpcCallLending = "ipc_call_lending" (I32, I32, I32, I32, I32, I32) -> I32;
    /// `ipc_loan(request, access) -> buffer_handle | error`: the DMA buffer
    /// lent with request `request` (pending in this instance) as a buffer
    /// capability for `dma_address`, `dma_size`, `dma_read` and (if lent
    /// read-write) `dma_write`; `NotFound` when the request carries no loan
    /// or (`access` [`crate::LEND_READ_WRITE`]) one lent read-only.
    IpcLoan = "ipc_loan" (I32, I32) -> I32;
    /// `ipc_wait(call_id, pointer, capacity) -> reply length | error`:
    /// waits for the answer to call `call_id` (made with `ipc_call` or
    /// `ipc_call_lending` by this instance and not answered yet) inside the
    /// handler that runs: the handler is suspended and the instance takes no
    /// other event until the answer arrives or the call's deadline passes.
    /// Then the reply's bytes are written at `pointer` and their length is
    /// returned, or the call's error (`TimedOut`, `Closed`, ...; `TooLong`
    /// when the reply does not fit `capacity`, and it is dropped). The
    /// answer does not arrive as `on_reply` as well. Only an event handler
    /// may wait (`on_irq`, `on_message`, `on_timer`, `on_reply`); `init`,
    /// `save_state`, `state_buffer` and `restore_state` get `Denied`.
    IpcWait = "ipc_wait" (I32, I32, I32) -> I32;
    /// `time_now() -> nanoseconds`: monotonic time since boot.
    TimeNow = "time_now" () -> I64;
    /// `timer_set(timer_handle, deadline_nanoseconds) -> error`: arm the
    /// one-shot timer (replacing an earlier deadline).
    TimerSet = "timer_set" (I32, I64) -> I32;
    /// `timer_cancel(timer_handle) -> error`.
    TimerCancel = "timer_cancel" (I32) -> I32;
    /// `pci_config_read(device_handle, offset, width) -> value | error`: read
    /// 1, 2 or 4 bytes (`width`) of the device's own configuration space at
    /// `offset` (below 256, aligned to the width).
    PciConfigRead = "pci_config_read" (I32, I32, I32) -> I64;
    /// `pci_config_write(device_handle, offset, width, value) -> error`: write
    /// the device's own configuration space; a write touching a BAR
    /// (0x10..0x28), the ROM address (0x30..0x34) or the device's MSI-X
    /// capability (the kernel's) is refused (`Denied`).
    PciConfigWrite = "pci_config_write" (I32, I32, I32, I32) -> I32;
    /// `pci_bar(device_handle, index) -> mmio_handle | error`: the memory BAR
    /// `index` (0..6) as an MMIO capability over the whole BAR, or up to the
    /// first page holding the MSI-X table or pending bits (`NotFound` when
    /// that BAR is absent, an I/O BAR, or starts with such a page).
    PciBar = "pci_bar" (I32, I32) -> I32;
    /// `pci_io_bar(device_handle, index) -> port_handle | error`: the I/O
    /// BAR `index` (0..6) as a port-range capability over its ports
    /// (`NotFound` when that BAR is absent or a memory BAR).
    PciIoBar = "pci_io_bar" (I32, I32) -> I32;
    /// `pci_irq(device_handle) -> irq_handle | error`: the device's interrupt
    /// line as an IRQ capability (`NotFound` when it has none).
    PciIrq = "pci_irq" (I32) -> I32;
    /// `pci_bus_function(bus_handle, index, pointer, capacity) -> length |
    /// error`: write the `index`-th PCI function the kernel found at boot
    /// (its address, ids, class, interrupt line and sized BARs), encoded as
    /// `cella-interfaces`' `pci::Function` record, into linear memory at
    /// `pointer` (`NotFound` past the last function, `TooLong` when the
    /// record does not fit in `capacity` bytes).
    PciBusFunction = "pci_bus_function" (I32, I32, I32, I32) -> I32;
    /// `pci_msix(device_handle, entry) -> irq_handle | error`: a kernel
    /// vector for MSI-X table entry `entry` of the device, as an IRQ
    /// capability (the same handle each time). The kernel programs the entry
    /// and turns MSI-X on (the device stops signalling INTx); the driver
    /// points the device's interrupt sources at `entry`. `NotFound` when the
    /// device has no MSI-X (use `pci_irq`), `BadArgument` for an entry past
    /// its table, `Busy` while another instance holds the entry,
    /// `Exhausted` when the kernel has no vector free.
    PciMsix = "pci_msix" (I32, I32) -> I32;
}

impl HostFunction {
    /// The host function imported under `name`, if ABI v1 has one.
    pub fn from_name(name: &str) -> Option<HostFunction> {
        Self::ALL
            .iter()
            .copied()
            .find(|function| function.name() == name)
    }
}

impl core::fmt::Display for HostFunction {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (index, function) in HostFunction::ALL.iter().enumerate() {
            assert_eq!(HostFunction::from_name(function.name()), Some(*function));
            for other in &HostFunction::ALL[index + 1..] {
                assert_ne!(function.name(), other.name());
            }
            assert_eq!(function.signature().results.len(), 1);
        }
        assert_eq!(HostFunction::from_name("nope"), None);
    }
}
