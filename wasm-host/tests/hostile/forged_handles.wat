;; expect: start Violations { count: 17, function: PortOut8, error: BadHandle }
(module
  (@custom "cella.manifest" "cella 1\nname forged_handles\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "port_out8" (func $out (param i32 i32 i32) (result i32)))
  (func (export "init") (result i32) (local $h i32)
    (loop $next
      (drop (call $out (local.get $h) (i32.const 0) (i32.const 0x41)))
      (local.set $h (i32.add (local.get $h) (i32.const 0x101)))
      (br $next))
    (i32.const 0)))
