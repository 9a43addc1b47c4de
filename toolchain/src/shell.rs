//! Running other programs: echoing them with `-v` (`+ cargo build ...`), forwarding their
//! output through [`crate::progress`], and turning a non-zero exit into a clear error.

use crate::progress::{self, Stream};
use crate::{Error, Result};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

/// Runs commands on behalf of the tool.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    verbose: bool,
}

impl Shell {
    /// A shell that echoes every command it runs when `verbose` is set.
    pub fn new(verbose: bool) -> Self {
        Shell { verbose }
    }

    /// Whether `-v` / `--verbose` was given.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Prints `+ COMMAND` if verbose.
    pub fn show(&self, command: &Command) {
        if self.verbose {
            progress::write_output(
                Stream::Stderr,
                format!("+ {}\n", render_command(command)).as_bytes(),
            );
        }
    }

    /// Runs `command` with its output forwarded to ours; fails if it exits non-zero.
    pub fn run(&self, command: &mut Command) -> Result<()> {
        let status = self.run_watching(command, |_| {})?;
        check_status(command, status)
    }

    /// Runs `command`, forwarding its output and calling `watch` with each line of its
    /// standard output. Returns its exit status (a non-zero status is not an error here).
    pub fn run_watching(
        &self,
        command: &mut Command,
        watch: impl FnMut(&str),
    ) -> Result<ExitStatus> {
        self.run_forwarding(command, watch, true)
    }

    /// [`Shell::run_watching`], with the output forwarded to ours only if `forward`.
    fn run_forwarding(
        &self,
        command: &mut Command,
        mut watch: impl FnMut(&str),
        forward: bool,
    ) -> Result<ExitStatus> {
        self.show(command);
        if std::io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
            // Output is piped through us, so cargo cannot see the terminal itself.
            command.env("CARGO_TERM_COLOR", "always");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| spawn_error(command, &error))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_forwarder =
            std::thread::spawn(move || forward_chunks(stderr, Stream::Stderr, forward));
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if forward {
                        progress::write_output(Stream::Stdout, &line);
                    }
                    watch(String::from_utf8_lossy(&line).trim_end());
                }
            }
        }
        let _ = stderr_forwarder.join();
        child.wait().map_err(|error| {
            Error::new(format!("waiting for `{}`: {error}", program_name(command)))
        })
    }

    /// Runs `command` and returns its captured output, whatever its exit status.
    pub fn capture(&self, command: &mut Command) -> Result<Output> {
        self.show(command);
        command
            .stdin(Stdio::null())
            .output()
            .map_err(|error| spawn_error(command, &error))
    }

    /// Runs `command` with its output captured, failing with its error output if it exits
    /// non-zero; returns its standard output as bytes.
    ///
    /// # Errors
    /// The command cannot run, or it exits non-zero.
    pub fn capture_stdout_bytes(&self, command: &mut Command) -> Result<Vec<u8>> {
        let output = self.capture(command)?;
        if !output.status.success() {
            return Err(Error::new(format!(
                "`{}` failed ({}):\n{}",
                render_command(command),
                describe_status(output.status),
                String::from_utf8_lossy(&output.stderr).trim_end()
            )));
        }
        Ok(output.stdout)
    }

    /// Runs `command` and returns its standard output as text; fails, showing its standard
    /// error, if it exits non-zero.
    pub fn capture_stdout(&self, command: &mut Command) -> Result<String> {
        let stdout = self.capture_stdout_bytes(command)?;
        String::from_utf8(stdout).map_err(|_| {
            Error::new(format!(
                "`{}` printed output that is not UTF-8",
                render_command(command)
            ))
        })
    }
}

fn forward_chunks(mut source: impl Read, stream: Stream, forward: bool) {
    let mut buffer = [0u8; 8192];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(length) if forward => progress::write_output(stream, &buffer[..length]),
            Ok(_) => {}
        }
    }
}

/// Fails with `` `COMMAND` failed (exit status N) `` unless `status` is success.
pub fn check_status(command: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "`{}` failed ({})",
            render_command(command),
            describe_status(status)
        )))
    }
}

/// `exit status 101`, `killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

fn program_name(command: &Command) -> String {
    command.get_program().to_string_lossy().into_owned()
}

fn spawn_error(command: &Command, error: &std::io::Error) -> Error {
    if error.kind() == std::io::ErrorKind::NotFound {
        Error::new(format!(
            "cannot run `{}`: program not found in PATH",
            program_name(command)
        ))
    } else {
        Error::new(format!("cannot run `{}`: {error}", program_name(command)))
    }
}

/// The command as a shell would spell it: `VAR=value program 'arg with space'`.
pub fn render_command(command: &Command) -> String {
    let mut words = Vec::new();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            words.push(format!("{}={}", name.to_string_lossy(), quote(value)));
        }
    }
    words.push(quote(command.get_program()));
    words.extend(command.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let text = word.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Finds an executable named `program` in `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file with an execute bit set.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_commands_like_a_shell() {
        let mut command = Command::new("cargo");
        command.env("CELLA_KERNEL", "/tmp/k").args([
            "build",
            "-p",
            "cella-kernel",
            "two words",
            "it's",
        ]);
        assert_eq!(
            render_command(&command),
            r"CELLA_KERNEL=/tmp/k cargo build -p cella-kernel 'two words' 'it'\''s'"
        );
    }

    #[test]
    fn reports_failures_with_the_command_and_status() {
        let shell = Shell::new(false);
        let error = shell
            .run(Command::new("sh").args(["-c", "exit 3"]))
            .unwrap_err();
        assert_eq!(error.message(), "`sh -c 'exit 3'` failed (exit status 3)");
        let error = shell
            .run(&mut Command::new("cella-no-such-program"))
            .unwrap_err();
        assert!(error.message().contains("not found"), "{error}");
    }

    #[test]
    fn watches_standard_output_lines() {
        let mut lines = Vec::new();
        let status = Shell::new(false)
            .run_forwarding(
                Command::new("sh").args(["-c", "echo one; echo two >&2; echo three"]),
                |line| lines.push(line.to_owned()),
                false,
            )
            .unwrap();
        assert!(status.success());
        assert_eq!(lines, ["one", "three"]);
    }

    #[test]
    fn finds_programs_in_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("cella-no-such-program").is_none());
    }
}
