;; expect: load MissingManifest
(module
  (func (export "init") (result i32) (i32.const 0)))
