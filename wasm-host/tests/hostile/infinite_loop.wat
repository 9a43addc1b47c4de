;; expect: start OutOfFuel
(module
  (@custom "cella.manifest" "cella 1\nname infinite_loop\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (loop $forever (br $forever)) (i32.const 0)))
