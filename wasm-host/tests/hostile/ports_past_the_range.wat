;; expect: start Violations { count: 17, function: PortOut8, error: Denied }
(module
  (@custom "cella.manifest" "cella 1\nname ports_past_the_range\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "port_out8" (func $out (param i32 i32 i32) (result i32)))
  (func (export "init") (result i32) (local $offset i32)
    (local.set $offset (i32.const 8))
    (loop $again
      (drop (call $out (call $cap (i32.const 0)) (local.get $offset) (i32.const 0x41)))
      (local.set $offset (i32.add (local.get $offset) (i32.const 1)))
      (br $again))
    (i32.const 0)))
