//! The concepts chapter (`docs/labs/00-concepts.md`) against the code: its table of the
//! trusted computing base gives each part's lines, and its text their sum in ring 0, as a
//! fresh count finds them, within 5%.

use cella::tcb;
use std::path::{Path, PathBuf};

/// How far a figure of the chapter may be from a fresh count, in percent.
const TOLERANCE_PERCENT: usize = 5;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tool sits in the workspace")
        .to_path_buf()
}

/// The figure of the row whose first cell is `` `name` `` in `page`'s tables.
fn figure(page: &str, name: &str) -> Option<usize> {
    let cell = format!("`{name}`");
    page.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells.len() > 3 && cells[1] == cell)
            .then(|| cells[2].replace(',', "").parse().ok())
            .flatten()
    })
}

/// The name a part has in the chapter's table: its name without a version (`wasmi 2.0.0`),
/// and that version.
fn table_name(part: &tcb::Part) -> (&str, Option<&str>) {
    match part.name.rsplit_once(' ') {
        Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
            (name, Some(version))
        }
        _ => (&part.name, None),
    }
}

#[test]
fn the_chapters_tcb_figures_match_a_fresh_count() {
    let root = workspace();
    let page = std::fs::read_to_string(root.join("docs/labs/00-concepts.md"))
        .expect("docs/labs/00-concepts.md");
    let parts = tcb::count(&root, &tcb::cargo_home()).expect("the count");
    assert!(parts.len() >= 8, "{parts:?}");
    let mut wrong = Vec::new();
    for part in &parts {
        let (name, version) = table_name(part);
        let Some(written) = figure(&page, name) else {
            wrong.push(format!("no row for `{name}` ({} lines)", part.lines));
            continue;
        };
        let allowed = part.lines * TOLERANCE_PERCENT / 100;
        if written.abs_diff(part.lines) > allowed {
            wrong.push(format!(
                "`{name}`: the chapter says {written}, a fresh count {}",
                part.lines
            ));
        }
        // The version the chapter names is the locked one.
        if let Some(version) = version {
            assert!(
                page.contains(version),
                "the chapter does not name {name} {version}"
            );
        }
    }
    // The sum the chapter gives in words: `About 87,000 lines run in ring 0`.
    let ring0: usize = parts
        .iter()
        .filter(|part| part.place == "ring 0")
        .map(|part| part.lines)
        .sum();
    let said = page
        .split("About ")
        .skip(1)
        .find_map(|rest| {
            let (figure, after) = rest.split_once(' ')?;
            after
                .starts_with("lines run in ring 0")
                .then(|| figure.replace(',', "").parse::<usize>().ok())
                .flatten()
        })
        .expect("the chapter says `About N lines run in ring 0`");
    if said.abs_diff(ring0) > ring0 * TOLERANCE_PERCENT / 100 {
        wrong.push(format!(
            "ring 0 in all: the chapter says {said}, a fresh count {ring0}"
        ));
    }
    assert!(
        wrong.is_empty(),
        "docs/labs/00-concepts.md is off (`cargo cella lab --tcb` counts):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_figure_is_read_from_its_row_only() {
    let page = "| part | lines |\n| --- | ---: |\n| `wasmi` | 39,891 | x |\n| `abi` | n/a | y |\n";
    assert_eq!(figure(page, "wasmi"), Some(39_891));
    assert_eq!(figure(page, "abi"), None);
    assert_eq!(figure(page, "kernel"), None);
}
