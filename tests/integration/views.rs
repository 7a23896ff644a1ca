//! ABI §6.7 through the library alone, as an embedder drives a session (no
//! driver, no CLI): the page stack starts at the launch page, and a navigation is
//! followed by the `page` event the host owes the program.

use crate::common;
use miniapp_abi::lifecycle::Event;
use miniapp_abi::view::PageReason;
use miniapp_host::SessionObserver;
use miniapp_host::capabilities::view::Screen;
use miniapp_host::capability::CallObserver;
use std::sync::{Arc, Mutex};

/// On its first event it navigates to `pages/item`; every event returns 0.
const NAVIGATOR: &str = r#"
(module
  (import "miniapp:view" "navigate" (func $navigate (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"path\":\"pages/item\"}")
  (global $events (mut i32) (i32.const 0))
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32) (i32.const 0))
  (func (export "miniapp_on_event") (param i32 i32) (result i32)
    (global.set $events (i32.add (global.get $events) (i32.const 1)))
    (if (i32.eq (global.get $events) (i32.const 1))
      (then (drop (call $navigate (i32.const 0) (i32.const 21) (i32.const 2048)))))
    (i32.const 0))
)
"#;

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl CallObserver for Events {
    fn host_call(&self, _: &str, _: &str, _: &[u8], _: i32, _: &[u8], _: std::time::Duration) {}
}

impl SessionObserver for Events {
    fn event(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn a_session_starts_at_the_launch_page_and_sends_page_events_itself() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.navigator", "[capabilities.view]\n");
    let app = host.load_app_from_parts(manifest, NAVIGATOR.as_bytes().to_vec()).await.expect("the guest loads");
    let mut session = app.start().await.unwrap();
    let events = Arc::new(Events::default());
    session.observe(events.clone());
    let mut launch = common::direct();
    launch.path = "pages/index".into();
    session.launch(&launch).await.unwrap();
    let screen = session.data::<Screen>("view").expect("the view capability keeps a screen");
    assert_eq!(screen.top().0.page.path, "pages/index");

    session.event(&Event::Tap { action: "open".into(), payload: serde_json::Value::Null }).await.unwrap();
    let delivered = events.0.lock().unwrap().clone();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(
        matches!(&delivered[1], Event::Page { reason: PageReason::Navigate, path, .. } if path == "pages/item"),
        "{delivered:?}"
    );
    let (top, depth) = screen.top();
    assert_eq!((top.page.path.as_str(), depth), ("pages/item", 2));
}
