//! Device access through the kernel's proofs: a module's DMA buffers are
//! allocated, written at their last bytes, read back and freed a thousand
//! times, and a grant that names a kernel port or RAM as MMIO is refused by
//! the kernel whatever the manifest says.

use cella_qemu_tests::{Session, default_archive_with};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// DMA rounds: 1,000 buffers of 64 KiB, 64 MiB in all (a quarter of the
/// guest's RAM: contiguous runs come only from memory never handed out, so a
/// freed buffer's frames return as single frames, not as a run for DMA).
const ROUNDS: u32 = 1_000;

/// A module that, in `init`: allocates, writes, reads back and frees a
/// 64 KiB DMA buffer `ROUNDS` times; reads the master PIC's mask port 0x21
/// (a kernel port: the kernel answers all ones, where the PIC would not) and the first word of RAM at
/// 1 MiB as MMIO (refused: all ones). It logs what it saw.
fn module() -> Vec<u8> {
    let wat = format!(
        r#"(module
            (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
            (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
            (import "cella" "dma_alloc" (func $alloc (param i32 i32) (result i32)))
            (import "cella" "dma_free" (func $free (param i32) (result i32)))
            (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (import "cella" "dma_read" (func $read (param i32 i32 i32 i32) (result i32)))
            (import "cella" "port_in8" (func $port_in8 (param i32 i32) (result i64)))
            (import "cella" "mmio_read32" (func $mmio_read32 (param i32 i32) (result i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "dma-pattern-0123")
            (data (i32.const 64) "devmem: dma rounds passed")
            (data (i32.const 128) "devmem: dma alloc failed  ")
            (data (i32.const 160) "devmem: dma copy mismatch ")
            (data (i32.const 448) "devmem: dma free failed   ")
            (data (i32.const 192) "devmem: kernel port reads all ones")
            (data (i32.const 256) "devmem: kernel port was readable")
            (data (i32.const 320) "devmem: RAM as MMIO reads all ones")
            (data (i32.const 384) "devmem: RAM as MMIO was readable")
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
                (if (i64.eq (call $port_in8 (call $cap (i32.const 1)) (i32.const 1)) (i64.const 0xff))
                    (then (call $say (i32.const 192) (i32.const 34)))
                    (else (call $say (i32.const 256) (i32.const 32))))
                (if (i64.eq (call $mmio_read32 (call $cap (i32.const 2)) (i32.const 0)) (i64.const 0xffffffff))
                    (then (call $say (i32.const 320) (i32.const 34)))
                    (else (call $say (i32.const 384) (i32.const 32))))
                (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname devmem\nversion 1.0.0\ndma 65536\nport 0x20 2\nmmio 0x100000 0x1000\n"))"#
    );
    wat::parse_str(wat).expect("valid WAT")
}

fn archive() -> PathBuf {
    default_archive_with(
        "devmem",
        |manifest| {
            format!(
                "{manifest}\nmodule devmem modules/devmem.wasm\ngrant dma 65536\ngrant port 0x20 2\ngrant mmio 0x100000 0x1000\n"
            )
        },
        vec![("modules/devmem.wasm".to_owned(), module())],
    )
}

#[test]
fn dma_buffers_round_trip_and_kernel_ports_and_ram_are_refused() {
    let archive = archive();
    let session = Session::start("devmem", "", Some(archive.clone()), &[]);
    session.wait_for("devmem: dma rounds passed", WAIT);
    session.wait_for("port read refused: port 0x21 belongs to the kernel", WAIT);
    session.wait_for("devmem: kernel port reads all ones", WAIT);
    session.wait_for("is RAM, not device memory", WAIT);
    session.wait_for("devmem: RAM as MMIO reads all ones", WAIT);
    session.wait_for("shell: ready", WAIT);
    let _ = std::fs::remove_file(archive);
}
