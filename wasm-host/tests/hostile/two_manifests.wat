;; expect: load DuplicateManifest
(module
  (@custom "cella.manifest" "cella 1\nname one\nversion 1\n")
  (@custom "cella.manifest" "cella 1\nname two\nversion 1\nport 0 65536\n")
  (func (export "init") (result i32) (i32.const 0)))
