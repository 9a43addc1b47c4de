//! The store's resource limiter: the sandbox's own limits (memory pages,
//! tables, instances), then the embedder's word on whether the memory a
//! linear memory needs may be taken at all ([`Platform::memory_may_grow`]).
//! A refusal makes `memory.grow` return -1, or instantiation fail, as Wasm
//! allows: never a trap in the host.

use crate::platform::Platform;
use wasmi::{ResourceLimiter, StoreLimits};
use wasmi_core::LimiterError;

/// The limiter a sandbox's store consults before it creates or grows a
/// linear memory or table.
pub(crate) struct MemoryLimiter<P> {
    pub(crate) limits: StoreLimits,
    pub(crate) platform: P,
}

impl<P: Platform> ResourceLimiter for MemoryLimiter<P> {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        Ok(self
            .platform
            .memory_may_grow(desired.saturating_sub(current)))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
