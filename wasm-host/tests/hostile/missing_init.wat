;; expect: load MissingExport { name: "init" }
(module
  (@custom "cella.manifest" "cella 1\nname missing_init\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "start") (result i32) (i32.const 0)))
