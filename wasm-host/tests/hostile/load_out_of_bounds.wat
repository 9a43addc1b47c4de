;; expect: start Trap(MemoryOutOfBounds)
(module
  (@custom "cella.manifest" "cella 1\nname load_out_of_bounds\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory 1)
  (func (export "init") (result i32) (i32.load (i32.const 65533))))
