//! `[database]` of the host configuration: which database the host keeps its
//! records in.

use super::StoreError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Environment variable naming the database when neither `--database` nor the
/// configuration does.
pub const DATABASE_URL_ENV: &str = "MINIAPP_DATABASE_URL";

/// `[database]`: without a `url`, the embedded SQLite database in the data
/// directory; with `url = "postgres://user:password@host:port/dbname"` (or a
/// key-value string `host=… dbname=…`, or a unix socket directory as the host,
/// `postgres://user@%2Frun%2Fpostgresql/dbname`), a PostgreSQL server shared
/// with any number of other hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// The PostgreSQL server, if the records are kept on one.
    pub url: Option<String>,
    /// Connections the host keeps open to the server at most.
    pub pool_size: usize,
}

impl Default for DatabaseSettings {
    fn default() -> DatabaseSettings {
        DatabaseSettings { url: None, pool_size: 16 }
    }
}

impl DatabaseSettings {
    /// The settings of a host on the database at `url`.
    pub fn at(url: impl Into<String>) -> DatabaseSettings {
        DatabaseSettings { url: Some(url.into()), ..DatabaseSettings::default() }
    }

    /// The PostgreSQL connection string, if the records are on a server; a url
    /// of any other kind is an error naming what is accepted.
    pub(super) fn postgres(&self) -> Result<Option<&str>, StoreError> {
        let Some(url) = self.url.as_deref() else { return Ok(None) };
        let url = url.trim();
        if self.pool_size == 0 {
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
}
