//! The tool's commands, one module each; [`execute`] dispatches a parsed command line.

pub mod bench;
pub mod bench_boot;
pub mod build;
pub mod disk;
pub mod disk_bench;
pub mod faults;
pub mod fs_bench;
pub mod inspect;
pub mod lab;
pub mod lint;
pub mod network_bench;
pub mod network_report;
pub mod new;
pub mod push;
pub mod run;
pub mod setup;
pub mod supervisor_bench;
pub mod system_bench;
pub mod test;
pub mod yardstick_bench;

use crate::Result;
use crate::cli::{Invocation, Subcommand, help_text};
use crate::shell::Shell;
use crate::workspace::Workspace;

/// Runs the command described by `invocation`.
pub fn execute(invocation: &Invocation) -> Result<()> {
    let shell = Shell::new(invocation.verbose);
    match &invocation.subcommand {
        Subcommand::Help(topic) => {
            print!("{}", help_text(topic.as_deref())?);
            return Ok(());
        }
        Subcommand::Version => {
            println!("cella {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        _ => {}
    }
    let workspace = Workspace::load(&shell)?;
    match &invocation.subcommand {
        Subcommand::Help(_) | Subcommand::Version => Ok(()),
        Subcommand::Setup => setup::setup(&shell, &workspace),
        Subcommand::Doctor => setup::doctor(&shell, &workspace),
        Subcommand::Build => build::build(&shell, &workspace),
        Subcommand::Run(options) => run::run(&shell, &workspace, options),
        Subcommand::Test(options) => test::test(&shell, &workspace, options),
        Subcommand::Lint => lint::lint(&shell, &workspace),
        Subcommand::Bench(arguments) => bench::bench(&shell, &workspace, arguments),
        Subcommand::NewDriver(name) => new::new_driver(&workspace, name),
        Subcommand::Push(options) => push::push(&shell, &workspace, options),
        Subcommand::Faults(options) => faults::faults(&shell, &workspace, options),
        Subcommand::Inspect(options) => inspect::inspect(&workspace, options),
        Subcommand::Lab(options) => lab::lab(&shell, &workspace, options),
        Subcommand::Disk(options) => disk::disk(&shell, &workspace, options),
    }
}
