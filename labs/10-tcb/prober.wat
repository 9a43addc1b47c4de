;; Lab 10, the trusted computing base: your module. Read docs/labs/10-tcb.md first;
;; `cargo cella lab 10 --grade` grades it.
(module
  (@custom "cella.manifest" "cella 1\nname prober\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; A table of one function, for indirect calls (`call_indirect`).
  (type $nothing (func))
  (table 1 funcref)
  (elem (i32.const 0) $quiet)
  (func $quiet)
  ;; 23 bytes to log at level 3 (INFO).
  (data (i32.const 0x100) "0x40 refused three ways")
  (func (export "init") (result i32)
    ;; Task 1: try to write 0 to port 0x40 (the PIT's, which the kernel drives) three
    ;; ways with what you hold: your port's handle at the offset that would reach 0x40,
    ;; a handle you make up from yours for the slot after it, and the handle of a
    ;; capability line your manifest does not have. Log the text at 0x100 if the three
    ;; answer Denied (-1), BadHandle (-2) and BadArgument (-6).
    (i32.const 0))
  ;; Every message (`send prober TEXT`) runs this.
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: call through the table at an index past its end.
    (call_indirect (type $nothing) (i32.const 0))))
