//! Provider notification verification: whatever arrives at the merchant's
//! notify endpoint, verification answers, and nothing unsigned is accepted.
//! The input is split into header (or form) lines and a body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_host::capabilities::payment::provider::Notification;
use miniapp_providers::{RsaKeys, alipay, wechat};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static KEYS: OnceLock<Option<RsaKeys>> = OnceLock::new();
    let Some(keys) = KEYS.get_or_init(|| RsaKeys::throwaway().ok()).as_ref() else { return };
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let pairs: Vec<(String, String)> = head
        .lines()
        .filter_map(|line| line.split_once(':').or_else(|| line.split_once('=')))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let now = 1_795_000_000;
    // Nothing here was signed with the key, so nothing may verify: not as WeChat
    // Pay's signed headers and JSON, not as Alipay's signed form.
    let notification = Notification { headers: pairs, body: body.to_string() };
    assert!(wechat::verify_notification(&notification, keys, &[7u8; 32], now).is_err());
    let form = Notification { headers: Vec::new(), body: head.replace('\n', "&") };
    assert!(alipay::verify_notification(&form, keys, now).is_err());
    let _ = wechat::claimed_order(body, &[7u8; 32]);
});
