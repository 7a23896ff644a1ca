;; A shop that asks to be paid on launch: one order of ¥19.99 to merchant
;; 1900000109, the methods left to the host. Returns the status of the request.
(module
  (import "miniapp:payment" "request" (func $request (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"merchant_id\":\"1900000109\",\"out_trade_no\":\"UP-0001\",\"amount\":1999,\"currency\":\"CNY\",\"description\":\"Tea set\"}")
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    (call $request (i32.const 0) (i32.const 108) (i32.const 2048)))
)
