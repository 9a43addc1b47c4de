;; expect: load ExportSignature { name: "memory" }
(module
  (@custom "cella.manifest" "cella 1\nname memory_export_is_a_function\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "memory")))
