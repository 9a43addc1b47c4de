;; oob: reads outside its linear memory. The sandbox's bounds check traps
;; (MemoryOutOfBounds); nothing outside the sandbox is read. See docs/teaching.md.
(module
  (@custom "cella.manifest" "cella 1\nname oob\nversion 1.0.0\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    ;; One page is 64 KiB; 0x20000 is past its end.
    (i32.load (i32.const 0x20000))))
