//! `storage`: per-program key-value storage, modelled on `wx.setStorage`.
//!
//! Entries are JSON values kept in the host database, isolated by program id and
//! metered against a quota: each entry costs its key's bytes plus its value's bytes
//! as compact JSON. The manifest may ask for a quota up to the host's maximum; a
//! write that would pass the quota or the per-entry maximum is refused with
//! `quota_exceeded` and changes nothing.

mod settings;

pub use settings::StorageSettings;

use crate::capability::{CallContext, Capability, DeclarationError, Grant, HostFunction, InitContext, NoArguments};
use crate::error::HostError;
use crate::store::{Database, StoreError, params};
use miniapp_abi::storage::{GetReply, InfoReply, KeyRequest, KeysReply, MAX_KEY_BYTES, RemoveReply, SetRequest};
use miniapp_abi::{ApiError, ErrorCode};
use serde::Deserialize;
use std::sync::Arc;

const SCHEMA: &[&str] = &[
    "CREATE TABLE storage_entries (
        program_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (program_id, key)
    ) WITHOUT ROWID;",
    crate::carry_over_identities!("storage_entries"),
];

/// The storage capability.
pub struct Storage {
    settings: StorageSettings,
    database: Database,
}

/// One stored entry, as a developer's tool shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
    /// What it costs against the quota (key bytes plus compact JSON bytes).
    pub size: u64,
}

/// What a program that declares storage gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageGrant {
    /// Total bytes the program may use.
    pub quota_bytes: u64,
    /// Largest single entry.
    pub max_entry_bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageParams {
    quota_bytes: Option<u64>,
}

/// The JSON value program `program_key` keeps under `key`, if any: what a
/// script's `expect storage` reads, outside any session.
pub async fn stored_value(
    database: &crate::store::Database,
    program_key: &str,
    key: &str,
) -> Result<Option<serde_json::Value>, crate::store::StoreError> {
    let (program, key) = (program_key.to_string(), key.to_string());
    let stored: Option<String> = database
        .run(move |t| {
            t.query_one("SELECT value FROM storage_entries WHERE program_id = $1 AND key = $2", params![program, key])?
                .map(|row| row.text(0))
                .transpose()
        })
        .await?;
    stored
        .map(|text| {
            serde_json::from_str(&text)
                .map_err(|e| crate::store::StoreError::Query(format!("a stored value is not JSON: {e}")))
        })
        .transpose()
}

/// Makes the storage capability from `[storage]` and the host database.
pub fn init(context: &InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> {
    let settings = context.settings(miniapp_abi::storage::CAPABILITY)?;
    Ok(Arc::new(Storage::new(settings, context.services.database.clone())?))
}

impl Storage {
    /// Storage in `database` with the host's quota settings.
    pub fn new(settings: StorageSettings, database: Database) -> Result<Storage, StoreError> {
        database.migrate("storage", SCHEMA)?;
        Ok(Storage { settings, database })
    }

    async fn set(self: Arc<Self>, context: CallContext, request: SetRequest) -> Result<(), ApiError> {
        let grant = *context.grant::<StorageGrant>()?;
        self.put(context.program().key(), grant, request).await
    }

    /// Writes an entry for the program keyed `program_key` under its `grant`, as
    /// `storage.set` does (the same key check, entry limit and quota): the path a
    /// developer's tool edits storage by.
    pub async fn put(&self, program_key: &str, grant: StorageGrant, request: SetRequest) -> Result<(), ApiError> {
        check_key(&request.key)?;
        let value = serde_json::to_string(&request.value).map_err(|e| ApiError::internal(e.to_string()))?;
        let size = (request.key.len() + value.len()) as u64;
        if size > grant.max_entry_bytes {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "entry `{}` is {size} bytes; the largest entry allowed is {} bytes",
                    request.key, grant.max_entry_bytes
                ),
            ));
        }
        let program = program_key.to_string();
        self.database
            .run(move |t| {
                let used = t
                    .query_one(
                        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM storage_entries WHERE program_id = $1",
                        params![&program],
                    )?
                    .map_or(Ok(0), |row| row.integer(0))?;
                let replaced = t
                    .query_one(
                        "SELECT size FROM storage_entries WHERE program_id = $1 AND key = $2",
                        params![&program, &request.key],
                    )?
                    .map_or(Ok(0), |row| row.integer(0))?;
                let after = (used - replaced) as u64 + size;
                if after > grant.quota_bytes {
                    t.abandon();
                    return Ok(Err(ApiError::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "storage quota of {} bytes would be exceeded: {} bytes used, entry `{}` needs {size}",
                            grant.quota_bytes,
                            used - replaced,
                            request.key
                        ),
                    )));
                }
                t.execute(
                    "INSERT INTO storage_entries (program_id, key, value, size) VALUES ($1, $2, $3, $4)
                     ON CONFLICT(program_id, key) DO UPDATE SET value = excluded.value, size = excluded.size",
                    params![program, request.key, value, size],
                )?;
                Ok(Ok(()))
            })
            .await
            .map_err(store_error)?
    }

    async fn get(self: Arc<Self>, context: CallContext, request: KeyRequest) -> Result<GetReply, ApiError> {
        check_key(&request.key)?;
        let program = context.program().key().to_string();
        let stored: Option<String> = self
            .database
            .run(move |t| {
                t.query_one(
                    "SELECT value FROM storage_entries WHERE program_id = $1 AND key = $2",
                    params![program, request.key],
                )?
                .map(|row| row.text(0))
                .transpose()
            })
            .await
            .map_err(store_error)?;
        let value = stored
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| ApiError::internal(format!("stored value is corrupt: {e}")))?;
        Ok(GetReply { value })
    }

    async fn remove(self: Arc<Self>, context: CallContext, request: KeyRequest) -> Result<RemoveReply, ApiError> {
        check_key(&request.key)?;
        let program = context.program().key().to_string();
        let removed = self
            .database
            .run(move |t| {
                t.execute(
                    "DELETE FROM storage_entries WHERE program_id = $1 AND key = $2",
                    params![program, request.key],
                )
            })
            .await
            .map_err(store_error)?;
        Ok(RemoveReply { removed: removed > 0 })
    }

    async fn keys(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<KeysReply, ApiError> {
        let program = context.program().key().to_string();
        let keys = self
            .database
            .run(move |t| {
                t.query("SELECT key FROM storage_entries WHERE program_id = $1 ORDER BY key", params![program])?
                    .iter()
                    .map(|row| row.text(0))
                    .collect::<Result<Vec<String>, _>>()
            })
            .await
            .map_err(store_error)?;
        Ok(KeysReply { keys })
    }

    async fn clear(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<(), ApiError> {
        let program = context.program().key().to_string();
        self.database
            .run(move |t| {
                t.execute("DELETE FROM storage_entries WHERE program_id = $1", params![program])?;
                Ok(())
            })
            .await
            .map_err(store_error)
    }

    /// Every entry of the program keyed `program_key`, by key.
    pub async fn entries(&self, program_key: &str) -> Result<Vec<StoredEntry>, ApiError> {
        let program = program_key.to_string();
        let rows = self
            .database
            .run(move |t| {
                t.query(
                    "SELECT key, value, size FROM storage_entries WHERE program_id = $1 ORDER BY key",
                    params![program],
                )?
                .iter()
                .map(|row| Ok((row.text(0)?, row.text(1)?, row.integer(2)?)))
                .collect::<Result<Vec<_>, StoreError>>()
            })
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|(key, value, size)| {
                let value = serde_json::from_str(&value)
                    .map_err(|e| ApiError::internal(format!("stored value of `{key}` is corrupt: {e}")))?;
                Ok(StoredEntry { key, value, size: size as u64 })
            })
            .collect()
    }

    /// Removes `key` of the program keyed `program_key`; whether it was there.
    pub async fn delete(&self, program_key: &str, key: &str) -> Result<bool, ApiError> {
        check_key(key)?;
        let (program, key) = (program_key.to_string(), key.to_string());
        let removed = self
            .database
            .run(move |t| {
                t.execute("DELETE FROM storage_entries WHERE program_id = $1 AND key = $2", params![program, key])
            })
            .await
            .map_err(store_error)?;
        Ok(removed > 0)
    }

    /// The bytes used and the number of keys of the program keyed `program_key`.
    pub async fn used(&self, program_key: &str) -> Result<(u64, u64), ApiError> {
        let (bytes, count) = self.usage(program_key).await.map_err(store_error)?;
        Ok((bytes as u64, count as u64))
    }

    /// The bytes and the number of keys the program keyed `program_key` stores.
    async fn usage(&self, program_key: &str) -> Result<(i64, i64), StoreError> {
        let program = program_key.to_string();
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM storage_entries WHERE program_id = $1",
                    params![program],
                )?;
                row.map_or(Ok((0, 0)), |row| Ok((row.integer(0)?, row.integer(1)?)))
            })
            .await
    }

    async fn info(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<InfoReply, ApiError> {
        let grant = *context.grant::<StorageGrant>()?;
        let (used, count) = self.usage(context.program().key()).await.map_err(store_error)?;
        Ok(InfoReply {
            used_bytes: used as u64,
            quota_bytes: grant.quota_bytes,
            max_entry_bytes: grant.max_entry_bytes,
            key_count: count as u64,
        })
    }
}

impl Capability for Storage {
    fn name(&self) -> &'static str {
        miniapp_abi::storage::CAPABILITY
    }

    fn held<'a>(&'a self, program_key: &'a str) -> crate::capability::HeldFuture<'a> {
        Box::pin(async move {
            let (bytes, count) = self.usage(program_key).await?;
            Ok((count > 0).then(|| crate::capability::HeldData {
                keeper: miniapp_abi::storage::CAPABILITY.to_string(),
                description: format!("{count} keys, {bytes} bytes"),
                deletable: true,
            }))
        })
    }

    fn forget<'a>(&'a self, program_key: &'a str) -> crate::capability::ForgetFuture<'a> {
        let program = program_key.to_string();
        Box::pin(async move {
            self.database
                .run(move |t| {
                    t.execute("DELETE FROM storage_entries WHERE program_id = $1", params![program]).map(drop)
                })
                .await
        })
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: StorageParams = DeclarationError::decode(params)?;
        let quota_bytes = params.quota_bytes.unwrap_or(self.settings.default_quota_bytes);
        if quota_bytes == 0 || quota_bytes > self.settings.max_quota_bytes {
            return Err(DeclarationError::new(
                "quota_bytes",
                format!("must be between 1 and the host's maximum of {} bytes", self.settings.max_quota_bytes),
            ));
        }
        Ok(Arc::new(StorageGrant { quota_bytes, max_entry_bytes: self.settings.max_entry_bytes.min(quota_bytes) }))
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![
            HostFunction::method("set", &self, Storage::set),
            HostFunction::method("get", &self, Storage::get),
            HostFunction::method("remove", &self, Storage::remove),
            HostFunction::method("keys", &self, Storage::keys),
            HostFunction::method("clear", &self, Storage::clear),
            HostFunction::method("info", &self, Storage::info),
        ]
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(ApiError::invalid_argument(format!("key must be 1 to {MAX_KEY_BYTES} bytes, is {}", key.len())));
    }
    if crate::sanitize::first_unsafe(key).is_some() {
        return Err(ApiError::invalid_argument("key must not contain control characters"));
    }
    Ok(())
}

fn store_error(error: StoreError) -> ApiError {
    tracing::error!(%error, "storage failed");
    ApiError::new(ErrorCode::Unavailable, format!("storage is unavailable: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("launches").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(check_key("a\nb").is_err());
    }

    #[test]
    fn quota_declarations_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(StorageSettings::default(), Database::open_in(dir.path()).unwrap()).unwrap();
        let mut params = toml::Table::new();
        let grant = storage.declare(&params).unwrap();
        assert_eq!(grant.downcast_ref::<StorageGrant>().unwrap().quota_bytes, 10 << 20);
        params.insert("quota_bytes".into(), toml::Value::Integer(1 << 40));
        assert_eq!(storage.declare(&params).unwrap_err().field, "quota_bytes");
        params.insert("quota_bytes".into(), toml::Value::Integer(100));
        let grant = storage.declare(&params).unwrap();
        assert_eq!(
            *grant.downcast_ref::<StorageGrant>().unwrap(),
            StorageGrant { quota_bytes: 100, max_entry_bytes: 100 }
        );
        params.insert("quota".into(), toml::Value::Integer(100));
        assert_eq!(storage.declare(&params).unwrap_err().field, "quota");
    }
}
