;; expect: load Invalid(
(module
  (@custom "cella.manifest" "cella 1\nname start_function\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func $boot)
  (start $boot)
  (func (export "init") (result i32) (i32.const 0)))
