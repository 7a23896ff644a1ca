;; Asks for 500 payment sheets in one callback (its launch): the same valid order,
;; over and over, within every documented limit. Counts the calls the host answers
;; with capability_denied (status 2) and returns 0 only if all but the first were.
(module
  (import "miniapp:payment" "request" (func $request (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\7b\22\6d\65\72\63\68\61\6e\74\5f\69\64\22\3a\22\31\39\30\30\30\30\30\31\30\39\22\2c\22\6f\75\74\5f\74\72\61\64\65\5f\6e\6f\22\3a\22\46\4c\4f\4f\44\2d\30\30\30\31\22\2c\22\61\6d\6f\75\6e\74\22\3a\31\30\30\2c\22\63\75\72\72\65\6e\63\79\22\3a\22\43\4e\59\22\2c\22\64\65\73\63\72\69\70\74\69\6f\6e\22\3a\22\66\6c\6f\6f\64\22\7d")
  (func (export "miniapp_abi_v1_0"))
  (global $next (mut i32) (i32.const 4096))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    ;; Replies are dropped: reuse one buffer for all of them.
    (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    (local $i i32)
    (local $denied i32)
    (loop $again
      (if (i32.eq (call $request (i32.const 0) (i32.const 108) (i32.const 2048)) (i32.const 2))
        (then (local.set $denied (i32.add (local.get $denied) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 500))))
    (if (result i32) (i32.eq (local.get $denied) (i32.const 499))
      (then (i32.const 0))
      (else (i32.const 7))))
)
