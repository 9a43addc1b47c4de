;; expect: start BadHostCalls { count: 17, function: Log, error: BadPointer }
(module
  (@custom "cella.manifest" "cella 1\nname pointer_outside_memory\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (loop $again (drop (call $log (i32.const 3) (i32.const 65000) (i32.const 1000))) (br $again))
    (i32.const 0)))
