//! Resource limits applied to every sandbox.

/// Limits for one sandbox. [`Limits::default`] suits a small driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel for one event (`init`, a handler, `save_state`, `restore_state`).
    /// Roughly one unit per executed Wasm instruction.
    pub fuel_per_event: u64,
    /// Most 64 KiB linear-memory pages (declared minimum and after growth).
    pub max_memory_pages: u32,
    /// Most elements in any one table.
    pub max_table_elements: u32,
    /// Most tables.
    pub max_tables: u32,
    /// Most Wasm call frames (guest recursion depth).
    pub max_call_depth: u32,
    /// Capability violations (denied, bad or stale handle, misaligned)
    /// tolerated; the next one faults the module.
    pub max_violations: u32,
    /// Bad host calls (bad pointer, bad argument, bad UTF-8) tolerated; the
    /// next one faults the module.
    pub max_bad_calls: u32,
    /// Entries in the ring of recent device accesses and refusals.
    pub trace_entries: u32,
    /// Requests a module may hold unanswered.
    pub max_pending_requests: u32,
    /// Calls (`ipc_call`) a module may have outstanding at once (at most
    /// 256: call ids number them with 8 bits).
    pub max_outstanding_calls: u32,
    /// Log lines one event may write; later lines are dropped and counted.
    pub log_lines_per_event: u32,
    /// Log bytes one event may write; a line that does not fit is dropped
    /// and counted.
    pub log_bytes_per_event: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_event: 1_000_000,
            max_memory_pages: 16,
            max_table_elements: 1024,
            max_tables: 1,
            max_call_depth: 256,
            max_violations: 16,
            max_bad_calls: 16,
            trace_entries: 32,
            max_pending_requests: 32,
            max_outstanding_calls: cella_abi::DEFAULT_MAX_OUTSTANDING_CALLS,
            log_lines_per_event: 64,
            log_bytes_per_event: 8192,
        }
    }
}

impl Limits {
    /// These limits with a module's own (`limit` in the system manifest)
    /// put in their place.
    pub fn with(mut self, own: &cella_system::system_manifest::ModuleLimits) -> Limits {
        if let Some(fuel) = own.fuel_per_event {
            self.fuel_per_event = fuel;
        }
        if let Some(pages) = own.memory_pages {
            self.max_memory_pages = pages;
        }
        if let Some(requests) = own.pending_requests {
            // One limit for requests in flight on either side: those the
            // module holds unanswered and the calls it waits on.
            self.max_pending_requests = requests;
            self.max_outstanding_calls = requests;
        }
        self
    }

    /// Bytes of linear memory allowed.
    pub fn max_memory_bytes(&self) -> usize {
        usize::try_from(self.max_memory_pages)
            .unwrap_or(usize::MAX)
            .saturating_mul(65536)
    }
}
