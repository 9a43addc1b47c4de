;; expect: start Instantiation(
(module
  (@custom "cella.manifest" "cella 1\nname data_segment_out_of_bounds\nversion 1\nstate 1\nport 0x3f8 8\nirq 4\n")
  (memory 1)
  (data (i32.const 65530) "0123456789")
  (func (export "init") (result i32) (i32.const 0)))
