//! The module table: every module the system knows, by index and by name,
//! the Wasm runtime their instances come from, and the boot archive their
//! code is found in. Loading and starting an instance happen here; what
//! happens around them (who is told, what the supervisor decides) is the
//! event loop's.

use super::router::Router;
use super::services::{KernelServices, SandboxOf};
use super::slot::{ModuleState, Slot};
use crate::archive::Archive;
use crate::mm::accounts::DEFAULT_MODULE_LIMIT_BYTES;
pub use crate::mm::accounts::account_of;
use crate::supervisor::policy::{RestartPolicy, RestartTracker};
use crate::system_manifest::{GrantLine, ModulePlan};
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Fault, Grant, Limits, LoadedModule, Runtime};
use hashbrown::HashMap;

/// All modules, and where their instances come from.
pub struct ModuleTable<K: KernelServices> {
    pub slots: Vec<Slot<K>>,
    /// Module name -> its index in `slots`.
    names: HashMap<String, usize>,
    pub runtime: Runtime<K::Platform, K::Outbox>,
    /// The boot archive, where modules (and swap targets) are found.
    pub archive: Archive<'static>,
}

impl<K: KernelServices> ModuleTable<K> {
    /// An empty table whose instances run under `limits`.
    pub fn new(archive: Archive<'static>, limits: Limits) -> Self {
        ModuleTable {
            slots: Vec::new(),
            names: HashMap::new(),
            runtime: Runtime::new(limits),
            archive,
        }
    }

    /// The table index of module `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// Module `index`'s name (`?` if there is none).
    pub fn name(&self, index: usize) -> &str {
        self.slots
            .get(index)
            .map_or("?", |slot| slot.plan.name.as_str())
    }

    /// The module serving endpoint `id` (running or not).
    pub fn server_of(&self, id: u64) -> Option<usize> {
        self.slots.iter().position(|slot| slot.serves.contains(&id))
    }

    /// Adds `slot` to the table and returns its index; a second slot of the
    /// same name is not found by name (validation refuses such a manifest).
    pub fn push(&mut self, slot: Slot<K>) -> usize {
        let index = self.slots.len();
        self.names.entry(slot.plan.name.clone()).or_insert(index);
        self.slots.push(slot);
        index
    }

    /// The heap account of module `name`: its slot's, or the one the next slot gets.
    pub fn account_for(&self, name: &str) -> u32 {
        account_of(self.find(name).unwrap_or(self.slots.len()))
    }

    /// A table entry for `plan`, not yet loaded; its heap limit is set.
    pub fn new_slot(&self, plan: &ModulePlan, router: &Router, kernel: &mut K) -> Slot<K> {
        let limit = match plan.kernel_memory {
            0 => DEFAULT_MODULE_LIMIT_BYTES,
            bytes => bytes,
        };
        kernel.set_memory_limit(self.account_for(&plan.name), limit);
        let policy = RestartPolicy::from_settings(
            plan.restart
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .unwrap_or_else(|problem| {
            log::warn!(
                "module {}: {problem}; using the default restart policy",
                plan.name
            );
            RestartPolicy::default()
        });
        Slot {
            plan: plan.clone(),
            policy,
            tracker: RestartTracker::default(),
            module: None,
            sandbox: None,
            away: false,
            seen_before_event: super::slot::InstanceFigures::default(),
            waiting_since: None,
            last_served: 0,
            state: ModuleState::Refused,
            generation: 0,
            inbox: VecDeque::new(),
            irq_lines: plan
                .grants
                .iter()
                .filter_map(|grant| match grant {
                    GrantLine::Irq { line, .. } => Some(*line),
                    _ => None,
                })
                .collect(),
            serves: plan
                .serves
                .iter()
                .filter_map(|name| router.endpoint_id(name))
                .collect(),
            events_handled: 0,
            tracing: false,
            device_fault: None,
            last_device_fault: None,
        }
    }

    /// The Wasm host's grant for `plan`: its lines, the PCI functions its
    /// resolved `device` lines name and, for `pci-bus`, the list of
    /// functions found, both from what `kernel` found on the bus.
    pub fn grant_for(plan: &ModulePlan, router: &Router, kernel: &K) -> Grant {
        let mut grant = Grant::from_plan(plan, |name| router.endpoint_id(name));
        let bus = kernel.pci_functions();
        for line in &plan.grants {
            match line {
                GrantLine::Device {
                    slot: Some(address),
                    ..
                } => {
                    if let Some(function) =
                        crate::pci_bus::grant_function(&bus, crate::pci_bus::found_msix(), *address)
                    {
                        grant = grant.pci_function(function);
                    }
                }
                GrantLine::PciBus => grant = grant.pci_bus(bus.clone()),
                _ => {}
            }
        }
        grant
    }

    /// The bytes of `file` in the boot archive.
    ///
    /// # Errors
    /// The file is missing or the archive unreadable.
    pub fn archive_file(&self, file: &str) -> Result<&'static [u8], String> {
        match self.archive.find(file) {
            Ok(Some(entry)) => Ok(entry.data),
            Ok(None) => Err(format!("`{file}` is not in the boot archive")),
            Err(error) => Err(format!("boot archive unreadable: {error}")),
        }
    }

    /// Checks `bytes` against `plan`'s grant, compiling it charged to the
    /// module's heap account (admitted only within its limit and above the
    /// kernel reserve).
    ///
    /// # Errors
    /// Why the module was refused.
    pub fn load_bytes(
        &self,
        plan: &ModulePlan,
        bytes: &[u8],
        router: &Router,
        kernel: &K,
    ) -> Result<LoadedModule, String> {
        if let Some(why) = crate::system_manifest::reserved_name(&plan.name) {
            return Err(format!("refused at load: {why}"));
        }
        if let Some(why) = kernel.refused_grant(&plan.grants) {
            return Err(format!("refused at load: {why}"));
        }
        let account = self.account_for(&plan.name);
        kernel.admit_load(account, bytes.len()).map_err(|why| {
            format!(
                "refused at load: not enough kernel memory for {}: {why}",
                plan.name
            )
        })?;
        let grant = Self::grant_for(plan, router, kernel);
        let module = kernel
            .charge(account, || self.runtime.load(&plan.name, bytes, &grant))
            .map_err(|error| format!("refused at load: {error}"))?;
        if let Some(why) = crate::system_manifest::reserved_name(module.name()) {
            return Err(format!("refused at load: its manifest says {why}"));
        }
        match kernel.over_memory_limit(account) {
            Some(why) => Err(format!(
                "refused at load: {} is over its kernel memory limit: {why}",
                plan.name
            )),
            None => Ok(module),
        }
    }

    /// Starts a new instance of `module` (running its `init`), charged to `account`.
    ///
    /// # Errors
    /// The fault that ended the instance's start.
    pub fn instantiate(
        &mut self,
        module: &LoadedModule,
        account: u32,
        kernel: &K,
    ) -> Result<SandboxOf<K>, Fault> {
        let runtime = &mut self.runtime;
        kernel.charge(account, || {
            runtime.start(module, kernel.platform(), kernel.outbox())
        })
    }

    /// Restarts slot `index`'s instance in place (new generation, stale old
    /// handles), or starts its loaded module if it has no instance.
    ///
    /// # Errors
    /// The fault that ended the start, or why there was nothing to start.
    pub fn start_instance(&mut self, index: usize, kernel: &K) -> Result<(), StartError> {
        let account = account_of(index);
        let slot = &mut self.slots[index];
        let runtime = &mut self.runtime;
        let result = match (&mut slot.sandbox, &slot.module) {
            (Some(sandbox), _) => kernel.charge(account, || runtime.restart(sandbox)),
            (None, Some(module)) => kernel
                .charge(account, || {
                    runtime
                        .start(module, kernel.platform(), kernel.outbox())
                        .map(alloc::boxed::Box::new)
                })
                .map(|sandbox| slot.sandbox = Some(sandbox)),
            (None, None) => return Err(StartError::NeverLoaded),
        };
        match result {
            Ok(()) => {
                slot.generation = slot
                    .sandbox
                    .as_ref()
                    .map_or(0, |sandbox| sandbox.generation());
                Ok(())
            }
            Err(fault) => {
                slot.generation = self.runtime.last_generation();
                Err(StartError::Faulted(fault))
            }
        }
    }
}

/// Why an instance did not start.
#[derive(Debug)]
pub enum StartError {
    /// The module never loaded: there is nothing to start.
    NeverLoaded,
    /// Its `init` (or the instantiation) faulted.
    Faulted(Fault),
}
