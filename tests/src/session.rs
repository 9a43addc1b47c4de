//! An interactive QEMU session: type into the guest's serial port, press keys through QEMU's
//! monitor (`sendkey`), and wait for what the guest prints.
//!
//! Scenario boots ([`crate::boot`]) run to an exit; a session stays up while the test talks to
//! it. Every wait has a deadline, the whole session has the environment's timeout, QEMU is
//! killed when the session is dropped, and a failure shows the whole serial log.

use crate::environment::environment;
use cella::qemu::{QemuInvocation, Serial};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running QEMU with its serial port and monitor in the test's hands.
pub struct Session {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Vec<u8>>>,
    monitor_path: PathBuf,
    started: Instant,
    deadline: Instant,
}

impl Session {
    /// Boots the kernel with `cmdline` (and `archive`, else the default one), plus `extra`
    /// QEMU arguments.
    pub fn start(label: &str, cmdline: &str, archive: Option<PathBuf>, extra: &[&str]) -> Session {
        let environment = environment();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let directory = std::env::temp_dir().join(format!(
            "cella-session-{}-{label}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&directory)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", directory.display()));
        let monitor_path = directory.join("monitor.sock");
        let _ = std::fs::remove_file(&monitor_path);
        let mut invocation =
            QemuInvocation::new(environment.qemu.clone(), environment.kernel.clone());
        invocation.initrd = Some(archive.unwrap_or_else(|| environment.boot_archive.clone()));
        invocation.cmdline = cmdline.to_owned();
        invocation.accel = environment.accel;
        invocation.serial = Serial::Stdio;
        invocation.extra_args.push(OsString::from("-monitor"));
        invocation.extra_args.push(OsString::from(format!(
            "unix:{},server=on,wait=off",
            monitor_path.display()
        )));
        invocation
            .extra_args
            .extend(extra.iter().map(OsString::from));
        let mut command = invocation.command();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start QEMU for {label}: {error}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let sink = Arc::clone(&output);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(count) = stdout.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                if let Ok(mut output) = sink.lock() {
                    output.extend_from_slice(&buffer[..count]);
                }
            }
        });
        let started = Instant::now();
        Session {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            output,
            monitor_path,
            started,
            deadline: started + environment.timeout,
        }
    }

    /// Everything the guest has printed so far.
    pub fn output(&self) -> String {
        let bytes = self
            .output
            .lock()
            .map(|output| output.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Fails the test with `why` and the whole serial log.
    pub fn fail(&self, why: impl std::fmt::Display) -> ! {
        panic!(
            "session {}: {why}\n----- serial output ({:.1} s) -----\n{}\n-----",
            self.label,
            self.started.elapsed().as_secs_f64(),
            self.output()
        )
    }

    /// Waits for the boot's `cella: all modules up (N of M started)` line and
    /// returns (N, M): how many modules started of how many the manifest
    /// boots. Tests compare the two, never the production manifest's count,
    /// so adding a module to `modules/system.toml` leaves them green.
    pub fn wait_for_modules_up(&self, timeout: Duration) -> (usize, usize) {
        const LINE: &str = "cella: all modules up (";
        let end = self.wait_for(LINE, timeout);
        let line_end = self.wait_for_from(end, " started)", timeout);
        let output = self.output();
        let counts = &output[end..line_end - " started)".len()];
        let parsed = counts
            .split_once(" of ")
            .and_then(|(up, of)| Some((up.parse().ok()?, of.parse().ok()?)));
        match parsed {
            Some(counts) => counts,
            None => self.fail(format!(
                "cannot read the counts of `{LINE}{counts} started)`"
            )),
        }
    }

    /// Waits until every module the manifest boots has started.
    pub fn wait_for_all_modules_up(&self, timeout: Duration) {
        let (up, of) = self.wait_for_modules_up(timeout);
        if up != of || of == 0 {
            self.fail(format!("{up} of {of} modules started"));
        }
    }

    /// Waits until the output from byte `from` on contains `needle`; returns the byte offset
    /// just past it. Fails after `timeout` or the session's deadline.
    pub fn wait_for_from(&self, from: usize, needle: &str, timeout: Duration) -> usize {
        let limit = (Instant::now() + timeout).min(self.deadline);
        loop {
            let output = self.output();
            if let Some(position) = output.get(from..).and_then(|rest| rest.find(needle)) {
                return from + position + needle.len();
            }
            if Instant::now() >= limit {
                self.fail(format!(
                    "`{needle}` did not appear within {:.1} s",
                    timeout.as_secs_f64()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the output contains `needle`; returns the offset just past its first occurrence.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> usize {
        self.wait_for_from(0, needle, timeout)
    }

    /// Types `bytes` into the guest's serial port.
    pub fn write_serial(&mut self, bytes: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("the serial input is closed");
        };
        if let Err(error) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            self.fail(format!("cannot write to the serial port: {error}"));
        }
    }

    /// Runs one QEMU monitor command and returns what the monitor answered.
    pub fn monitor(&self, command: &str) -> String {
        let limit = Instant::now() + Duration::from_secs(10);
        let mut stream = loop {
            match UnixStream::connect(&self.monitor_path) {
                Ok(stream) => break stream,
                Err(error) if Instant::now() >= limit => {
                    self.fail(format!("cannot reach the QEMU monitor: {error}"))
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let read_prompt = |stream: &mut UnixStream| -> String {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"(qemu) ") {
                match stream.read(&mut byte) {
                    Ok(1) => seen.push(byte[0]),
                    _ => break,
                }
            }
            String::from_utf8_lossy(&seen).into_owned()
        };
        read_prompt(&mut stream);
        if let Err(error) = stream.write_all(format!("{command}\n").as_bytes()) {
            self.fail(format!(
                "cannot send `{command}` to the QEMU monitor: {error}"
            ));
        }
        read_prompt(&mut stream)
    }

    /// Waits for QEMU to exit by itself (within the session's deadline) and returns its status.
    pub fn wait_exit(&mut self) -> i32 {
        self.stdin = None;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader thread take the last bytes.
                    thread::sleep(Duration::from_millis(100));
                    return status.code().unwrap_or(-1);
                }
                Ok(None) if Instant::now() >= self.deadline => {
                    self.fail("QEMU did not exit before the deadline")
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(error) => self.fail(format!("cannot wait for QEMU: {error}")),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(directory) = self.monitor_path.parent() {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}
