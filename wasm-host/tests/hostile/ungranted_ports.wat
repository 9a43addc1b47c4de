;; expect: load NotGranted { request: "port 0x60 1" }
(module
  (@custom "cella.manifest" "cella 1\nname keyboard-thief\nversion 1\nport 0x60 1\n")
  (func (export "init") (result i32) (i32.const 0)))
