//! Device access through the kernel's proofs: a module's DMA buffers are
//! allocated, written at their last bytes, read back and freed a thousand
//! times; a module granted RAM as MMIO is refused at load while the system
//! boots; and a manifest that grants a port the kernel drives is refused as a
//! whole by the system's one check (`cella_system::validate`), which the tool
//! runs too (the port proofs at load are the second line, host-tested in
//! `arch::port_io`).

use cella_qemu_tests::{Session, default_archive_with};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// DMA rounds: 10,000 buffers of 64 KiB, 640 MiB in all, over twice the
/// guest's RAM: only if freed buffers' frames are reused as runs for the
/// next buffers (`mm::frame_runs`) does every round find one.
const ROUNDS: u32 = 10_000;

/// A module that, in `init`, allocates, writes, reads back and frees a
/// 64 KiB DMA buffer `ROUNDS` times and logs how that went.
fn module() -> Vec<u8> {
    let wat = format!(
        r#"(module
            (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
            (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
            (import "cella" "dma_alloc" (func $alloc (param i32 i32) (result i32)))
            (import "cella" "dma_free" (func $free (param i32) (result i32)))
            (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (import "cella" "dma_read" (func $read (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "dma-pattern-0123")
            (data (i32.const 64) "devmem: dma rounds passed")
            (data (i32.const 128) "devmem: dma alloc failed  ")
            (data (i32.const 160) "devmem: dma copy mismatch ")
            (data (i32.const 448) "devmem: dma free failed   ")
            (func $say (param $at i32) (param $length i32)
                (drop (call $log (i32.const 3) (local.get $at) (local.get $length))))
            (func $round (param $pool i32) (result i32)
                (local $buffer i32)
                (local.set $buffer (call $alloc (local.get $pool) (i32.const 65536)))
                (if (i32.lt_s (local.get $buffer) (i32.const 0)) (then (return (i32.const 128))))
                ;; write the pattern at offset 65520 (the buffer's last 16 bytes), read it back to 32
                (i64.store (i32.const 32) (i64.const 0))
                (i64.store (i32.const 40) (i64.const 0))
                (drop (call $write (local.get $buffer) (i32.const 65520) (i32.const 0) (i32.const 16)))
                (drop (call $read (local.get $buffer) (i32.const 65520) (i32.const 32) (i32.const 16)))
                (if (i32.or
                        (i64.ne (i64.load (i32.const 0)) (i64.load (i32.const 32)))
                        (i64.ne (i64.load (i32.const 8)) (i64.load (i32.const 40))))
                    (then (return (i32.const 160))))
                (if (call $free (local.get $buffer)) (then (return (i32.const 448))))
                (i32.const 0))
            (func (export "init") (result i32)
                (local $pool i32)
                (local $left i32)
                (local $failure i32)
                (local.set $pool (call $cap (i32.const 0)))
                (local.set $left (i32.const {ROUNDS}))
                (block $done
                    (loop $again
                        (local.set $failure (call $round (local.get $pool)))
                        (br_if $done (local.get $failure))
                        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
                        (br_if $again (local.get $left))))
                (if (local.get $failure)
                    (then (call $say (local.get $failure) (i32.const 26)))
                    (else (call $say (i32.const 64) (i32.const 25))))
                (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname devmem\nversion 1.0.0\ndma 65536\n"))"#
    );
    wat::parse_str(wat).expect("valid WAT")
}

/// A module that asks for one device capability and does nothing with it.
fn asking(name: &str, request: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname {name}\nversion 1.0.0\n{request}\n"))"#
    ))
    .expect("valid WAT")
}

/// The default archive plus `devmem` (a DMA pool) and `ramio` (granted the
/// RAM at 1 MiB as MMIO).
fn archive() -> PathBuf {
    default_archive_with(
        "devmem",
        |manifest| {
            format!(
                "{manifest}\nmodule devmem modules/devmem.wasm\ngrant dma 65536\nlimit fuel=100000000\n\
                 module ramio modules/ramio.wasm\ngrant mmio 0x100000 0x1000\n"
            )
        },
        vec![
            ("modules/devmem.wasm".to_owned(), module()),
            (
                "modules/ramio.wasm".to_owned(),
                asking("ramio", "mmio 0x100000 0x1000"),
            ),
        ],
    )
}

#[test]
fn dma_buffers_round_trip_and_ram_is_refused_at_load() {
    let archive = archive();
    let mut session = Session::start("devmem", "", Some(archive.clone()), &[]);
    session.wait_for("devmem: dma rounds passed", WAIT);
    session.wait_for(
        "module ramio refused at load: grant `mmio 0x100000 4096`: 0x100000 is RAM, not device memory",
        WAIT,
    );
    session.wait_for("shell: ready", WAIT);
    // `mem` shows the module's DMA against its grant: all 64 KiB given back,
    // and kept as one run for the next buffer.
    let from = session.output().len();
    session.write_serial(b"mem\r");
    session.wait_for_from(
        from,
        "DMA: 64 KiB of freed buffers kept for the next ones",
        WAIT,
    );
    let row = session.wait_for_from(from, "  devmem ", WAIT);
    session.wait_for_from(row, "of 4096 KiB, DMA 0 of 64 KiB", WAIT);
    let _ = std::fs::remove_file(archive);
}

#[test]
fn a_manifest_granting_a_kernel_port_is_refused_by_the_one_check() {
    let archive = default_archive_with(
        "kernel-port",
        |manifest| format!("{manifest}\nmodule pic modules/pic.wasm\ngrant port 0x20 2\n"),
        vec![("modules/pic.wasm".to_owned(), asking("pic", "port 0x20 2"))],
    );
    let session = Session::start("kernel-port", "", Some(archive.clone()), &[]);
    session.wait_for(
        "module `pic` is granted port 0x20, which the kernel drives itself (the master PIC); no modules started",
        WAIT,
    );
    let _ = std::fs::remove_file(archive);
}
