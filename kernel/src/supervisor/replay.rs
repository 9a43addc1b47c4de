//! What happens to the work waiting for a module when its instance goes away:
//! one pure decision per kind of waiting item, so the rules are written down
//! once and tested on the host. `recovery` applies them; `docs/supervisor.md`
//! has the same table.
//!
//! | item | restart pending | held or stopped | swapped | swap failed |
//! | --- | --- | --- | --- | --- |
//! | queued message | replayed to the new instance, in order | console output: written by the kernel; else reported as not delivered | delivered to the new version | delivered to the old instance |
//! | queued kernel request | replayed (the new instance answers) | answered with an error | delivered to the new version | delivered to the old instance |
//! | queued IRQ event | discarded and logged (lines are masked; the new instance re-initialises the device) | discarded and logged | delivered to the new version | delivered to the old instance |
//! | the event being handled at the fault | not replayed (it may be what killed it); named in the fault record; a kernel request is answered with an error | same | - | - |
//! | kernel request delivered, not yet answered | replayed if its interface declares the operation idempotent, else answered with an error | answered with an error | answered by the new version | answered by the old instance |
//! | answer to a call it made | dropped and logged (only the instance that called waits for it) | dropped and logged | delivered to the new version | delivered to the old instance |
//!
//! Nothing is dropped silently: every item that is not delivered is either
//! answered with an error or logged.

/// A piece of work waiting for (or held by) a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// A message in the inbox, no reply expected.
    QueuedMessage {
        /// The module serves the console output endpoint.
        console: bool,
    },
    /// A request from the kernel in the inbox, not yet delivered.
    QueuedKernelRequest,
    /// An IRQ event in the inbox.
    QueuedIrq,
    /// The answer to a call the module made (`ipc_call`), in the inbox.
    QueuedReply,
    /// The event the instance was handling when it faulted.
    InFlight,
    /// A kernel request delivered to the instance and not answered.
    Unanswered {
        /// Its endpoint's typed interface declares the operation
        /// idempotent: asking a new instance again changes nothing.
        idempotent: bool,
    },
}

/// What became of the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Faulted; a new instance starts at the scheduled time.
    RestartPending,
    /// Faulted too often (held), faulted under `policy=never`, or stopped by hand.
    Down,
    /// Replaced by a new version carrying its state.
    Swapped,
    /// A swap failed; the old instance runs on.
    SwapFailed,
}

/// What happens to the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Kept and delivered (to the new instance, or to the same one), in order.
    Deliver,
    /// Answered with an error (logged for kernel requests).
    Fail,
    /// Not delivered; reported in the log (with a count).
    Report,
    /// Console output: the kernel writes it to COM1 itself.
    KernelWrites,
}

/// The rule for `item` when the instance ended as `outcome`.
pub fn disposition(item: Waiting, outcome: Outcome) -> Disposition {
    use Disposition::*;
    match (outcome, item) {
        (Outcome::Swapped | Outcome::SwapFailed, Waiting::InFlight) => Fail,
        (Outcome::Swapped | Outcome::SwapFailed, _) => Deliver,
        (Outcome::RestartPending, Waiting::Unanswered { idempotent: true }) => Deliver,
        (_, Waiting::InFlight | Waiting::Unanswered { .. }) => Fail,
        (_, Waiting::QueuedIrq) => Report,
        // Only the instance that made a call (or the version it was swapped
        // for) can take its answer.
        (_, Waiting::QueuedReply) => Report,
        (Outcome::RestartPending, Waiting::QueuedMessage { .. } | Waiting::QueuedKernelRequest) => {
            Deliver
        }
        (Outcome::Down, Waiting::QueuedMessage { console: true }) => KernelWrites,
        (Outcome::Down, Waiting::QueuedMessage { console: false }) => Report,
        (Outcome::Down, Waiting::QueuedKernelRequest) => Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS: [Waiting; 8] = [
        Waiting::QueuedMessage { console: false },
        Waiting::QueuedMessage { console: true },
        Waiting::QueuedKernelRequest,
        Waiting::QueuedIrq,
        Waiting::InFlight,
        Waiting::Unanswered { idempotent: false },
        Waiting::Unanswered { idempotent: true },
        Waiting::QueuedReply,
    ];

    #[test]
    fn a_restart_replays_queued_messages_and_requests_in_order() {
        let kept: Vec<Waiting> = ITEMS
            .into_iter()
            .filter(|&item| disposition(item, Outcome::RestartPending) == Disposition::Deliver)
            .collect();
        assert_eq!(
            kept,
            [
                Waiting::QueuedMessage { console: false },
                Waiting::QueuedMessage { console: true },
                Waiting::QueuedKernelRequest,
                Waiting::Unanswered { idempotent: true }
            ]
        );
        // What killed it is not replayed; what it held unanswered fails.
        assert_eq!(
            disposition(Waiting::InFlight, Outcome::RestartPending),
            Disposition::Fail
        );
        assert_eq!(
            disposition(
                Waiting::Unanswered { idempotent: false },
                Outcome::RestartPending
            ),
            Disposition::Fail
        );
        // Only a restart replays an idempotent request it held; a module
        // that is down answers it with an error.
        assert_eq!(
            disposition(Waiting::Unanswered { idempotent: true }, Outcome::Down),
            Disposition::Fail
        );
        // IRQ events are not replayed (the lines are masked) but they are reported.
        assert_eq!(
            disposition(Waiting::QueuedIrq, Outcome::RestartPending),
            Disposition::Report
        );
    }

    #[test]
    fn a_module_that_stays_down_answers_everything_with_an_error_or_a_report() {
        for item in ITEMS {
            let outcome = disposition(item, Outcome::Down);
            assert_ne!(outcome, Disposition::Deliver, "{item:?}");
        }
        assert_eq!(
            disposition(Waiting::QueuedMessage { console: true }, Outcome::Down),
            Disposition::KernelWrites
        );
        assert_eq!(
            disposition(Waiting::QueuedKernelRequest, Outcome::Down),
            Disposition::Fail
        );
    }

    #[test]
    fn a_swap_successful_or_not_keeps_every_queued_item() {
        for outcome in [Outcome::Swapped, Outcome::SwapFailed] {
            for item in ITEMS {
                let expected = if item == Waiting::InFlight {
                    Disposition::Fail
                } else {
                    Disposition::Deliver
                };
                assert_eq!(disposition(item, outcome), expected, "{item:?} {outcome:?}");
            }
        }
    }
}
