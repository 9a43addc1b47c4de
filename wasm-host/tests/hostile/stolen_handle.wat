;; expect: start Violations { count: 17, function: PortOut8, error: BadHandle }
(module
  (@custom "cella.manifest" "cella 1\nname stolen_handle\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  ;; Generation 1 belongs to the victim module started first; its first
  ;; handle is 0x100 (generation 1, slot 0).
  (import "cella" "port_out8" (func $out (param i32 i32 i32) (result i32)))
  (func (export "init") (result i32)
    (loop $again (drop (call $out (i32.const 0x100) (i32.const 0) (i32.const 0x41))) (br $again))
    (i32.const 0)))
