;; spin: loops forever in `init`. Every event runs under a fuel budget (one
;; million units); the loop uses it up and the module is faulted (OutOfFuel),
;; while the kernel and the other modules go on. See docs/teaching.md.
(module
  (@custom "cella.manifest" "cella 1\nname spin\nversion 1.0.0\n")
  (func (export "init") (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
