;; expect: load UnknownImport { module: "env", name: "abort" }
(module
  (@custom "cella.manifest" "cella 1\nname foreign_import\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "env" "abort" (func))
  (func (export "init") (result i32) (i32.const 0)))
