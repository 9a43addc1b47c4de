//! A fault in plain English: one or two sentences saying what the module
//! did and which guarantee of the sandbox stopped it (`explain` in the shell
//! and `cargo cella explain`). Ports and values are in hex, endpoints by
//! name (the caller renders the fault's accesses, as the fault record does).

use alloc::format;
use alloc::string::String;
use cella_abi::ErrorCode;
use cella_wasm_host::{Access, Entry, Fault, FaultKind, StateError, TrapCode};

/// The sentences for `fault`, its accesses rendered by `text`.
pub fn explain(fault: &Fault, text: &dyn Fn(&Access) -> String) -> String {
    let module = fault.module.as_str();
    if fault.entry == Entry::Device
        && let FaultKind::Embedder(reason) = &fault.kind
    {
        return format!(
            "{module}'s device did what the module may not, between its events: {reason}. The sandbox does not see what a device writes; the IOMMU lets the device reach only the DMA buffers its driver holds, so the write never reached memory, and the driver is restarted, which resets the device (docs/teaching.md, \"What the sandbox does not cover\")."
        );
    }
    let during = match fault.entry.name() {
        "init" => String::from("while starting (in `init`)"),
        "instantiation" => String::from("while being instantiated"),
        entry if entry.starts_with("no entry") => String::from("after an earlier fault"),
        entry => format!("in `{entry}`"),
    };
    match &fault.kind {
        FaultKind::Trap(code) => trap(module, &during, *code),
        FaultKind::OutOfFuel { budget } => format!(
            "{module} ran {during} for more than its fuel budget of {budget} units (about one per Wasm instruction). The kernel stopped the event there: a runaway loop costs a bounded slice of time and never hangs the kernel or the other modules (lab 2)."
        ),
        FaultKind::Violations {
            count,
            function,
            error,
        } => {
            let last = last_refusal(fault, text).unwrap_or_else(|| format!("a call to {function}"));
            format!(
                "{module} used capabilities it does not hold {count} times {during}, the last being {last}: {} The host checks every handle, its generation and its bounds before anything reaches a device, so none of these did; past the limit the module is faulted.",
                violation_meaning(*error)
            )
        }
        FaultKind::BadHostCalls {
            count,
            function,
            error,
        } => format!(
            "{module} made {count} malformed host calls {during}, the last to {function} ({}): pointers and lengths outside its own memory, or arguments the call does not take. Each was refused before the host read or wrote anything; past the limit the module is faulted.",
            error.name()
        ),
        FaultKind::InitFailed { code } => format!(
            "{module}'s `init` returned {code} (0 means started). The supervisor treats a failed start like any fault: the instance is discarded and its restart policy decides what follows."
        ),
        FaultKind::BadState(error) => format!(
            "{module} failed the state hand-over of a hot swap {during}: {}. The old version keeps running with its state; the new one never serves.",
            state_meaning(*error)
        ),
        FaultKind::Instantiation(message) => format!(
            "{module} could not be instantiated: {message}. The sandbox's limits on memory and tables are checked before any of its code runs."
        ),
        FaultKind::Dead => format!(
            "{module} was asked to run after an earlier fault had ended its instance; a dead instance runs nothing until the supervisor starts a new one."
        ),
        FaultKind::Embedder(reason) => format!(
            "The kernel stopped {module} {during}: {reason}. Limits the kernel keeps for each module (its kernel memory, its queues) end the module, never the kernel."
        ),
        FaultKind::Engine(message) => format!(
            "The Wasm engine stopped {module} {during} with an error of its own ({message}); the instance is discarded like any faulted one."
        ),
    }
}

/// The last refused call of the fault's trace, as `text` renders it.
fn last_refusal(fault: &Fault, text: &dyn Fn(&Access) -> String) -> Option<String> {
    fault
        .recent_accesses
        .iter()
        .rev()
        .find(|access| matches!(access, Access::Refused { .. }))
        .map(text)
}

/// What a refused call's error says about the handle it used.
fn violation_meaning(error: ErrorCode) -> &'static str {
    match error {
        ErrorCode::Denied => {
            "the handle was its own, but what it asked lay outside the grant (another port, offset or kind of access; lab 4)."
        }
        ErrorCode::BadHandle => {
            "the handle named no capability it holds: a forged or made-up number is refused like that (lab 3)."
        }
        ErrorCode::StaleHandle => {
            "the handle belonged to an earlier instance of the module (its generation is out of date): handles die with the instance that got them (lab 3)."
        }
        ErrorCode::Misaligned => "the access was not aligned to its width.",
        _ => "the call was refused.",
    }
}

/// A trap's sentences.
fn trap(module: &str, during: &str, code: TrapCode) -> String {
    match code {
        TrapCode::MemoryOutOfBounds => format!(
            "{module} loaded or stored outside its own linear memory {during}. Every memory access of a Wasm module is checked against the bounds of its one memory, the only memory it can name, so the access trapped before anything outside it was read or written (lab 1)."
        ),
        TrapCode::OutOfFuel => format!(
            "{module} ran out of fuel {during}. The kernel stopped the event: a runaway loop costs a bounded slice of time."
        ),
        TrapCode::UnreachableCodeReached => format!(
            "{module} executed `unreachable` {during}: the trap a compiler emits for \"this cannot happen\", and how a Rust panic ends. The instance is dead, its capabilities are revoked and its IRQ lines masked; the rest of the system runs on."
        ),
        TrapCode::StackOverflow => format!(
            "{module} called deeper than the sandbox's call-depth limit {during} (a recursion without end). Its call stack is kept apart from the kernel's, so the call past the limit trapped instead of overrunning kernel memory."
        ),
        TrapCode::IndirectCallToNull | TrapCode::TableOutOfBounds | TrapCode::BadSignature => {
            format!(
                "{module} made an indirect call the engine refused {during} ({}). Wasm checks every indirect call against its table and the callee's type, so code can only jump to functions of the module, with the right type.",
                trap_words(code)
            )
        }
        other => format!(
            "{module} trapped {during}: {}. The engine stops the instance at the faulting instruction; nothing outside its sandbox is affected.",
            trap_words(other)
        ),
    }
}

/// The Wasm host's words for a trap (`integer division by zero`).
fn trap_words(code: TrapCode) -> String {
    let text = format!("{}", FaultKind::Trap(code));
    match text.strip_prefix("trap: ") {
        Some(words) => String::from(words),
        None => text,
    }
}

/// What a failed state hand-over means.
fn state_meaning(error: StateError) -> String {
    match error {
        StateError::Rejected(code) => format!(
            "the new version refused the saved state with code {code:#x} (a state format it does not read)"
        ),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;
    use cella_abi::HostFunction;
    use cella_wasm_host::Entry;

    fn fault(entry: Entry, kind: FaultKind, recent_accesses: Vec<Access>) -> Fault {
        Fault {
            module: String::from("m"),
            entry,
            kind,
            recent_accesses,
        }
    }

    fn plain(access: &Access) -> String {
        access.to_string()
    }

    /// Sentences a person reads: no Rust syntax, one or two full stops' worth.
    fn readable(text: &str) {
        assert!(!text.contains('{') && !text.contains("::"), "{text}");
        assert!(text.ends_with('.'), "{text}");
    }

    #[test]
    fn a_bounds_trap_says_what_the_memory_check_did() {
        let text = explain(
            &fault(
                Entry::Init,
                FaultKind::Trap(TrapCode::MemoryOutOfBounds),
                vec![],
            ),
            &plain,
        );
        assert!(
            text.starts_with(
                "m loaded or stored outside its own linear memory while starting (in `init`)."
            ),
            "{text}"
        );
        assert!(text.contains("checked against the bounds"), "{text}");
        readable(&text);
    }

    #[test]
    fn out_of_fuel_names_the_budget_and_the_event() {
        let text = explain(
            &fault(
                Entry::Message,
                FaultKind::OutOfFuel { budget: 1_000_000 },
                vec![],
            ),
            &plain,
        );
        assert!(
            text.starts_with(
                "m ran in `on_message` for more than its fuel budget of 1000000 units"
            ),
            "{text}"
        );
        assert!(text.contains("never hangs the kernel"), "{text}");
        readable(&text);
    }

    #[test]
    fn violations_name_the_last_refused_port_in_hex_and_the_handle_rule() {
        let refused = Access::Refused {
            function: HostFunction::PortOut8,
            error: ErrorCode::Denied,
            attempt: None,
        };
        let kind = |error| FaultKind::Violations {
            count: 17,
            function: HostFunction::PortOut8,
            error,
        };
        let render = |_: &Access| String::from("refused write port 0x81 1 (port_out8): denied");
        let denied = explain(
            &fault(Entry::Init, kind(ErrorCode::Denied), vec![refused]),
            &render,
        );
        assert!(
            denied.starts_with("m used capabilities it does not hold 17 times while starting (in `init`), the last being refused write port 0x81 1 (port_out8): denied:"),
            "{denied}"
        );
        assert!(denied.contains("outside the grant"), "{denied}");
        let forged = explain(
            &fault(Entry::Message, kind(ErrorCode::BadHandle), vec![]),
            &plain,
        );
        assert!(
            forged.contains("the last being a call to port_out8"),
            "{forged}"
        );
        assert!(forged.contains("forged"), "{forged}");
        let stale = explain(
            &fault(Entry::Message, kind(ErrorCode::StaleHandle), vec![]),
            &plain,
        );
        assert!(stale.contains("earlier instance"), "{stale}");
        for text in [denied, forged, stale] {
            readable(&text);
        }
    }

    #[test]
    fn a_device_fault_says_the_iommu_stopped_the_device_not_the_sandbox() {
        let reason = String::from(
            "DMA write by 00:03.0 at 0x100000 blocked: the page is not mapped writable (reason 5)",
        );
        let text = explain(
            &fault(Entry::Device, FaultKind::Embedder(reason), vec![]),
            &plain,
        );
        assert!(
            text.contains("m's device did what the module may not"),
            "{text}"
        );
        assert!(text.contains("at 0x100000 blocked"), "{text}");
        assert!(
            text.contains("the IOMMU lets the device reach only"),
            "{text}"
        );
        assert!(!text.contains("kernel memory"), "{text}");
        readable(&text);
    }

    #[test]
    fn every_other_kind_reads_as_sentences() {
        let cases = [
            (
                FaultKind::Trap(TrapCode::UnreachableCodeReached),
                "executed `unreachable` in `on_irq`",
            ),
            (
                FaultKind::Trap(TrapCode::StackOverflow),
                "deeper than the sandbox's call-depth limit",
            ),
            (
                FaultKind::Trap(TrapCode::IndirectCallToNull),
                "indirect call the engine refused",
            ),
            (
                FaultKind::Trap(TrapCode::IntegerDivisionByZero),
                "trapped in `on_irq`: integer division by zero.",
            ),
            (
                FaultKind::BadHostCalls {
                    count: 3,
                    function: HostFunction::Log,
                    error: ErrorCode::BadUtf8,
                },
                "made 3 malformed host calls in `on_irq`, the last to log (bad utf-8)",
            ),
            (FaultKind::InitFailed { code: -9 }, "`init` returned -9"),
            (
                FaultKind::BadState(StateError::Rejected(2)),
                "refused the saved state with code 0x2",
            ),
            (
                FaultKind::Instantiation(String::from("memory too large")),
                "could not be instantiated: memory too large.",
            ),
            (FaultKind::Dead, "after an earlier fault"),
            (
                FaultKind::Embedder(String::from("over its kernel memory limit")),
                "The kernel stopped m in `on_irq`: over its kernel memory limit.",
            ),
            (
                FaultKind::Engine(String::from("odd")),
                "error of its own (odd)",
            ),
        ];
        for (kind, needle) in cases {
            let text = explain(&fault(Entry::Irq, kind, vec![]), &plain);
            assert!(text.contains(needle), "`{needle}` in: {text}");
            readable(&text);
        }
    }
}
