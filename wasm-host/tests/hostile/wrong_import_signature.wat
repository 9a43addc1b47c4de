;; expect: load ImportSignature { name: "port_out8" }
(module
  (@custom "cella.manifest" "cella 1\nname wrong_import_signature\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "port_out8" (func (param i32) (result i32)))
  (func (export "init") (result i32) (i32.const 0)))
