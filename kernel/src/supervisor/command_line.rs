//! The supervisor's commands as a typed value: a command line from the shell
//! is read into a [`Command`] (or a usage error) before anything runs, so
//! what a command means is decided in one place, host-tested, and the
//! module system only ever carries out a well-formed [`Command`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The usage line of every command the supervisor knows.
pub const USAGE: &[&str] = &[
    "help                     this list",
    "ps | lsmod               modules: version, generation, state, restarts, events, fuel, memory, log lines dropped; native processes",
    "list                     modules: name, version, state, one line each",
    "caps NAME                what NAME is granted and what its instance holds",
    "log [LINES]              the kernel log ring (default 40 lines) and every recorded fault",
    "explain [NAME]           every recorded fault (or NAME's) in plain words: what the module did, what stopped it",
    "restart NAME             a fresh instance of NAME now",
    "stop [--force] NAME | start NAME   stop NAME (--force: even the console's driver), or bring NAME back",
    "start /PATH              start the module in file PATH of the `fs` server in place of the one of its name",
    "remove [--force] NAME    stop NAME and unload it, releasing its grants (--force: even the console's driver); a push brings it back",
    "swap [--force] NAME FILE replace NAME by FILE from the boot archive, or from the `fs` server if FILE starts with /, keeping its state (--force: even a module of another name)",
    "trace NAME [on|off]      NAME's last device accesses; on|off: print every one as it happens",
    "send ENDPOINT TEXT       post TEXT as a message to the module serving ENDPOINT (OPERATION ARGUMENTS if it has a typed interface)",
    "call ENDPOINT TEXT       call the module or native process serving ENDPOINT, show its reply",
    "uptime                   time since boot",
    "mem                      physical memory and kernel heap",
];

/// Lines `log` shows when none are asked for.
pub const DEFAULT_LOG_LINES: usize = 40;

/// One command, read from a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An empty line: nothing to do.
    Nothing,
    /// `help`.
    Help,
    /// `ps` or `lsmod`.
    ProcessList,
    /// `list`.
    List,
    /// `caps NAME`.
    Capabilities { module: String },
    /// `log [LINES]`.
    Log { lines: usize },
    /// `explain [NAME]`: the fault records (of module NAME) in plain words.
    Explain { module: Option<String> },
    /// `restart NAME`.
    Restart { module: String },
    /// `stop [--force] NAME`.
    Stop { module: String, force: bool },
    /// `start NAME`.
    Start { module: String },
    /// `start /PATH`: the module in a file of the `fs` server.
    StartFile { path: String },
    /// `remove [--force] NAME`.
    Remove { module: String, force: bool },
    /// `swap [--force] NAME FILE`.
    Swap {
        module: String,
        file: String,
        force: bool,
    },
    /// `trace NAME on|off`.
    Trace { module: String, on: bool },
    /// `trace NAME`: the instance's last device accesses.
    RecentAccesses { module: String },
    /// `send ENDPOINT TEXT`: the words of TEXT joined by single spaces.
    Send { endpoint: String, text: String },
    /// `call ENDPOINT TEXT`.
    Call { endpoint: String, text: String },
    /// `uptime`.
    Uptime,
    /// `mem`.
    Memory,
}

impl Command {
    /// Reads `line` (words separated by spaces).
    ///
    /// # Errors
    /// `usage: ...` for a known command with the wrong words, a sentence
    /// naming an unknown command, or why a number is not one.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let command = match words.as_slice() {
            [] => Command::Nothing,
            ["help"] => Command::Help,
            ["ps" | "lsmod"] => Command::ProcessList,
            ["list"] => Command::List,
            ["caps", module] => Command::Capabilities {
                module: String::from(*module),
            },
            ["log"] => Command::Log {
                lines: DEFAULT_LOG_LINES,
            },
            ["log", lines] => Command::Log {
                lines: lines
                    .parse()
                    .map_err(|_| format!("`{lines}` is not a number of lines"))?,
            },
            ["explain"] => Command::Explain { module: None },
            ["explain", module] => Command::Explain {
                module: Some(String::from(*module)),
            },
            ["restart", module] => Command::Restart {
                module: String::from(*module),
            },
            ["stop", module] if *module != "--force" => Command::Stop {
                module: String::from(*module),
                force: false,
            },
            ["stop", "--force", module] => Command::Stop {
                module: String::from(*module),
                force: true,
            },
            ["start", path] if path.starts_with('/') => Command::StartFile {
                path: String::from(*path),
            },
            ["start", module] => Command::Start {
                module: String::from(*module),
            },
            ["remove", module] if *module != "--force" => Command::Remove {
                module: String::from(*module),
                force: false,
            },
            ["remove", "--force", module] => Command::Remove {
                module: String::from(*module),
                force: true,
            },
            ["swap", module, file] if *module != "--force" => Command::Swap {
                module: String::from(*module),
                file: String::from(*file),
                force: false,
            },
            ["swap", "--force", module, file] => Command::Swap {
                module: String::from(*module),
                file: String::from(*file),
                force: true,
            },
            ["trace", module, switch @ ("on" | "off")] => Command::Trace {
                module: String::from(*module),
                on: *switch == "on",
            },
            ["trace", module] => Command::RecentAccesses {
                module: String::from(*module),
            },
            ["send", endpoint, text @ ..] if !text.is_empty() => Command::Send {
                endpoint: String::from(*endpoint),
                text: text.join(" "),
            },
            ["call", endpoint, text @ ..] if !text.is_empty() => Command::Call {
                endpoint: String::from(*endpoint),
                text: text.join(" "),
            },
            ["uptime"] => Command::Uptime,
            ["mem"] => Command::Memory,
            [command, ..] => return Err(usage_of(command)),
        };
        Ok(command)
    }
}

/// `usage: ...` for a known command, or a sentence about an unknown one.
fn usage_of(command: &str) -> String {
    let known = USAGE.iter().find(|usage| {
        let mut names = usage.split("  ").next().unwrap_or("").split(" | ");
        names.any(|name| name.split_whitespace().next() == Some(command))
    });
    match known {
        Some(usage) => format!("usage: {usage}"),
        None => format!("unknown command `{command}`; `help` lists the commands"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_the_usage_list_reads() {
        let cases: &[(&str, Command)] = &[
            ("", Command::Nothing),
            ("  help ", Command::Help),
            ("ps", Command::ProcessList),
            ("lsmod", Command::ProcessList),
            ("list", Command::List),
            (
                "remove pci",
                Command::Remove {
                    module: "pci".into(),
                    force: false,
                },
            ),
            (
                "remove --force uart16550",
                Command::Remove {
                    module: "uart16550".into(),
                    force: true,
                },
            ),
            (
                "caps pci",
                Command::Capabilities {
                    module: "pci".into(),
                },
            ),
            ("log", Command::Log { lines: 40 }),
            ("log 7", Command::Log { lines: 7 }),
            ("explain", Command::Explain { module: None }),
            (
                "explain oob",
                Command::Explain {
                    module: Some("oob".into()),
                },
            ),
            (
                "restart pci",
                Command::Restart {
                    module: "pci".into(),
                },
            ),
            (
                "stop pci",
                Command::Stop {
                    module: "pci".into(),
                    force: false,
                },
            ),
            (
                "stop --force uart16550",
                Command::Stop {
                    module: "uart16550".into(),
                    force: true,
                },
            ),
            (
                "start pci",
                Command::Start {
                    module: "pci".into(),
                },
            ),
            (
                "start /modules/pci.wasm",
                Command::StartFile {
                    path: "/modules/pci.wasm".into(),
                },
            ),
            (
                "swap uart16550 modules/uart16550-v2.wasm",
                Command::Swap {
                    module: "uart16550".into(),
                    file: "modules/uart16550-v2.wasm".into(),
                    force: false,
                },
            ),
            (
                "swap --force fwcfg modules/other.wasm",
                Command::Swap {
                    module: "fwcfg".into(),
                    file: "modules/other.wasm".into(),
                    force: true,
                },
            ),
            (
                "trace pci on",
                Command::Trace {
                    module: "pci".into(),
                    on: true,
                },
            ),
            (
                "trace pci off",
                Command::Trace {
                    module: "pci".into(),
                    on: false,
                },
            ),
            (
                "trace pci",
                Command::RecentAccesses {
                    module: "pci".into(),
                },
            ),
            (
                "send uart  hello   world",
                Command::Send {
                    endpoint: "uart".into(),
                    text: "hello world".into(),
                },
            ),
            (
                "call checksum hello",
                Command::Call {
                    endpoint: "checksum".into(),
                    text: "hello".into(),
                },
            ),
            ("uptime", Command::Uptime),
            ("mem", Command::Memory),
        ];
        for (line, expected) in cases {
            assert_eq!(&Command::parse(line).unwrap(), expected, "`{line}`");
        }
        assert_eq!(USAGE.len(), 16, "a new command needs a case above");
    }

    #[test]
    fn wrong_words_give_the_usage_and_unknown_commands_say_so() {
        for (line, expected) in [
            ("caps", "usage: caps NAME"),
            ("trace pci maybe", "usage: trace NAME [on|off]"),
            ("send uart", "usage: send ENDPOINT TEXT"),
            ("swap uart16550", "usage: swap [--force] NAME FILE"),
            ("swap --force uart16550", "usage: swap [--force] NAME FILE"),
            ("stop", "usage: stop [--force] NAME | start NAME"),
            ("start", "usage: stop [--force] NAME | start NAME"),
            ("lsmod now", "usage: ps | lsmod"),
            ("list all", "usage: list"),
            ("remove", "usage: remove [--force] NAME"),
            ("remove --force", "usage: remove [--force] NAME"),
            ("log many", "`many` is not a number of lines"),
            (
                "reboot",
                "unknown command `reboot`; `help` lists the commands",
            ),
        ] {
            let problem = Command::parse(line).unwrap_err();
            assert!(problem.starts_with(expected), "`{line}`: {problem}");
        }
    }
}
