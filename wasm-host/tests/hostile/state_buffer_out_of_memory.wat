;; expect: swap Restore BadState(BufferOutOfBounds)
(module
  (@custom "cella.manifest" "cella 1\nname state_buffer_out_of_memory\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
;; swapped in for counter v1: points the host outside its memory
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 65535))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0)))
