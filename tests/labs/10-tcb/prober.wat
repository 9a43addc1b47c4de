;; Lab 10's reference solution (the grader's own test passes it; see
;; tests/tests/labs_tcb.rs).
(module
  (@custom "cella.manifest" "cella 1\nname prober\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (type $nothing (func))
  (table 1 funcref)
  (elem (i32.const 0) $quiet)
  (func $quiet)
  (data (i32.const 0x100) "0x40 refused three ways")
  (func (export "init") (result i32)
    ;; Task 1: the offset check (0x80 + offset must stay inside the one port granted),
    ;; the handle table (slot 1 holds nothing) and the capability index (line 1 does not
    ;; exist) each refuse, each in the Wasm host, before any port is touched.
    (if (i32.and
          (i32.and
            (i32.eq (call $port_out8 (call $cap_handle (i32.const 0)) (i32.const -64) (i32.const 0))
              (i32.const -1))
            (i32.eq (call $port_out8 (i32.add (call $cap_handle (i32.const 0)) (i32.const 1))
                      (i32.const 0) (i32.const 0))
              (i32.const -2)))
          (i32.eq (call $cap_handle (i32.const 1)) (i32.const -6)))
      (then (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 23)))))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: index 5 of a table of 1: the engine's check, not the host's.
    (call_indirect (type $nothing) (i32.const 5))))
