;; expect: start InitFailed { code: 7 }
(module
  (@custom "cella.manifest" "cella 1\nname memory_grow_past_limit\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (if (result i32) (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
      (then (i32.const 7)) (else (i32.const 0)))))
