;; Lab 9, DMA and the IOMMU: your module. Read docs/labs/09-dma-iommu.md first;
;; `cargo cella lab 9 --grade` grades it.
(module
  (@custom "cella.manifest" "cella 1\nname lender\nversion 1.0.0\ndma 8192\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $dma_alloc (param i32 i32) (result i32)))
  (import "cella" "dma_write" (func $dma_write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "dma_read" (func $dma_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 16 bytes to copy into a DMA buffer.
  (data (i32.const 0x100) "sixteen bytes ok")
  ;; Texts to log at level 3 (INFO): 13 bytes at 0x300, 20 at 0x320, 14 at 0x340.
  (data (i32.const 0x300) "round trip ok")
  (data (i32.const 0x320) "past the end refused")
  (data (i32.const 0x340) "pool exhausted")
  (func (export "init") (result i32)
    ;; Task 1: allocate a 4096-byte buffer from the pool (capability 0), copy the 16
    ;; bytes at 0x100 into it, read them back to 0x200, and log the text at 0x300 if the
    ;; two copies are the same.
    ;; Task 2: write the 16 bytes at offset 4090 of the buffer, and log the text at 0x320
    ;; if that answers Denied (-1); then ask the pool for 8192 more bytes, and log the
    ;; text at 0x340 if that answers Exhausted (-8).
    (i32.const 0)))
