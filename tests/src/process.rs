//! Running a process with a deadline: capture its standard output and error, optionally stop
//! it as soon as its output contains a marker, and kill it when time runs out.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most output kept per stream; a runaway guest cannot exhaust the host's memory.
pub const OUTPUT_LIMIT: usize = 8 << 20;

/// How a process run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Status(i32),
    /// A signal ended it (not one of ours).
    Signal(i32),
    /// It ran past the deadline and was killed.
    TimedOut,
    /// Its output contained the requested marker, so it was killed.
    MarkerSeen,
}

/// The result of [`run_with_deadline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRun {
    /// How it ended.
    pub exit: Exit,
    /// Captured standard output (at most [`OUTPUT_LIMIT`] bytes).
    pub stdout: Vec<u8>,
    /// Captured standard error (at most [`OUTPUT_LIMIT`] bytes).
    pub stderr: Vec<u8>,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

/// Runs `command` (stdin closed) until it exits, `timeout` passes, or its standard output
/// contains `stop_marker`; in the last two cases the process is killed.
pub fn run_with_deadline(
    mut command: Command,
    timeout: Duration,
    stop_marker: Option<&str>,
) -> std::io::Result<ProcessRun> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let marker_seen = Arc::new(AtomicBool::new(false));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        collect(
            child.stdout.take().expect("stdout is piped"),
            Arc::clone(&stdout),
            stop_marker.map(|marker| (marker.as_bytes().to_vec(), Arc::clone(&marker_seen))),
        ),
        collect(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
            None,
        ),
    ];
    let exit = wait_for_exit(&mut child, started + timeout, &marker_seen)?;
    let elapsed = started.elapsed();
    for reader in readers {
        let _ = reader.join();
    }
    let take = |buffer: Arc<Mutex<Vec<u8>>>| {
        std::mem::take(
            &mut *buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    };
    Ok(ProcessRun {
        exit,
        stdout: take(stdout),
        stderr: take(stderr),
        elapsed,
    })
}

fn wait_for_exit(
    child: &mut Child,
    deadline: Instant,
    marker_seen: &AtomicBool,
) -> std::io::Result<Exit> {
    use std::os::unix::process::ExitStatusExt;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Status(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Signal(0),
            });
        }
        let stop = if marker_seen.load(Ordering::SeqCst) {
            Some(Exit::MarkerSeen)
        } else if Instant::now() >= deadline {
            Some(Exit::TimedOut)
        } else {
            None
        };
        if let Some(exit) = stop {
            // It may have exited just now; either way it is gone after `wait`.
            let _ = child.kill();
            child.wait()?;
            return Ok(exit);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn collect(
    mut source: impl Read + Send + 'static,
    buffer: Arc<Mutex<Vec<u8>>>,
    marker: Option<(Vec<u8>, Arc<AtomicBool>)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            let length = match source.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(length) => length,
            };
            let mut buffer = buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let room = OUTPUT_LIMIT.saturating_sub(buffer.len());
            buffer.extend_from_slice(&chunk[..length.min(room)]);
            if let Some((marker, seen)) = &marker {
                // Only the tail can hold a marker that was not there before this chunk.
                let from = buffer.len().saturating_sub(length + marker.len());
                if buffer[from..]
                    .windows(marker.len())
                    .any(|window| window == marker.as_slice())
                {
                    seen.store(true, Ordering::SeqCst);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn captures_output_and_status() {
        let run = run_with_deadline(
            shell("echo serial line; echo oops >&2; exit 33"),
            Duration::from_secs(10),
            None,
        )
        .unwrap();
        assert_eq!(run.exit, Exit::Status(33));
        assert_eq!(run.stdout, b"serial line\n");
        assert_eq!(run.stderr, b"oops\n");
    }

    #[test]
    fn kills_at_the_deadline() {
        let run = run_with_deadline(
            shell("echo started; exec sleep 30"),
            Duration::from_millis(300),
            None,
        )
        .unwrap();
        assert_eq!(run.exit, Exit::TimedOut);
        assert_eq!(run.stdout, b"started\n");
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    }

    #[test]
    fn stops_when_the_marker_appears() {
        let run = run_with_deadline(
            shell("echo booting; sleep 0.1; echo 'main loop reached'; exec sleep 30"),
            Duration::from_secs(20),
            Some("main loop reached"),
        )
        .unwrap();
        assert_eq!(run.exit, Exit::MarkerSeen);
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    }

    #[test]
    fn reports_signals() {
        let run = run_with_deadline(shell("kill -9 $$"), Duration::from_secs(10), None).unwrap();
        assert_eq!(run.exit, Exit::Signal(9));
    }
}
