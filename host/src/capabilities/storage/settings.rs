//! The storage capability's section of the host configuration, `[storage]`.

use serde::{Deserialize, Serialize};

/// Storage quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Quota of a program whose manifest names none (10 MiB).
    pub default_quota_bytes: u64,
    /// Largest quota a manifest may ask for (10 MiB).
    pub max_quota_bytes: u64,
    /// Largest single entry, key plus value (1 MiB).
    pub max_entry_bytes: u64,
}

impl Default for StorageSettings {
    fn default() -> StorageSettings {
        StorageSettings { default_quota_bytes: 10 << 20, max_quota_bytes: 10 << 20, max_entry_bytes: 1 << 20 }
    }
}
