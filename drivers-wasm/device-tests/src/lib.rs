//! cella-device-tests: host tests that run every Cella driver's real `.wasm` in cella-wasm-host against a model of its hardware.
//!
//! The modules are the release wasm32 builds the boot archive gets. `cargo
//! cella test` builds them first and passes their directory in
//! [`WASM_DIR_VARIABLE`]; under a plain `cargo test` this crate builds each
//! module a test uses with a nested `cargo build --release --target
//! wasm32-unknown-unknown -p PACKAGE` into a separate target directory
//! (`<target>/cella-wasm-tests`), so it never waits on the outer cargo's lock.
//!
//! [`models`] holds the device models (each a [`cella_wasm_host::Device`]);
//! [`start`] loads a module with a grant and runs its `init`.

pub mod models;

use cella_wasm_host::{
    Grant, Limits, LogLine, Outgoing, QueueOutbox, Runtime, Sandbox, SimulatedPlatform,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The variable naming a directory that holds the modules' `.wasm` files.
pub const WASM_DIR_VARIABLE: &str = "CELLA_WASM_DIR";

/// Endpoint ids the tests' grants use (the kernel picks its own).
pub mod endpoints {
    /// `console`.
    pub const CONSOLE: u64 = 1;
    /// `uart`.
    pub const UART: u64 = 2;
    /// `rtc`.
    pub const RTC: u64 = 3;
    /// `pci`.
    pub const PCI: u64 = 4;
}

/// A test sandbox: the simulated platform and a message queue.
pub type TestSandbox = Sandbox<SimulatedPlatform, QueueOutbox>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `<target>` of the running test binary (`<target>/debug/deps/NAME`).
fn outer_target_directory() -> PathBuf {
    if let Some(directory) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(directory);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The bytes of `package`'s release `.wasm`: from [`WASM_DIR_VARIABLE`]'s
/// directory when it is set, else built here (once per package and test
/// binary) into `<target>/cella-wasm-tests`.
pub fn wasm(package: &str) -> Vec<u8> {
    let file = format!("{}.wasm", package.replace('-', "_"));
    let path = match std::env::var_os(WASM_DIR_VARIABLE) {
        Some(directory) => PathBuf::from(directory).join(file),
        None => build(package).join(file),
    };
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Builds one guest package (only the packages a test uses, so a broken
/// unrelated module does not fail every test); returns the output directory.
fn build(package: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let target = outer_target_directory().join("cella-wasm-tests");
    let output = target.join("wasm32-unknown-unknown").join("release");
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.iter().any(|done| done == package) {
        return output;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(&target)
        .args(["--package", package])
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo to build {package}: {error}"));
    assert!(
        status.success(),
        "building {package} for wasm32 failed ({status})"
    );
    built.push(package.to_owned());
    output
}

/// Loads `package` under `grant` and runs its `init` on `platform`.
///
/// # Panics
/// If loading or `init` fails (with the log so far).
pub fn start(package: &str, grant: &Grant, platform: &SimulatedPlatform) -> TestSandbox {
    try_start(package, grant, platform)
        .unwrap_or_else(|error| panic!("{error}\nlog:\n{}", render_log(&platform.log_lines())))
}

/// As [`start`], returning the failure as text.
pub fn try_start(
    package: &str,
    grant: &Grant,
    platform: &SimulatedPlatform,
) -> Result<TestSandbox, String> {
    let mut runtime = Runtime::new(Limits::default());
    let module = runtime
        .load(package, &wasm(package), grant)
        .map_err(|error| error.to_string())?;
    runtime
        .start(&module, platform.clone(), QueueOutbox::new(64))
        .map_err(|fault| fault.to_string())
}

/// Log lines as `LEVEL module: text`, one per line (as the kernel prints them).
pub fn render_log(lines: &[LogLine]) -> String {
    lines
        .iter()
        .map(|line| format!("{} {}: {}\n", line.level.name(), line.module, line.message))
        .collect()
}

/// The messages of `sent` for `endpoint`, as bytes.
pub fn sent_to(sent: &[Outgoing], endpoint: u64) -> Vec<Vec<u8>> {
    sent.iter()
        .filter_map(|outgoing| match outgoing {
            Outgoing::Send {
                endpoint: to,
                message,
                ..
            } if *to == endpoint => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// The replies in `sent` to `request`.
pub fn replies_to(sent: &[Outgoing], request: u32) -> Vec<Vec<u8>> {
    sent.iter()
        .filter_map(|outgoing| match outgoing {
            Outgoing::Reply {
                request: to,
                message,
                ..
            } if *to == request => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Port accesses in `accesses` as `('r' | 'w', port, value)`, other accesses
/// left out: compact enough to compare exact sequences.
pub fn port_accesses(accesses: &[cella_wasm_host::Access]) -> Vec<(char, u16, u32)> {
    use cella_wasm_host::Access;
    accesses
        .iter()
        .filter_map(|access| match *access {
            Access::PortRead { port, value, .. } => Some(('r', port, value)),
            Access::PortWrite { port, value, .. } => Some(('w', port, value)),
            _ => None,
        })
        .collect()
}

/// The messages of a log, without level and module.
pub fn log_messages(platform: &SimulatedPlatform) -> Vec<String> {
    platform
        .log_lines()
        .into_iter()
        .map(|line| line.message)
        .collect()
}

/// A `uart` `write` of `bytes`, as a module sends it.
pub fn uart_write(bytes: &[u8]) -> Vec<u8> {
    let mut message = vec![0; bytes.len() + cella_interfaces::uart::WRITE_OVERHEAD];
    let length =
        cella_interfaces::uart::write::request(&mut message, cella_interfaces::uart::Bytes(bytes))
            .expect("a write of at most uart::MAX_WRITE_BYTES");
    message.truncate(length);
    message
}

/// The bytes `uart` `write` messages to `endpoint` carry, in order; a message
/// that is not a `write` fails the test.
pub fn written_to(sent: &[Outgoing], endpoint: u64) -> Vec<u8> {
    sent_to(sent, endpoint)
        .iter()
        .flat_map(|message| match cella_interfaces::uart::written(message) {
            Ok(bytes) => bytes.to_vec(),
            Err(error) => panic!("not a uart write ({error}): {message:?}"),
        })
        .collect()
}

/// The text of each `console` `input` message to `endpoint`, in order; a
/// message that is not an `input` fails the test.
pub fn console_inputs(sent: &[Outgoing], endpoint: u64) -> Vec<String> {
    struct Inputs(Vec<String>);
    impl cella_interfaces::console::Server for Inputs {
        fn input(&mut self, text: &str) {
            self.0.push(text.to_owned());
        }
        fn redraw(&mut self) {
            panic!("a driver sent a redraw");
        }
    }
    let mut inputs = Inputs(Vec::new());
    for message in sent_to(sent, endpoint) {
        if let Err(error) = cella_interfaces::console::serve(&mut inputs, &message, &mut []) {
            panic!("not a console message ({error}): {message:?}");
        }
    }
    inputs.0
}
