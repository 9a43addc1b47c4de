;; Lab 2, fuel and runaway code: your module. Read docs/labs/02-fuel.md first;
;; `cargo cella lab 2 --grade` grades it.
(module
  (@custom "cella.manifest" "cella 1\nname burner\nversion 1.0.0\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 16 bytes of text to log at level 3 (INFO).
  (data (i32.const 0x100) "counted to 50000")
  (func (export "init") (result i32)
    ;; Task 1: count from 0 to 50000 in a loop, then log the text above.
    (i32.const 0))
  ;; Every message (`send burner TEXT`) runs this.
  (func (export "on_message") (param $request i32) (param $length i32)
    ;; Task 2: loop without end.
    ))
