;; Lab 3, forged and stale handles: your module. Read docs/labs/03-handles.md first;
;; `cargo cella lab 3 --grade` grades it.
(module
  (@custom "cella.manifest" "cella 1\nname forger\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; Texts to log at level 3 (INFO): 21 bytes at 0x100, 20 bytes at 0x200.
  (data (i32.const 0x100) "forged handle refused")
  (data (i32.const 0x200) "stale handle refused")
  (func (export "init") (result i32)
    ;; The handle of capability 0, the port, used as granted: 0x42 to port 0x80.
    (drop (call $port_out8 (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 0x42)))
    ;; Task 1: write to the port through a handle you make up from your own, and log
    ;; the text at 0x100 if the call answers BadHandle (-2).
    (i32.const 0))
  ;; Every message (`send forger TEXT`) runs this.
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: write to the port through the handle the instance before this one had,
    ;; and log the text at 0x200 if the call answers StaleHandle (-3).
    ))
