;; Lab 6's reference solution, version 2 of `tally` (the grader's own test passes it; see
;; tests/tests/labs_hot_swap.rs).
(module
  ;; Task 1: state format 2 is 12 bytes: count, last number, gaps.
  (@custom "cella.manifest" "cella 1\nname tally\nversion 2.0.0\nstate 2\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $ipc_receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The state: 0x0 count, 0x4 last number, 0x8 gaps.
  (data (i32.const 0x200) "2.0.0: ")
  (data (i32.const 0x210) " messages, last ")
  (data (i32.const 0x230) ", ")
  (data (i32.const 0x240) " gaps")
  (data (i32.const 0x250) "restored state format 1")
  (global $end (mut i32) (i32.const 0x400))
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
    ;; Task 2: the gaps in the report.
    (call $append (i32.const 0x230) (i32.const 2))
    (call $append_decimal (i32.load (i32.const 8)))
    (call $append (i32.const 0x240) (i32.const 5))
    (drop (call $log (i32.const 3) (i32.const 0x400)
      (i32.sub (global.get $end) (i32.const 0x400)))))
  (func (export "init") (result i32)
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (call $ipc_receive (i32.const 0x100) (i32.const 16)) (i32.const 4))
      (then
        ;; Task 2: a number that is not the last plus 1 is a gap.
        (if (i32.ne (i32.load (i32.const 0x100)) (i32.add (i32.load (i32.const 4)) (i32.const 1)))
          (then (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1)))))
        (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
        (i32.store (i32.const 4) (i32.load (i32.const 0x100))))
      (else (call $report))))
  ;; Task 1: this version saves format 2, the 12 bytes at 0.
  (func (export "save_state") (result i64)
    (i64.or (i64.shl (i64.const 12) (i64.const 32)) (i64.const 0)))
  (func (export "state_buffer") (param $length i32) (result i32)
    (i32.const 0x800))
  ;; Task 1: format 1 (8 bytes) with no gaps counted yet, or format 2 (12 bytes).
  (func (export "restore_state") (param $at i32) (param $length i32) (param $format i32)
    (result i32)
    (if (i32.and (i32.eq (local.get $format) (i32.const 1)) (i32.eq (local.get $length) (i32.const 8)))
      (then
        (i32.store (i32.const 0) (i32.load (local.get $at)))
        (i32.store (i32.const 4) (i32.load (i32.add (local.get $at) (i32.const 4))))
        (i32.store (i32.const 8) (i32.const 0))
        (drop (call $log (i32.const 3) (i32.const 0x250) (i32.const 23)))
        (return (i32.const 0))))
    (if (i32.and (i32.eq (local.get $format) (i32.const 2)) (i32.eq (local.get $length) (i32.const 12)))
      (then
        (i32.store (i32.const 0) (i32.load (local.get $at)))
        (i32.store (i32.const 4) (i32.load (i32.add (local.get $at) (i32.const 4))))
        (i32.store (i32.const 8) (i32.load (i32.add (local.get $at) (i32.const 8))))
        (return (i32.const 0))))
    (i32.const 1)))
