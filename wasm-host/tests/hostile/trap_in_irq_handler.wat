;; expect: irq Trap(UnreachableCodeReached)
(module
  (@custom "cella.manifest" "cella 1\nname trap_in_irq_handler\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_irq") (param i32) (unreachable)))
