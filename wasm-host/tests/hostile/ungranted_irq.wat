;; expect: load NotGranted { request: "irq 1" }
(module
  (@custom "cella.manifest" "cella 1\nname irq-thief\nversion 1\nirq 4\nirq 1\n")
  (func (export "init") (result i32) (i32.const 0)))
