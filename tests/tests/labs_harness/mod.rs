//! What the labs' graders share (`tests/tests/labs*.rs`): a lab's system booted with a
//! module of the student's or of the reference solution, the steps of its page's "What a
//! finished lab shows", and the grade printed a point per task.
//!
//! A lab from 5 on is tested in two boots: its reference solution runs the page's finished
//! transcripts, every line shown checked, and the grader scores that run (full marks);
//! its starting point runs the same commands unchecked and scores fewer. The student's
//! grade (`labNN_grade`, run by `cargo cella lab N --grade`) runs the commands on the
//! student's files and scores them.

#![allow(dead_code)]

use cella::system_manifest::SystemPlan;
use cella_qemu_tests::transcript::{Transcript, check, transcripts};
use cella_qemu_tests::{Session, default_archive_with};
use cella_system::system_manifest::SystemManifest;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a task's outcome may take to show.
pub const WAIT: Duration = Duration::from_secs(40);

/// How long the unchecked steps of a student's run wait after each command's prompt for
/// what it set off (restarts with backoff, a swap) to show.
pub const SETTLE: Duration = Duration::from_secs(2);

/// The heading of the page section whose transcripts a finished lab shows.
pub const FINISHED: &str = "## What a finished lab shows";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests sit in the workspace")
        .to_path_buf()
}

/// Whose files a run boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Files {
    /// The student's, in `labs/NN-NAME/` (the starting point as the repository ships it).
    Student,
    /// The reference solution's, in `tests/labs/NN-NAME/` (its `lab.toml` if it has one,
    /// else the student's).
    Reference,
}

impl Files {
    /// The file `file` of lab `lab`.
    pub fn path(self, lab: &str, file: &str) -> PathBuf {
        let student = workspace().join("labs").join(lab).join(file);
        match self {
            Files::Student => student,
            Files::Reference => {
                let reference = workspace().join("tests/labs").join(lab).join(file);
                if file == "lab.toml" && !reference.is_file() {
                    student
                } else {
                    reference
                }
            }
        }
    }
}

/// One task of a lab and whether the run showed it done.
pub struct Task {
    pub name: &'static str,
    pub done: bool,
}

/// The points of `tasks` (one each), printed as the grade; the tasks done.
pub fn report(lab: &str, tasks: &[Task]) -> usize {
    let done = tasks.iter().filter(|task| task.done).count();
    for task in tasks {
        eprintln!("{lab}: {}: {}/1", task.name, if task.done { 1 } else { 0 });
    }
    eprintln!("{lab}: {done}/{} points", tasks.len());
    done
}

/// The test system with the modules `modules` of lab directory `lab` (their entries from
/// the lab's `lab.toml`, each one's code compiled from its WAT source), booted to the
/// shell's prompt.
pub fn boot_lab_modules(lab: &str, files: Files, modules: &[(&str, &Path)]) -> Session {
    boot_lab_archive(lab, files, modules, Vec::new())
}

/// [`boot_lab_modules`] with the files `extra` (archive path, bytes) packed too: swap
/// targets.
pub fn boot_lab_archive(
    lab: &str,
    files: Files,
    modules: &[(&str, &Path)],
    extra: Vec<(String, Vec<u8>)>,
) -> Session {
    let compiled = modules
        .iter()
        .map(|(module, source)| {
            let bytes =
                cella::wat_source::compile(source).unwrap_or_else(|error| panic!("{error}"));
            (*module, bytes)
        })
        .collect();
    boot_lab_wasm(lab, files, compiled, extra)
}

/// The test system with the modules `modules` (name, Wasm bytes) of lab directory `lab`,
/// their entries from the lab's `lab.toml`, the lab's `[[process]]` tables (their programs
/// are in the test system's archive), and the files `extra` packed too, booted to the
/// shell's prompt. A lab's module or process takes the place of the test system's of the
/// same name (lab 8's `checksum`), as it would be the only one in the production system the
/// lab adds to.
pub fn boot_lab_wasm(
    lab: &str,
    files: Files,
    modules: Vec<(&str, Vec<u8>)>,
    extra: Vec<(String, Vec<u8>)>,
) -> Session {
    let manifest = files.path(lab, "lab.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
    let plan = SystemPlan::parse_files(&[(&format!("labs/{lab}/lab.toml"), &text)])
        .unwrap_or_else(|problems| panic!("labs/{lab}/lab.toml: {}", problems.join("; ")));
    let mut specs = Vec::new();
    let mut archived = Vec::new();
    for (module, bytes) in &modules {
        let spec = plan
            .modules
            .iter()
            .find(|spec| spec.name == *module)
            .unwrap_or_else(|| panic!("labs/{lab}/lab.toml has no module {module}"));
        specs.push(spec.plan());
        archived.push((spec.archive_file(), bytes.clone()));
    }
    archived.extend(extra);
    let processes: Vec<_> = plan
        .processes
        .iter()
        .map(|process| process.plan())
        .collect();
    let label = format!("lab-{}", modules.first().map_or("lab", |(name, _)| name));
    let archive = default_archive_with(
        &label,
        |manifest| {
            let mut system = SystemManifest::read(manifest)
                .unwrap_or_else(|error| panic!("the test system's manifest: {}", error.message));
            let lab_names: Vec<&str> = specs
                .iter()
                .chain(&processes)
                .map(|entry| entry.name.as_str())
                .collect();
            system
                .modules
                .retain(|entry| !lab_names.contains(&entry.name.as_str()));
            system
                .processes
                .retain(|entry| !lab_names.contains(&entry.name.as_str()));
            system.modules.extend(specs);
            system.processes.extend(processes);
            system.render()
        },
        archived,
    );
    let session = Session::start(&label, "", Some(archive), &[]);
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    session
}

/// The test system with module `module` of lab directory `lab`, its code compiled from
/// `source`, booted to the shell's prompt (the lab's `lab.toml` the student's).
pub fn boot_lab(lab: &str, module: &str, source: &Path) -> Session {
    boot_lab_modules(lab, Files::Student, &[(module, source)])
}

/// Waits until the output from `from` on holds one of `needles`; the index of the first
/// found, or `None` after `timeout`.
pub fn first_of(
    session: &Session,
    from: usize,
    needles: &[&str],
    timeout: Duration,
) -> Option<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let output = session.output();
        let rest = output.get(from..).unwrap_or_default();
        if let Some(index) = needles.iter().position(|needle| rest.contains(needle)) {
            return Some(index);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Types `line` at the shell and waits for its echo; the offset just past it.
pub fn type_command(session: &mut Session, line: &str) -> usize {
    let from = session.output().len();
    session.write_serial(line.as_bytes());
    session.write_serial(b"\r");
    session.wait_for_from(from, &format!("{line}\r\n"), WAIT)
}

/// The page of lab `lab`, relative to the workspace.
pub fn page_path(lab: &str) -> String {
    format!("docs/labs/{lab}.md")
}

/// The transcripts of lab `lab`'s page's [`FINISHED`] section.
pub fn finished_transcripts(lab: &str) -> Vec<Transcript> {
    let path = page_path(lab);
    let page = std::fs::read_to_string(workspace().join(&path)).expect("the lab's page");
    let section = &page[page
        .find(FINISHED)
        .unwrap_or_else(|| panic!("{path} has no `{FINISHED}` section"))..];
    let section = &section[..section[FINISHED.len()..]
        .find("\n## ")
        .map_or(section.len(), |end| FINISHED.len() + end)];
    let found = transcripts(section);
    assert!(!found.is_empty(), "{path}: no transcript to check");
    found
}

/// Runs lab `lab`'s finished transcripts in `session`, every line shown checked.
pub fn check_finished(session: &mut Session, lab: &str) {
    let path = page_path(lab);
    for transcript in &finished_transcripts(lab) {
        check(session, &path, transcript, WAIT);
    }
}

/// Types the commands of lab `lab`'s finished transcripts in `session`, each after the
/// prompt of the one before and [`SETTLE`] for what it set off, without checking what they
/// print: the steps of a student's run, whose output the grader scores.
pub fn run_finished_steps(session: &mut Session, lab: &str) {
    for transcript in &finished_transcripts(lab) {
        for step in &transcript.steps {
            let echoed = type_command(session, &step.command);
            session.wait_for_from(echoed, "cella> ", WAIT);
            std::thread::sleep(SETTLE);
        }
    }
}
