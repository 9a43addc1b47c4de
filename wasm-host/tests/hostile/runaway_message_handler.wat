;; expect: message OutOfFuel
(module
  (@custom "cella.manifest" "cella 1\nname runaway_message_handler\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32) (loop $l (br $l))))
