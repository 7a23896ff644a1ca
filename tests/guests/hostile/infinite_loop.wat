(module
;; Loops forever in on_launch.
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v1_0"))
  (global $next (mut i32) (i32.const 4096))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $size)))
    (local.get $ptr))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
)
