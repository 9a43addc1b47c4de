;; trespass: is granted one port (0x80, the POST diagnostic port) and writes to
;; the port after it, again and again. Each write is refused (Denied) before it
;; reaches the hardware and logged; the 17th violation faults the module
;; (Violations). See docs/teaching.md.
(module
  (@custom "cella.manifest" "cella 1\nname trespass\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (func (export "init") (result i32)
    (local $port i32)
    (local $count i32)
    (local.set $port (call $cap_handle (i32.const 0)))
    (loop $again
      ;; Offset 1 is port 0x81: outside the grant.
      (drop (call $port_out8 (local.get $port) (i32.const 1) (i32.const 0xff)))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $count) (i32.const 100))))
    (i32.const 0)))
