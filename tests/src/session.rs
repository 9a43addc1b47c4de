//! An interactive QEMU session: type into the guest's serial port, press keys through QEMU's
//! monitor (`sendkey`), and wait for what the guest prints.
//!
//! Scenario boots ([`crate::boot`]) run to an exit; a session stays up while the test talks to
//! it. Every wait has a deadline, the whole session has the environment's timeout, QEMU is
//! killed when the session is dropped, and a failure shows the whole serial log.

use crate::disk::Disk;
use crate::environment::environment;
use cella::qemu::{Network, QemuInvocation, Serial};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running QEMU with its serial port and monitor in the test's hands.
pub struct Session {
    label: String,
    /// The boot's own disk when the test gave none; removed after QEMU.
    own_disk: Option<Disk>,
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Vec<u8>>>,
    monitor_path: PathBuf,
    started: Instant,
    deadline: Instant,
}

/// How long the shell helpers wait for each answer.
const SHELL_WAIT: Duration = Duration::from_secs(40);

impl Session {
    /// Boots the kernel with `cmdline` (and `archive`, else the default one), plus `extra`
    /// QEMU arguments, and a fresh copy of the disk image of its own.
    pub fn start(label: &str, cmdline: &str, archive: Option<PathBuf>, extra: &[&str]) -> Session {
        Session::start_on_network(label, cmdline, archive, extra, Network::default())
    }

    /// As [`Session::start`], with the network card on `network` (its forwards).
    pub fn start_on_network(
        label: &str,
        cmdline: &str,
        archive: Option<PathBuf>,
        extra: &[&str],
        network: Network,
    ) -> Session {
        let disk = Disk::copy_for(label);
        let mut session = Session::launch(label, cmdline, archive, extra, disk.path(), network);
        session.own_disk = Some(disk);
        session
    }

    /// As [`Session::start`], with the test's own `disk`, which it can read once the
    /// session has ended ([`Session::wait_exit`], or dropped: QEMU is killed and waited for).
    pub fn start_with_disk(
        label: &str,
        cmdline: &str,
        archive: Option<PathBuf>,
        extra: &[&str],
        disk: &Disk,
    ) -> Session {
        Session::launch(
            label,
            cmdline,
            archive,
            extra,
            disk.path(),
            Network::default(),
        )
    }

    fn launch(
        label: &str,
        cmdline: &str,
        archive: Option<PathBuf>,
        extra: &[&str],
        disk: &Path,
        network: Network,
    ) -> Session {
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
        invocation.disk = Some(disk.to_owned());
        invocation.network = Some(network);
        invocation.extra_args.push(OsString::from("-monitor"));
        invocation.extra_args.push(OsString::from(format!(
            "unix:{},server=on,wait=off",
            monitor_path.display()
        )));
        invocation
            .extra_args
            .extend(extra.iter().map(OsString::from));
        let mut command = invocation.command();
        let errors_path = directory.join("qemu-stderr.txt");
        let errors = std::fs::File::create(&errors_path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(errors)
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
            own_disk: None,
            stdin: child.stdin.take(),
            child,
            output,
            monitor_path,
            started,
            deadline: started + environment.timeout,
        }
    }

    /// Gives the session at least `time` from its start before it is ended (for a test that
    /// moves much data); the environment's timeout when that is longer.
    pub fn at_least(mut self, time: Duration) -> Session {
        self.deadline = self.deadline.max(self.started + time);
        self
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

    /// Fails the test with `why`, the whole serial log, and what QEMU said on its standard
    /// error (with its exit status if it ended).
    pub fn fail(&self, why: impl std::fmt::Display) -> ! {
        let errors = self
            .monitor_path
            .parent()
            .and_then(|directory| std::fs::read_to_string(directory.join("qemu-stderr.txt")).ok())
            .unwrap_or_default();
        // An ended QEMU the session has not waited for is a zombie: state `Z`.
        let state = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|stat| {
                let after_name = stat.rsplit_once(')')?.1.trim_start().to_owned();
                after_name.chars().next()
            });
        let ended = match state {
            Some('Z') | None => "QEMU has ended",
            Some(_) => "QEMU still runs",
        };
        panic!(
            "session {}: {why}\n----- serial output ({:.1} s) -----\n{}\n----- QEMU's standard error ({ended}) -----\n{errors}\n-----",
            self.label,
            self.started.elapsed().as_secs_f64(),
            self.output()
        )
    }

    /// Boots the default test system and waits for the console shell's first prompt.
    pub fn at_prompt(label: &str) -> Session {
        Session::at_prompt_on_network(label, Network::default())
    }

    /// As [`Session::at_prompt`], with the network card on `network` (its forwards).
    pub fn at_prompt_on_network(label: &str, network: Network) -> Session {
        let session = Session::start_on_network(label, "", None, &[], network);
        session.wait_for_boot(SHELL_WAIT);
        session.wait_for("shell: ready", SHELL_WAIT);
        session.wait_for("cella> ", SHELL_WAIT);
        std::thread::sleep(Duration::from_millis(300));
        session
    }

    /// Types `line` and Enter at the console shell; returns the output from the echo up to
    /// the next prompt, as the terminal got it (`\r\n` line ends).
    pub fn type_line(&mut self, line: &str) -> String {
        const PROMPT: &str = "cella> ";
        let from = self.output().len();
        self.write_serial(line.as_bytes());
        self.write_serial(b"\r");
        let echoed = self.wait_for_from(from, &format!("{line}\r\n"), SHELL_WAIT);
        let end = self.wait_for_from(echoed, PROMPT, SHELL_WAIT);
        self.output()[echoed..end - PROMPT.len()].to_owned()
    }

    /// Types `line` and fails the test unless the answer holds `expected`; returns the
    /// answer.
    pub fn expect_answer(&mut self, line: &str, expected: &str) -> String {
        let answer = self.type_line(line);
        if !answer.contains(expected) {
            self.fail(format!(
                "`{line}`: expected `{expected}`, the shell showed:\n{answer}"
            ));
        }
        answer
    }

    /// Waits for the line that ends the boot and reads it: `cella: all modules up (N of M
    /// started) in T ms`, or `cella: boot done: N of M modules up (not up: A, B) in T ms`.
    /// Tests check the modules they need from it (or from `ps`), never the production
    /// manifest's count, so a module added to `modules/system.toml`, even one that fails at
    /// boot, leaves them green.
    pub fn wait_for_boot(&self, timeout: Duration) -> BootLine {
        let started = self.wait_for_from(0, "cella: ", timeout);
        let mut from = started - "cella: ".len();
        loop {
            let output = self.output();
            let line_end = match output[from..].find('\n') {
                Some(at) => from + at,
                None => {
                    self.wait_for_from(from, "\n", timeout);
                    continue;
                }
            };
            let line = output[from..line_end].trim_end_matches('\r');
            if let Some(boot) = BootLine::read(line) {
                return boot;
            }
            // Not the boot line: look at the next `cella: ` line.
            from = self.wait_for_from(line_end, "cella: ", timeout) - "cella: ".len();
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
        self.own_disk = None;
        if let Some(directory) = self.monitor_path.parent() {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}

/// The line that ends the boot, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootLine {
    /// Modules that run.
    pub up: usize,
    /// Modules the manifest boots (not those started by hand).
    pub of: usize,
    /// Those of them that do not run.
    pub not_up: Vec<String>,
}

impl BootLine {
    /// Reads `cella: all modules up (N of M started) in T ms` or `cella: boot done: N of M
    /// modules up (not up: A, B) in T ms`.
    pub fn read(line: &str) -> Option<BootLine> {
        let counts = |text: &str| -> Option<(usize, usize)> {
            let (up, of) = text.split_once(" of ")?;
            Some((up.parse().ok()?, of.parse().ok()?))
        };
        if let Some(rest) = line.strip_prefix("cella: all modules up (") {
            let (up, of) = counts(rest.split_once(" started)")?.0)?;
            return Some(BootLine {
                up,
                of,
                not_up: Vec::new(),
            });
        }
        let rest = line.strip_prefix("cella: boot done: ")?;
        let (numbers, rest) = rest.split_once(" modules up (not up: ")?;
        let (up, of) = counts(numbers)?;
        let names = rest.split_once(") in ")?.0;
        Some(BootLine {
            up,
            of,
            not_up: names.split(", ").map(String::from).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::BootLine;

    #[test]
    fn both_forms_of_the_boot_line_are_read() {
        assert_eq!(
            BootLine::read("cella: all modules up (5 of 5 started) in 160 ms"),
            Some(BootLine {
                up: 5,
                of: 5,
                not_up: Vec::new()
            })
        );
        assert_eq!(
            BootLine::read("cella: boot done: 4 of 6 modules up (not up: pci, greedy) in 2 ms"),
            Some(BootLine {
                up: 4,
                of: 6,
                not_up: vec!["pci".into(), "greedy".into()]
            })
        );
        assert_eq!(BootLine::read("cella: kernel main loop reached"), None);
    }
}
