;; expect: load ExportSignature { name: "init" }
(module
  (@custom "cella.manifest" "cella 1\nname wrong_init_signature\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (param i32) (result i32) (local.get 0)))
