(module
;; Sleeps for an hour through WASI poll_oneoff (one relative clock subscription)
;; inside on_launch.
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 8192))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    ;; subscription at 0: userdata 7, tag 0 (clock), clock id 1 (monotonic),
    ;; timeout 3600 s, precision 0, flags 0 (relative)
    (i64.store (i32.const 0) (i64.const 7))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    ;; one subscription, events at 256, count at 512
    (call $poll (i32.const 0) (i32.const 256) (i32.const 1) (i32.const 512)))
)
