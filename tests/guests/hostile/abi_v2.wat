(module
;; Claims a future major version of the ABI.
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v2_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32) (i32.const 0))
)
