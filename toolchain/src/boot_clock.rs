//! Boot time on the host's clock: start QEMU, read its serial output (QEMU's standard
//! output) as it arrives, note when given text first appears, and stop QEMU once a stop
//! text has appeared, QEMU has ended, or a timeout has passed. Used by `cella bench` for
//! Cella's and Linux's boot to their first user-space output, the same way for both.

use crate::shell::Shell;
use crate::{Error, Result};
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What to look for in one boot.
pub struct Watch<'a> {
    /// Texts whose first appearance is timed.
    pub marks: &'a [&'a str],
    /// QEMU is stopped as soon as any of these has appeared.
    pub stop_at: &'a [&'a str],
    /// QEMU is killed after this long.
    pub timeout: Duration,
}

/// What one boot showed.
#[derive(Debug)]
pub struct Boot {
    /// Everything QEMU printed (lossy UTF-8).
    pub output: String,
    /// For each of [`Watch::marks`], in order: the time from QEMU's start until it appeared.
    pub marks: Vec<Option<Duration>>,
    /// How the boot ended.
    pub ending: Ending,
}

/// How a watched boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A stop text appeared (QEMU was then stopped).
    Stopped,
    /// QEMU exited by itself.
    Exited(Option<i32>),
    /// The timeout passed (QEMU was killed).
    TimedOut,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Stopped => formatter.write_str("stopped once the expected text appeared"),
            Ending::Exited(Some(status)) => write!(formatter, "QEMU exited with status {status}"),
            Ending::Exited(None) => formatter.write_str("QEMU ended without an exit status"),
            Ending::TimedOut => formatter.write_str("killed at the timeout"),
        }
    }
}

/// When each of `marks` first appears in `output`, given the time `now` at which `output`
/// has become this long: fills in the marks not yet seen.
fn note_marks(output: &str, marks: &[&str], seen: &mut [Option<Duration>], now: Duration) {
    for (mark, seen) in marks.iter().zip(seen.iter_mut()) {
        if seen.is_none() && output.contains(mark) {
            *seen = Some(now);
        }
    }
}

/// Runs `command` (a QEMU command line with the serial port on standard output) and watches
/// its output as [`Watch`] says.
///
/// # Errors
/// QEMU cannot be started.
pub fn watch(shell: &Shell, mut command: Command, watch: &Watch<'_>) -> Result<Boot> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    shell.show(&command);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| Error::new(format!("starting QEMU: {error}")))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(length @ 1..) = stdout.read(&mut buffer) {
            if sender
                .send((Instant::now(), buffer[..length].to_vec()))
                .is_err()
            {
                return;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let mut bytes = Vec::new();
    let mut marks = vec![None; watch.marks.len()];
    let deadline = started + watch.timeout;
    let ending = loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok((arrived, chunk)) => {
                bytes.extend_from_slice(&chunk);
                let output = String::from_utf8_lossy(&bytes);
                note_marks(
                    &output,
                    watch.marks,
                    &mut marks,
                    arrived.duration_since(started),
                );
                if watch.stop_at.iter().any(|stop| output.contains(stop)) {
                    break Ending::Stopped;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Ending::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ending::Exited(None),
        }
    };
    if ending != Ending::Exited(None) {
        // Ours to stop: the QEMU process this function started.
        let _ = child.kill();
    }
    let status: Option<ExitStatus> = child.wait().ok();
    let _ = reader.join();
    let stderr_text = errors.join().unwrap_or_default();
    while let Ok((_, chunk)) = receiver.try_recv() {
        bytes.extend_from_slice(&chunk);
    }
    let mut output = String::from_utf8_lossy(&bytes).into_owned();
    if !stderr_text.is_empty() {
        output.push_str(&String::from_utf8_lossy(&stderr_text));
    }
    let ending = match ending {
        Ending::Exited(_) => Ending::Exited(status.and_then(|status| status.code())),
        other => other,
    };
    Ok(Boot {
        output,
        marks,
        ending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell_command(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn marks_are_timed_from_the_start_and_the_stop_text_ends_the_run() {
        let boot = watch(
            &Shell::new(false),
            shell_command("echo first; sleep 0.3; printf 'prompt> '; exec sleep 30"),
            &Watch {
                marks: &["first", "prompt> ", "never"],
                stop_at: &["prompt> "],
                timeout: Duration::from_secs(20),
            },
        )
        .unwrap();
        assert_eq!(boot.ending, Ending::Stopped);
        let first = boot.marks[0].expect("first seen");
        let prompt = boot.marks[1].expect("prompt seen (no newline after it)");
        assert!(prompt >= first + Duration::from_millis(250), "{boot:?}");
        assert!(prompt < Duration::from_secs(10), "{boot:?}");
        assert_eq!(boot.marks[2], None);
    }

    #[test]
    fn an_exit_and_a_timeout_are_told_apart() {
        let exited = watch(
            &Shell::new(false),
            shell_command("echo bye; exit 3"),
            &Watch {
                marks: &[],
                stop_at: &["never"],
                timeout: Duration::from_secs(20),
            },
        )
        .unwrap();
        assert_eq!(exited.ending, Ending::Exited(Some(3)));
        assert_eq!(exited.ending.to_string(), "QEMU exited with status 3");
        assert!(exited.output.contains("bye"));
        let started = Instant::now();
        let timed_out = watch(
            &Shell::new(false),
            shell_command("exec sleep 30"),
            &Watch {
                marks: &[],
                stop_at: &[],
                timeout: Duration::from_millis(300),
            },
        )
        .unwrap();
        assert_eq!(timed_out.ending, Ending::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
