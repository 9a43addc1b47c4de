;; expect: start Trap(StackOverflow)
(module
  (@custom "cella.manifest" "cella 1\nname deep_recursion\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
  (func (export "init") (result i32) (call $down (i32.const 0))))
