;; Lab 6, hot swap: version 1 of `tally`, which the system boots. Read it; your version 2
;; is tally-v2.wat. It counts the numbers `ticker` sends and remembers the last; any
;; other message makes it log a report.
(module
  (@custom "cella.manifest" "cella 1\nname tally\nversion 1.0.0\nstate 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $ipc_receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The state: 0x0 count (i32), 0x4 last number (i32). State format 1 is these 8 bytes.
  ;; 0x100 a message; 0x200 texts; 0x300 digits; 0x400 the report line; 0x800 the state
  ;; handed over in a swap.
  (data (i32.const 0x200) "1.0.0: ")
  (data (i32.const 0x210) " messages, last ")
  (global $end (mut i32) (i32.const 0x400))
  ;; Appends `length` bytes from `from` to the report line.
  (func $append (param $from i32) (param $length i32)
    (local $i i32)
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $length)))
        (i32.store8 (i32.add (global.get $end) (local.get $i))
          (i32.load8_u (i32.add (local.get $from) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (global.set $end (i32.add (global.get $end) (local.get $length))))
  ;; Appends `value` in decimal to the report line.
  (func $append_decimal (param $value i32)
    (local $at i32)
    (local.set $at (i32.const 0x310))
    (loop $digits
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at)
        (i32.add (i32.const 48) (i32.rem_u (local.get $value) (i32.const 10))))
      (local.set $value (i32.div_u (local.get $value) (i32.const 10)))
      (br_if $digits (local.get $value)))
    (call $append (local.get $at) (i32.sub (i32.const 0x310) (local.get $at))))
  (func $report
    (global.set $end (i32.const 0x400))
    (call $append (i32.const 0x200) (i32.const 7))
    (call $append_decimal (i32.load (i32.const 0)))
    (call $append (i32.const 0x210) (i32.const 16))
    (call $append_decimal (i32.load (i32.const 4)))
    (drop (call $log (i32.const 3) (i32.const 0x400)
      (i32.sub (global.get $end) (i32.const 0x400)))))
  (func (export "init") (result i32)
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (call $ipc_receive (i32.const 0x100) (i32.const 16)) (i32.const 4))
      (then
        (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
        (i32.store (i32.const 4) (i32.load (i32.const 0x100))))
      (else (call $report))))
  ;; A swap: this version's state is the 8 bytes at 0, format 1.
  (func (export "save_state") (result i64)
    (i64.or (i64.shl (i64.const 8) (i64.const 32)) (i64.const 0)))
  (func (export "state_buffer") (param $length i32) (result i32)
    (i32.const 0x800))
  ;; Takes over state format 1 only.
  (func (export "restore_state") (param $at i32) (param $length i32) (param $format i32)
    (result i32)
    (if (i32.or (i32.ne (local.get $format) (i32.const 1)) (i32.ne (local.get $length) (i32.const 8)))
      (then (return (i32.const 1))))
    (i32.store (i32.const 0) (i32.load (local.get $at)))
    (i32.store (i32.const 4) (i32.load (i32.add (local.get $at) (i32.const 4))))
    (i32.const 0)))
