//! `miniapp:storage`: per-program key-value storage, modelled on `wx.setStorage`.
//!
//! Values are JSON. Each entry counts `key bytes + value bytes (compact JSON)`
//! against the program's quota.

use serde::{Deserialize, Serialize};

/// The capability name, used in `[capabilities.storage]` and `miniapp:storage`.
pub const CAPABILITY: &str = "storage";

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// `set`: store `value` under `key`, replacing what was there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRequest {
    /// 1 to [`MAX_KEY_BYTES`] bytes of UTF-8, no control characters.
    pub key: String,
    /// Any JSON value.
    pub value: serde_json::Value,
}

/// `get`, `remove`: the key to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// The key.
    pub key: String,
}

/// Reply of `get`: `value` is absent when the key is not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetReply {
    /// The stored value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Reply of `remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveReply {
    /// Whether the key was stored before.
    pub removed: bool,
}

/// Reply of `keys`: every key, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysReply {
    /// The keys, in byte order.
    pub keys: Vec<String>,
}

/// Reply of `info`, like `wx.getStorageInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoReply {
    /// Bytes used now.
    pub used_bytes: u64,
    /// Total bytes this program may use.
    pub quota_bytes: u64,
    /// Largest single entry (key + value) this program may store.
    pub max_entry_bytes: u64,
    /// Number of keys stored.
    pub key_count: u64,
}
