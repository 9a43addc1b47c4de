//! Memory management: the kernel heap under stress, and mapping MMIO and fresh pages.

use cella_qemu_tests::{BootRequest, boot, boot_scenario, default_archive_with};

/// The kernel's allocation stress: many sizes, frees, reallocations, checksummed contents.
#[test]
fn heap_survives_allocation_stress() {
    let run = boot_scenario("heap");
    run.expect_kernel_success();
    run.expect_line("scenario heap: passed");
}

/// Maps an MMIO region uncached and a fresh page, writes and reads both back.
#[test]
fn map_writes_and_reads_back_mmio_and_a_fresh_page() {
    let run = boot_scenario("map");
    run.expect_kernel_success();
    run.expect_line("scenario map: passed");
}

/// 500 hot swaps of the UART driver (v1 <-> v2, state carried) and 250 restarts leave the
/// kernel heap within 64 KiB of where it was after a warm-up (each swap leaked ~51 KiB when
/// all modules shared one compiled-code store).
#[test]
fn hundreds_of_swaps_and_restarts_leave_the_kernel_heap_flat() {
    let run = boot(BootRequest {
        cmdline: "test=swap_soak swaps=250".to_owned(),
        ..BootRequest::scenario("swap_soak")
    });
    run.expect_kernel_success();
    let line = run.expect_line("swap_soak: 500 swaps and 250 restarts");
    println!("{line}");
    run.expect_line("scenario swap_soak: passed");
}

/// The default archive plus a module `grower` with a 320 KiB kernel-memory limit whose `init`
/// grows its linear memory a page at a time until `memory.grow` says no.
fn archive_with_limited_grower() -> std::path::PathBuf {
    let module = wat::parse_str(
        r#"(module
            (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "refused before the page limit")
            (data (i32.const 64) "grew to the page limit")
            (func (export "init") (result i32)
              (block $done
                (loop $grow
                  (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
                  (br $grow)))
              (if (i32.lt_u (memory.size) (i32.const 16))
                (then (drop (call $log (i32.const 3) (i32.const 0) (i32.const 29))))
                (else (drop (call $log (i32.const 3) (i32.const 64) (i32.const 22)))))
              (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname grower\nversion 1.0.0\n"))"#,
    )
    .expect("valid WAT");
    default_archive_with(
        "grower",
        |manifest| format!("{manifest}\nmodule grower modules/grower.wasm\nkernel_memory 327680\n"),
        vec![("modules/grower.wasm".to_owned(), module)],
    )
}

/// A module's linear memory grows only within its kernel-memory limit from the system
/// manifest: `memory.grow` returns -1 before the sandbox's 16-page limit, the module keeps
/// running, and `mem` shows its use under its limit.
#[test]
fn a_module_grows_its_memory_only_within_its_kernel_memory_limit() {
    let archive = archive_with_limited_grower();
    let run = boot(BootRequest {
        cmdline: "test=modules run_ms=300".to_owned(),
        ..BootRequest::scenario("modules").with_initrd(archive.clone())
    });
    run.expect_kernel_success();
    run.expect_line("grower: refused before the page limit");
    run.expect_no_line("grew to the page limit");
    run.expect_line("module grower 1.0.0 up");
    let _ = std::fs::remove_file(archive);
}
