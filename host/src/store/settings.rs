//! Reading `[database]` (`crate::config::DatabaseSettings`): which backend keeps
//! the host's records.

use super::StoreError;
use crate::config::DatabaseSettings;
use std::path::PathBuf;

/// The PostgreSQL connection string `settings` name, if the records are on a
/// server; a url of any other kind is an error naming what is accepted.
pub(super) fn postgres_url(settings: &DatabaseSettings) -> Result<Option<&str>, StoreError> {
    let Some(url) = settings.url.as_deref() else { return Ok(None) };
    let url = url.trim();
    if settings.pool_size == 0 {
        return Err(StoreError::Open {
            path: PathBuf::from("[database] pool_size"),
            reason: "must be at least 1".into(),
        });
    }
    let key_value = url.contains('=') && !url.contains("://");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") || key_value {
        return Ok(Some(url));
    }
    Err(StoreError::Open {
        path: PathBuf::from(super::postgres::redact(url)),
        reason: "not a PostgreSQL connection string: give `postgres://user@host/dbname` (or `host=… dbname=…`), \
                     or no url for the embedded SQLite database in the data directory"
            .into(),
    })
}
