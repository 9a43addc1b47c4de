//! Declaring a module: the [`Module`] trait a driver implements, and the
//! [`crate::module!`] macro that writes the manifest section and the
//! exported entry points for it.

use crate::call::Reply;
use crate::error::{ErrorCode, Result};
use crate::handle::Handle;
use crate::ipc::Message;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

// The manifest header the macro writes is `cella 1`.
const _: () = assert!(cella_abi::ABI_VERSION == 1);

/// What a Cella module does, event by event. The [`crate::module!`] macro
/// exports these as the ABI entry points; every handler runs to completion
/// and its `Err` is logged (it does not kill the module; a panic does).
pub trait Module: Sized + 'static {
    /// The capabilities struct [`crate::module!`] generates from the
    /// `capabilities: { ... }` list (write `type Capabilities = Capabilities;`).
    type Capabilities: AcquireCapabilities;

    /// Starts a fresh instance: set the device up, return the module's state.
    ///
    /// # Errors
    /// Any [`ErrorCode`]: the start fails, the error is logged, and the
    /// supervisor applies the restart policy.
    fn init(capabilities: Self::Capabilities) -> Result<Self>;

    /// A granted IRQ line fired; `irq` is its handle (compare with
    /// [`crate::Irq::is`]). Acknowledge it when done.
    ///
    /// # Errors
    /// Logged as a warning.
    fn on_irq(&mut self, irq: Handle) -> Result<()> {
        let _ = irq;
        Ok(())
    }

    /// A message arrived on an endpoint this module serves. The default logs
    /// a warning and answers a request with an empty reply.
    ///
    /// # Errors
    /// Logged as a warning.
    fn on_message(&mut self, message: Message) -> Result<()> {
        crate::warn!("unexpected message of {} bytes", message.len());
        if message.is_request() {
            message.reply(&[])?;
        }
        Ok(())
    }

    /// A one-shot timer expired; `timer` is its handle.
    ///
    /// # Errors
    /// Logged as a warning.
    fn on_timer(&mut self, timer: Handle) -> Result<()> {
        let _ = timer;
        Ok(())
    }

    /// A call this module made ([`crate::Endpoint::call`]) was answered or
    /// failed: [`Reply::outcome`] says which, [`Reply::read`] reads the
    /// answer. The default logs a warning.
    ///
    /// # Errors
    /// Logged as a warning.
    fn on_reply(&mut self, reply: Reply) -> Result<()> {
        crate::warn!("unexpected answer to call {}", reply.call().raw());
        Ok(())
    }

    /// Hot swap, old instance: write the state to carry over into `out` (at
    /// most [`STATE_BYTES`] bytes) and return how many bytes were written.
    /// Only exported when the macro is given `state: N`.
    ///
    /// # Errors
    /// The swap is refused and the old instance keeps running.
    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        let _ = out;
        Ok(0)
    }

    /// Hot swap, new instance: start from a state saved by an instance whose
    /// manifest said `state: format_version`. Runs instead of
    /// [`Module::init`]. The default ignores the state and calls `init`.
    ///
    /// # Errors
    /// The swap is refused and the old instance keeps running.
    fn restore_state(
        capabilities: Self::Capabilities,
        saved: &[u8],
        format_version: u32,
    ) -> Result<Self> {
        let _ = (saved, format_version);
        Self::init(capabilities)
    }
}

/// Implemented by the capabilities struct [`crate::module!`] generates:
/// fetches each capability's handle, in manifest order.
pub trait AcquireCapabilities: Sized {
    /// Fetches every handle.
    ///
    /// # Errors
    /// The host's refusal (a manifest line without a capability).
    fn acquire() -> Result<Self>;
}

/// Largest state a module can carry over a hot swap through the SDK.
pub const STATE_BYTES: usize = 16 * 1024;

/// A module-global value with checked exclusive access: where the macro keeps
/// the module's state between events.
///
/// The host runs one entry point at a time and host calls never call back
/// into the module, so access never overlaps; the flag turns a violation of
/// that (which would be a host bug) into a refused access instead of
/// undefined behaviour. Sound on any target, also one with threads.
///
/// On a target with threads the value must be `Send`. A Wasm module built
/// without the `atomics` feature has one thread and no way to start
/// another, so there its state may hold values that are not `Send`, such as
/// a library's objects that borrow each other through `Rc` or `RefCell`.
pub struct Slot<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: every access to `value` goes through `Slot::with`, which holds the
// `busy` flag (an atomic swap from false to true) for the whole access, so at
// most one `&mut` exists at a time, on whatever thread; `T: Send` because the
// value may be reached from another thread than the one that stored it.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for Slot<T> {}

// SAFETY: as above, `Slot::with` gives at most one `&mut` at a time; on
// wasm32 without the `atomics` feature there is exactly one thread and no
// way to start another, so the value is only ever reached from the thread
// that stored it and need not be `Send`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A slot holding `value`.
    pub const fn new(value: T) -> Slot<T> {
        Slot {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `body` with exclusive access to the slot's contents; `None` if the
    /// slot is in use (re-entered).
    pub fn with<R>(&self, body: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _release = Release(&self.busy);
        // SAFETY: `busy` was false and is now ours until `_release` drops, so
        // no other reference to `value` exists while `body` runs.
        #[allow(unsafe_code)]
        let value = unsafe { &mut *self.value.get() };
        Some(body(value))
    }
}

/// What the exported entry points call (used by [`crate::module!`]; not for
/// direct use).
#[doc(hidden)]
pub mod entry {
    use super::*;
    use crate::sys;

    static STATE: Slot<[u8; STATE_BYTES]> = Slot::new([0; STATE_BYTES]);

    fn report(what: &str, outcome: Option<Result<()>>) {
        match outcome {
            Some(Ok(())) => {}
            Some(Err(error)) => crate::warn!("{what} failed: {error}"),
            None => crate::error!("{what}: module state busy"),
        }
    }

    /// Builds the module straight into its slot (a driver's state can be
    /// tens of KiB: every move of it is a copy on the 256 KiB stack).
    fn start<M: Module>(
        slot: &Slot<Option<M>>,
        what: &str,
        make: impl FnOnce() -> Result<M>,
    ) -> i32 {
        let outcome = slot.with(|value| -> Result<()> {
            *value = Some(make()?);
            Ok(())
        });
        match outcome {
            Some(Ok(())) => 0,
            None => ErrorCode::Busy.code(),
            Some(Err(error)) => {
                crate::error!("{what} failed: {error}");
                match error.code() {
                    0 => ErrorCode::DeviceError.code(),
                    code => code,
                }
            }
        }
    }

    /// `init() -> i32`.
    pub fn init<M: Module>(slot: &Slot<Option<M>>) -> i32 {
        start(slot, "init", || M::init(M::Capabilities::acquire()?))
    }

    fn with_module<M: Module>(
        slot: &Slot<Option<M>>,
        what: &str,
        body: impl FnOnce(&mut M) -> Result<()>,
    ) {
        let outcome = slot.with(|value| match value {
            Some(module) => body(module),
            None => Err(ErrorCode::NoMessage),
        });
        report(what, outcome);
    }

    /// `on_irq(handle)`.
    pub fn on_irq<M: Module>(slot: &Slot<Option<M>>, handle: i32) {
        with_module(slot, "on_irq", |module| {
            module.on_irq(Handle::from_raw(handle))
        });
    }

    /// `on_message(request, length)`.
    pub fn on_message<M: Module>(slot: &Slot<Option<M>>, request: i32, length: i32) {
        with_module(slot, "on_message", |module| {
            module.on_message(Message::new(request, length))
        });
    }

    /// `on_timer(handle)`.
    pub fn on_timer<M: Module>(slot: &Slot<Option<M>>, handle: i32) {
        with_module(slot, "on_timer", |module| {
            module.on_timer(Handle::from_raw(handle))
        });
    }

    /// `on_reply(call, status, length)`.
    pub fn on_reply<M: Module>(slot: &Slot<Option<M>>, call: i32, status: i32, length: i32) {
        with_module(slot, "on_reply", |module| {
            module.on_reply(Reply::new(call, status, length))
        });
    }

    /// `save_state() -> (length << 32) | pointer`; a failure returns a length
    /// past the ABI's limit, which the host refuses (the old instance stays).
    pub fn save_state<M: Module>(slot: &Slot<Option<M>>) -> i64 {
        let refused = i64::from(u32::MAX) << 32;
        let saved = slot.with(|value| {
            let module = value.as_ref().ok_or(ErrorCode::NoMessage)?;
            STATE
                .with(|buffer| {
                    let length = module.save_state(buffer)?.min(buffer.len());
                    Ok((length, sys::pointer_mut(buffer)))
                })
                .unwrap_or(Err(ErrorCode::Busy))
        });
        match saved {
            Some(Ok((length, pointer))) => ((length as i64) << 32) | i64::from(pointer as u32),
            Some(Err(error)) => {
                crate::error!("save_state failed: {error}");
                refused
            }
            None => refused,
        }
    }

    /// `state_buffer(length) -> pointer` (0 when too long: the host refuses).
    pub fn state_buffer(length: i32) -> i32 {
        if length < 0 || length as usize > STATE_BYTES {
            crate::error!("state of {length} bytes is larger than the SDK's {STATE_BYTES}");
            return 0;
        }
        STATE.with(|buffer| sys::pointer_mut(buffer)).unwrap_or(0)
    }

    /// `restore_state(pointer, length, format_version) -> i32`.
    pub fn restore_state<M: Module>(
        slot: &Slot<Option<M>>,
        length: i32,
        format_version: i32,
    ) -> i32 {
        start(slot, "restore_state", || {
            let capabilities = M::Capabilities::acquire()?;
            STATE
                .with(|buffer| {
                    let saved = buffer
                        .get(..usize::try_from(length).unwrap_or(usize::MAX))
                        .ok_or(ErrorCode::BadArgument)?;
                    M::restore_state(capabilities, saved, format_version as u32)
                })
                .unwrap_or(Err(ErrorCode::Busy))
        })
    }

    /// The length of `parts` joined (the manifest section's size).
    pub const fn joined_length(parts: &[&str]) -> usize {
        let mut length = 0;
        let mut index = 0;
        while index < parts.len() {
            length += parts[index].len();
            index += 1;
        }
        length
    }

    /// `parts` joined into the manifest section's byte array (`N` is [`joined_length`]).
    pub const fn join_parts<const N: usize>(parts: &[&str]) -> [u8; N] {
        let mut bytes = [0u8; N];
        let mut at = 0;
        let mut part = 0;
        while part < parts.len() {
            let source = parts[part].as_bytes();
            let mut index = 0;
            while index < source.len() && at < N {
                bytes[at] = source[index];
                at += 1;
                index += 1;
            }
            part += 1;
        }
        bytes
    }

    /// The manifest bytes as text (they are joined from `&str` parts, so always UTF-8).
    pub const fn manifest_text(bytes: &[u8]) -> &str {
        match core::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => panic!("the module manifest is not UTF-8"),
        }
    }

    /// Checks a module version at compile time as the host's manifest parser would: one word
    /// (no space, tab or line break) of 1 to [`cella_abi::manifest::MAX_NAME_BYTES`] bytes.
    pub const fn check_version(version: &str) {
        let bytes = version.as_bytes();
        if bytes.is_empty() || bytes.len() > cella_abi::manifest::MAX_NAME_BYTES {
            panic!("cella_sdk::module!: the version must be 1 to 64 bytes long");
        }
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index].is_ascii_whitespace() || bytes[index] == b'#' {
                panic!("cella_sdk::module!: the version must be one word (no spaces or `#`)");
            }
            index += 1;
        }
    }
}

/// Declares a Cella module: its manifest (name, version, capability requests)
/// and its entry points, for a type implementing [`Module`].
///
/// ```ignore
/// cella_sdk::module! {
///     name: "uart16550",
///     module: Uart,
///     capabilities: {
///         com1: port(0x3f8, 8),
///         irq: irq(4),
///         console: endpoint("console"),
///     },
/// }
/// ```
///
/// Capability kinds: `port(BASE, COUNT)`, `mmio(BASE, LENGTH)`, `irq(LINE)`,
/// `dma(BYTES)`, `endpoint("NAME")`, `timer()`, `pci(VENDOR, DEVICE)` (a
/// [`crate::PciDevice`]) and `pci_bus()` (a [`crate::PciBus`]). Numbers are plain decimal or
/// `0x` hex literals (no `_` separators: they are copied into the manifest
/// text as written). An optional `state: N,` line before `module` sets the
/// state-format version and exports the hot-swap entry points.
///
/// The module's version is its crate's version (`version` in its `Cargo.toml`,
/// `env!("CARGO_PKG_VERSION")`) unless a `version: EXPRESSION,` line after
/// `name` overrides it: any constant `&str`, e.g. `"2.0.0"` or a constant that
/// depends on the crate's features (`if cfg!(feature = "v2") { "2.0.0" } else
/// { "1.0.0" }`). It must be one word of at most 64 bytes, checked when the
/// crate compiles.
///
/// The macro generates, in the invoking module:
/// - `pub struct Capabilities { pub com1: Ports, pub irq: Irq, ... }` in
///   manifest order, filled in before [`Module::init`] runs;
/// - `pub const CELLA_VERSION: &str`, the version, and
///   `pub const CELLA_MANIFEST: &str`, the manifest text, and the
///   `cella.manifest` custom section holding it;
/// - the exports `init`, `on_irq`, `on_message`, `on_timer`, `on_reply` (and with
///   `state:` also `save_state`, `state_buffer`, `restore_state`).
///
/// The exports need `#[unsafe(no_mangle)]` and the section
/// `#[unsafe(link_section)]`; both are written here, inside the SDK's macro,
/// so a module crate keeps `#![forbid(unsafe_code)]` (rustc does not apply
/// the `unsafe_code` lint to code expanded from another crate's macro).
#[macro_export]
macro_rules! module {
    (
        name: $name:literal,
        $(version: $version:expr,)?
        $(state: $state:literal,)?
        module: $module:ty,
        capabilities: { $( $field:ident : $kind:ident ( $($argument:tt)* ) ),* $(,)? } $(,)?
    ) => {
        /// The capabilities this module requested, in manifest order
        /// (generated by `cella_sdk::module!`).
        pub struct Capabilities {
            $(
                #[allow(missing_docs)]
                pub $field: $crate::__capability_type!($kind),
            )*
        }

        impl $crate::AcquireCapabilities for Capabilities {
            #[allow(unused_assignments, unused_mut, unused_variables)]
            fn acquire() -> $crate::Result<Capabilities> {
                let mut index = 0u32;
                Ok(Capabilities {
                    $(
                        $field: {
                            let handle = $crate::Handle::for_capability(index)?;
                            index += 1;
                            <$crate::__capability_type!($kind) as $crate::FromHandle>::from_handle(handle)
                        },
                    )*
                })
            }
        }

        /// This module's version: its crate's `Cargo.toml` version unless the
        /// `module!` block names one.
        pub const CELLA_VERSION: &str = $crate::__module_version!($($version)?);

        const _: () = $crate::__entry::check_version(CELLA_VERSION);

        const CELLA_MANIFEST_PARTS: [&str; 3] = [
            concat!("cella 1\nname ", $name, "\nversion "),
            CELLA_VERSION,
            concat!(
                "\n",
                $("state ", stringify!($state), "\n",)?
                $( $crate::__capability_line!($kind $($argument)*), )*
            ),
        ];

        const CELLA_MANIFEST_BYTES: [u8; $crate::__entry::joined_length(&CELLA_MANIFEST_PARTS)] =
            $crate::__entry::join_parts(&CELLA_MANIFEST_PARTS);

        /// This module's manifest (also stored in its `cella.manifest` section).
        pub const CELLA_MANIFEST: &str = $crate::__entry::manifest_text(&CELLA_MANIFEST_BYTES);

        #[unsafe(link_section = "cella.manifest")]
        #[used]
        static CELLA_MANIFEST_SECTION: [u8; CELLA_MANIFEST_BYTES.len()] = CELLA_MANIFEST_BYTES;

        static CELLA_MODULE: $crate::Slot<Option<$module>> = $crate::Slot::new(None);

        /// ABI export `init`.
        #[unsafe(no_mangle)]
        pub extern "C" fn init() -> i32 {
            $crate::__entry::init::<$module>(&CELLA_MODULE)
        }

        /// ABI export `on_irq`.
        #[unsafe(no_mangle)]
        pub extern "C" fn on_irq(handle: i32) {
            $crate::__entry::on_irq::<$module>(&CELLA_MODULE, handle)
        }

        /// ABI export `on_message`.
        #[unsafe(no_mangle)]
        pub extern "C" fn on_message(request: i32, length: i32) {
            $crate::__entry::on_message::<$module>(&CELLA_MODULE, request, length)
        }

        /// ABI export `on_timer`.
        #[unsafe(no_mangle)]
        pub extern "C" fn on_timer(handle: i32) {
            $crate::__entry::on_timer::<$module>(&CELLA_MODULE, handle)
        }

        /// ABI export `on_reply`.
        #[unsafe(no_mangle)]
        pub extern "C" fn on_reply(call: i32, status: i32, length: i32) {
            $crate::__entry::on_reply::<$module>(&CELLA_MODULE, call, status, length)
        }

        $( $crate::__state_exports!($state, $module, CELLA_MODULE); )?
    };
}

/// The module's version: the expression given, else the invoking crate's version.
#[doc(hidden)]
#[macro_export]
macro_rules! __module_version {
    () => {
        env!("CARGO_PKG_VERSION")
    };
    ($version:expr) => {
        $version
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __state_exports {
    ($state:literal, $module:ty, $slot:ident) => {
        /// ABI export `save_state`.
        #[unsafe(no_mangle)]
        pub extern "C" fn save_state() -> i64 {
            $crate::__entry::save_state::<$module>(&$slot)
        }

        /// ABI export `state_buffer`.
        #[unsafe(no_mangle)]
        pub extern "C" fn state_buffer(length: i32) -> i32 {
            $crate::__entry::state_buffer(length)
        }

        /// ABI export `restore_state`.
        #[unsafe(no_mangle)]
        pub extern "C" fn restore_state(pointer: i32, length: i32, format_version: i32) -> i32 {
            let _ = pointer;
            $crate::__entry::restore_state::<$module>(&$slot, length, format_version)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __capability_type {
    (port) => {
        $crate::Ports
    };
    (mmio) => {
        $crate::Mmio
    };
    (irq) => {
        $crate::Irq
    };
    (dma) => {
        $crate::DmaPool
    };
    (endpoint) => {
        $crate::Endpoint
    };
    (timer) => {
        $crate::Timer
    };
    (pci) => {
        $crate::PciDevice
    };
    (pci_bus) => {
        $crate::PciBus
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __capability_line {
    (port $base:literal, $count:literal) => {
        concat!("port ", stringify!($base), " ", stringify!($count), "\n")
    };
    (mmio $base:literal, $length:literal) => {
        concat!("mmio ", stringify!($base), " ", stringify!($length), "\n")
    };
    (irq $line:literal) => {
        concat!("irq ", stringify!($line), "\n")
    };
    (dma $bytes:literal) => {
        concat!("dma ", stringify!($bytes), "\n")
    };
    (endpoint $name:literal) => {
        concat!("endpoint ", $name, "\n")
    };
    (timer) => {
        "timer\n"
    };
    (pci $vendor:literal, $device:literal) => {
        concat!("pci ", stringify!($vendor), " ", stringify!($device), "\n")
    };
    (pci_bus) => {
        "pci-bus\n"
    };
}

#[cfg(test)]
mod tests;
