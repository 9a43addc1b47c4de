;; expect: swap Restore BadState(NoRestoreExport)
(module
  (@custom "cella.manifest" "cella 1\nname no_restore_export\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
;; swapped in for counter v1 without restore entry points
  (func (export "init") (result i32) (i32.const 0)))
