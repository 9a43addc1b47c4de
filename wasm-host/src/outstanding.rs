//! The calls an instance made with `ipc_call` and waits on: their ids and
//! deadlines.
//!
//! A call id is a positive `i32`: `generation << 8 | number`, like a
//! capability handle. The generation is the instance's that made the call, so
//! a reply meant for an earlier instance (one that faulted and was restarted)
//! never matches a call of the new one: the new instance's table does not
//! hold it and the reply is dropped. A swap hands the table over to the new
//! version, which then receives the replies to its predecessor's calls.

use crate::handles::MAX_GENERATION;
use alloc::vec::Vec;
use cella_abi::ErrorCode;

/// Calls numbered per instance (8 bits of the id).
const NUMBERS: u32 = 256;

/// One call waiting for its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outstanding {
    /// The id the guest got.
    pub(crate) call: u32,
    /// When it fails with `TimedOut` (nanoseconds since boot).
    pub(crate) deadline: u64,
}

/// The outstanding calls of one instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct OutstandingCalls {
    calls: Vec<Outstanding>,
    next_number: u32,
}

impl OutstandingCalls {
    /// Opens a call for the instance of `generation`, due at `deadline`,
    /// when fewer than `limit` are outstanding; returns its id.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when `limit` calls (or 256) are outstanding.
    pub(crate) fn open(
        &mut self,
        generation: u32,
        deadline: u64,
        limit: u32,
    ) -> Result<u32, ErrorCode> {
        if self.calls.len() >= limit.min(NUMBERS) as usize {
            return Err(ErrorCode::Exhausted);
        }
        let prefix = (generation & MAX_GENERATION) << 8;
        // Fewer than NUMBERS are outstanding, so a free number turns up
        // within NUMBERS tries.
        for _ in 0..NUMBERS {
            let call = prefix | (self.next_number % NUMBERS);
            self.next_number = (self.next_number + 1) % NUMBERS;
            if call != 0 && !self.holds(call) {
                self.calls.push(Outstanding { call, deadline });
                return Ok(call);
            }
        }
        Err(ErrorCode::Exhausted)
    }

    /// Whether call `call` is outstanding.
    pub(crate) fn holds(&self, call: u32) -> bool {
        self.calls
            .iter()
            .any(|outstanding| outstanding.call == call)
    }

    /// Closes call `call`; whether it was outstanding.
    pub(crate) fn close(&mut self, call: u32) -> bool {
        match self
            .calls
            .iter()
            .position(|outstanding| outstanding.call == call)
        {
            Some(position) => {
                self.calls.remove(position);
                true
            }
            None => false,
        }
    }

    /// The earliest deadline.
    /// Takes the call whose deadline passed first, if one did by `now`.
    pub(crate) fn take_first_due(&mut self, now: u64) -> Option<u32> {
        let (position, _) = self
            .calls
            .iter()
            .enumerate()
            .filter(|(_, outstanding)| outstanding.deadline <= now)
            .min_by_key(|(_, outstanding)| outstanding.deadline)?;
        Some(self.calls.remove(position).call)
    }

    /// Whether call `call` is open and its deadline passed by `now`.
    pub(crate) fn is_due(&self, call: u32, now: u64) -> bool {
        self.calls
            .iter()
            .any(|outstanding| outstanding.call == call && outstanding.deadline <= now)
    }

    /// The deadline of open call `call`.
    pub(crate) fn deadline_of(&self, call: u32) -> Option<u64> {
        self.calls
            .iter()
            .find(|outstanding| outstanding.call == call)
            .map(|outstanding| outstanding.deadline)
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.calls
            .iter()
            .map(|outstanding| outstanding.deadline)
            .min()
    }

    /// The ids of the outstanding calls, oldest first.
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.calls
            .iter()
            .map(|outstanding| outstanding.call)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_generation_and_stay_unique() {
        let mut calls = OutstandingCalls::default();
        let first = calls.open(7, 100, 4).unwrap();
        let second = calls.open(7, 50, 4).unwrap();
        assert_eq!(first >> 8, 7);
        assert_ne!(first, second);
        assert_eq!(calls.next_deadline(), Some(50));
        assert!(calls.close(first));
        assert!(!calls.close(first));
        assert_eq!(calls.take_first_due(40), None);
        assert!(calls.is_due(second, 60));
        assert_eq!(calls.take_first_due(60), Some(second));
        assert!(calls.ids().is_empty());
    }

    #[test]
    fn the_limit_holds_and_numbers_are_reused_only_when_free() {
        let mut calls = OutstandingCalls::default();
        for _ in 0..3 {
            calls.open(1, 10, 3).unwrap();
        }
        assert_eq!(calls.open(1, 10, 3), Err(ErrorCode::Exhausted));
        let mut all = OutstandingCalls::default();
        let ids: Vec<u32> = (0..256).map(|_| all.open(2, 10, 1000).unwrap()).collect();
        assert_eq!(all.open(2, 10, 1000), Err(ErrorCode::Exhausted));
        assert!(all.close(ids[17]));
        assert_eq!(all.open(2, 10, 1000), Ok(ids[17]));
    }
}
