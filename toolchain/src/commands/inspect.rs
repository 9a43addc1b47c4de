//! `cella ps`, `list`, `caps NAME`, `log [LINES]`, `trace NAME on|off`, `remove [--force]
//! NAME`, `mem`: one command for the supervisor of a system `cargo cella run` is running,
//! asked over its push channel ([`crate::inspect`]). The kernel's answer is printed exactly as
//! its console shell prints it: on standard output when the command succeeded, on standard
//! error (and a non-zero exit) when the system answered with an error.

use crate::cli::InspectOptions;
use crate::inspect::ask;
use crate::installed;
use crate::push;
use crate::runs;
use crate::workspace::Workspace;
use crate::{Error, Result, progress};
use std::time::Duration;

/// How long to wait for each read of the kernel's answer (TCG on a busy machine is slow).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the chosen run's supervisor `options.line` and prints its answer.
pub fn inspect(workspace: &Workspace, options: &InspectOptions) -> Result<()> {
    let system = runs::choose(&workspace.cella_directory(), options.system.as_deref())?;
    if let Some(note) = &system.note {
        progress::message(note);
    }
    let key = push::read_key(&workspace.cella_directory())?;
    let answer = ask(&system.socket, &key, &options.line, ANSWER_TIMEOUT)
        .map_err(|error| error.context(format!("asking {}", system.description)))?;
    if answer.accepted {
        progress::write_output(progress::Stream::Stdout, answer.text.as_bytes());
        if let Some(name) = removed_module(&options.line) {
            let store = installed::store_directory(&workspace.cella_directory());
            if installed::forget(&store, name)? {
                progress::message(&format!(
                    "{name} is no longer kept in {}: the next boot leaves it out",
                    store.display()
                ));
            }
        }
        Ok(())
    } else {
        Err(Error::verbatim(answer.text))
    }
}

/// The module a `remove [--force] NAME` line removes.
fn removed_module(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    if words.next() != Some("remove") {
        return None;
    }
    words.find(|word| !word.starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::removed_module;

    #[test]
    fn the_removed_module_is_read_from_the_line() {
        assert_eq!(removed_module("remove blink"), Some("blink"));
        assert_eq!(
            removed_module("remove --force uart16550"),
            Some("uart16550")
        );
        assert_eq!(removed_module("ps"), None);
        assert_eq!(removed_module("caps blink"), None);
    }
}
