//! A QEMU boot that keeps running while the host talks to the guest over the network: its
//! serial output collected as it comes, waits for a line with a deadline, and QEMU killed
//! when the boot is dropped. `cella bench`'s network benchmark boots Cella and the Linux
//! yardstick this way.

use crate::shell::Shell;
use crate::{Error, Result};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running QEMU and what it has printed.
pub struct LiveBoot {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
}

impl LiveBoot {
    /// Starts `command` (a QEMU command line with its serial port on standard output).
    ///
    /// # Errors
    /// QEMU cannot start.
    pub fn start(shell: &Shell, mut command: Command) -> Result<LiveBoot> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        shell.show(&command);
        let mut child = command
            .spawn()
            .map_err(|error| Error::new(format!("starting QEMU: {error}")))?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(count @ 1..) = stdout.read(&mut buffer) {
                if let Ok(mut output) = sink.lock() {
                    output.extend_from_slice(&buffer[..count]);
                }
            }
        });
        Ok(LiveBoot { child, output })
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        let bytes = self
            .output
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Waits until the output holds `needle`.
    ///
    /// # Errors
    /// `timeout` passed, or QEMU ended, first; the error holds the output.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.output().contains(needle) {
                return Ok(());
            }
            let ended = matches!(self.child.try_wait(), Ok(Some(_)));
            if ended || started.elapsed() > timeout {
                let why = if ended {
                    String::from("QEMU ended")
                } else {
                    format!("{} s passed", timeout.as_secs())
                };
                return Err(Error::new(format!(
                    "waiting for `{needle}`: {why}; serial output:\n{}",
                    self.output()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for LiveBoot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
