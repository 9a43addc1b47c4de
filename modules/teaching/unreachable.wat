;; unreachable: executes Wasm's `unreachable` instruction in `init`, the same
;; trap a Rust panic ends in. The module is faulted (UnreachableCodeReached).
;; See docs/teaching.md.
(module
  (@custom "cella.manifest" "cella 1\nname unreachable\nversion 1.0.0\n")
  (func (export "init") (result i32)
    (unreachable)))
