//! The labs: one page each in `docs/labs/` (`NN-NAME.md`: the idea, what to run, what to
//! predict, the tasks), and beside it in `labs/NN-NAME/` the student's files and the lab's
//! own system, `lab.toml`, which `cargo cella lab N` adds to `modules/system.toml`.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Where the lab pages are, relative to the workspace root.
pub const PAGES: &str = "docs/labs";

/// Where the labs' files are, relative to the workspace root.
pub const FILES: &str = "labs";

/// The heading of the section `cargo cella lab N` prints before booting.
pub const STEPS_HEADING: &str = "## What to run";

/// One lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    /// Its number (`NN` of its page's name).
    pub number: u32,
    /// `NN-NAME`, the page's and the directory's name.
    pub name: String,
    /// Its page's first `# ` heading.
    pub title: String,
    /// Its page's text.
    pub page: String,
}

impl Lab {
    /// Its page, relative to the workspace root.
    pub fn page_path(&self) -> String {
        format!("{PAGES}/{}.md", self.name)
    }

    /// Its system's manifest addition, relative to the workspace root.
    pub fn manifest(&self) -> String {
        format!("{FILES}/{}/lab.toml", self.name)
    }

    /// The name filter of its grader's QEMU test (`lab01_grade`).
    pub fn grade_filter(&self) -> String {
        format!("lab{:02}_grade", self.number)
    }

    /// The lines of its page's [`STEPS_HEADING`] section, without code fences.
    pub fn steps(&self) -> Option<String> {
        let start = self.page.find(STEPS_HEADING)? + STEPS_HEADING.len();
        let section = &self.page[start..];
        let end = section.find("\n## ").unwrap_or(section.len());
        let lines: Vec<&str> = section[..end]
            .lines()
            .filter(|line| !line.starts_with("```"))
            .collect();
        Some(lines.join("\n").trim().to_owned())
    }
}

/// The number of a page named `NN-NAME.md`, if it is one.
fn page_number(file_name: &str) -> Option<u32> {
    let stem = file_name.strip_suffix(".md")?;
    let (digits, name) = stem.split_once('-')?;
    (digits.len() == 2 && !name.is_empty())
        .then(|| digits.parse().ok())
        .flatten()
}

/// Every lab under `workspace_root`, by number.
///
/// # Errors
/// `docs/labs/` cannot be read, or a page cannot.
pub fn list(workspace_root: &Path) -> Result<Vec<Lab>> {
    let directory = workspace_root.join(PAGES);
    let entries = std::fs::read_dir(&directory)
        .map_err(|error| Error::new(format!("reading {}: {error}", directory.display())))?;
    let mut labs = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = page_number(&file_name) else {
            continue;
        };
        let path: PathBuf = entry.path();
        let page = std::fs::read_to_string(&path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
        let title = page
            .lines()
            .find_map(|line| line.strip_prefix("# "))
            .unwrap_or(&file_name)
            .trim()
            .to_owned();
        labs.push(Lab {
            number,
            name: file_name.trim_end_matches(".md").to_owned(),
            title,
            page,
        });
    }
    labs.sort_by_key(|lab| lab.number);
    Ok(labs)
}

/// Lab `number`.
///
/// # Errors
/// There is no such lab (the message lists the numbers there are).
pub fn find(workspace_root: &Path, number: u32) -> Result<Lab> {
    let labs = list(workspace_root)?;
    let numbers: Vec<String> = labs.iter().map(|lab| lab.number.to_string()).collect();
    labs.into_iter()
        .find(|lab| lab.number == number)
        .ok_or_else(|| {
            Error::usage(format!(
                "there is no lab {number}; the labs are {} (`cargo cella lab` lists them)",
                numbers.join(", ")
            ))
        })
}

/// The list `cargo cella lab` prints: one line per lab.
pub fn listing(labs: &[Lab]) -> String {
    let mut text = String::new();
    for lab in labs {
        // `# Lab 2: Fuel` is listed as `lab  2  Fuel`.
        let prefix = format!("Lab {}: ", lab.number);
        let title = lab.title.strip_prefix(&prefix).unwrap_or(&lab.title);
        text.push_str(&format!(
            "lab {:>2}  {title}  ({})\n",
            lab.number,
            lab.page_path()
        ));
    }
    text.push_str("`cargo cella lab N` boots lab N's system and prints its steps; `cargo cella lab N --grade` grades your work\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(label: &str, pages: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("cella-labs-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(PAGES)).unwrap();
        for (name, text) in pages {
            std::fs::write(root.join(PAGES).join(name), text).unwrap();
        }
        root
    }

    #[test]
    fn labs_are_the_numbered_pages_in_order_with_their_titles_and_steps() {
        let root = workspace(
            "list",
            &[
                (
                    "02-fuel.md",
                    "# Lab 2: Fuel\n\n## What to run\n\n```text\ncargo cella lab 2\ncella> start spin\n```\n\n## Tasks\n\nmore\n",
                ),
                ("01-bounds.md", "# Lab 1: Bounds\n\nNo steps here.\n"),
                ("00-concepts.md", "# Concepts\n"),
                ("README.md", "# The labs\n"),
                ("1-short.md", "# Not a lab\n"),
            ],
        );
        let labs = list(&root).unwrap();
        let numbers: Vec<u32> = labs.iter().map(|lab| lab.number).collect();
        assert_eq!(numbers, [0, 1, 2]);
        let fuel = find(&root, 2).unwrap();
        assert_eq!(
            (fuel.title.as_str(), fuel.name.as_str()),
            ("Lab 2: Fuel", "02-fuel")
        );
        assert_eq!(
            fuel.steps().unwrap(),
            "cargo cella lab 2\ncella> start spin"
        );
        assert_eq!(fuel.manifest(), "labs/02-fuel/lab.toml");
        assert_eq!(fuel.grade_filter(), "lab02_grade");
        assert_eq!(find(&root, 1).unwrap().steps(), None);
        let missing = find(&root, 9).unwrap_err();
        assert_eq!(missing.exit_code(), 2);
        assert!(
            missing
                .message()
                .contains("there is no lab 9; the labs are 0, 1, 2"),
            "{missing}"
        );
        let text = listing(&labs);
        assert!(
            text.starts_with("lab  0  Concepts  (docs/labs/00-concepts.md)\nlab  1  Bounds  ("),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_repository_lists_labs_0_to_10_each_but_the_chapter_with_its_system() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tool sits in the workspace");
        let labs = list(root).unwrap();
        let numbers: Vec<u32> = labs.iter().map(|lab| lab.number).collect();
        assert_eq!(numbers, (0..=10).collect::<Vec<u32>>());
        for lab in labs.iter().filter(|lab| lab.number > 0) {
            assert!(root.join(lab.manifest()).is_file(), "{}", lab.manifest());
            assert!(lab.steps().is_some(), "{} has no steps", lab.page_path());
        }
        assert!(listing(&labs).contains("lab  8  Wasm vs native  ("));
    }

    /// Every lab's `lab.toml`, the student's and the reference solution's, adds to the
    /// production system (what `cargo cella lab N` boots) without a problem and names only
    /// native programs the tool builds.
    #[test]
    fn every_lab_manifest_adds_to_the_production_system_with_programs_the_tool_builds() {
        use crate::system_manifest::{SOURCE, SystemPlan};
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tool sits in the workspace");
        let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap();
        let shell = crate::shell::Shell::new(false);
        let workspace = crate::workspace::Workspace::load(&shell).expect("the workspace");
        let programs = crate::userland::programs(&workspace);
        let mut checked = 0;
        for lab in list(root).unwrap() {
            for file in [lab.manifest(), format!("tests/{}", lab.manifest())] {
                if !root.join(&file).is_file() {
                    continue;
                }
                let (production, text) = (read(SOURCE), read(&file));
                let plan = SystemPlan::parse_files(&[(SOURCE, &production), (&file, &text)])
                    .unwrap_or_else(|problems| panic!("{file}: {}", problems.join("; ")));
                for process in &plan.processes {
                    assert!(
                        programs.contains(&process.program),
                        "{file}: {}",
                        process.program
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 2, "no lab manifest found");
    }

    #[test]
    fn no_lab_directory_is_a_clear_error() {
        let root = std::env::temp_dir().join(format!("cella-labs-none-{}", std::process::id()));
        let error = list(&root).unwrap_err();
        assert!(error.message().starts_with("reading "), "{error}");
        assert!(error.message().contains("docs/labs"), "{error}");
    }
}
