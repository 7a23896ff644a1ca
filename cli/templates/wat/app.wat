;; __NAME__: a whole mini-program in the WebAssembly text format, written from
;; docs/abi.md alone: it renders a page with a button, and a second view when the
;; button is tapped. The host accepts the text format as it is (no build step).
(module
  (import "miniapp:view" "render" (func $render (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The two views, as the JSON `view.render` takes (docs/abi.md §6.7).
  (data (i32.const 1024) "{\"title\":\"Hello\",\"body\":[{\"type\":\"heading\",\"text\":\"Hello from WebAssembly text\",\"level\":1},{\"type\":\"button\",\"label\":\"Tap me\",\"action\":\"hello.tap\",\"key\":\"t\"}]}")
  (data (i32.const 2048) "{\"title\":\"Hello\",\"body\":[{\"type\":\"heading\",\"text\":\"Hello from WebAssembly text\",\"level\":1},{\"type\":\"text\",\"text\":\"Tapped!\"},{\"type\":\"button\",\"label\":\"Tap me\",\"action\":\"hello.tap\",\"key\":\"t\"}]}")

  ;; ABI version 1.0.
  (func (export "miniapp_abi_v1_0"))

  ;; A bump allocator over the memory above 4096 (this program never frees).
  (global $heap (mut i32) (i32.const 4096))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $ptr))

  ;; Launch: the first view (reply slot at 16; the status is the callback's).
  (func (export "miniapp_on_launch") (param $context i32) (param $len i32) (result i32)
    (call $render (i32.const 1024) (i32.const 158) (i32.const 16)))

  ;; Any event (the only button's tap): the second view.
  (func (export "miniapp_on_event") (param $event i32) (param $len i32) (result i32)
    (call $render (i32.const 2048) (i32.const 191) (i32.const 16)))
)
