//! The command line: `cella [-v] <command> [options] [-- passthrough]`, parsed by hand.

use crate::qemu::Accel;
use crate::{Error, Result};

mod disk;
mod help;
mod inspect;
mod lab;

pub use disk::DiskOptions;
use disk::disk_options;
pub use help::{command_help, help_text};
pub use inspect::InspectOptions;
use inspect::inspect_options;
pub use lab::LabOptions;
use lab::lab_options;

/// Printed by `cella help` and on usage errors.
pub const USAGE: &str = "\
usage: cargo cella [-v|--verbose] <command> [options]

commands:
  setup        install what is missing: Rust targets, QEMU, dosfstools and mtools (apt-get,
               as root)
  doctor       report what is installed and what is missing; install nothing
  build        build the wasm modules (checked against modules/system.toml), the kernel
               (release) and the boot archive
  run          build, then boot the production kernel in QEMU with the serial console on
               this terminal and the FAT32 file-system image target/cella/fs.img as its disk
                 --teaching        add the teaching modules of modules/teaching.toml
                 --test-kernel     boot the test kernel and the test system instead (for a
                                   scenario by hand: --append test=NAME)
                 --accel tcg|kvm   accelerator (default tcg)
                 --append WORDS    extra kernel command-line words
                 -- ARGS...        extra arguments passed to QEMU
               Ctrl-A X quits QEMU.
  test         host tests, then the QEMU integration tests (on the test kernel)
                 --host-only       only the host tests
                 --qemu-only       only the QEMU integration tests
                 --accel tcg|kvm   accelerator for the QEMU tests (default tcg)
                 -- ARGS...        extra arguments for the QEMU test binaries (e.g. a filter)
  lint         clippy -D warnings on the host crates, the QEMU tests and the kernel
  new driver NAME
               create drivers-wasm/NAME (package cella-NAME) from a template, registered in
               the workspace, with a host test against a device model that passes
  push MODULE [--to NAME] [--features F] [--grant [FILE]] [--persist] [--system PID|SOCKET]
               build MODULE (a module of modules/system.toml, a package, a .wasm file or a
               .wat file; a module written in WAT is compiled),
               check it, and send it to the system `cargo cella run` is running: the kernel
               hot-swaps the running module NAME (default: MODULE's name) or starts the
               stopped one; a name the running system does not know needs --grant
                 --to NAME         the running module to replace
                 --features F      build this variant of MODULE (cargo features, comma-
                                   separated); kept in target/cella/variants/PACKAGE+F.wasm
                 --grant [FILE]    install MODULE: send its manifest entry (one [[module]]
                                   table as in modules/system.toml; default: module.toml
                                   beside the crate's Cargo.toml) with it; the kernel checks
                                   it against everything the running system grants. Kept in
                                   target/cella/installed/, booted again by `cargo cella run`
                 --persist         keep the module on the running system's file system too
                                   (its manifest entry's `path`, or /modules/NAME.wasm), so the
                                   system runs it after a reboot from the same disk
                 --system PID      the run to push to, by its process id or socket path
                                   (default: the newest run of this build directory)
  ps [--system PID|SOCKET]
               the running system's modules and native processes, exactly as its console
               shell's `ps` prints them; asked over the push channel and signed with the push
               key (docs/inspect.md). Like the commands below it exits non-zero, with the
               kernel's error text on stderr, when the system answers with an error
                 --system PID      the run to ask, by its process id or socket path
                                   (default: the newest run of this build directory)
  list [--system PID|SOCKET]
               the running system's modules, one line each: name, version, state
  caps NAME [--system PID|SOCKET]
               what the manifest grants module NAME and what its instance holds
  log [LINES] [--system PID|SOCKET]
               the running kernel's fault records and the last LINES lines of its log
               (default 40)
  explain [NAME] [--system PID|SOCKET]
               every fault the running kernel recorded (or NAME's) in plain words: what the
               module did and which guarantee stopped it
  trace NAME [on|off] [--system PID|SOCKET]
               NAME's last device accesses; on|off: print every access of NAME on the
               system's console as it happens, or stop
  remove [--force] NAME [--system PID|SOCKET]
               stop NAME in the running system and unload it, releasing its grants (a push
               loads it again); the console's driver only with --force
  mem [--system PID|SOCKET]
               the running system's physical memory and kernel heap
  lab [N] [--grade]
               the labs of docs/labs/: without N, list them; with N, print lab N's steps,
               then build and boot its own system (modules/system.toml plus
               labs/NN-NAME/lab.toml) in QEMU; with --grade, run its grader (the QEMU tests
               named labNN_grade) on your module in labs/NN-NAME/ and print the points of
               each task; a page without labs/NN-NAME/lab.toml is a chapter to read
                 --accel tcg|kvm   accelerator (default tcg)
                 --tcb             count the trusted computing base in lines (the table of
                                   docs/labs/00-concepts.md) instead
  faults       the fault-injection campaign: mutants of the running drivers hot-swapped in
               under a workload in QEMU; prints detection, recovery and collateral per
               fault kind and per driver
                 --faults N        faults to inject (default 300)
                 --seed S          the campaign's seed (default 1)
                 --drivers A,B     drivers to fault (default uart16550,ps2-keyboard,cmos-rtc,pci)
                 --long            the long run: 100,000 faults, the table every 2,500
  bench        the in-system benchmarks (QEMU boots of the test kernel: IPC, Wasm events,
               restart and swap, the disk driver in Wasm and native), boot time, the Linux
               yardstick under the same QEMU command (with its figures on a vfat copy of
               fs.img), then the host benchmarks
               (cargo bench -p cella-wasm-host --bench host [-- ARGS...]); a few minutes
  disk check [IMAGE] | corrupt-fat [IMAGE] [--to COPY] | ls [IMAGE] [PATH] | cat [IMAGE] PATH
               the FAT32 file-system image `run` boots with (IMAGE: default target/cella/fs.img,
               made by `run` and `test`), read with dosfstools and mtools
                 check             fsck.vfat -n (changes nothing): prints its verdict; exits
                                   non-zero when the volume is not clean
                 corrupt-fat       copies IMAGE (--to COPY; default
                                   target/cella/disks/corrupt-fat.img) and writes a corrupt FAT
                                   into the copy: the root directory's cluster chain loops and
                                   README.TXT's cluster points past the last one, in both FAT
                                   copies; prints what it wrote
                 ls                lists directory PATH (default /); one word is IMAGE if it
                                   names a file on the host, else PATH
                 cat               prints file PATH's bytes
  help [COMMAND]
               show this text, or only COMMAND's part (as `cargo cella COMMAND --help` does)

options:
  -v, --verbose   print every command cella runs (`+ cargo build ...`)
  -V, --version   print cella's version
";

/// Options of `cella run`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Accelerator.
    pub accel: Accel,
    /// Extra kernel command-line words.
    pub append: Vec<String>,
    /// Extra QEMU arguments (after `--`).
    pub qemu_args: Vec<String>,
    /// Add the teaching modules (`modules/teaching.toml`).
    pub teaching: bool,
    /// Boot the test kernel and the test system instead of the production ones.
    pub test_kernel: bool,
}

/// Options of `cella push`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushOptions {
    /// A module of the system manifest, a workspace package, or a `.wasm` file.
    pub module: String,
    /// The running module to replace (default: the module's own name).
    pub to: Option<String>,
    /// Cargo features of the build (`--features`, each value as given).
    pub features: Vec<String>,
    /// The run to talk to: a process id or a socket path (default: the newest run).
    pub system: Option<String>,
    /// `--grant [FILE]`: send the module's manifest entry with it, to install it.
    pub grant: Option<GrantSource>,
    /// `--persist`: the kernel keeps the module on its file system too.
    pub persist: bool,
}

/// Where `cella push --grant` finds the module's manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSource {
    /// `--grant`: the crate's own entry file (`module.toml` beside its `Cargo.toml`).
    CrateEntry,
    /// `--grant FILE`: that file.
    File(String),
}

/// Options of `cella faults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultsOptions {
    /// Faults to inject (ignored with `long`).
    pub faults: u64,
    /// The campaign's seed.
    pub seed: u64,
    /// Comma-separated driver names (default: the kernel's four).
    pub drivers: Option<String>,
    /// The long run.
    pub long: bool,
}

impl Default for FaultsOptions {
    fn default() -> Self {
        FaultsOptions {
            faults: 300,
            seed: 1,
            drivers: None,
            long: false,
        }
    }
}

/// Options of `cella test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOptions {
    /// Run the host tests.
    pub host: bool,
    /// Run the QEMU integration tests.
    pub qemu: bool,
    /// Accelerator for the QEMU tests.
    pub accel: Accel,
    /// Extra arguments for the QEMU test binaries (after `--`).
    pub test_args: Vec<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            host: true,
            qemu: true,
            accel: Accel::default(),
            test_args: Vec::new(),
        }
    }
}

/// Which command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subcommand {
    /// Print usage: the whole text, or one command's part of it (`cella push --help`,
    /// `cella help push`).
    Help(Option<String>),
    /// Print the version.
    Version,
    /// Install what is missing.
    Setup,
    /// Report what is missing.
    Doctor,
    /// Build kernel and boot archive.
    Build,
    /// Boot in QEMU interactively.
    Run(RunOptions),
    /// Host and QEMU tests.
    Test(TestOptions),
    /// Clippy everywhere.
    Lint,
    /// Host benchmarks, with arguments for the bench binary.
    Bench(Vec<String>),
    /// `new driver NAME`: a driver crate from the template.
    NewDriver(String),
    /// Send a module to the running system.
    Push(PushOptions),
    /// The fault-injection campaign.
    Faults(FaultsOptions),
    /// A command for the running system's supervisor.
    Inspect(InspectOptions),
    /// The labs: list them, boot one, or grade it.
    Lab(LabOptions),
    /// The FAT32 file-system image from the host.
    Disk(DiskOptions),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `-v` / `--verbose`.
    pub verbose: bool,
    /// The command.
    pub subcommand: Subcommand,
}

/// Parses the arguments after the program name.
pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Invocation> {
    let mut arguments = arguments.into_iter();
    let mut verbose = false;
    let mut name = None;
    let mut options = Vec::new();
    let mut passthrough = Vec::new();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--" => {
                passthrough.extend(arguments.by_ref());
            }
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" => {
                return Ok(Invocation {
                    verbose,
                    subcommand: Subcommand::Help(name),
                });
            }
            "-V" | "--version" if name.is_none() => name = Some("version".to_owned()),
            _ if name.is_none() && !argument.starts_with('-') => name = Some(argument),
            _ if name.is_none() => {
                return Err(Error::usage(format!(
                    "unknown option `{argument}`\n\n{USAGE}"
                )));
            }
            _ => options.push(argument),
        }
    }
    let name = name.unwrap_or_else(|| "help".to_owned());
    let mut options = Options {
        command: name.clone(),
        remaining: options.into_iter(),
    };
    let no_passthrough = |passthrough: &Vec<String>| {
        if passthrough.is_empty() {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "`cella {name}` takes no arguments after `--`"
            )))
        }
    };
    let subcommand = match name.as_str() {
        "help" => {
            no_passthrough(&passthrough)?;
            let topic = options.next_option();
            options.expect_end()?;
            Subcommand::Help(topic)
        }
        "version" => Subcommand::Version,
        "setup" | "doctor" | "build" | "lint" => {
            options.expect_end()?;
            no_passthrough(&passthrough)?;
            match name.as_str() {
                "setup" => Subcommand::Setup,
                "doctor" => Subcommand::Doctor,
                "build" => Subcommand::Build,
                _ => Subcommand::Lint,
            }
        }
        "run" => {
            let mut run = RunOptions {
                qemu_args: passthrough,
                ..RunOptions::default()
            };
            while let Some(option) = options.next_option() {
                match option.as_str() {
                    "--accel" => run.accel = options.value(&option)?.parse()?,
                    "--append" => run.append.push(options.value(&option)?),
                    "--teaching" => run.teaching = true,
                    "--test-kernel" => run.test_kernel = true,
                    _ => return Err(options.unknown(&option)),
                }
            }
            Subcommand::Run(run)
        }
        "test" => {
            let mut test = TestOptions {
                test_args: passthrough,
                ..TestOptions::default()
            };
            while let Some(option) = options.next_option() {
                match option.as_str() {
                    "--host-only" => test.qemu = false,
                    "--qemu-only" => test.host = false,
                    "--accel" => test.accel = options.value(&option)?.parse()?,
                    _ => return Err(options.unknown(&option)),
                }
            }
            if !test.host && !test.qemu {
                return Err(Error::usage(
                    "--host-only and --qemu-only exclude each other",
                ));
            }
            Subcommand::Test(test)
        }
        "new" => {
            no_passthrough(&passthrough)?;
            match (
                options.next_option(),
                options.next_option(),
                options.next_option(),
            ) {
                (Some(kind), Some(driver_name), None) if kind == "driver" => {
                    Subcommand::NewDriver(driver_name)
                }
                _ => {
                    return Err(Error::usage(format!(
                        "usage: cargo cella new driver NAME\n\n{USAGE}"
                    )));
                }
            }
        }
        "push" => {
            no_passthrough(&passthrough)?;
            let mut push = PushOptions::default();
            while let Some(option) = options.next_option() {
                match option.as_str() {
                    "--to" => push.to = Some(options.value(&option)?),
                    "--features" => push.features.push(options.value(&option)?),
                    "--system" => push.system = Some(options.value(&option)?),
                    "--persist" => push.persist = true,
                    "--grant" => {
                        push.grant = Some(match options.toml_value() {
                            Some(file) => GrantSource::File(file),
                            None => GrantSource::CrateEntry,
                        });
                    }
                    _ if !option.starts_with('-') && push.module.is_empty() => push.module = option,
                    _ => return Err(options.unknown(&option)),
                }
            }
            if push.module.is_empty() {
                return Err(Error::usage(format!(
                    "usage: cargo cella push MODULE [--to NAME] [--features F] [--grant [FILE]] [--persist] [--system PID|SOCKET]\n\n{USAGE}"
                )));
            }
            Subcommand::Push(push)
        }
        "ps" | "list" | "caps" | "log" | "explain" | "trace" | "remove" | "mem" => {
            no_passthrough(&passthrough)?;
            Subcommand::Inspect(inspect_options(&name, &mut options)?)
        }
        "lab" => {
            no_passthrough(&passthrough)?;
            Subcommand::Lab(lab_options(&mut options)?)
        }
        "disk" => {
            no_passthrough(&passthrough)?;
            Subcommand::Disk(disk_options(&mut options)?)
        }
        "faults" => {
            no_passthrough(&passthrough)?;
            let mut faults = FaultsOptions::default();
            let number = |text: String, option: &str| {
                text.parse::<u64>()
                    .map_err(|_| Error::usage(format!("`{option}` needs a number, not `{text}`")))
            };
            while let Some(option) = options.next_option() {
                match option.as_str() {
                    "--faults" => faults.faults = number(options.value(&option)?, &option)?,
                    "--seed" => faults.seed = number(options.value(&option)?, &option)?,
                    "--drivers" => faults.drivers = Some(options.value(&option)?),
                    "--long" => faults.long = true,
                    _ => return Err(options.unknown(&option)),
                }
            }
            Subcommand::Faults(faults)
        }
        "bench" => {
            options.expect_end()?;
            Subcommand::Bench(passthrough)
        }
        other => {
            return Err(Error::usage(format!(
                "unknown command `{other}`\n\n{USAGE}"
            )));
        }
    };
    Ok(Invocation {
        verbose,
        subcommand,
    })
}

pub(crate) struct Options {
    command: String,
    remaining: std::vec::IntoIter<String>,
}

impl Options {
    /// The next option; `--name=value` is split so the value is read by [`Options::value`].
    pub(crate) fn next_option(&mut self) -> Option<String> {
        let option = self.remaining.next()?;
        if let Some((name, value)) = option.split_once('=').filter(|_| option.starts_with("--")) {
            let rest: Vec<String> = std::iter::once(value.to_owned())
                .chain(self.remaining.by_ref())
                .collect();
            self.remaining = rest.into_iter();
            return Some(name.to_owned());
        }
        Some(option)
    }

    pub(crate) fn value(&mut self, option: &str) -> Result<String> {
        self.remaining
            .next()
            .ok_or_else(|| Error::usage(format!("`{option}` needs a value")))
    }

    /// The next word if it names a `.toml` file (an optional value).
    fn toml_value(&mut self) -> Option<String> {
        let next = self.remaining.as_slice().first()?;
        if next.ends_with(".toml") && !next.starts_with('-') {
            self.remaining.next()
        } else {
            None
        }
    }

    pub(crate) fn unknown(&self, option: &str) -> Error {
        Error::usage(format!(
            "unknown option `{option}` for `cella {}`\n\n{USAGE}",
            self.command
        ))
    }

    fn expect_end(&mut self) -> Result<()> {
        match self.next_option() {
            Some(option) => Err(self.unknown(&option)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Result<Invocation> {
        parse(words.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_faults_options() {
        assert_eq!(
            parse_words("faults").unwrap().subcommand,
            Subcommand::Faults(FaultsOptions::default())
        );
        assert_eq!(
            parse_words("faults --faults 40 --seed=7 --drivers pci,cmos-rtc --long")
                .unwrap()
                .subcommand,
            Subcommand::Faults(FaultsOptions {
                faults: 40,
                seed: 7,
                drivers: Some("pci,cmos-rtc".to_owned()),
                long: true,
            })
        );
        assert!(parse_words("faults --faults many").is_err());
        assert!(parse_words("faults --fast").is_err());
    }

    #[test]
    fn parses_commands_and_verbose_anywhere() {
        let invocation = parse_words("-v build").unwrap();
        assert!(invocation.verbose);
        assert_eq!(invocation.subcommand, Subcommand::Build);
        assert!(parse_words("lint --verbose").unwrap().verbose);
        assert_eq!(parse_words("").unwrap().subcommand, Subcommand::Help(None));
        assert_eq!(
            parse_words("--version").unwrap().subcommand,
            Subcommand::Version
        );
    }

    #[test]
    fn parses_run_options_and_passthrough() {
        let invocation =
            parse_words("run --accel kvm --append log=debug --append=x=1 -- -smp 2 -v").unwrap();
        assert!(!invocation.verbose, "-v after -- belongs to QEMU");
        assert_eq!(
            invocation.subcommand,
            Subcommand::Run(RunOptions {
                accel: Accel::Kvm,
                append: vec!["log=debug".into(), "x=1".into()],
                qemu_args: vec!["-smp".into(), "2".into(), "-v".into()],
                teaching: false,
                test_kernel: false,
            })
        );
        let invocation = parse_words("run --teaching").unwrap();
        assert_eq!(
            invocation.subcommand,
            Subcommand::Run(RunOptions {
                teaching: true,
                ..RunOptions::default()
            })
        );
        let invocation = parse_words("run --test-kernel --append test=heap").unwrap();
        assert_eq!(
            invocation.subcommand,
            Subcommand::Run(RunOptions {
                test_kernel: true,
                append: vec!["test=heap".into()],
                ..RunOptions::default()
            })
        );
    }

    #[test]
    fn parses_test_options() {
        let Subcommand::Test(options) = parse_words("test --host-only").unwrap().subcommand else {
            panic!("not a test command");
        };
        assert!(options.host && !options.qemu);
        let Subcommand::Test(options) = parse_words("test --qemu-only -- boot").unwrap().subcommand
        else {
            panic!("not a test command");
        };
        assert!(!options.host && options.qemu);
        assert_eq!(options.test_args, ["boot"]);
        assert!(parse_words("test --host-only --qemu-only").is_err());
    }

    #[test]
    fn parses_push_options() {
        assert_eq!(
            parse_words("push uart16550 --features v2,trace --features=x --to uart --system 4242")
                .unwrap()
                .subcommand,
            Subcommand::Push(PushOptions {
                module: "uart16550".into(),
                to: Some("uart".into()),
                features: vec!["v2,trace".into(), "x".into()],
                system: Some("4242".into()),
                grant: None,
                persist: false,
            })
        );
        match parse_words("push uart16550 --persist").unwrap().subcommand {
            Subcommand::Push(push) => assert!(push.persist),
            other => panic!("a push, not {other:?}"),
        }
        let grant = |words: &str| match parse_words(words).unwrap().subcommand {
            Subcommand::Push(push) => (push.module, push.grant),
            other => panic!("{words}: a push, not {other:?}"),
        };
        assert_eq!(
            grant("push blink --grant"),
            ("blink".into(), Some(GrantSource::CrateEntry))
        );
        assert_eq!(
            grant("push --grant blink"),
            ("blink".into(), Some(GrantSource::CrateEntry))
        );
        assert_eq!(
            grant("push blink.wasm --grant entries/blink.toml"),
            (
                "blink.wasm".into(),
                Some(GrantSource::File("entries/blink.toml".into()))
            )
        );
        assert_eq!(
            grant("push --grant=blink.toml blink"),
            ("blink".into(), Some(GrantSource::File("blink.toml".into())))
        );
        assert!(parse_words("push uart16550 --features").is_err());
        assert!(parse_words("push --features v2").is_err());
    }

    #[test]
    fn rejects_mistakes_as_usage_errors() {
        for words in [
            "frobnicate",
            "build --fast",
            "run --accel hvf",
            "run --append",
            "--bogus",
            "build -- x",
        ] {
            let error = parse_words(words).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{words}: {error}");
        }
    }
}
