;; expect: start InitFailed { code: 3 }
(module
  (@custom "cella.manifest" "cella 1\nname init_fails\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.const 3)))
