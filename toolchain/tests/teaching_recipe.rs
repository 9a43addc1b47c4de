//! The recipe for a teaching module in docs/teaching.md holds: its WAT module compiles, and
//! its `[[module]]` entry, read with the reader of `modules/teaching.toml`, grants what the
//! module requests, checked by the same loader as `cargo cella build`. A module that asks
//! for more than the entry grants is refused by that check, naming the request.

use cella::modules::check_module;
use cella::system_manifest::SystemPlan;
use std::path::Path;

/// The text of the first ```` ```LANGUAGE ```` block of `markdown`.
fn first_block<'a>(markdown: &'a str, language: &str) -> &'a str {
    let opening = format!("```{language}\n");
    let start = markdown
        .find(&opening)
        .unwrap_or_else(|| panic!("docs/teaching.md has no ```{language} block"))
        + opening.len();
    let length = markdown[start..].find("```").expect("the block is closed");
    &markdown[start..start + length]
}

#[test]
fn the_recipes_wat_module_fits_the_recipes_entry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/teaching.md");
    let page = std::fs::read_to_string(&path).expect("docs/teaching.md");
    let recipe = &page[page
        .find("## Your own teaching module")
        .expect("docs/teaching.md has the recipe")..];
    let source = first_block(recipe, "wat");
    let entry = first_block(recipe, "toml");
    let bytes = wat::parse_str(source).expect("the recipe's WAT compiles");
    let plan = SystemPlan::parse_files(&[("modules/teaching.toml", entry)])
        .expect("the recipe's entry reads");
    let spec = plan
        .modules
        .iter()
        .find(|spec| spec.name == "hello")
        .expect("the entry is hello's");
    assert_eq!(spec.wat.as_deref(), Some("modules/teaching/hello.wat"));
    assert!(!spec.boot, "started by hand");
    let (built, warnings) =
        check_module(spec, Path::new("hello.wat"), &bytes).expect("the module fits its entry");
    assert_eq!(built.requests, ["port 0x80 1"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    // The same module asking for the port after it does not fit the same entry.
    let greedy = wat::parse_str(source.replace("port 0x80 1", "port 0x80 2")).unwrap();
    let refused = check_module(spec, Path::new("hello.wat"), &greedy).unwrap_err();
    assert!(refused.contains("requests `port 0x80 2`"), "{refused}");
}
