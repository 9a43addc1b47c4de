;; Lab 4, capabilities and the manifest: your module. Read docs/labs/04-capabilities.md
;; first; `cargo cella lab 4 --grade` grades it.
(module
  ;; Task 1: this manifest asks for two ports from 0x80; its grant in
  ;; labs/04-capabilities/lab.toml gives one.
  (@custom "cella.manifest" "cella 1\nname asker\nversion 1.0.0\nport 0x80 2\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 19 bytes to log at level 3 (INFO).
  (data (i32.const 0x100) "wrote the POST port")
  (func (export "init") (result i32)
    ;; Task 2: the handle of the port is that of capability 1, is it? Log the text above
    ;; when the write answers 0.
    (drop (call $port_out8 (call $cap_handle (i32.const 1)) (i32.const 0) (i32.const 0x44)))
    (i32.const 0)))
