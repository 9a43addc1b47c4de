//! The documentation against the system it describes: every `cargo cella X` in README.md,
//! docs/*.md and docs/labs/*.md names a command `cargo cella help` lists, every command shown after a `cella> `
//! prompt is one the shell's `help` lists (the supervisor's usage lines, read from the
//! kernel's source), docs/supervisor.md names every shell command, docs/abi.md and
//! docs/processes.md give the ABI's message limit, docs/drivers.md says where built variants
//! land, and no page speaks of the project's history.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tool sits in the workspace")
        .to_path_buf()
}

/// README.md, every docs/*.md and docs/labs/*.md: (path relative to the workspace, text).
fn pages() -> Vec<(String, String)> {
    let root = workspace();
    let mut paths = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = ["docs", "docs/labs"]
        .iter()
        .flat_map(|directory| {
            std::fs::read_dir(root.join(directory))
                .unwrap_or_else(|error| panic!("{directory}/ is not readable: {error}"))
                .map(|entry| entry.expect("a docs entry").path())
        })
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            (name, text)
        })
        .collect()
}

/// The shell's commands: the first word of each usage line of the supervisor's `USAGE` (what
/// `help` prints), and of each alternative after ` | ` (`ps | lsmod`).
fn shell_commands() -> Vec<String> {
    let path = workspace().join("kernel/src/supervisor/command_line.rs");
    let source = std::fs::read_to_string(&path).expect("the supervisor's command line source");
    let start = source
        .find("pub const USAGE: &[&str] = &[")
        .expect("command_line.rs defines USAGE");
    let body = &source[start..];
    let body = &body[..body.find("];").expect("USAGE ends")];
    let mut commands = Vec::new();
    // Each literal: `"usage   description",`.
    for literal in body.split('"').skip(1).step_by(2) {
        let usage = literal.split("  ").next().unwrap_or_default();
        for alternative in usage.split(" | ") {
            if let Some(command) = alternative.split_whitespace().next() {
                commands.push(command.to_owned());
            }
        }
    }
    assert!(
        commands.len() >= 10 && commands.iter().any(|command| command == "help"),
        "could not read the shell's commands from USAGE: {commands:?}"
    );
    // The commands the shell runs itself: the file commands (modules/shell/src/files.rs) and
    // the network commands (modules/shell/src/network.rs), each file's `HELP`.
    for (file, at_least, example) in [
        ("modules/shell/src/files.rs", 5, "cat"),
        ("modules/shell/src/network.rs", 2, "get"),
    ] {
        let path = workspace().join(file);
        let source = std::fs::read_to_string(&path).expect("the shell's commands source");
        let start = source
            .find("pub const HELP: &str = ")
            .unwrap_or_else(|| panic!("{file} defines HELP"));
        let body = &source[start..];
        let body = &body[..body.find("\";").expect("HELP ends")];
        let before = commands.len();
        for line in body.split("\\r\\n").skip(1) {
            let line = line.trim_start().trim_start_matches('\\');
            if let Some(command) = line.split_whitespace().next() {
                commands.push(command.to_owned());
            }
        }
        assert!(
            commands.len() - before >= at_least
                && commands.iter().any(|command| command == example),
            "could not read the shell's commands from {file}'s HELP: {commands:?}"
        );
    }
    commands
}

/// Every `cargo cella WORD` (WORD not an option or an upper-case placeholder) with its line number.
fn tool_commands_shown(text: &str) -> Vec<(usize, String)> {
    const PREFIX: &str = "cargo cella ";
    let mut shown = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(PREFIX) {
            rest = &rest[at + PREFIX.len()..];
            let word = rest
                .split_whitespace()
                .find(|word| !word.starts_with('-'))
                .unwrap_or_default();
            let word = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
            let placeholder = word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if !word.is_empty() && !placeholder {
                shown.push((number + 1, word.to_owned()));
            }
        }
    }
    shown
}

/// Every command typed after a `cella> ` prompt (comments, empty prompts and commands the
/// next line shows refused as unknown left out), with its line number.
fn shell_commands_shown(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(number, line)| {
            let typed = line.split_once("cella> ")?.1.trim();
            let command = typed.split_whitespace().next()?;
            let command = command.trim_end_matches('`');
            let shown_unknown = lines
                .get(number + 1)
                .is_some_and(|next| next.contains(&format!("unknown command `{command}`")));
            (!command.starts_with('#') && !command.is_empty() && !shown_unknown)
                .then(|| (number + 1, command.to_owned()))
        })
        .collect()
}

/// `line` without its web addresses (`<https://...>`, `(https://...)`), which name other
/// projects' pages.
fn without_addresses(line: &str) -> String {
    line.split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The history words in `line`: `issue` and `issues` (not `issued`), `used to`, `no longer`, ...
fn history_words(line: &str) -> Vec<&'static str> {
    const HISTORY: &[&str] = &[
        "used to ",
        "no longer",
        "previously",
        "anymore",
        "any more",
        "nowadays",
        "until now",
        "from now on",
    ];
    let lower = without_addresses(line).to_ascii_lowercase();
    let mut found: Vec<&'static str> = HISTORY
        .iter()
        .copied()
        .filter(|words| lower.contains(words))
        .collect();
    let issue = lower
        .match_indices("issue")
        .any(|(at, _)| !lower[at + "issue".len()..].starts_with('d'));
    if issue {
        found.push("issue");
    }
    found
}

#[test]
fn every_cargo_cella_command_shown_is_one_the_tool_lists() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (page, text) in pages() {
        for (line, command) in tool_commands_shown(&text) {
            seen += 1;
            if cella::cli::command_help(&command).is_none() {
                wrong.push(format!("{page}:{line}: `cargo cella {command}`"));
            }
        }
    }
    assert!(seen > 10, "only {seen} `cargo cella` commands found");
    assert!(
        wrong.is_empty(),
        "commands `cargo cella help` does not list:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_command_at_a_shell_prompt_is_one_the_shell_lists() {
    let commands = shell_commands();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (page, text) in pages() {
        for (line, command) in shell_commands_shown(&text) {
            seen += 1;
            if !commands.contains(&command) {
                wrong.push(format!("{page}:{line}: `cella> {command}`"));
            }
        }
    }
    assert!(seen > 5, "only {seen} shell commands found after prompts");
    assert!(
        wrong.is_empty(),
        "commands the shell's `help` does not list ({}):\n{}",
        commands.join(", "),
        wrong.join("\n")
    );
}

#[test]
fn the_supervisor_page_names_every_shell_command() {
    let text = std::fs::read_to_string(workspace().join("docs/supervisor.md"))
        .expect("docs/supervisor.md");
    let missing: Vec<String> = shell_commands()
        .into_iter()
        .filter(|command| !text.contains(&format!("`{command}")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/supervisor.md does not name: {}",
        missing.join(", ")
    );
}

#[test]
fn the_abi_and_process_pages_give_the_one_message_limit() {
    let limit = cella_abi::MAX_MESSAGE_BYTES;
    let thousands = limit / 1000;
    let written = if thousands > 0 {
        format!("{thousands},{:03} bytes", limit % 1000)
    } else {
        format!("{limit} bytes")
    };
    for page in ["docs/abi.md", "docs/processes.md"] {
        let text = std::fs::read_to_string(workspace().join(page)).expect("the page");
        assert!(
            text.contains(&written) && text.contains("MAX_MESSAGE_BYTES"),
            "{page} does not give the message limit as `{written}` (`MAX_MESSAGE_BYTES`)"
        );
    }
}

#[test]
fn the_driver_page_says_where_variants_land() {
    let path = cella::variants::variant_path(
        Path::new("target/cella"),
        "PACKAGE",
        &["FEATURES".to_owned()],
    );
    let path = path.display().to_string();
    let text =
        std::fs::read_to_string(workspace().join("docs/drivers.md")).expect("docs/drivers.md");
    assert!(
        text.contains(&path),
        "docs/drivers.md does not name `{path}`"
    );
}

#[test]
fn no_page_speaks_of_the_projects_history() {
    let mut found = Vec::new();
    for (page, text) in pages() {
        for (number, line) in text.lines().enumerate() {
            for words in history_words(line) {
                found.push(format!("{page}:{}: `{words}`: {line}", number + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "history wording in the docs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_readers_find_what_they_look_for() {
    let text = "run `cargo cella run --teaching`, `cargo cella -v push NAME`, \
                `cargo cella COMMAND --help`; `cargo cella` alone.\n\
                cella> ps\ncella>\ncella> # a comment\nx cella> caps pci`\n\
                cella> frobnicate\nerror: unknown command `frobnicate`; `help` lists the commands";
    let tools: Vec<String> = tool_commands_shown(text)
        .into_iter()
        .map(|(_, word)| word)
        .collect();
    assert_eq!(tools, ["run", "push"]);
    let typed: Vec<String> = shell_commands_shown(text)
        .into_iter()
        .map(|(_, word)| word)
        .collect();
    assert_eq!(typed, ["ps", "caps"]);
    assert_eq!(history_words("fixed in issue 12"), ["issue"]);
    assert_eq!(history_words("it no longer waits"), ["no longer"]);
    assert!(history_words("a nonce that was not issued").is_empty());
    assert!(history_words("filed at <https://github.com/x/y/issues>").is_empty());
    let commands = shell_commands();
    for command in ["ps", "lsmod", "stop", "start", "swap", "help"] {
        assert!(commands.iter().any(|known| known == command), "{command}");
    }
}
