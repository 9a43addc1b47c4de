//! The peak heap a load takes (validation and wasmi's compile) stays within
//! `peak_load_bytes` of the module's size, for ordinary modules and for the
//! shapes that cost the compiler most per input byte. The kernel admits a
//! load only when that much is free above its reserve, so no module can run
//! the kernel heap out in the middle of a compile (where a failed allocation
//! would be a panic). This file holds one test, so the counting allocator
//! sees no other test's allocations.

mod common;

use cella_wasm_host::{QueueOutbox, peak_load_bytes};
use common::counting::{Counting, peak_bytes, reset_peak};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const HEAD: &str = r#"(@custom "cella.manifest" "cella 1\nname x\nversion 1\n")
    (memory (export "memory") 1)
    (func (export "init") (result i32) (i32.const 0))"#;

/// The peak heap above the start of loading and starting `bytes`, and
/// whether it loaded.
fn peak_of_load(bytes: &[u8]) -> (usize, bool) {
    let runtime = common::runtime();
    let before = reset_peak();
    let mut runtime = runtime;
    let loaded = runtime.load("x", bytes, &common::grant());
    if let Ok(module) = &loaded {
        let _ = runtime.start(module, common::platform(), QueueOutbox::new(8));
    }
    let peak = peak_bytes() - before;
    (usize::try_from(peak).unwrap_or(0), loaded.is_ok())
}

#[test]
fn no_module_shape_takes_more_than_the_peak_bound_to_load() {
    let n = 4000;
    let nest = |open: &str, close: &str| format!("{}{}", open.repeat(n), close.repeat(n));
    let targets = "0 ".repeat(20_000);
    let types: String = (0..5000)
        .map(|index| format!("(type (func (param {})))", "i32 ".repeat(1 + index % 20)))
        .collect();
    let shapes: Vec<(&str, String)> = vec![
        ("nested loops", format!("(func {})", nest("(loop ", ")"))),
        ("nested blocks", format!("(func {})", nest("(block ", ")"))),
        (
            "nested typed loops",
            format!(
                "(func (result i32) {}(i32.const 0){})",
                "(loop (result i32) ".repeat(n),
                ")".repeat(n)
            ),
        ),
        (
            "nested loops with branches",
            format!("(func {})", nest("(loop (br_if 0 (i32.const 0)) ", ")")),
        ),
        (
            "nested ifs",
            format!("(func {})", nest("(if (i32.const 1) (then ", "))")),
        ),
        (
            "nested br",
            format!("(func {})", nest("(block (br 0) ", ")")),
        ),
        (
            "nested multi-value blocks",
            format!(
                "(func (result i32 i64) {}(i32.const 0) (i64.const 0){})",
                "(block (result i32 i64) ".repeat(n / 4),
                ")".repeat(n / 4)
            ),
        ),
        (
            "a deep return",
            format!("(func {}(return){})", "(block ".repeat(n), ")".repeat(n)),
        ),
        (
            "br_table targets",
            format!("(func (param i32) (block (br_table {targets} 0 (local.get 0))))"),
        ),
        ("types", types),
        (
            "calls",
            format!("(func {})", "(call 0) drop ".repeat(20_000)),
        ),
        (
            "call_indirect",
            format!(
                "(type (func)) (table 1 funcref) (func {})",
                "(call_indirect (type 0) (i32.const 0)) ".repeat(10_000)
            ),
        ),
        ("flat loops", format!("(func {})", "(loop) ".repeat(8000))),
        (
            "stores the load rewrites",
            format!(
                "(func (param i32) {})",
                "(i32.store offset=65536 (local.get 0) (local.get 0)) ".repeat(20_000)
            ),
        ),
        (
            "arithmetic",
            format!(
                "(func (param i32) {})",
                "(i32.add (local.get 0) (i32.const 1)) drop ".repeat(20_000)
            ),
        ),
    ];
    let mut worst = 0.0f64;
    for (label, body) in &shapes {
        let bytes = wat::parse_str(format!("(module {HEAD} {body})")).expect(label);
        let (peak, loaded) = peak_of_load(&bytes);
        assert!(loaded, "{label} did not load");
        let bound = peak_load_bytes(bytes.len());
        let ratio = peak as f64 / bytes.len() as f64;
        println!(
            "{label}: {} bytes of wasm, peak {peak} bytes ({ratio:.1} per byte), bound {bound}",
            bytes.len()
        );
        assert!(peak <= bound, "{label}: peak {peak} over the bound {bound}");
        worst = worst.max(ratio);
    }
    // The bound is not slack for nothing: some shape needs far more than the
    // 8 bytes per byte that ordinary compiler output keeps.
    assert!(worst > 32.0, "worst {worst:.1} bytes per byte");
}
