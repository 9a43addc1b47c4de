;; Lab 1, linear memory bounds: your module. Read docs/labs/01-memory-bounds.md first;
;; `cargo cella lab 1 --grade` grades it.
(module
  (@custom "cella.manifest" "cella 1\nname peek\nversion 1.0.0\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  ;; One page: 64 KiB, addresses 0x0000 to 0xffff.
  (memory (export "memory") 1)
  ;; 12 bytes of text to log at level 3 (INFO): `(call $log (i32.const 3) (i32.const 0x100)
  ;; (i32.const 12))`.
  (data (i32.const 0x100) "last byte ok")
  (func (export "init") (result i32)
    ;; Task 1: store 0x2a in the last byte of the memory, load it back, and log the text
    ;; above if it reads 0x2a.
    ;; Task 2: then load a 32-bit word starting 2 bytes before the end of the memory.
    (i32.const 0)))
