//! Host secrets — the identity key user ids derive from, the receipt-signing
//! seed, the development key, a payment provider's keys — kept in the host
//! database (table `host_secrets`), so that every host on one database derives
//! the same user ids, signs receipts a merchant verifies with one key and runs a
//! program directory as the same program. Each is made once, by whichever host
//! needs it first: an insert that loses to a concurrent host's keeps the
//! winner's. A key file an earlier version kept in the data directory is taken
//! over on first use (and left in place).
//!
//! Anyone who can read the database can read the secrets: protect the database
//! (its file, or the server's role and backups) as the keys themselves.

use super::{Database, StoreError, params};
use std::path::{Path, PathBuf};

const SCHEMA: &[&str] = &["CREATE TABLE host_secrets (
        name TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID"];

fn store_error(error: StoreError) -> String {
    error.to_string()
}

/// The 32-byte secret `name`, made (or taken over from `<data_dir>/<name>`) if
/// the database has none yet.
pub fn load_or_create(database: &Database, data_dir: &Path, name: &str) -> Result<[u8; 32], String> {
    let legacy = data_dir.join(name);
    let value = load_or_create_text(database, name, || match std::fs::read(&legacy) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.try_into().map_err(|_| damaged(&legacy.display().to_string(), name))?;
            Ok(hex::encode(key))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("cannot get random bytes: {e}"))?;
            Ok(hex::encode(key))
        }
        Err(error) => Err(format!("{}: {error}", legacy.display())),
    })?;
    decode(database, name, &value)
}

/// The secret `name` as text (a PEM key), made by `make` if the database has
/// none yet. `make` runs outside any transaction and may lose to a concurrent
/// host, whose secret is then the one answered.
pub fn load_or_create_text(
    database: &Database,
    name: &str,
    make: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    database.migrate("secrets", SCHEMA).map_err(store_error)?;
    if let Some(value) = read(database, name).map_err(store_error)? {
        return Ok(value);
    }
    let made = make()?;
    let owned = name.to_string();
    database
        .run_blocking(move |t| {
            t.execute(
                "INSERT INTO host_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                params![&owned, &made],
            )?;
            let row = t.query_one("SELECT value FROM host_secrets WHERE name = $1", params![&owned])?;
            row.map(|row| row.text(0)).transpose()
        })
        .map_err(store_error)?
        .ok_or_else(|| format!("the secret `{name}` was not kept by the database"))
}

/// The 32-byte secret `name` if there is one, making nothing: from the database
/// when it has a secrets table, else from a key file an earlier version left in
/// `data_dir` (read-only tools over old data).
pub fn load_existing(database: Option<&Database>, data_dir: &Path, name: &str) -> Result<Option<[u8; 32]>, String> {
    if let Some(database) = database {
        let owned = name.to_string();
        let found = database
            .run_blocking(move |t| {
                let migrated =
                    t.query_one("SELECT version FROM schema_versions WHERE component = 'secrets'", &[])?.is_some();
                if !migrated {
                    return Ok(None);
                }
                let row = t.query_one("SELECT value FROM host_secrets WHERE name = $1", params![&owned])?;
                row.map(|row| row.text(0)).transpose()
            })
            .map_err(store_error)?;
        if let Some(value) = found {
            return decode(database, name, &value).map(Some);
        }
    }
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|_| damaged(&path.display().to_string(), name)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

fn read(database: &Database, name: &str) -> Result<Option<String>, StoreError> {
    let owned = name.to_string();
    database.run_blocking(move |t| {
        let row = t.query_one("SELECT value FROM host_secrets WHERE name = $1", params![&owned])?;
        row.map(|row| row.text(0)).transpose()
    })
}

fn decode(database: &Database, name: &str, value: &str) -> Result<[u8; 32], String> {
    let where_kept = format!("`{name}` in {}", PathBuf::from(database.describe()).display());
    hex::decode(value).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or_else(|| damaged(&where_kept, name))
}

/// What to say of a key that is not a key: what a new one would cost.
fn damaged(place: &str, name: &str) -> String {
    let advice = match name {
        "receipt.key" => {
            "restore it from a backup; do not delete it: a new key would make every receipt signed so far unverifiable"
        }
        "identity.key" => "restore it from a backup; a new key would give every user new ids in every program",
        "development.key" => {
            "restore it from a backup; a new key would make every program run from a directory a new program, its data left under the old key"
        }
        _ => "restore it from a backup",
    };
    format!("{place} is damaged (not a 32-byte key); {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_receipt_key_is_never_advised_away() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("receipt.key"), b"short").unwrap();
        let database = Database::open_in(&dir.path().join("data")).unwrap();
        let error = load_or_create(&database, dir.path(), "receipt.key").unwrap_err();
        assert!(error.contains("restore it from a backup; do not delete it"), "{error}");
        assert_eq!(load_existing(None, dir.path(), "receipt.key").unwrap_err(), error);
        assert_eq!(load_existing(Some(&database), dir.path(), "missing.key").unwrap(), None);
        assert!(!dir.path().join("missing.key").exists());
    }

    #[test]
    fn a_key_file_is_taken_over_once_and_kept_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("identity.key"), [7u8; 32]).unwrap();
        let database = Database::open_in(&dir.path().join("data")).unwrap();
        assert_eq!(load_or_create(&database, dir.path(), "identity.key").unwrap(), [7u8; 32]);
        std::fs::remove_file(dir.path().join("identity.key")).unwrap();
        assert_eq!(load_or_create(&database, dir.path(), "identity.key").unwrap(), [7u8; 32]);
        assert_eq!(load_existing(Some(&database), dir.path(), "identity.key").unwrap(), Some([7u8; 32]));
        let fresh = load_or_create(&database, dir.path(), "other.key").unwrap();
        assert_eq!(load_or_create(&database, dir.path(), "other.key").unwrap(), fresh);
    }
}
