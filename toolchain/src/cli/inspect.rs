//! The commands for a running system's supervisor (`cella ps`, `list`, `caps`, `log`,
//! `explain`, `trace`, `remove`, `mem`): their words, checked for count, become the command line the
//! console shell would send.

use super::{Options, command_help};
use crate::{Error, Result};

/// Options of `cella ps`, `list`, `caps`, `log`, `trace`, `remove` and `mem`: a command for
/// the running system's supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InspectOptions {
    /// The command line, as the console shell would send it (`caps uart16550`).
    pub line: String,
    /// The run to ask: a process id or a socket path (default: the newest run).
    pub system: Option<String>,
}

/// The words of a command for the running system: `--system` taken out, the rest checked
/// for count (the kernel checks what they say, and answers as its shell does).
pub(super) fn inspect_options(name: &str, options: &mut Options) -> Result<InspectOptions> {
    let mut inspect = InspectOptions::default();
    let mut words = vec![name.to_owned()];
    let mut force = false;
    while let Some(option) = options.next_option() {
        match option.as_str() {
            "--system" => inspect.system = Some(options.value(&option)?),
            "--force" if name == "remove" => force = true,
            _ if !option.starts_with('-') => words.push(option),
            _ => return Err(options.unknown(&option)),
        }
    }
    let arguments = words.len() - 1;
    let (least, most) = match name {
        "caps" | "remove" => (1, 1),
        "log" | "explain" => (0, 1),
        "trace" => (1, 2),
        _ => (0, 0),
    };
    if arguments < least || arguments > most {
        let usage = command_help(name).unwrap_or_default();
        return Err(Error::usage(
            usage.lines().next().unwrap_or(name).to_owned(),
        ));
    }
    if force {
        words.insert(1, String::from("--force"));
    }
    inspect.line = words.join(" ");
    Ok(inspect)
}

#[cfg(test)]
mod tests {
    use crate::Result;
    use crate::cli::{InspectOptions, Invocation, Subcommand, parse};

    fn parse_words(words: &str) -> Result<Invocation> {
        parse(words.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_commands_for_the_running_system() {
        for (words, line, system) in [
            ("ps", "ps", None),
            ("list --system 4242", "list", Some("4242")),
            ("caps uart16550", "caps uart16550", None),
            ("log", "log", None),
            ("log 7 --system=/tmp/x.sock", "log 7", Some("/tmp/x.sock")),
            ("trace pci", "trace pci", None),
            ("trace pci on", "trace pci on", None),
            ("remove pci", "remove pci", None),
            ("remove --force uart16550", "remove --force uart16550", None),
            ("remove uart16550 --force", "remove --force uart16550", None),
            ("mem", "mem", None),
            ("explain", "explain", None),
            ("explain oob --system 7", "explain oob", Some("7")),
        ] {
            assert_eq!(
                parse_words(words).unwrap().subcommand,
                Subcommand::Inspect(InspectOptions {
                    line: line.into(),
                    system: system.map(str::to_owned),
                }),
                "{words}"
            );
        }
        for words in [
            "caps",
            "caps a b",
            "ps all",
            "log 1 2",
            "explain a b",
            "trace",
            "trace pci on now",
            "remove",
            "remove --force",
            "list --force",
            "mem --system",
        ] {
            let error = parse_words(words).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{words}: {error}");
        }
        assert_eq!(
            parse_words("caps").unwrap_err().message(),
            "usage: cargo cella caps NAME [--system PID|SOCKET]"
        );
    }
}
