//! The wasmi linker that defines exactly ABI v1: one closure per
//! [`HostFunction`], each a thin adapter from Wasm values to the bodies in
//! [`crate::calls`].

use crate::calls::{self, call, dma, ipc, irq, log, mmio, pci, ports, time};
use crate::fuel::Meter;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::State;
use crate::waiting;
use cella_abi::{ErrorCode, HostFunction, IMPORT_MODULE};
use wasmi::{Caller, Linker, TrapCode};

type Context<'a, P, O> = Caller<'a, State<P, O>>;

/// Runs `body` with the guest's linear memory and the host state, the
/// store's fuel in the state's [`Meter`] for the body to pay for the bytes it
/// moves; a module without an exported memory gets [`ErrorCode::BadPointer`],
/// a body whose bytes the fuel does not cover traps with `OutOfFuel`.
#[inline]
fn with_memory<P: Platform + 'static, O: Outbox + 'static>(
    caller: &mut Context<'_, P, O>,
    function: HostFunction,
    body: impl FnOnce(&mut [u8], &mut State<P, O>) -> Result<i32, ErrorCode>,
) -> Result<i32, wasmi::Error> {
    // Fuel is always metered (the runtime's config turns it on); without it
    // the bytes would simply not be charged.
    let fuel = caller.get_fuel().ok();
    caller.data_mut().meter = Meter::new(fuel.unwrap_or(u64::MAX));
    let outcome = match caller.data().memory {
        Some(memory) => {
            let (bytes, state) = memory.data_and_store_mut(&mut *caller);
            body(bytes, state)
        }
        None => Err(ErrorCode::BadPointer),
    };
    let meter = caller.data().meter;
    if fuel.is_some() {
        // Cannot fail: fuel metering is on.
        let _ = caller.set_fuel(meter.left());
    }
    if meter.is_exhausted() {
        let state = caller.data_mut();
        state.attempt = None;
        state.counters.host_calls = state.counters.host_calls.wrapping_add(1);
        return Err(wasmi::Error::from(TrapCode::OutOfFuel));
    }
    caller.data_mut().conclude_i32(function, outcome)
}

/// Takes [`crate::fuel::HOST_CALL_FUEL`] from the store for one host call.
///
/// # Errors
/// An `OutOfFuel` trap when the fuel left does not cover it.
#[inline]
fn pay_for_call<P: 'static, O: 'static>(
    caller: &mut Context<'_, P, O>,
) -> Result<(), wasmi::Error> {
    // Fuel is always metered (the runtime's config turns it on).
    let Ok(fuel) = caller.get_fuel() else {
        return Ok(());
    };
    let left = Meter::pay_for_call(fuel);
    // Cannot fail: fuel metering is on.
    let _ = caller.set_fuel(left.unwrap_or(0));
    match left {
        Some(_) => Ok(()),
        None => Err(wasmi::Error::from(TrapCode::OutOfFuel)),
    }
}

macro_rules! define {
    ($linker:ident, $function:expr, |$caller:ident $(, $arg:ident : $ty:ty)*| -> $ret:ty $body:block) => {
        // Names are unique (checked by cella-abi's tests), so defining cannot fail.
        let _ = $linker.func_wrap(
            IMPORT_MODULE,
            $function.name(),
            move |mut $caller: Context<'_, P, O>, $($arg: $ty),*| -> Result<$ret, wasmi::Error> {
                pay_for_call(&mut $caller)?;
                $body
            },
        );
    };
}

/// Builds the linker for one [`crate::Runtime`].
pub(crate) fn build<P: Platform + 'static, O: Outbox + 'static>(
    engine: &wasmi::Engine,
) -> Linker<State<P, O>> {
    let mut linker = Linker::new(engine);
    let linker_ref = &mut linker;
    define!(linker_ref, HostFunction::Log, |caller,
                                            level: i32,
                                            pointer: i32,
                                            length: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::Log, |memory, state| {
            log::log(memory, state, level, pointer, length)
        })
    });
    define!(linker_ref, HostFunction::CapabilityHandle, |caller,
                                                         index: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = calls::capability_handle(state, index);
        state.conclude_i32(HostFunction::CapabilityHandle, outcome)
    });
    for (function, width) in [
        (HostFunction::PortIn8, Width::Byte),
        (HostFunction::PortIn16, Width::Word),
        (HostFunction::PortIn32, Width::Dword),
    ] {
        define!(linker_ref, function, |caller,
                                       handle: i32,
                                       offset: i32|
         -> i64 {
            let state = caller.data_mut();
            let outcome = ports::port_in(state, width, handle, offset);
            state.conclude_i64(function, outcome)
        });
    }
    for (function, width) in [
        (HostFunction::PortOut8, Width::Byte),
        (HostFunction::PortOut16, Width::Word),
        (HostFunction::PortOut32, Width::Dword),
    ] {
        define!(linker_ref, function, |caller,
                                       handle: i32,
                                       offset: i32,
                                       value: i32|
         -> i32 {
            let state = caller.data_mut();
            let outcome = ports::port_out(state, width, handle, offset, value);
            state.conclude_i32(function, outcome)
        });
    }
    define!(linker_ref, HostFunction::PortIn8Bytes, |caller,
                                                     handle: i32,
                                                     offset: i32,
                                                     pointer: i32,
                                                     count: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::PortIn8Bytes, |memory, state| {
            ports::port_in_bytes(memory, state, [handle, offset, pointer, count])
        })
    });
    define!(linker_ref, HostFunction::PortOut8Bytes, |caller,
                                                      handle: i32,
                                                      offset: i32,
                                                      pointer: i32,
                                                      count: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::PortOut8Bytes, |memory, state| {
            ports::port_out_bytes(memory, state, [handle, offset, pointer, count])
        })
    });
    for (function, width) in [
        (HostFunction::MmioRead8, Width::Byte),
        (HostFunction::MmioRead16, Width::Word),
        (HostFunction::MmioRead32, Width::Dword),
    ] {
        define!(linker_ref, function, |caller,
                                       handle: i32,
                                       offset: i32|
         -> i64 {
            let state = caller.data_mut();
            let outcome = mmio::read(state, width, handle, offset);
            state.conclude_i64(function, outcome)
        });
    }
    define!(linker_ref, HostFunction::MmioRead64, |caller,
                                                   handle: i32,
                                                   offset: i32,
                                                   out: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::MmioRead64, |memory, state| {
            mmio::read64(memory, state, handle, offset, out)
        })
    });
    for (function, width) in [
        (HostFunction::MmioWrite8, Width::Byte),
        (HostFunction::MmioWrite16, Width::Word),
        (HostFunction::MmioWrite32, Width::Dword),
    ] {
        define!(linker_ref, function, |caller,
                                       handle: i32,
                                       offset: i32,
                                       value: i32|
         -> i32 {
            let state = caller.data_mut();
            let outcome = mmio::write(state, width, handle, offset, u64::from(value as u32));
            state.conclude_i32(function, outcome)
        });
    }
    define!(linker_ref, HostFunction::MmioWrite64, |caller,
                                                    handle: i32,
                                                    offset: i32,
                                                    value: i64|
     -> i32 {
        let state = caller.data_mut();
        let outcome = mmio::write(state, Width::Qword, handle, offset, value as u64);
        state.conclude_i32(HostFunction::MmioWrite64, outcome)
    });
    for (function, enabled) in [
        (HostFunction::IrqEnable, true),
        (HostFunction::IrqDisable, false),
    ] {
        define!(linker_ref, function, |caller, handle: i32| -> i32 {
            let state = caller.data_mut();
            let outcome = irq::set_enabled(state, handle, enabled);
            state.conclude_i32(function, outcome)
        });
    }
    define!(linker_ref, HostFunction::IrqAck, |caller,
                                               handle: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = irq::acknowledge(state, handle);
        state.conclude_i32(HostFunction::IrqAck, outcome)
    });
    define!(linker_ref, HostFunction::DmaAlloc, |caller,
                                                 pool: i32,
                                                 size: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = dma::allocate(state, pool, size);
        state.conclude_i32(HostFunction::DmaAlloc, outcome)
    });
    define!(linker_ref, HostFunction::DmaFree, |caller,
                                                buffer: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = dma::free(state, buffer);
        state.conclude_i32(HostFunction::DmaFree, outcome)
    });
    define!(linker_ref, HostFunction::DmaAddress, |caller,
                                                   buffer: i32|
     -> i64 {
        let state = caller.data_mut();
        let outcome = dma::address(state, buffer);
        state.conclude_i64(HostFunction::DmaAddress, outcome)
    });
    define!(linker_ref, HostFunction::DmaSize, |caller,
                                                buffer: i32|
     -> i64 {
        let state = caller.data_mut();
        let outcome = dma::size(state, buffer);
        state.conclude_i64(HostFunction::DmaSize, outcome)
    });
    define!(linker_ref, HostFunction::DmaWrite, |caller,
                                                 buffer: i32,
                                                 offset: i32,
                                                 source: i32,
                                                 length: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::DmaWrite, |memory, state| {
            dma::write(memory, state, buffer, offset, source, length)
        })
    });
    define!(linker_ref, HostFunction::DmaRead, |caller,
                                                buffer: i32,
                                                offset: i32,
                                                destination: i32,
                                                length: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::DmaRead, |memory, state| {
            dma::read(memory, state, buffer, offset, destination, length)
        })
    });
    define!(linker_ref, HostFunction::IpcSend, |caller,
                                                endpoint: i32,
                                                pointer: i32,
                                                length: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::IpcSend, |memory, state| {
            ipc::send(memory, state, endpoint, pointer, length)
        })
    });
    define!(linker_ref, HostFunction::IpcReceive, |caller,
                                                   pointer: i32,
                                                   capacity: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::IpcReceive, |memory, state| {
            ipc::receive(memory, state, pointer, capacity)
        })
    });
    define!(linker_ref, HostFunction::IpcReply, |caller,
                                                 request: i32,
                                                 pointer: i32,
                                                 length: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::IpcReply, |memory, state| {
            ipc::reply(memory, state, request, pointer, length)
        })
    });
    define!(linker_ref, HostFunction::IpcCall, |caller,
                                                endpoint: i32,
                                                pointer: i32,
                                                length: i32,
                                                deadline: i32|
     -> i32 {
        with_memory(&mut caller, HostFunction::IpcCall, |memory, state| {
            call::call(memory, state, endpoint, pointer, length, deadline, None)
        })
    });
    define!(linker_ref, HostFunction::IpcLoan, |caller,
                                                request: i32,
                                                access: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = ipc::loan(state, request, access);
        state.conclude_i32(HostFunction::IpcLoan, outcome)
    });
    define!(linker_ref, HostFunction::IpcWait, |caller,
                                                call: i32,
                                                pointer: i32,
                                                capacity: i32|
     -> i32 {
        let memory_length = match caller.data().memory {
            Some(memory) => memory.data(&caller).len(),
            None => 0,
        };
        let state = caller.data_mut();
        match waiting::request(memory_length, state, call, pointer, capacity) {
            Ok(wait) => {
                state.note(crate::access::Access::Wait { call: wait.call });
                state.wait_request = Some(wait);
                state.counters.host_calls = state.counters.host_calls.wrapping_add(1);
                Err(wasmi::Error::host(waiting::WaitForAnswer))
            }
            Err(error) => state.conclude_i32(HostFunction::IpcWait, Err(error)),
        }
    });
    define!(linker_ref, HostFunction::IpcCallLending, |caller,
                                                       endpoint: i32,
                                                       pointer: i32,
                                                       length: i32,
                                                       deadline: i32,
                                                       buffer: i32,
                                                       access: i32|
     -> i32 {
        with_memory(
            &mut caller,
            HostFunction::IpcCallLending,
            |memory, state| {
                call::call_lending(
                    memory, state, endpoint, pointer, length, deadline, buffer, access,
                )
            },
        )
    });
    define!(linker_ref, HostFunction::TimeNow, |caller| -> i64 {
        let state = caller.data_mut();
        state.counters.host_calls = state.counters.host_calls.wrapping_add(1);
        Ok(time::now(state))
    });
    define!(linker_ref, HostFunction::TimerSet, |caller,
                                                 handle: i32,
                                                 deadline: i64|
     -> i32 {
        let state = caller.data_mut();
        let outcome = time::set(state, handle, Some(deadline));
        state.conclude_i32(HostFunction::TimerSet, outcome)
    });
    define!(linker_ref, HostFunction::TimerCancel, |caller,
                                                    handle: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = time::set(state, handle, None);
        state.conclude_i32(HostFunction::TimerCancel, outcome)
    });
    define!(linker_ref, HostFunction::PciConfigRead, |caller,
                                                      device: i32,
                                                      offset: i32,
                                                      width: i32|
     -> i64 {
        let state = caller.data_mut();
        let outcome = pci::config_read(state, device, offset, width);
        state.conclude_i64(HostFunction::PciConfigRead, outcome)
    });
    define!(linker_ref, HostFunction::PciConfigWrite, |caller,
                                                       device: i32,
                                                       offset: i32,
                                                       width: i32,
                                                       value: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = pci::config_write(state, device, offset, width, value);
        state.conclude_i32(HostFunction::PciConfigWrite, outcome)
    });
    define!(linker_ref, HostFunction::PciBar, |caller,
                                               device: i32,
                                               index: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = pci::bar(state, device, index);
        state.conclude_i32(HostFunction::PciBar, outcome)
    });
    define!(linker_ref, HostFunction::PciIoBar, |caller,
                                                 device: i32,
                                                 index: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = pci::io_bar(state, device, index);
        state.conclude_i32(HostFunction::PciIoBar, outcome)
    });
    define!(linker_ref, HostFunction::PciIrq, |caller,
                                               device: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = pci::irq(state, device);
        state.conclude_i32(HostFunction::PciIrq, outcome)
    });
    define!(linker_ref, HostFunction::PciMsix, |caller,
                                                device: i32,
                                                entry: i32|
     -> i32 {
        let state = caller.data_mut();
        let outcome = pci::msix(state, device, entry);
        state.conclude_i32(HostFunction::PciMsix, outcome)
    });
    define!(linker_ref, HostFunction::PciBusFunction, |caller,
                                                       bus: i32,
                                                       index: i32,
                                                       pointer: i32,
                                                       capacity: i32|
     -> i32 {
        with_memory(
            &mut caller,
            HostFunction::PciBusFunction,
            |memory, state| pci::bus_function(memory, state, bus, index, pointer, capacity),
        )
    });
    linker
}
