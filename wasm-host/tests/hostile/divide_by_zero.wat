;; expect: start Trap(IntegerDivisionByZero)
(module
  (@custom "cella.manifest" "cella 1\nname divide_by_zero\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (func (export "init") (result i32) (i32.div_u (i32.const 1) (i32.const 0))))
