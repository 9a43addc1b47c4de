;; expect: start Trap(BadSignature)
(module
  (@custom "cella.manifest" "cella 1\nname indirect_call_wrong_type\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (type $t (func (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $f)
  (func $f (param i64))
  (func (export "init") (result i32) (call_indirect (type $t) (i32.const 0))))
