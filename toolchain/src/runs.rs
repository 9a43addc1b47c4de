//! The systems `cargo cella run` is running from one build directory, so that several can run
//! at once and `cargo cella push` says which one it talks to.
//!
//! Each run registers itself in `<target>/cella/runs/` under its process id: `PID.sock` is its
//! push channel (the guest's COM2, see [`crate::push`]) and `PID.run` describes it:
//!
//! ```text
//! pid 12345
//! started 1764921600
//! system production
//! process-start 4409871
//! ```
//!
//! `cargo cella run` replaces itself with QEMU, so the process id is QEMU's, and a run is live
//! while its socket is there and a process with that id runs that started when the run did
//! (`process-start`, field 22 of `/proc/PID/stat`, which `exec` keeps): not another process
//! that got the id later. Records of runs that ended are removed
//! whenever the directory is read.

use crate::build_info::format_utc;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The directory of the run records, inside the tool's output directory.
pub const RUNS_DIRECTORY: &str = "runs";

/// One run of `cargo cella run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Its process id (the QEMU process's).
    pub pid: u32,
    /// When it started, in Unix seconds.
    pub started: u64,
    /// Which system it boots (`production`, `teaching`, `test`).
    pub system: String,
    /// When the process started, in clock ticks since the machine booted (`/proc/PID/stat`).
    pub process_start: u64,
    /// Its push channel.
    pub socket: PathBuf,
}

impl Run {
    /// `run 12345 (production system, started 2026-12-05T08:01:02Z, socket PATH)`.
    pub fn describe(&self) -> String {
        format!(
            "run {} ({} system, started {}, socket {})",
            self.pid,
            self.system,
            format_utc(self.started),
            self.socket.display()
        )
    }

    fn record_path(&self) -> PathBuf {
        record_path(&self.socket)
    }

    fn to_text(&self) -> String {
        format!(
            "pid {}\nstarted {}\nsystem {}\nprocess-start {}\n",
            self.pid, self.started, self.system, self.process_start
        )
    }

    fn from_text(text: &str, socket: PathBuf) -> Option<Run> {
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
                .map(str::trim)
        };
        Some(Run {
            pid: field("pid")?.parse().ok()?,
            started: field("started")?.parse().ok()?,
            system: field("system")?.to_owned(),
            process_start: field("process-start")?.parse().ok()?,
            socket,
        })
    }
}

/// `<cella directory>/runs`.
pub fn runs_directory(cella_directory: &Path) -> PathBuf {
    cella_directory.join(RUNS_DIRECTORY)
}

/// The socket of run `pid`.
pub fn socket_path(cella_directory: &Path, pid: u32) -> PathBuf {
    runs_directory(cella_directory).join(format!("{pid}.sock"))
}

fn record_path(socket: &Path) -> PathBuf {
    socket.with_extension("run")
}

/// When process `pid` started, in clock ticks since boot (field 22 of `/proc/PID/stat`, the
/// fields counted after the command name, which is in parentheses and may hold spaces).
fn process_start(pid: u32) -> Option<u64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `run`'s process is still the one that registered it.
fn is_running(run: &Run) -> bool {
    run.pid != 0 && process_start(run.pid) == Some(run.process_start)
}

/// Registers run `pid` (a running process; started at `started`, booting `system`): removes
/// the records of runs that ended, and whatever an earlier process with the same id left, then
/// writes the record. The other live runs and their sockets are left alone.
///
/// # Errors
/// The process does not exist, or the directory or the record cannot be written.
pub fn register(cella_directory: &Path, pid: u32, started: u64, system: &str) -> Result<Run> {
    let directory = runs_directory(cella_directory);
    std::fs::create_dir_all(&directory)
        .map_err(|error| Error::new(format!("creating {}: {error}", directory.display())))?;
    live(cella_directory);
    let process_start = process_start(pid).ok_or_else(|| {
        Error::new(format!(
            "process {pid} is not running (no /proc/{pid}/stat)"
        ))
    })?;
    let run = Run {
        pid,
        started,
        system: system.to_owned(),
        process_start,
        socket: socket_path(cella_directory, pid),
    };
    let _ = std::fs::remove_file(&run.socket);
    let record = run.record_path();
    std::fs::write(&record, run.to_text())
        .map_err(|error| Error::new(format!("writing {}: {error}", record.display())))?;
    Ok(run)
}

/// Removes `run`'s record and socket (a run whose QEMU could not start).
pub fn unregister(run: &Run) {
    let _ = std::fs::remove_file(run.record_path());
    let _ = std::fs::remove_file(&run.socket);
}

/// The live runs, oldest first; records of runs that ended (their process is gone, or their
/// socket is) are removed on the way.
pub fn live(cella_directory: &Path) -> Vec<Run> {
    let Ok(entries) = std::fs::read_dir(runs_directory(cella_directory)) else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("run") {
            continue;
        }
        let socket = path.with_extension("sock");
        let run = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| Run::from_text(&text, socket.clone()));
        match run {
            Some(run) if is_running(&run) && socket.exists() => runs.push(run),
            Some(run) if is_running(&run) => {
                // Registered, QEMU not listening yet: not a target, but not stale either.
            }
            _ => {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(&socket);
            }
        }
    }
    runs.sort_by_key(|run| (run.started, run.pid));
    runs
}

/// The system `cargo cella push` (or `ps`, `log`, ...) talks to, and what to tell the user about the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The socket to connect to.
    pub socket: PathBuf,
    /// `run 12345 (...)`, or `the socket PATH` for a socket that is no known run.
    pub description: String,
    /// A note when other systems run too (which one was taken, and how to pick another).
    pub note: Option<String>,
}

/// Chooses the run to talk to: `selector` is a process id or a socket path (`--system`);
/// without it, the only live run, or the newest of several (with a note naming the others).
///
/// # Errors
/// No run is live, or none has the given process id.
pub fn choose(cella_directory: &Path, selector: Option<&str>) -> Result<Chosen> {
    let runs = live(cella_directory);
    let listing = || {
        runs.iter()
            .map(Run::describe)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match selector {
        Some(text) if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) => {
            let run = runs
                .iter()
                .find(|run| run.pid.to_string() == text)
                .ok_or_else(|| {
                    Error::new(format!(
                        "no system runs as process {text} from {}{}",
                        runs_directory(cella_directory).display(),
                        if runs.is_empty() {
                            String::from(" (none runs: start one with `cargo cella run`)")
                        } else {
                            format!("; running: {}", listing())
                        }
                    ))
                })?;
            Ok(Chosen {
                socket: run.socket.clone(),
                description: run.describe(),
                note: None,
            })
        }
        Some(path) => {
            let socket = PathBuf::from(path);
            let description = runs
                .iter()
                .find(|run| run.socket == socket)
                .map_or_else(|| format!("the socket {path}"), Run::describe);
            Ok(Chosen {
                socket,
                description,
                note: None,
            })
        }
        None => {
            let newest = runs.last().ok_or_else(|| {
                Error::new(format!(
                    "no system is running from this build directory (no live run in {}): start one with `cargo cella run`",
                    runs_directory(cella_directory).display()
                ))
            })?;
            let note = (runs.len() > 1).then(|| {
                let others: Vec<String> = runs[..runs.len() - 1]
                    .iter()
                    .map(|run| run.pid.to_string())
                    .collect();
                format!(
                    "{} systems are running; talking to the newest, run {} (the others: {}; choose one with --system PID)",
                    runs.len(),
                    newest.pid,
                    others.join(", ")
                )
            });
            Ok(Chosen {
                socket: newest.socket.clone(),
                description: newest.describe(),
                note,
            })
        }
    }
}

#[cfg(test)]
mod tests;
