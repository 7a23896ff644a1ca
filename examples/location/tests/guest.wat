;; A shop finder: on launch it asks the host where the user is
;; (`location.get`, no arguments) and returns the call's status, so a refusal
;; shows as the launch's failure.
(module
  (import "miniapp:location" "get" (func $get (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    (call $get (i32.const 0) (i32.const 0) (i32.const 2048)))
)
