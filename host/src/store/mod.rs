//! The host's storage interface: one async way in for every component that keeps
//! records — a [`Database`] runs a unit of work as one transaction, off the async
//! workers, on whichever [`Backend`] holds the data. Work speaks SQL with `$1, $2, …`
//! parameters (a dialect SQLite and PostgreSQL share) and reads rows as
//! backend-neutral [`Value`]s; no component names a database library.
//!
//! Two backends: the embedded default, SQLite (`sqlite.rs`: one file,
//! `<data dir>/miniapp.db`, for one machine), and PostgreSQL (`postgres.rs`:
//! `[database] url = "postgres://…"`, shared by any number of host processes).
//!
//! The rules every backend keeps, which the components' invariants rest on:
//!
//! - **A unit of work is serializable**: it runs as if no other unit ran beside
//!   it, in this process or another (SQLite: one writer, `BEGIN IMMEDIATE`;
//!   PostgreSQL: `SERIALIZABLE`, the unit run again when the server refuses it
//!   for a conflict with a concurrent one — so work must not act outside the
//!   database, and may be run more than once).
//! - **A unit in which a statement failed writes nothing**, whatever it answers.
//! - **An acknowledged unit is durable** (SQLite: `synchronous=FULL`; PostgreSQL:
//!   the server's commit).
//!
//! Each component owns its schema as an ordered list of migration steps, written
//! once for both backends (see [`Dialect::schema`]) and applied with
//! [`Database::migrate`], which hosts starting at once on one database run one at
//! a time; the applied version is kept per component so components evolve
//! independently.

mod postgres;
pub mod secret;
mod settings;
mod sqlite;
pub(crate) mod test_backend;

pub use crate::config::{DATABASE_URL_ENV, DatabaseSettings};
pub use postgres::redact as redact_url;
pub use test_backend::TestBackend;

use std::any::Any;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

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
    Query(String),
    /// A stored value is not one this host knows (written by a newer version, or
    /// damaged): an error, never read as a default.
    #[error("the database holds a value this host does not know: {0}")]
    Corrupt(#[source] miniapp_abi::UnknownName),
    /// The worker running a query stopped before answering.
    #[error("database worker stopped: {0}")]
    Worker(String),
    /// The database refused the unit of work because a concurrent one changed
    /// what it read (PostgreSQL's serialization failure or a deadlock); the unit
    /// is run again, and this reaches a caller only when it kept conflicting.
    #[error("the database kept refusing the work for conflicting with concurrent work: {0}")]
    Conflict(String),
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

impl StoreError {
    /// A stored value that names nothing this host knows.
    pub fn corrupt(unknown: miniapp_abi::UnknownName) -> StoreError {
        StoreError::Corrupt(unknown)
    }

    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "store_open_failed",
            StoreError::Query(_) => "store_query_failed",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Worker(_) => "store_worker_failed",
            StoreError::Conflict(_) => "store_conflict",
        }
    }
}

/// A value in a row or a parameter, whatever the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (booleans are stored as 0 and 1).
    Integer(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Value {
                Value::Integer(i64::from(value))
            }
        }
    )*};
}
integer_values!(i64, i32, u32, u16, u8, bool);

impl From<u64> for Value {
    fn from(value: u64) -> Value {
        // Sizes and counts; none comes near 2^63.
        Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Value::Real(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_string())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Value {
        Value::Text(value.clone())
    }
}

impl<T: Into<Value> + Clone> From<&Option<T>> for Value {
    fn from(value: &Option<T>) -> Value {
        value.clone().map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// Parameters for a statement: `params![a, b, c]`. Each is copied, so a unit of
/// work can be run again (see the module's rules) with the values it captured.
#[macro_export]
macro_rules! store_params {
    ($($value:expr),* $(,)?) => { &[$($crate::store::Value::from(::std::clone::Clone::clone(&$value))),*][..] };
}
pub use store_params as params;

/// One row of a query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, index: usize) -> Result<&Value, StoreError> {
        self.0.get(index).ok_or_else(|| StoreError::Query(format!("no column {index} in the row")))
    }

    /// Column `index` as an integer.
    pub fn integer(&self, index: usize) -> Result<i64, StoreError> {
        match self.at(index)? {
            Value::Integer(value) => Ok(*value),
            other => Err(StoreError::Query(format!("column {index} is {other:?}, not an integer"))),
        }
    }

    /// Column `index` as an unsigned 32-bit number.
    pub fn u32(&self, index: usize) -> Result<u32, StoreError> {
        let value = self.integer(index)?;
        u32::try_from(value).map_err(|_| StoreError::Query(format!("column {index} is {value}, out of range")))
    }

    /// Column `index` as a boolean (0 or 1).
    pub fn bool(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.integer(index)? != 0)
    }

    /// Column `index` as a double.
    pub fn real(&self, index: usize) -> Result<f64, StoreError> {
        match self.at(index)? {
            Value::Real(value) => Ok(*value),
            Value::Integer(value) => Ok(*value as f64),
            other => Err(StoreError::Query(format!("column {index} is {other:?}, not a number"))),
        }
    }

    /// Column `index` as text.
    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        match self.at(index)? {
            Value::Text(value) => Ok(value.clone()),
            other => Err(StoreError::Query(format!("column {index} is {other:?}, not text"))),
        }
    }

    /// Column `index` as text, or `None` for `NULL`.
    pub fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.at(index)? {
            Value::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    /// Column `index` as an integer, or `None` for `NULL`.
    pub fn optional_integer(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.at(index)? {
            Value::Null => Ok(None),
            _ => self.integer(index).map(Some),
        }
    }

    /// Column `index` as a stored name of `T`; a name this host does not know is
    /// [`StoreError::Corrupt`], never a default.
    pub fn name<T>(&self, index: usize) -> Result<T, StoreError>
    where
        T: std::str::FromStr<Err = miniapp_abi::UnknownName>,
    {
        self.text(index)?.parse().map_err(StoreError::Corrupt)
    }
}

/// The SQL spelling of a backend, for the few places the two differ: schema
/// steps, the schema lock and the integrity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL 12 or newer.
    Postgres,
}

impl Dialect {
    /// A schema step in this dialect. Steps are written once, in SQLite's
    /// spelling with `INTEGER` meaning a 64-bit integer; PostgreSQL spells five
    /// things differently and they are translated here, the one place:
    /// `INTEGER PRIMARY KEY AUTOINCREMENT` (an identity column), `INTEGER`
    /// (`BIGINT`), `REAL` (`DOUBLE PRECISION`), `BLOB` (`BYTEA`) and
    /// `WITHOUT ROWID` (no such option: every PostgreSQL table is clustered by
    /// nothing).
    pub fn schema<'a>(self, step: &'a str) -> std::borrow::Cow<'a, str> {
        match self {
            Dialect::Sqlite => std::borrow::Cow::Borrowed(step),
            Dialect::Postgres => {
                let step = step.replace(
                    "INTEGER PRIMARY KEY AUTOINCREMENT",
                    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                );
                let step = step.replace(") WITHOUT ROWID", ")");
                let mut out = String::with_capacity(step.len());
                let mut word = String::new();
                let flush = |word: &mut String, out: &mut String| {
                    out.push_str(match word.as_str() {
                        "INTEGER" => "BIGINT",
                        "REAL" => "DOUBLE PRECISION",
                        "BLOB" => "BYTEA",
                        other => other,
                    });
                    word.clear();
                };
                for c in step.chars() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        word.push(c);
                    } else {
                        flush(&mut word, &mut out);
                        out.push(c);
                    }
                }
                flush(&mut word, &mut out);
                std::borrow::Cow::Owned(out)
            }
        }
    }

    /// The query by which the backend checks its own data; its rows of text,
    /// joined, read `ok` when the data is sound.
    fn integrity_query(self) -> &'static str {
        match self {
            Dialect::Sqlite => "PRAGMA integrity_check",
            // The server checks its own pages; what it can report is the data
            // checksum failures it has seen in this database (counted when the
            // cluster has data checksums on).
            Dialect::Postgres => {
                "SELECT CASE WHEN COALESCE(checksum_failures, 0) = 0 THEN 'ok'
                        ELSE 'the server saw ' || checksum_failures || ' data checksum failures' END
                 FROM pg_stat_database WHERE datname = current_database()"
            }
        }
    }
}

/// One unit of work's view of the database: statements run inside one
/// transaction, committed when the work returns `Ok` (unless it was abandoned or
/// a statement failed), rolled back otherwise.
pub trait Transaction {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError>;

    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Runs statements without parameters, separated by `;` (schema steps).
    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Rolls the transaction back even though the work succeeds (a check that
    /// decided to write nothing).
    fn abandon(&mut self);

    /// The backend's spelling.
    fn dialect(&self) -> Dialect;
}

impl dyn Transaction + '_ {
    /// The first row of a query, if any.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A unit of work, with its answer type erased (the backend runs it on its own
/// threads). A backend may run it more than once (PostgreSQL, after a conflict);
/// only the last run's writes are kept.
pub type Work = Box<dyn FnMut(&mut dyn Transaction) -> Result<Box<dyn Any + Send>, StoreError> + Send>;

/// The future a backend answers a unit of work with.
pub type WorkFuture = Pin<Box<dyn Future<Output = Result<Box<dyn Any + Send>, StoreError>> + Send>>;

/// Where the records are kept: SQLite by default, or a PostgreSQL server. A
/// backend runs work off the caller's async workers, serializably (see the
/// module's rules).
pub trait Backend: Send + Sync + 'static {
    /// Where the data is, for messages (a file path, a server without its
    /// password).
    fn describe(&self) -> String;

    /// The backend's spelling.
    fn dialect(&self) -> Dialect;

    /// Runs `work` as one transaction.
    fn run(&self, work: Work) -> WorkFuture;

    /// Runs `work` as one transaction and blocks the calling thread until it is
    /// done: for start-up (schema, keys), from code that is not async. Works
    /// from inside an async runtime too (the work runs on the backend's threads).
    fn run_blocking(&self, work: Work) -> Result<Box<dyn Any + Send>, StoreError>;

    /// Like [`Backend::run_blocking`], holding the database's schema lock, which
    /// one such unit holds at a time across every host on the database, and
    /// seeing everything committed before the lock was granted: for migrations.
    fn run_exclusive(&self, work: Work) -> Result<Box<dyn Any + Send>, StoreError>;
}

/// A shared handle to the host database.
#[derive(Clone)]
pub struct Database {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("at", &self.backend.describe()).finish()
    }
}

impl Database {
    /// The database kept by `backend`.
    pub fn with_backend(backend: Arc<dyn Backend>) -> Database {
        Database { backend }
    }

    /// Opens the database `settings` name: the PostgreSQL server of its `url`, or
    /// without one the embedded SQLite database in `data_dir`.
    pub fn connect(settings: &DatabaseSettings, data_dir: &Path) -> Result<Database, StoreError> {
        match settings::postgres_url(settings)? {
            Some(url) => {
                Ok(Database::with_backend(Arc::new(postgres::Postgres::connect(url, settings.pool_size, false)?)))
            }
            None => Database::open_in(data_dir),
        }
    }

    /// Opens (creating if needed) `<data_dir>/miniapp.db`, the embedded SQLite
    /// database, in WAL mode with `synchronous=FULL`: a commit is on disk before it
    /// is acknowledged.
    pub fn open_in(data_dir: &Path) -> Result<Database, StoreError> {
        check_not_a_file(data_dir)?;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Open { path: data_dir.to_path_buf(), reason: e.to_string() })?;
        Database::open(&data_dir.join(DATABASE_FILE))
    }

    /// Opens the SQLite database file at `path`.
    pub fn open(path: &Path) -> Result<Database, StoreError> {
        Ok(Database::with_backend(Arc::new(sqlite::Sqlite::open(path)?)))
    }

    /// Opens the database `settings` name for reading only, if there is one:
    /// nothing is created (no directory, no file, no table) and a read-only data
    /// directory works. `None` when no host has kept records there yet.
    pub fn open_existing_read_only(
        settings: &DatabaseSettings,
        data_dir: &Path,
    ) -> Result<Option<Database>, StoreError> {
        if let Some(url) = settings::postgres_url(settings)? {
            let backend = postgres::Postgres::connect(url, settings.pool_size.min(2), true)?;
            let database = Database::with_backend(Arc::new(backend));
            let exists = database.run_blocking(|t| {
                let row = t.query_one("SELECT to_regclass('schema_versions') IS NOT NULL", &[])?;
                Ok(row.map(|row| row.bool(0)).transpose()?.unwrap_or(false))
            })?;
            return Ok(exists.then_some(database));
        }
        check_not_a_file(data_dir)?;
        let backend = sqlite::Sqlite::open_existing_read_only(data_dir)?;
        Ok(backend.map(|backend| Database::with_backend(Arc::new(backend))))
    }

    /// Where the data is.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The backend's spelling.
    pub fn dialect(&self) -> Dialect {
        self.backend.dialect()
    }

    /// Brings `component`'s schema up to date: applies, in one transaction, the
    /// steps of `steps` past the component's recorded version. Hosts migrating one
    /// database at once take turns; the second finds the work done.
    pub fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), StoreError> {
        let component = component.to_string();
        let steps: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        let describe = self.describe();
        let work: Work = Box::new(move |t| {
            let dialect = t.dialect();
            t.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version BIGINT NOT NULL)",
            )?;
            let current = t
                .query_one("SELECT version FROM schema_versions WHERE component = $1", params![&component])?
                .map(|row| row.integer(0))
                .transpose()?
                .map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
            if current > steps.len() {
                return Err(StoreError::Open {
                    path: PathBuf::from(&describe),
                    reason: format!(
                        "the `{component}` tables are at version {current}, newer than this host knows ({}); use a newer miniapp",
                        steps.len()
                    ),
                });
            }
            for step in &steps[current..] {
                t.execute_batch(&dialect.schema(step))?;
            }
            t.execute(
                "INSERT INTO schema_versions (component, version) VALUES ($1, $2)
                 ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                params![&component, steps.len() as i64],
            )?;
            Ok(Box::new(()) as Box<dyn Any + Send>)
        });
        self.backend.run_exclusive(work).map(drop)
    }

    /// The backend's own check of its data: `ok` when sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let query = self.dialect().integrity_query();
        let rows = self.run(move |t| t.query(query, &[])).await?;
        let lines = rows.iter().map(|row| row.text(0)).collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("; "))
    }

    /// Runs `work` as one transaction, off the async workers: an async caller
    /// holds no runtime thread while the database waits on the disk or the
    /// server. `work` may be run more than once (see the module's rules).
    pub async fn run<R, F>(&self, mut work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn Transaction) -> Result<R, StoreError> + Send + 'static,
    {
        let erased: Work = Box::new(move |transaction| work(transaction).map(|r| Box::new(r) as Box<dyn Any + Send>));
        let answer = self.backend.run(erased).await?;
        downcast(answer)
    }

    /// Runs `work` as one transaction, blocking the calling thread: for start-up
    /// code that is not async (schema steps, the host's keys).
    pub fn run_blocking<R, F>(&self, mut work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn Transaction) -> Result<R, StoreError> + Send + 'static,
    {
        let erased: Work = Box::new(move |transaction| work(transaction).map(|r| Box::new(r) as Box<dyn Any + Send>));
        downcast(self.backend.run_blocking(erased)?)
    }
}

fn downcast<R: 'static>(answer: Box<dyn Any + Send>) -> Result<R, StoreError> {
    answer.downcast::<R>().map(|r| *r).map_err(|_| StoreError::Worker("the work answered another type".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_and_in_order() {
        for backend in TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let db = backend.database(dir.path());
            let steps = ["CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"];
            db.migrate("test", &steps[..1]).unwrap();
            db.migrate("test", &steps).unwrap();
            db.migrate("test", &steps).unwrap();
            db.run(|t| {
                t.execute("INSERT INTO a (x, y) VALUES ($1, $2)", params![1, "b"])?;
                Ok(())
            })
            .await
            .unwrap();
            let rows = db.run(|t| t.query("SELECT x, y FROM a", &[])).await.unwrap();
            assert_eq!(rows, vec![Row(vec![Value::Integer(1), Value::Text("b".into())])], "{}", backend.name());
            let err = db.migrate("test", &steps[..1]).unwrap_err();
            assert!(err.to_string().contains("newer than this host knows"), "{err}");
        }
    }

    /// Hosts starting at once on one database take turns migrating it: every
    /// one succeeds and each step runs once.
    #[test]
    fn hosts_starting_at_once_migrate_once() {
        for backend in TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let steps = [
                "CREATE TABLE counted (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT NOT NULL)",
                "INSERT INTO counted (note) VALUES ('step 2 ran')",
            ];
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    let (backend, dir) = (&backend, dir.path());
                    scope.spawn(move || backend.database(dir).migrate("race", &steps).unwrap());
                }
            });
            let db = backend.database(dir.path());
            let rows = db.run_blocking(|t| t.query("SELECT COUNT(*) FROM counted", &[])).unwrap();
            assert_eq!(rows[0].integer(0).unwrap(), 1, "{}", backend.name());
        }
    }

    /// Concurrent read-modify-write units lose no update: each is serializable
    /// (PostgreSQL runs a conflicted one again).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_read_modify_write_loses_no_update() {
        for backend in TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let db = backend.database(dir.path());
            db.migrate("counter", &["CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)"])
                .unwrap();
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move {
                        db.run(|t| {
                            let n = t.query_one("SELECT n FROM counter", &[])?.map(|r| r.integer(0)).transpose()?;
                            t.execute("UPDATE counter SET n = $1", params![n.unwrap_or(0) + 1])?;
                            Ok(())
                        })
                        .await
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
            let n = db.run(|t| t.query_one("SELECT n FROM counter", &[])).await.unwrap().unwrap().integer(0).unwrap();
            assert_eq!(n, 64, "{}", backend.name());
        }
    }

    /// A unit in which a statement failed writes nothing, even when the work
    /// goes on and answers `Ok`; units grouped with it are not touched.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_rolls_its_unit_back_and_only_its_unit() {
        for backend in TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let db = backend.database(dir.path());
            db.migrate("rows", &["CREATE TABLE kept (k INTEGER PRIMARY KEY)"]).unwrap();
            let tasks: Vec<_> = (0..40i64)
                .map(|k| {
                    let db = db.clone();
                    tokio::spawn(async move {
                        db.run(move |t| {
                            t.execute("INSERT INTO kept (k) VALUES ($1)", params![k])?;
                            if k % 4 == 0 {
                                // Swallowed on purpose: the unit must still write nothing.
                                let _ = t.execute("INSERT INTO kept (k) VALUES ($1)", params![k]);
                            }
                            Ok(())
                        })
                        .await
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
            let rows = db.run(|t| t.query("SELECT k FROM kept ORDER BY k", &[])).await.unwrap();
            let kept: Vec<i64> = rows.iter().map(|r| r.integer(0).unwrap()).collect();
            let expected: Vec<i64> = (0..40).filter(|k| k % 4 != 0).collect();
            assert_eq!(kept, expected, "{}", backend.name());
        }
    }

    #[test]
    fn schema_steps_are_spelled_for_each_backend() {
        let step = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, r REAL, integer_note TEXT) WITHOUT ROWID";
        assert_eq!(Dialect::Sqlite.schema(step), step);
        assert_eq!(
            Dialect::Postgres.schema(step),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, r DOUBLE PRECISION, integer_note TEXT)"
        );
    }

    #[test]
    fn an_unknown_database_url_is_refused_by_name() {
        let settings = DatabaseSettings::at("mysql://db/miniapp");
        let error = Database::connect(&settings, Path::new("/nonexistent")).unwrap_err();
        assert!(error.to_string().contains("not a PostgreSQL connection string"), "{error}");
    }
}
