;; expect: load ExportSignature { name: "on_irq" }
(module
  (@custom "cella.manifest" "cella 1\nname wrong_handler_signature\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_irq") (param i64)))
