//! DMA buffers lent with a call (`ipc_call_lending`), on the server's side.
//!
//! The caller lends one of its own buffers for one call. The server's
//! instance receives it with the request as a [`Capability::LentBuffer`]
//! (mapped for its device by [`Platform::dma_lend`]), reaches it with
//! `ipc_loan`, and gives it back when it answers the request, or when it
//! ends. A swap's new instance borrows it again for the requests it takes
//! over. The platform keeps the memory alive until the last loan is back,
//! so neither side's death frees memory the other's device may still reach.

use crate::capabilities::Capability;
use crate::events::{Delivery, Event};
use crate::faults::Fault;
use crate::outbox::{Loan, Outbox};
use crate::platform::Platform;
use crate::sandbox::Sandbox;
use crate::state::State;
use cella_abi::LogLevel;

/// Gives back the buffer lent with request `request`, if this instance
/// holds it.
pub(crate) fn give_back<P: Platform, O>(state: &mut State<P, O>, request: u32) {
    if let Some(Capability::LentBuffer {
        device_address,
        size,
        device,
        ..
    }) = state.capabilities.take_loan(request)
    {
        state.platform.dma_return(device, device_address, size);
    }
}

/// Borrows `loan` for request `request` into `state`'s table; whether it
/// is held (it was already, or it is now).
fn borrow<P: Platform, O>(state: &mut State<P, O>, request: u32, loan: Loan) -> bool {
    if state.capabilities.handle_of_loan(request).is_some() {
        return true;
    }
    let device = state.capabilities.pci_function();
    if !state
        .platform
        .dma_lend(device, loan.device_address, loan.size, loan.writable)
    {
        return false;
    }
    let capability = Capability::LentBuffer {
        request,
        device_address: loan.device_address,
        size: loan.size,
        writable: loan.writable,
        device,
    };
    if state.capabilities.insert(capability).is_err() {
        state
            .platform
            .dma_return(device, loan.device_address, loan.size);
        return false;
    }
    true
}

/// A swap's new instance (`fresh`) borrows every buffer the old one holds,
/// for the requests it takes over. A loan it cannot take is logged; that
/// request then finds no loan (`ipc_loan` answers `NotFound`).
pub(crate) fn carry_over<P: Platform, O>(old: &State<P, O>, fresh: &mut State<P, O>) {
    for capability in old.capabilities.iter() {
        if let Capability::LentBuffer {
            request,
            device_address,
            size,
            writable,
            ..
        } = *capability
        {
            let loan = Loan {
                device_address,
                size,
                writable,
            };
            if !borrow(fresh, request, loan) {
                let text = alloc::format!(
                    "the buffer lent with request {request} did not carry over to the new version"
                );
                fresh.platform.log(&fresh.module, LogLevel::Warn, &text);
            }
        }
    }
}

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// Delivers request `request` (non-zero) with the buffer its caller
    /// lent: the instance holds the buffer from now until it answers the
    /// request (or ends). A loan the platform refuses, or one the table has
    /// no room for, refuses the request ([`Delivery::Refused`]): the caller
    /// should get an error.
    ///
    /// # Errors
    /// As [`Sandbox::deliver`].
    pub fn deliver_lent(
        &mut self,
        request: u32,
        bytes: &[u8],
        loan: Loan,
    ) -> Result<Delivery, Fault> {
        self.check_alive()?;
        if request == 0 || !borrow(self.store.data_mut(), request, loan) {
            return Ok(Delivery::Refused);
        }
        let delivery = self.deliver(Event::Message { request, bytes });
        // Not taken (a fault released every capability already): nobody
        // will answer it here.
        let state = self.store.data_mut();
        if !state.pending_requests.contains(&request) {
            give_back(state, request);
        }
        delivery
    }
}
