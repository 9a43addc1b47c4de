;; Lab 6, hot swap: the traffic. Every 5 ms sends `tally` the next number of a sequence
;; (4 bytes, little-endian, from 1); a number is used up only when the send is taken, so a
;; number missing at `tally` was lost on the way.
(module
  (@custom "cella.manifest" "cella 1\nname ticker\nversion 1.0.0\nendpoint tally\ntimer\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "ipc_send" (func $ipc_send (param i32 i32 i32) (result i32)))
  (import "cella" "time_now" (func $time_now (result i64)))
  (import "cella" "timer_set" (func $timer_set (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  ;; The next number to send.
  (data (i32.const 0) "\01\00\00\00")
  (func $arm
    (drop (call $timer_set (call $cap_handle (i32.const 1))
      (i64.add (call $time_now) (i64.const 5000000)))))
  (func (export "init") (result i32)
    (call $arm)
    (i32.const 0))
  (func (export "on_timer") (param $timer i32)
    (if (i32.eqz (call $ipc_send (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 4)))
      (then (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))))
    (call $arm)))
