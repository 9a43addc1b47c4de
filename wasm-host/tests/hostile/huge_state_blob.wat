;; expect: save BadState(TooLarge)
(module
  (@custom "cella.manifest" "cella 1\nname huge_state_blob\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0x7fffffff00000000)))
