;; Lab 9's reference solution (the grader's own test passes it; see
;; tests/tests/labs_dma.rs).
(module
  (@custom "cella.manifest" "cella 1\nname lender\nversion 1.0.0\ndma 8192\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $dma_alloc (param i32 i32) (result i32)))
  (import "cella" "dma_write" (func $dma_write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "dma_read" (func $dma_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "sixteen bytes ok")
  (data (i32.const 0x300) "round trip ok")
  (data (i32.const 0x320) "past the end refused")
  (data (i32.const 0x340) "pool exhausted")
  (func (export "init") (result i32)
    (local $buffer i32)
    ;; Task 1: the buffer is reached only through the host, which copies inside it.
    (local.set $buffer (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const 4096)))
    (drop (call $dma_write (local.get $buffer) (i32.const 0) (i32.const 0x100) (i32.const 16)))
    (drop (call $dma_read (local.get $buffer) (i32.const 0) (i32.const 0x200) (i32.const 16)))
    (if (i32.and
          (i64.eq (i64.load (i32.const 0x100)) (i64.load (i32.const 0x200)))
          (i64.eq (i64.load (i32.const 0x108)) (i64.load (i32.const 0x208))))
      (then (drop (call $log (i32.const 3) (i32.const 0x300) (i32.const 13)))))
    ;; Task 2: offset + length past the buffer's end, and more than the pool's budget.
    (if (i32.eq
          (call $dma_write (local.get $buffer) (i32.const 4090) (i32.const 0x100) (i32.const 16))
          (i32.const -1))
      (then (drop (call $log (i32.const 3) (i32.const 0x320) (i32.const 20)))))
    (if (i32.eq
          (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const 8192))
          (i32.const -8))
      (then (drop (call $log (i32.const 3) (i32.const 0x340) (i32.const 14)))))
    (i32.const 0)))
