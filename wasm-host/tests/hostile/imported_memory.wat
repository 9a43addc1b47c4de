;; expect: load UnknownImport { module: "cella", name: "memory" }
(module
  (@custom "cella.manifest" "cella 1\nname imported_memory\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "memory" (memory 1))
  (func (export "init") (result i32) (i32.const 0)))
