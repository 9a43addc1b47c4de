;; expect: swap Restore BadState(Rejected(5))
(module
  (@custom "cella.manifest" "cella 1\nname rejects_state\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
;; swapped in for counter v1: refuses every state
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x100))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 5)))
