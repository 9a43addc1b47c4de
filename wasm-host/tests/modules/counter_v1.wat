;; Counter, version 1: counts messages, replies (count, version). Holds IRQ 4
;; unmasked. State blob: "CNT1", count, irq handle (12 bytes).
(module
  (@custom "cella.manifest" "cella 1\nname counter\nversion 1\nstate 1\nirq 4\nendpoint log\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "irq_enable" (func $irq_enable (param i32) (result i32)))
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0x10 count, 0x14 irq handle, 0x18 version, 0x40 state blob
  (func (export "init") (result i32)
    (i32.store (i32.const 0x14) (call $cap_handle (i32.const 0)))
    (i32.store (i32.const 0x18) (i32.const 1))
    (call $irq_enable (i32.load (i32.const 0x14))))
  (func (export "on_message") (param $request i32) (param $length i32)
    (i32.store (i32.const 0x10) (i32.add (i32.load (i32.const 0x10)) (i32.const 1)))
    (if (local.get $request)
      (then (drop (call $ipc_reply (local.get $request) (i32.const 0x10) (i32.const 12))))))
  (func (export "on_irq") (param $handle i32))
  (func (export "save_state") (result i64)
    (i32.store (i32.const 0x40) (i32.const 0x31544e43)) ;; "CNT1"
    (i32.store (i32.const 0x44) (i32.load (i32.const 0x10)))
    (i32.store (i32.const 0x48) (i32.load (i32.const 0x14)))
    (i64.or (i64.shl (i64.const 12) (i64.const 32)) (i64.const 0x40))))
