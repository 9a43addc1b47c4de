//! Installing a module the running system does not know: pushed from the
//! host with its system manifest entry (`cargo cella push NAME --grant`,
//! `cella_system::install_protocol`).
//!
//! The entry is checked against everything the running system has granted
//! (its modules, whatever their state but removed, and the manifest's
//! native processes)
//! with the one check of a system, `cella_system::validate`
//! ([`validate_addition`]): no port, MMIO byte or IRQ line another holder or
//! the kernel has, no endpoint served twice, every endpoint it uses served.
//! The module's own request must then fit the entry, as at boot. Only then
//! are its endpoints numbered and the module added to the table and started;
//! any refusal names the rule and the holder, and changes nothing.

use super::event_loop::EventLoop;
use super::operations::Progress;
use super::services::KernelServices;
use super::slot::ModuleState;
use crate::install_protocol::read_entry;
use crate::supervisor::reports::{CommandError, Installed, Report};
use crate::system_manifest::{GrantLine, ModulePlan, SystemManifest, validate_addition};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;

impl<K: KernelServices> EventLoop<K> {
    /// Installs `bytes` as module `target` under manifest entry `entry` (the
    /// compiled form's block). A name the system knows already is a swap
    /// if `entry` is the one it runs under, and refused otherwise.
    pub(super) fn install_granted(
        &mut self,
        id: u64,
        target: &str,
        entry: &str,
        bytes: Vec<u8>,
    ) -> Progress<K> {
        let refused = |why: String| Progress::finished(Err(CommandError::Refused(why)));
        let plan = match read_entry(target, entry) {
            Ok(plan) => plan,
            Err(why) => return refused(format!("{why}; nothing changed")),
        };
        // A removed module holds no grants: it comes back under the entry
        // sent, checked as a new module is.
        let mut removed = None;
        if let Some(index) = self.table.find(target) {
            let known = &self.table.slots[index].plan;
            if self.table.slots[index].state == ModuleState::Removed {
                removed = Some(index);
            } else if same_entry(known, &plan) {
                return self.install(id, target, bytes);
            } else {
                return refused(format!(
                    "`{target}` is in the running system already, under another manifest entry ({}); nothing changed. A swap keeps the module's entry: push it without --grant, or with the entry it runs under",
                    entry_text(known)
                ));
            }
        }
        let mut plan = plan;
        if let Err(why) = self.resolve_devices(&mut plan) {
            return refused(format!("{why}; nothing changed"));
        }
        if let Err(why) = self.fits_running_system(&plan) {
            return refused(format!("{why}; nothing changed"));
        }
        let numbered = self.router.endpoint_count();
        for name in super::router::endpoints_of(&plan) {
            self.router.add_endpoint(name);
        }
        let loaded = self
            .table
            .load_bytes(&plan, &bytes, &self.router, &self.kernel);
        let module = match loaded.and_then(|module| {
            super::swap::named_as(&module, target)?;
            Ok(module)
        }) {
            Ok(module) => module,
            Err(problem) => {
                self.router.forget_endpoints_after(numbered);
                return refused(problem);
            }
        };
        let version = String::from(module.version());
        let report = Installed::New {
            module: String::from(target),
            version,
            grants: plan.grants.iter().map(|grant| format!("{grant}")).collect(),
            serves: plan.serves.clone(),
        };
        let added = match removed {
            Some(index) => self.replace_module(index, plan, module),
            None => self.add_module(plan, module),
        };
        match added {
            Ok(index) => {
                let served = self.table.slots[index].serves.clone();
                self.router.open_served(&served, &mut self.kernel);
                self.route_console_output();
                Progress::finished(Ok(Report::Installed(report)))
            }
            Err(problem) => {
                self.router.forget_endpoints_after(numbered);
                refused(format!("{problem}; nothing changed"))
            }
        }
    }

    /// Resolves `plan`'s `device` lines, as the boot does, against the PCI
    /// functions no module or process of the running system holds.
    ///
    /// # Errors
    /// Each grant no free function matches, named.
    pub(super) fn resolve_devices(&self, plan: &mut ModulePlan) -> Result<(), String> {
        let running = self.running_manifest();
        let taken: Vec<PciAddress> = running
            .modules
            .iter()
            .chain(&running.processes)
            .flat_map(|holder| &holder.grants)
            .filter_map(|grant| match grant {
                GrantLine::Device { slot, .. } => *slot,
                _ => None,
            })
            .collect();
        let free: Vec<_> = crate::pci_bus::grant_functions(
            &self.kernel.pci_functions(),
            crate::pci_bus::found_msix(),
        )
        .into_iter()
        .filter(|function| !taken.contains(&function.address))
        .collect();
        cella_system::devices::resolve(core::iter::once(plan), &free)
            .map_err(|problems| problems.join("; "))
    }

    /// Checks that `plan` fits beside everything the running system grants.
    ///
    /// # Errors
    /// The rules it breaks, each naming the other holder.
    pub(super) fn fits_running_system(&self, plan: &ModulePlan) -> Result<(), String> {
        let problems = validate_addition(&self.running_manifest(), plan);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the manifest entry of {} does not fit the running system: {}",
                plan.name,
                problems.join("; ")
            ))
        }
    }

    /// The running system as a manifest: every module in the table (running
    /// or not, but not those removed: they hold no grants) and the
    /// manifest's native processes.
    pub fn running_manifest(&self) -> SystemManifest {
        SystemManifest {
            modules: self
                .table
                .slots
                .iter()
                .filter(|slot| slot.state != ModuleState::Removed)
                .map(|slot| slot.plan.clone())
                .collect(),
            processes: self.processes.clone(),
            push: None,
        }
    }
}

/// Whether `new` grants what `known` grants: the same endpoints served, the
/// same grants, limits and kernel memory (where the file is does not count).
fn same_entry(known: &ModulePlan, new: &ModulePlan) -> bool {
    known.serves == new.serves
        && known.grants == new.grants
        && known.limits == new.limits
        && known.kernel_memory == new.kernel_memory
}

/// A plan's grants and served endpoints, as a person reads them.
pub(super) fn entry_text(plan: &ModulePlan) -> String {
    let grants: Vec<String> = plan.grants.iter().map(|grant| format!("{grant}")).collect();
    format!(
        "grants [{}]; serves [{}]",
        grants.join(", "),
        plan.serves.join(", ")
    )
}
