;; expect: start Trap(MemoryOutOfBounds)
(module
  (@custom "cella.manifest" "cella 1\nname store_out_of_bounds\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory 1)
  (func (export "init") (result i32) (i64.store (i32.const -8) (i64.const 1)) (i32.const 0)))
