//! The embedded backend: one SQLite file, WAL mode, `synchronous=FULL` (a commit
//! is on disk before it is acknowledged), one connection behind a mutex, every
//! unit of work run on a blocking-pool thread as one transaction.

use super::{Backend, DATABASE_FILE, Row, StoreError, Transaction, Value, Work, WorkFuture};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The SQLite backend.
pub(super) struct Sqlite {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

fn query_error(error: rusqlite::Error) -> StoreError {
    StoreError::Query(error.to_string())
}

impl Sqlite {
    /// Opens (creating if needed) the database file at `path`.
    pub(super) fn open(path: &Path) -> Result<Sqlite, StoreError> {
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
        Ok(Sqlite { path: path.to_path_buf(), connection: Arc::new(Mutex::new(connection)) })
    }

    /// Opens the database in `data_dir` read-only, if there is one.
    pub(super) fn open_existing_read_only(data_dir: &Path) -> Result<Option<Sqlite>, StoreError> {
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
        Ok(Some(Sqlite { path, connection: Arc::new(Mutex::new(connection)) }))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.connection)
    }
}

fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves the connection itself usable: SQLite
    // rolls back an unfinished transaction when the next one begins.
    connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct SqliteTransaction<'a> {
    transaction: rusqlite::Transaction<'a>,
    abandoned: bool,
}

/// The shared dialect numbers parameters `$1, $2, …`; SQLite spells them `?1, ?2, …`
/// (binding by number, whatever order they appear in).
fn dialect(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn bind(params: &[Value]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|value| match value {
            Value::Null => rusqlite::types::Value::Null,
            Value::Integer(v) => rusqlite::types::Value::Integer(*v),
            Value::Real(v) => rusqlite::types::Value::Real(*v),
            Value::Text(v) => rusqlite::types::Value::Text(v.clone()),
        })
        .collect()
}

impl Transaction for SqliteTransaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        let mut statement = self.transaction.prepare_cached(&dialect(sql)).map_err(query_error)?;
        statement.execute(rusqlite::params_from_iter(bind(params))).map_err(query_error)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut statement = self.transaction.prepare_cached(&dialect(sql)).map_err(query_error)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(bind(params))).map_err(query_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query_error)? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index).map_err(query_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Integer(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
                    ValueRef::Blob(_) => return Err(StoreError::Query(format!("column {index} is a blob"))),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn abandon(&mut self) {
        self.abandoned = true;
    }
}

impl Backend for Sqlite {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(query_error)?;
        let current: usize = transaction
            .query_row("SELECT version FROM schema_versions WHERE component = ?1", [component], |row| {
                row.get::<_, i64>(0)
            })
            .optional()
            .map_err(query_error)?
            .map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
        if current > steps.len() {
            return Err(StoreError::Open {
                path: self.path.clone(),
                reason: format!(
                    "the `{component}` tables are at version {current}, newer than this host knows ({}); use a newer miniapp",
                    steps.len()
                ),
            });
        }
        for step in &steps[current..] {
            transaction.execute_batch(step).map_err(query_error)?;
        }
        transaction
            .execute(
                "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
                 ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                rusqlite::params![component, steps.len() as i64],
            )
            .map_err(query_error)?;
        transaction.commit().map_err(query_error)
    }

    fn integrity_query(&self) -> &'static str {
        "PRAGMA integrity_check"
    }

    fn run(&self, work: Work) -> WorkFuture {
        let connection = self.connection.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut connection = lock(&connection);
                let transaction = connection.transaction().map_err(query_error)?;
                let mut unit = SqliteTransaction { transaction, abandoned: false };
                let answer = work(&mut unit)?;
                if !unit.abandoned {
                    unit.transaction.commit().map_err(query_error)?;
                }
                Ok(answer)
            })
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
        })
    }
}
