;; Lab 2's reference solution (the grader's own test passes it; see tests/tests/labs.rs).
(module
  (@custom "cella.manifest" "cella 1\nname burner\nversion 1.0.0\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "counted to 50000")
  (func (export "init") (result i32)
    (local $count i32)
    ;; Task 1: about 7 instructions a turn, 350,000 units of fuel in all: inside the
    ;; budget of 1,000,000 per event.
    (loop $again
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $count) (i32.const 50000))))
    (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 16)))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: the budget runs out and the event is stopped.
    (loop $forever (br $forever))))
