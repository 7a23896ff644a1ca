//! Per-program key-value storage (capability `storage`), like `wx.setStorage`.
//!
//! Values are anything serde can turn into JSON. Each entry costs its key's bytes
//! plus its value's compact JSON bytes against the program's quota (10 MiB unless
//! the manifest asks for less); a write past the quota fails with
//! [`ErrorCode::QuotaExceeded`](crate::ErrorCode::QuotaExceeded) and changes
//! nothing. Declare it in `miniapp.toml`:
//!
//! ```toml
//! [capabilities.storage]
//! quota_bytes = 1048576   # optional
//! ```
//!
//! ```no_run
//! use miniapp_sdk::storage;
//! # fn demo() -> miniapp_sdk::Result<()> {
//! storage::set("cart", &vec!["item-1042", "item-7"])?;
//! let cart: Vec<String> = storage::get("cart")?.unwrap_or_default();
//! # Ok(()) }
//! ```

use crate::Result;
use crate::host::{host_functions, request};
use miniapp_abi::storage::{GetReply, InfoReply, KeyRequest, KeysReply, RemoveReply};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use miniapp_abi::storage::{InfoReply as StorageInfo, MAX_KEY_BYTES};

host_functions!("miniapp:storage" {
    set => storage_set,
    get => storage_get,
    remove => storage_remove,
    keys => storage_keys,
    clear => storage_clear,
    info => storage_info,
});

#[derive(Serialize)]
struct SetRef<'a, T: ?Sized> {
    key: &'a str,
    value: &'a T,
}

#[derive(Serialize)]
struct Nothing {}

/// Stores `value` under `key` (1 to [`MAX_KEY_BYTES`] bytes), replacing what was there.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    request(storage_set, &SetRef { key, value })
}

/// The value stored under `key`, or `None`.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    let reply: GetReply = request(storage_get, &KeyRequest { key: key.to_string() })?;
    reply.value.map(serde_json::from_value).transpose().map_err(|e| {
        crate::Error::new(crate::ErrorCode::InvalidArgument, format!("stored `{key}` has another type: {e}"))
    })
}

/// Removes `key`; returns whether it was stored.
pub fn remove(key: &str) -> Result<bool> {
    let reply: RemoveReply = request(storage_remove, &KeyRequest { key: key.to_string() })?;
    Ok(reply.removed)
}

/// Every stored key, sorted.
pub fn keys() -> Result<Vec<String>> {
    let reply: KeysReply = request(storage_keys, &Nothing {})?;
    Ok(reply.keys)
}

/// Removes every key.
pub fn clear() -> Result<()> {
    request(storage_clear, &Nothing {})
}

/// Bytes used, the quota, the largest entry allowed and the number of keys.
pub fn info() -> Result<StorageInfo> {
    let reply: InfoReply = request(storage_info, &Nothing {})?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_guest_calls_fail_cleanly() {
        let error = set("k", &1).unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::Unavailable);
        assert!(error.message.contains("only inside a wasm32 guest"));
    }
}
