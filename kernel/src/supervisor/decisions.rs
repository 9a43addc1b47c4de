//! The supervisor's decisions as a pure function: it is told what happened
//! to a module (a typed [`SupervisorEvent`]) and answers with what is to be
//! done ([`Actions`]); the module system carries the actions out. Restart
//! policy ([`super::policy`]) and the replay rules ([`super::replay`]) are
//! applied here and nowhere else.

use super::policy::{Decision, RestartPolicy, RestartTracker};
use super::replay::Outcome;

/// What happened to a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisorEvent {
    /// Its instance faulted (in an event, or while starting) at `now`.
    Faulted { now: u64 },
    /// A person asked to stop it; `running` says whether it was up.
    StopAsked { running: bool },
    /// A person asked for a fresh instance now (`restart NAME`).
    RestartAsked { running: bool },
    /// A person asked to start it (`start NAME`); it is not running.
    StartAsked,
}

/// Where the module goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextState {
    /// Start a new instance when the clock reaches this time.
    RestartAt(u64),
    /// Faulted too often in the window: down until started by hand.
    Held { faults_in_window: u32 },
    /// Faulted under `policy=never`: down until started by hand.
    Faulted,
    /// Stopped by hand.
    Stopped,
    /// Start a new instance now.
    StartNow {
        /// Whether it counts (and is reported) as a restart.
        counts_as_restart: bool,
    },
}

/// What the module system is to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actions {
    pub next: NextState,
    /// How to settle the work waiting for the instance that goes away
    /// (`None`: no instance goes away).
    pub settle: Option<Outcome>,
    /// Mask the module's IRQ lines (the next instance re-initialises the device).
    pub revoke_irqs: bool,
    /// If it drives the console, the kernel takes the console back.
    pub release_console: bool,
    /// Forget its fault history.
    pub reset_history: bool,
}

/// Decides what follows `event` for a module under `policy` with fault
/// history `tracker` (which records a fault or is reset as decided).
pub fn decide(
    event: SupervisorEvent,
    policy: &RestartPolicy,
    tracker: &mut RestartTracker,
) -> Actions {
    match event {
        SupervisorEvent::Faulted { now } => {
            let (next, settle) = match tracker.on_fault(policy, now) {
                Decision::RestartAt(at) => (NextState::RestartAt(at), Outcome::RestartPending),
                Decision::Hold { faults_in_window } => {
                    (NextState::Held { faults_in_window }, Outcome::Down)
                }
                Decision::StayDown => (NextState::Faulted, Outcome::Down),
            };
            Actions {
                next,
                settle: Some(settle),
                revoke_irqs: true,
                release_console: true,
                reset_history: false,
            }
        }
        SupervisorEvent::StopAsked { running } => Actions {
            next: NextState::Stopped,
            settle: running.then_some(Outcome::Down),
            revoke_irqs: true,
            release_console: true,
            reset_history: false,
        },
        SupervisorEvent::StartAsked | SupervisorEvent::RestartAsked { running: false } => {
            tracker.reset();
            Actions {
                next: NextState::StartNow {
                    counts_as_restart: matches!(event, SupervisorEvent::RestartAsked { .. }),
                },
                settle: None,
                revoke_irqs: true,
                release_console: true,
                reset_history: true,
            }
        }
        SupervisorEvent::RestartAsked { running: true } => {
            tracker.reset();
            Actions {
                next: NextState::StartNow {
                    counts_as_restart: true,
                },
                // The running instance goes: what it was asked and has not
                // answered is answered now (the new instance cannot); its
                // queue waits for the new one.
                settle: Some(Outcome::RestartPending),
                revoke_irqs: true,
                release_console: true,
                reset_history: true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_first_fault_restarts_at_once_and_replays_the_queue() {
        let policy = RestartPolicy::default();
        let mut tracker = RestartTracker::default();
        let actions = decide(
            SupervisorEvent::Faulted { now: 5 * MS },
            &policy,
            &mut tracker,
        );
        assert_eq!(actions.next, NextState::RestartAt(5 * MS));
        assert_eq!(actions.settle, Some(Outcome::RestartPending));
        assert!(actions.revoke_irqs && actions.release_console && !actions.reset_history);
    }

    #[test]
    fn faults_past_the_limit_hold_the_module_and_fail_its_requests() {
        let policy = RestartPolicy {
            hold_after: 2,
            ..RestartPolicy::default()
        };
        let mut tracker = RestartTracker::default();
        let mut last = None;
        for fault in 0..3 {
            last = Some(decide(
                SupervisorEvent::Faulted { now: fault * MS },
                &policy,
                &mut tracker,
            ));
        }
        let actions = last.unwrap();
        assert_eq!(
            actions.next,
            NextState::Held {
                faults_in_window: 3
            }
        );
        assert_eq!(actions.settle, Some(Outcome::Down));
    }

    #[test]
    fn policy_never_leaves_the_module_faulted() {
        let policy = RestartPolicy {
            automatic: false,
            ..RestartPolicy::default()
        };
        let actions = decide(
            SupervisorEvent::Faulted { now: 0 },
            &policy,
            &mut RestartTracker::default(),
        );
        assert_eq!(actions.next, NextState::Faulted);
        assert_eq!(actions.settle, Some(Outcome::Down));
    }

    #[test]
    fn a_restart_by_hand_resets_the_history_and_settles_only_a_running_instance() {
        let policy = RestartPolicy::default();
        let mut tracker = RestartTracker::default();
        decide(SupervisorEvent::Faulted { now: 0 }, &policy, &mut tracker);
        decide(SupervisorEvent::Faulted { now: 1 }, &policy, &mut tracker);
        let running = decide(
            SupervisorEvent::RestartAsked { running: true },
            &policy,
            &mut tracker,
        );
        assert_eq!(
            running.next,
            NextState::StartNow {
                counts_as_restart: true
            }
        );
        assert_eq!(running.settle, Some(Outcome::RestartPending));
        // The history was forgotten: the next fault restarts at once.
        assert_eq!(
            decide(SupervisorEvent::Faulted { now: 2 }, &policy, &mut tracker).next,
            NextState::RestartAt(2)
        );
        let down = decide(
            SupervisorEvent::RestartAsked { running: false },
            &policy,
            &mut tracker,
        );
        assert_eq!(down.settle, None);
    }

    #[test]
    fn a_start_is_not_a_restart_and_a_stop_settles_as_down() {
        let policy = RestartPolicy::default();
        let mut tracker = RestartTracker::default();
        let start = decide(SupervisorEvent::StartAsked, &policy, &mut tracker);
        assert_eq!(
            start.next,
            NextState::StartNow {
                counts_as_restart: false
            }
        );
        let stop = decide(
            SupervisorEvent::StopAsked { running: true },
            &policy,
            &mut tracker,
        );
        assert_eq!(stop.next, NextState::Stopped);
        assert_eq!(stop.settle, Some(Outcome::Down));
        assert_eq!(
            decide(
                SupervisorEvent::StopAsked { running: false },
                &policy,
                &mut tracker
            )
            .settle,
            None
        );
    }
}
