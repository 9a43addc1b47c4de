;; expect: load UnknownImport { module: "cella", name: "format_disk" }
(module
  (@custom "cella.manifest" "cella 1\nname unknown_import\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "format_disk" (func (param i32) (result i32)))
  (func (export "init") (result i32) (i32.const 0)))
