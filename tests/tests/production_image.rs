//! The production kernel (`cella-kernel`, what `cargo cella run` boots) holds no test
//! scenario: the scenarios live in the test kernel (`tests/kernel`) only.
//!
//! The scenarios are asked of the test kernel itself: booted with an unknown `test=`, it
//! lists every scenario it knows with what it shows. A bare scenario name cannot be searched
//! for in a binary: half of them (`boot`, `heap`, `panic`, `ipc`, `map`, `threads`, ...) are
//! also words the production kernel uses for its own parts. So for each scenario the check
//! looks for what only scenario code brings into an image:
//! - its entry in the test kernel's scenario table: its one-line description, text no other
//!   code has;
//! - the symbols of scenario code: any path through a `scenarios` module, and any symbol of
//!   the `cella_test_kernel` crate;
//! - the lines the scenario dispatcher prints (`running scenario`, `unknown test scenario`).
//!
//! Each search is first run on the test kernel, where every marker must be found: a search
//! that cannot find what is there would pass for any image.

use cella_qemu_tests::{boot_scenario, environment};

/// Where `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// Every scenario the test kernel knows, with its description, from its own listing.
fn scenarios() -> Vec<(String, String)> {
    let run = boot_scenario("no_such_scenario");
    run.expect_kernel_failure();
    let start = run.expect_line_index("known scenarios:");
    let listed: Vec<(String, String)> = run
        .lines()
        .skip(start + 1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| {
            let (name, description) = line.trim().split_once(' ')?;
            Some((name.to_owned(), description.trim().to_owned()))
        })
        .collect();
    // Today's scenarios; a listing that lost some would make the check weaker unseen.
    if listed.len() < 26 {
        run.fail(format!(
            "the test kernel listed {} scenarios, expected at least 26",
            listed.len()
        ));
    }
    listed
}

/// Byte strings that show any scenario code or the scenario dispatcher is in an image:
/// mangled symbol path segments, and the dispatcher's own lines.
const CODE_MARKERS: [&str; 4] = [
    "9scenarios",
    "17cella_test_kernel",
    "running scenario ",
    "unknown test scenario",
];

#[test]
fn production_kernel_contains_no_scenario() {
    let environment = environment();
    let test_kernel = std::fs::read(&environment.kernel).expect("the test kernel ELF");
    let production = std::fs::read(&environment.production_kernel).expect("the kernel ELF");
    let scenarios = scenarios();
    // Symbols are there to be searched (a stripped image would pass the symbol checks).
    assert!(
        contains(&production, b"12cella_kernel"),
        "{} has no cella_kernel symbols: the check cannot see scenario code",
        environment.production_kernel.display()
    );
    let mut problems = Vec::new();
    for marker in CODE_MARKERS {
        if !contains(&test_kernel, marker.as_bytes()) {
            problems.push(format!(
                "the test kernel lacks `{marker}`: the search is broken"
            ));
        }
        if contains(&production, marker.as_bytes()) {
            problems.push(format!("the production kernel contains `{marker}`"));
        }
    }
    for (name, description) in &scenarios {
        if !contains(&test_kernel, description.as_bytes()) {
            problems.push(format!(
                "the test kernel lacks `{description}` of scenario {name}: the search is broken"
            ));
        }
        if contains(&production, description.as_bytes()) {
            problems.push(format!(
                "the production kernel contains scenario {name}: `{description}`"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} ({} scenarios checked):\n  {}",
        environment.production_kernel.display(),
        scenarios.len(),
        problems.join("\n  ")
    );
}
