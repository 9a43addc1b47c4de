//! The entry points a module exports.

use crate::functions::{Signature, ValueType};

/// Every exported entry point of ABI v1. Only [`Export::Init`] is required;
/// an event whose handler is missing is not delivered. An export with one of
/// these names but another signature fails loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Export {
    /// `init() -> i32`: start a fresh instance; 0 means ready, anything else
    /// fails the start with that code.
    Init,
    /// `on_irq(handle: i32)`: a granted IRQ line fired.
    OnIrq,
    /// `on_message(request: i32, length: i32)`: a message of `length` bytes
    /// arrived; read it with `ipc_receive`; `request` is non-zero when the
    /// sender waits for `ipc_reply(request, ...)`.
    OnMessage,
    /// `on_timer(handle: i32)`: the one-shot timer `handle` expired.
    OnTimer,
    /// `on_reply(call: i32, status: i32, length: i32)`: the call `call` made
    /// with `ipc_call` ended. `status` 0: answered with `length` bytes, read
    /// with `ipc_receive`; a negative [`crate::ErrorCode`]: it failed
    /// (`Closed`, `Busy`, `TimedOut`) and `length` is 0. A module that
    /// imports `ipc_call` must export it.
    OnReply,
    /// `save_state() -> i64`: serialise state into linear memory and return
    /// `(length << 32) | pointer`.
    SaveState,
    /// `state_buffer(length: i32) -> i32`: return a pointer to `length`
    /// writable bytes where the host will copy a saved state.
    StateBuffer,
    /// `restore_state(pointer: i32, length: i32, format_version: i32) -> i32`:
    /// take over a state saved by an earlier version; 0 means accepted. A
    /// swapped-in instance runs this instead of `init`.
    RestoreState,
}

use ValueType::{I32, I64};

impl Export {
    /// Every entry point.
    pub const ALL: [Export; 8] = [
        Export::Init,
        Export::OnIrq,
        Export::OnMessage,
        Export::OnTimer,
        Export::OnReply,
        Export::SaveState,
        Export::StateBuffer,
        Export::RestoreState,
    ];

    /// The export name.
    pub const fn name(self) -> &'static str {
        match self {
            Export::Init => "init",
            Export::OnIrq => "on_irq",
            Export::OnMessage => "on_message",
            Export::OnTimer => "on_timer",
            Export::OnReply => "on_reply",
            Export::SaveState => "save_state",
            Export::StateBuffer => "state_buffer",
            Export::RestoreState => "restore_state",
        }
    }

    /// The required signature.
    pub const fn signature(self) -> Signature {
        match self {
            Export::Init => Signature {
                params: &[],
                results: &[I32],
            },
            Export::OnIrq | Export::OnTimer => Signature {
                params: &[I32],
                results: &[],
            },
            Export::OnMessage => Signature {
                params: &[I32, I32],
                results: &[],
            },
            Export::OnReply => Signature {
                params: &[I32, I32, I32],
                results: &[],
            },
            Export::SaveState => Signature {
                params: &[],
                results: &[I64],
            },
            Export::StateBuffer => Signature {
                params: &[I32],
                results: &[I32],
            },
            Export::RestoreState => Signature {
                params: &[I32, I32, I32],
                results: &[I32],
            },
        }
    }
}
