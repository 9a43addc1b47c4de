//! What a process makes the kernel allocate, charged against its allowance.
//!
//! Every syscall that leaves a kernel object behind (an endpoint, a handle)
//! takes its cost from the process's allowance first and gives it back if
//! the operation fails. An endpoint is charged at its full queue capacity,
//! so the messages others queue on it need no charge of their own; the
//! process's pending call and reply are bounded by its one thread.

use crate::ipc::{QUEUE_BYTES, QUEUE_CAPACITY};

/// A process's allowance when its manifest entry gives none (`kernel_memory`).
pub const DEFAULT_ALLOWANCE: usize = 256 * 1024;
/// Bookkeeping of one endpoint (map entry, queue and receiver lists).
const ENDPOINT_BOOKKEEPING: usize = 256;
/// One queued message's header (the payload is counted in `QUEUE_BYTES`).
const MESSAGE_HEADER_COST: usize = 32;
/// What an endpoint costs: its bookkeeping and a full queue.
pub const ENDPOINT_COST: usize =
    ENDPOINT_BOOKKEEPING + QUEUE_BYTES + QUEUE_CAPACITY * MESSAGE_HEADER_COST;
/// What one handle costs (a capability table slot, and room to grow it).
pub const HANDLE_COST: usize = 32;

/// The allowance was spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted;

/// A process's kernel-memory account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    used: usize,
    limit: usize,
}

impl Charge {
    /// An empty account with `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Charge { used: 0, limit }
    }

    /// Takes `cost` bytes, or fails and takes nothing.
    pub fn take(&mut self, cost: usize) -> Result<(), Exhausted> {
        match self.used.checked_add(cost) {
            Some(used) if used <= self.limit => {
                self.used = used;
                Ok(())
            }
            _ => Err(Exhausted),
        }
    }

    /// Gives back `cost` bytes taken before.
    pub fn give_back(&mut self, cost: usize) {
        self.used = self.used.saturating_sub(cost);
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The allowance.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_limit_and_no_further() {
        let mut charge = Charge::new(ENDPOINT_COST * 2);
        assert_eq!(charge.take(ENDPOINT_COST), Ok(()));
        assert_eq!(charge.take(ENDPOINT_COST), Ok(()));
        assert_eq!(charge.take(1), Err(Exhausted));
        assert_eq!(
            charge.used(),
            ENDPOINT_COST * 2,
            "a failed take takes nothing"
        );
        charge.give_back(ENDPOINT_COST);
        assert_eq!(charge.take(HANDLE_COST), Ok(()));
        assert_eq!(charge.used(), ENDPOINT_COST + HANDLE_COST);
    }

    #[test]
    fn huge_costs_do_not_wrap() {
        let mut charge = Charge::new(usize::MAX);
        assert_eq!(charge.take(usize::MAX), Ok(()));
        assert_eq!(charge.take(usize::MAX), Err(Exhausted));
        charge.give_back(usize::MAX);
        charge.give_back(1);
        assert_eq!(charge.used(), 0);
    }

    #[test]
    fn the_default_allows_a_few_endpoints_and_many_handles() {
        let endpoints = DEFAULT_ALLOWANCE / ENDPOINT_COST;
        assert!((4..64).contains(&endpoints), "{endpoints} endpoints");
        const { assert!(DEFAULT_ALLOWANCE / HANDLE_COST >= crate::ipc::core::MAX_HANDLES) };
    }
}
