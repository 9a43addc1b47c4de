;; expect: start Trap(IndirectCallToNull)
(module
  (@custom "cella.manifest" "cella 1\nname indirect_call_null\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (type $t (func (result i32)))
  (table 4 funcref)
  (func (export "init") (result i32) (call_indirect (type $t) (i32.const 2))))
