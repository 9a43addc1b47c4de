//! Help for one command: `cella help COMMAND` and `cella COMMAND --help` print that command's
//! part of [`USAGE`], the tool's one usage text.

use super::USAGE;
use crate::{Error, Result};

/// The help text of `command`: its usage line and its description and options, from
/// [`USAGE`] (the entry that starts with the command's name at the commands' indentation and
/// the lines indented under it). `None` for a word that is not a command.
pub fn command_help(command: &str) -> Option<String> {
    const INDENT: &str = "  ";
    let mut lines = USAGE.lines().skip_while(|line| {
        let Some(entry) = line.strip_prefix(INDENT) else {
            return true;
        };
        entry.starts_with(' ') || entry.split_whitespace().next() != Some(command)
    });
    let first = lines.next()?.trim();
    // `run          build, then ...`: the usage, then the description's first line.
    let (usage, description) = first.split_once("  ").unwrap_or((first, ""));
    let mut body: Vec<&str> = Vec::new();
    if !description.trim().is_empty() {
        body.push(description.trim());
    }
    let rest: Vec<&str> = lines.take_while(|line| line.starts_with("    ")).collect();
    let margin = rest
        .iter()
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut text = format!("usage: cargo cella {usage}\n");
    for line in body
        .into_iter()
        .chain(rest.iter().map(|line| line.get(margin..).unwrap_or(line)))
    {
        text.push_str(INDENT);
        text.push_str(line);
        text.push('\n');
    }
    Some(text)
}

/// What `cella help [COMMAND]` and `cella COMMAND --help` print.
///
/// # Errors
/// A usage error for a word that is not a command.
pub fn help_text(topic: Option<&str>) -> Result<String> {
    match topic {
        None | Some("help") => Ok(USAGE.to_owned()),
        Some(command) => command_help(command)
            .ok_or_else(|| Error::usage(format!("unknown command `{command}`\n\n{USAGE}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Invocation, Subcommand, parse};

    fn parse_words(words: &str) -> Result<Invocation> {
        parse(words.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn a_command_with_help_asks_for_that_commands_help() {
        for words in [
            "push --help",
            "push MODULE -h",
            "help push",
            "-v push --help",
        ] {
            assert_eq!(
                parse_words(words).unwrap().subcommand,
                Subcommand::Help(Some("push".into())),
                "{words}"
            );
        }
        assert_eq!(
            parse_words("--help").unwrap().subcommand,
            Subcommand::Help(None)
        );
        let push = help_text(Some("push")).unwrap();
        assert!(push.starts_with("usage: cargo cella push MODULE"), "{push}");
        assert!(push.contains("--to NAME"), "{push}");
        assert!(!push.contains("faults"), "only push's part: {push}");
        assert!(!push.contains("commands:"), "{push}");
        let new = help_text(Some("new")).unwrap();
        assert!(
            new.starts_with("usage: cargo cella new driver NAME\n"),
            "{new}"
        );
        let run = help_text(Some("run")).unwrap();
        assert!(
            run.contains("--teaching") && !run.contains("--host-only"),
            "{run}"
        );
        assert_eq!(help_text(None).unwrap(), USAGE);
        assert_eq!(help_text(Some("frobnicate")).unwrap_err().exit_code(), 2);
        assert!(parse_words("help push extra").is_err());
    }
}
