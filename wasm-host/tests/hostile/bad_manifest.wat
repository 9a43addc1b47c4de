;; expect: load Manifest(ManifestError { line: 3, kind: UnknownKeyword })
(module
  (@custom "cella.manifest" "cella 1\nname bad\nroot yes\nversion 1\n")
  (func (export "init") (result i32) (i32.const 0)))
