;; Lab 5, the supervisor: your module. Read docs/labs/05-supervisor.md first;
;; `cargo cella lab 5 --grade` grades it (this file and labs/05-supervisor/lab.toml).
(module
  (@custom "cella.manifest" "cella 1\nname flaky\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (import "cella" "port_in8" (func $port_in8 (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  ;; 11 bytes to log at level 3 (INFO) when an instance starts.
  (data (i32.const 0x100) "instance up")
  (func (export "init") (result i32)
    (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 11)))
    (i32.const 0))
  ;; Every message (`send flaky TEXT`) runs this.
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 1: write 0x5a to the port (capability 0), read the port back, then trap
    ;; (`unreachable`).
    ))
