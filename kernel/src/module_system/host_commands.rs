//! Supervisor commands from the host: `cargo cella ps`, `log`, `caps`,
//! `trace`, `list`, `remove`, `mem` arrive over the push link signed with the
//! push key (`crate::command_protocol`) and are read into the same typed
//! [`Command`] the shell's lines become. Their answer is the text the shell
//! prints. Only the commands that inspect the system, `trace` and `remove`
//! are taken from the host.

use super::event_loop::EventLoop;
use super::operations::{Requester, Task};
use super::services::KernelServices;
use crate::supervisor::command_line::Command;
use crate::supervisor::reports::CommandError;
use alloc::format;

/// The commands the host may give, as the refusal names them.
pub const HOST_COMMANDS: &str = "help, ps, list, caps, log, explain, trace, remove, mem, uptime";

/// Whether the host may give `command`.
pub fn host_may_run(command: &Command) -> bool {
    matches!(
        command,
        Command::Nothing
            | Command::Help
            | Command::ProcessList
            | Command::List
            | Command::Capabilities { .. }
            | Command::Log { .. }
            | Command::Explain { .. }
            | Command::Trace { .. }
            | Command::RecentAccesses { .. }
            | Command::Remove { .. }
            | Command::Memory
            | Command::Uptime
    )
}

impl<K: KernelServices> EventLoop<K> {
    /// A command line the host sent (its signature already checked).
    pub(crate) fn command_from_host(&mut self, line: &str) {
        log::info!("push: command from the host: {line}");
        match Command::parse(line) {
            Ok(command) if host_may_run(&command) => {
                self.submit(Requester::Host, Task::Command(command));
            }
            Ok(_) => {
                let word = line.split_ascii_whitespace().next().unwrap_or_default();
                let refusal = CommandError::Usage(format!(
                    "`{word}` is not taken from the host; it takes {HOST_COMMANDS}"
                ));
                self.deliver(&Requester::Host, 0, Err(refusal));
            }
            Err(usage) => self.deliver(&Requester::Host, 0, Err(CommandError::Usage(usage))),
        }
    }
}
