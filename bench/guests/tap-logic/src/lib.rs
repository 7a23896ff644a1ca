//! What the benchmark guests do with an event: a tap on "add-to-cart" answers with
//! a ~100-byte view naming the item; any other tap is decoded and ignored. The miniapp guest and the Extism guest both
//! call [`answer`], so the hosts compare on the same guest work.

use miniapp_abi::lifecycle::Event;
use miniapp_abi::view::{Node, View};

/// The view an "add-to-cart" tap answers with; `None` for any other event.
pub fn answer(event: &Event) -> Option<View> {
    let Event::Tap { action, payload } = event else { return None };
    if action != "add-to-cart" {
        return None;
    }
    let item = payload.get("item").and_then(serde_json::Value::as_u64).unwrap_or_default();
    Some(View {
        title: "Cart".into(),
        body: vec![Node::Text { text: format!("{action}: item {item} is in your cart, 1 of 1"), tone: None }],
    })
}
