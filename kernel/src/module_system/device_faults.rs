//! Faults a module's device caused: DMA the IOMMU blocked. The kernel
//! reports each with the device that issued it
//! ([`KernelServices::take_device_faults`]); the module whose grant holds
//! that device is faulted like any other faulting module (recorded, its
//! waiting requests settled, restarted by its policy), as soon as its
//! instance is home.
//!
//! A device may report the same fault again just after its driver was
//! restarted for it: a request the old instance gave the device can still
//! complete (and be blocked again) after the new instance reset the device.
//! The same fault text from the same device within [`REPEAT_WINDOW_NS`] of
//! the fault that restarted its holder is logged as that fault reported
//! again and not held against the new instance; the IOMMU blocked the
//! write either way.
#![forbid(unsafe_code)]

use super::event_loop::EventLoop;
use super::services::KernelServices;
use cella_wasm_host::Entry;

/// How long after a device fault the same fault from the same device counts
/// as a late report of it.
pub const REPEAT_WINDOW_NS: u64 = 100_000_000;

impl<K: KernelServices> EventLoop<K> {
    /// Takes the device faults the kernel saw, marks each on the module
    /// holding the device, and faults every marked module that is home.
    /// Returns whether any module was faulted.
    pub(crate) fn fault_modules_of_faulting_devices(&mut self) -> bool {
        let now = self.kernel.now();
        for (device, text) in self.kernel.take_device_faults() {
            let holder = self
                .table
                .slots
                .iter_mut()
                .find(|slot| slot.is_running() && slot.devices().any(|held| held == device));
            match holder {
                Some(slot)
                    if slot.last_device_fault.as_ref().is_some_and(|(at, last)| {
                        *last == text && now.saturating_sub(*at) < REPEAT_WINDOW_NS
                    }) =>
                {
                    log::warn!(
                        "module {}: its device reported again the fault it was restarted for ({text}); not held against the new instance",
                        slot.plan.name
                    );
                }
                Some(slot) => {
                    log::error!("module {}: its device {text}", slot.plan.name);
                    slot.device_fault.get_or_insert(text);
                }
                None => log::error!("{text} (no running module holds {device})"),
            }
        }
        let mut faulted = false;
        for index in 0..self.table.slots.len() {
            let slot = &mut self.table.slots[index];
            if slot.away || slot.device_fault.is_none() {
                continue;
            }
            let Some(text) = slot.device_fault.take() else {
                continue;
            };
            let Some(sandbox) = slot.sandbox.as_mut().filter(|sandbox| sandbox.is_alive()) else {
                continue;
            };
            let fault = sandbox.fault_by_embedder(Entry::Device, text.clone());
            slot.last_device_fault = Some((now, text));
            self.contain(index, &fault, None);
            faulted = true;
        }
        faulted
    }
}
