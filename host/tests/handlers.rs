//! Handlers tested without a guest, through `miniapp_host::testing`: a call
//! context built by hand, the real capability, the real database.

use miniapp_host::capability::HostFunction;
use miniapp_host::consent::{Answer, Nobody, Prompt, ScriptedUser};
use miniapp_host::testing::{TestCall, TestHost};
use std::sync::Arc;

fn function(test: &TestHost, capability: &str, name: &str) -> HostFunction {
    let capability = test.host.registry().get(capability).expect("a built-in capability").clone();
    capability.functions().into_iter().find(|f| f.name() == name).expect("the function exists")
}

#[tokio::test]
async fn the_consent_gate_asks_once_and_remembers_per_module() {
    let test = TestHost::new(|builder| builder);
    let identity = test.host.registry().get("identity").unwrap().clone();
    let params: toml::Table = toml::from_str("[scopes]\nphone = \"Call you about your order\"").unwrap();
    let grant = identity.declare(&params).unwrap();
    let phone = function(&test, "identity", "phone");

    let user = ScriptedUser::new([Answer::Yes]);
    let call = TestCall::new("identity", &test.host).grant(grant.clone()).user(user.clone());
    let reply = phone.call(call.context(), Vec::new()).await.expect("allowed");
    assert!(String::from_utf8(reply).unwrap().contains("+8613800138000"));
    let Some(Prompt::Consent { scope, purpose, .. }) = user.prompts().first().cloned() else { panic!() };
    assert_eq!((scope.as_str(), purpose.as_str()), ("phone", "Call you about your order"));
    assert!(call.take_output().notices.iter().any(|n| n.message.contains("shared your phone")));

    // Remembered for this module: nobody is asked.
    let again = TestCall::new("identity", &test.host).grant(grant.clone()).user(Arc::new(Nobody));
    assert!(phone.call(again.context(), Vec::new()).await.is_ok());
    // Another module of the same program asks again (and nobody answers: denied).
    let other = TestCall::new("identity", &test.host).grant(grant).module_hash(&"1".repeat(64));
    let refused = phone.call(other.context(), Vec::new()).await.unwrap_err();
    assert_eq!(refused.code, miniapp_host::ErrorCode::CapabilityDenied);
}

#[tokio::test]
async fn storage_handlers_keep_programs_apart() {
    let test = TestHost::new(|builder| builder);
    let (set, get) = (function(&test, "storage", "set"), function(&test, "storage", "get"));
    let shop = TestCall::new("storage", &test.host).program("com.example.shop");
    set.call(shop.context(), br#"{"key":"cart","value":[1042]}"#.to_vec()).await.unwrap();
    let mine = get.call(shop.context(), br#"{"key":"cart"}"#.to_vec()).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&mine).unwrap()["value"], serde_json::json!([1042]));
    let other = TestCall::new("storage", &test.host).program("com.example.other");
    let theirs = get.call(other.context(), br#"{"key":"cart"}"#.to_vec()).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&theirs).unwrap()["value"], serde_json::Value::Null);
}
