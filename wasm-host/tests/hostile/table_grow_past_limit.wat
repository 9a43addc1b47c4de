;; expect: start InitFailed { code: 9 }
(module
  (@custom "cella.manifest" "cella 1\nname table_grow_past_limit\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (table $t 1 funcref)
  (func (export "init") (result i32)
    (if (result i32) (i32.eq (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1))
      (then (i32.const 9)) (else (i32.const 0)))))
