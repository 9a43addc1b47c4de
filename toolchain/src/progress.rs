//! Progress lines for slow steps: `cella: building kernel (release)... done in 12.3 s`.
//!
//! A step announces itself only once it has run for a second, so fast steps stay silent.
//! All of the tool's own terminal output and the output it forwards from child processes goes
//! through [`write_output`] and [`message`], which first end a progress line that is still open,
//! so a warning printed by `cargo` never lands in the middle of `cella: ...`.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a step runs before its progress line appears.
pub const ANNOUNCE_AFTER: Duration = Duration::from_secs(1);

/// Whether a `cella: label... ` line has been printed without its end yet.
static LINE_OPEN: Mutex<bool> = Mutex::new(false);

fn lock_line() -> MutexGuard<'static, bool> {
    LINE_OPEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Which stream forwarded child output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Writes `bytes` to `stream`, ending any open progress line first.
pub fn write_output(stream: Stream, bytes: &[u8]) {
    let mut line_open = lock_line();
    if *line_open {
        eprintln!();
        *line_open = false;
    }
    // Errors writing to our own terminal cannot be reported anywhere better; ignore them.
    let _ = match stream {
        Stream::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(bytes),
    };
}

/// Prints `cella: TEXT` on its own line (to stderr).
pub fn message(text: &str) {
    write_output(Stream::Stderr, format!("cella: {text}\n").as_bytes());
}

/// Formats a duration for people: `0.4 s`, `12.3 s`, `2 min 05 s`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 100.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[derive(Default)]
struct Announcement {
    announced: bool,
}

/// A step in progress. Call [`Step::done`] when it succeeds; dropping it unfinished (for
/// example when `?` returns an error) reports `failed after ...`.
pub struct Step {
    label: String,
    started: Instant,
    announcement: Arc<Mutex<Announcement>>,
    cancel: Option<Sender<()>>,
    timer: Option<JoinHandle<()>>,
}

impl Step {
    /// Starts timing `label`; its line appears after [`ANNOUNCE_AFTER`].
    pub fn start(label: impl Into<String>) -> Step {
        let label = label.into();
        let announcement = Arc::new(Mutex::new(Announcement::default()));
        let (cancel, cancelled) = mpsc::channel::<()>();
        let timer = {
            let label = label.clone();
            let announcement = Arc::clone(&announcement);
            std::thread::spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = cancelled.recv_timeout(ANNOUNCE_AFTER) {
                    let mut announcement = announcement
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let mut line_open = lock_line();
                    if *line_open {
                        eprintln!();
                    }
                    eprint!("cella: {label}... ");
                    let _ = std::io::stderr().flush();
                    *line_open = true;
                    announcement.announced = true;
                }
            })
        };
        Step {
            label,
            started: Instant::now(),
            announcement,
            cancel: Some(cancel),
            timer: Some(timer),
        }
    }

    /// Ends the step successfully, printing `done in ...` if it was announced.
    pub fn done(mut self) -> Duration {
        self.finish("done in")
    }

    fn finish(&mut self, verb: &str) -> Duration {
        let elapsed = self.started.elapsed();
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
        let announced = self
            .announcement
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .announced;
        if announced {
            let mut line_open = lock_line();
            let ending = format!("{verb} {}", format_duration(elapsed));
            if *line_open {
                eprintln!("{ending}");
            } else {
                eprintln!("cella: {}: {ending}", self.label);
            }
            *line_open = false;
        }
        elapsed
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if self.cancel.is_some() {
            self.finish("failed after");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_millis(400)), "0.4 s");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 05 s");
    }

    #[test]
    fn fast_steps_stay_silent_and_report_their_time() {
        let step = Step::start("quick");
        let elapsed = step.done();
        assert!(elapsed < ANNOUNCE_AFTER);
    }
}
