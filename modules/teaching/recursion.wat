;; recursion: calls itself without end. The sandbox limits the call depth; the
;; call past the limit traps (StackOverflow) instead of overrunning the kernel's
;; stack. See docs/teaching.md.
(module
  (@custom "cella.manifest" "cella 1\nname recursion\nversion 1.0.0\n")
  (func $deeper (param $depth i32) (result i32)
    (call $deeper (i32.add (local.get $depth) (i32.const 1))))
  (func (export "init") (result i32)
    (call $deeper (i32.const 0))))
