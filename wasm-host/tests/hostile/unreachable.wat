;; expect: start Trap(UnreachableCodeReached)
(module
  (@custom "cella.manifest" "cella 1\nname unreachable\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (unreachable)))
