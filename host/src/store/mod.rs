//! The host's SQLite database: opening it in the data directory, durable settings,
//! per-component schema migrations, and running queries off the async threads.
//!
//! One file, `<data dir>/miniapp.db`, holds every component's tables. Each component
//! (a capability, the audit log) owns its schema as an ordered list of migration
//! steps and applies it with [`Database::migrate`]; the applied version is kept per
//! component so components evolve independently.

pub mod secret;

use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "miniapp.db";

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or database could not be opened.
    #[error("cannot open the database at {path}: {reason}")]
    Open {
        /// The path that failed.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// A stored value is not one this host knows (written by a newer version, or
    /// damaged): an error, never read as a default.
    #[error("the database holds a value this host does not know: {0}")]
    Corrupt(#[source] miniapp_abi::UnknownName),
    /// The worker running a query stopped before answering.
    #[error("database worker stopped: {0}")]
    Worker(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        // A row read with `read_name` carries its unknown name through rusqlite.
        if let rusqlite::Error::FromSqlConversionFailure(_, _, cause) = &error
            && let Some(unknown) = cause.downcast_ref::<miniapp_abi::UnknownName>()
        {
            return StoreError::Corrupt(unknown.clone());
        }
        StoreError::Sqlite(error)
    }
}

/// A data directory path that names a file is a clear error, not an I/O puzzle.
fn check_not_a_file(data_dir: &Path) -> Result<(), StoreError> {
    if data_dir.exists() && !data_dir.is_dir() {
        return Err(StoreError::Open {
            path: data_dir.to_path_buf(),
            reason: "it is a file, not a directory (give --data-dir a directory)".into(),
        });
    }
    Ok(())
}

/// Reads column `index` of `row` as a stored name of `T`; a name this host does
/// not know is an error ([`StoreError::Corrupt`] once it leaves rusqlite).
pub fn read_name<T>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = miniapp_abi::UnknownName>,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|unknown| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(unknown))
    })
}

impl StoreError {
    /// A stored value that names nothing this host knows.
    pub fn corrupt(unknown: miniapp_abi::UnknownName) -> StoreError {
        StoreError::Corrupt(unknown)
    }

    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open_failed",
            StoreError::Sqlite(_) => "store_query_failed",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Worker(_) => "store_worker_failed",
        }
    }
}

/// A shared handle to the host database.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("path", &self.inner.path).finish()
    }
}

impl Database {
    /// Opens (creating if needed) `<data_dir>/miniapp.db`, in WAL mode with
    /// `synchronous=FULL`: a commit is on disk before it is acknowledged.
    pub fn open_in(data_dir: &Path) -> Result<Database, StoreError> {
        check_not_a_file(data_dir)?;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Open { path: data_dir.to_path_buf(), reason: e.to_string() })?;
        Database::open(&data_dir.join(DATABASE_FILE))
    }

    /// Opens the database in `data_dir` for reading only, if there is one: nothing
    /// is created (no directory, no file, no table) and a read-only directory
    /// works. `None` when this host has kept no records there yet.
    pub fn open_existing_read_only(data_dir: &Path) -> Result<Option<Database>, StoreError> {
        check_not_a_file(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let open_error = |e: rusqlite::Error| StoreError::Open { path: path.clone(), reason: e.to_string() };
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        // With no write-ahead log beside it, every committed record is in the file
        // itself: read it as immutable, which makes no `-shm`/`-wal` files. With a
        // log (a host is running, or stopped mid-write) read through the log, which
        // the running host's shared-memory file already serves.
        let wal = data_dir.join(format!("{DATABASE_FILE}-wal"));
        let mode = if wal.exists() { "mode=ro" } else { "mode=ro&immutable=1" };
        let connection =
            Connection::open_with_flags(format!("file:{}?{mode}", path.display()), flags).map_err(open_error)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_error)?;
        Ok(Some(Database { inner: Arc::new(Inner { path, connection: Mutex::new(connection) }) }))
    }

    /// Opens the database file at `path`.
    pub fn open(path: &Path) -> Result<Database, StoreError> {
        let open_error = |e: rusqlite::Error| StoreError::Open { path: path.to_path_buf(), reason: e.to_string() };
        let connection = Connection::open(path).map_err(open_error)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA foreign_keys=ON;
                 CREATE TABLE IF NOT EXISTS schema_versions (
                     component TEXT PRIMARY KEY,
                     version INTEGER NOT NULL
                 );",
            )
            .map_err(open_error)?;
        Ok(Database { inner: Arc::new(Inner { path: path.to_path_buf(), connection: Mutex::new(connection) }) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Brings `component`'s schema up to date: applies, in one transaction each, the
    /// steps of `steps` past the component's recorded version.
    pub fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let current: usize = transaction
            .query_row("SELECT version FROM schema_versions WHERE component = ?1", [component], |row| {
                row.get::<_, i64>(0)
            })
            .optional()?
            .map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
        if current > steps.len() {
            return Err(StoreError::Open {
                path: self.inner.path.clone(),
                reason: format!(
                    "the `{component}` tables are at version {current}, newer than this host knows ({}); use a newer miniapp",
                    steps.len()
                ),
            });
        }
        for step in &steps[current..] {
            transaction.execute_batch(step)?;
        }
        transaction.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            rusqlite::params![component, steps.len() as i64],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Runs `work` on the connection on a blocking-pool thread, so an async caller
    /// holds no runtime thread while SQLite waits on the disk.
    pub async fn run<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let database = self.clone();
        tokio::task::spawn_blocking(move || work(&mut database.lock()))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection itself usable: SQLite
        // rolls back an unfinished transaction when the next one begins.
        self.inner.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_in(dir.path()).unwrap();
        let steps = ["CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"];
        db.migrate("test", &steps[..1]).unwrap();
        db.migrate("test", &steps).unwrap();
        db.migrate("test", &steps).unwrap();
        db.run(|c| {
            c.execute("INSERT INTO a (x, y) VALUES (1, 'b')", [])?;
            Ok(())
        })
        .await
        .unwrap();
        let err = db.migrate("test", &steps[..1]).unwrap_err();
        assert!(err.to_string().contains("newer than this host knows"), "{err}");
    }
}
