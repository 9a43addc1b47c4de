;; Lab 3's reference solution (the grader's own test passes it; see tests/tests/labs.rs).
(module
  (@custom "cella.manifest" "cella 1\nname forger\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "forged handle refused")
  (data (i32.const 0x200) "stale handle refused")
  (func (export "init") (result i32)
    (drop (call $port_out8 (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 0x42)))
    ;; Task 1: a handle is `generation << 8 | slot`; slot 1 holds nothing.
    (if (i32.eq
          (call $port_out8 (i32.add (call $cap_handle (i32.const 0)) (i32.const 1))
            (i32.const 0) (i32.const 0x42))
          (i32.const -2))
      (then (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 21)))))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: the same slot one generation back, the instance `restart forger` replaced.
    (if (i32.eq
          (call $port_out8 (i32.sub (call $cap_handle (i32.const 0)) (i32.const 0x100))
            (i32.const 0) (i32.const 0x42))
          (i32.const -3))
      (then (drop (call $log (i32.const 3) (i32.const 0x200) (i32.const 20)))))))
