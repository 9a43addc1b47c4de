;; expect: start Instantiation(
(module
  (@custom "cella.manifest" "cella 1\nname huge_table\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (table 100000 funcref)
  (func (export "init") (result i32) (i32.const 0)))
