;; Lab 4's reference solution (the grader's own test passes it; see tests/tests/labs.rs).
(module
  ;; Task 1: the request fits the grant, one port at 0x80.
  (@custom "cella.manifest" "cella 1\nname asker\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "wrote the POST port")
  (func (export "init") (result i32)
    ;; Task 2: capabilities are numbered by the manifest's lines from 0.
    (if (i32.eqz (call $port_out8 (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 0x44)))
      (then (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 19)))))
    (i32.const 0)))
