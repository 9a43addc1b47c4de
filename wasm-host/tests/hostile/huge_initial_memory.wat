;; expect: start Instantiation(
(module
  (@custom "cella.manifest" "cella 1\nname huge_initial_memory\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory (export "memory") 1000)
  (func (export "init") (result i32) (i32.const 0)))
