;; expect: load NotGranted { request: "mmio 0xfeb00000 8192" }
(module
  (@custom "cella.manifest" "cella 1\nname mmio-greedy\nversion 1\nmmio 0xfeb00000 0x2000\n")
  (func (export "init") (result i32) (i32.const 0)))
