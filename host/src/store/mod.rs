//! The host's storage interface: one async way in for every component that keeps
//! records — a [`Database`] runs a unit of work as one transaction, off the async
//! workers, on whichever [`Backend`] holds the data. Work speaks SQL with `$1, $2, …`
//! parameters (a dialect SQLite and PostgreSQL share) and reads rows as
//! backend-neutral [`Value`]s; no component names a database library.
//!
//! The embedded default is SQLite (`sqlite.rs`): one file, `<data dir>/miniapp.db`.
//! Each component owns its schema as an ordered list of migration steps and applies
//! it with [`Database::migrate`]; the applied version is kept per component so
//! components evolve independently.

pub mod secret;
mod sqlite;

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

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// Parameters for a statement: `params![a, b, c]`.
#[macro_export]
macro_rules! store_params {
    ($($value:expr),* $(,)?) => { &[$($crate::store::Value::from($value)),*][..] };
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

    /// Column `index` as a stored name of `T`; a name this host does not know is
    /// [`StoreError::Corrupt`], never a default.
    pub fn name<T>(&self, index: usize) -> Result<T, StoreError>
    where
        T: std::str::FromStr<Err = miniapp_abi::UnknownName>,
    {
        self.text(index)?.parse().map_err(StoreError::Corrupt)
    }
}

/// One unit of work's view of the database: statements run inside one
/// transaction, committed when the work returns `Ok` (unless it was abandoned),
/// rolled back otherwise.
pub trait Transaction {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError>;

    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Rolls the transaction back even though the work succeeds (a check that
    /// decided to write nothing).
    fn abandon(&mut self);
}

impl dyn Transaction + '_ {
    /// The first row of a query, if any.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A unit of work, with its answer type erased (the backend runs it on its own
/// threads).
pub type Work = Box<dyn FnOnce(&mut dyn Transaction) -> Result<Box<dyn Any + Send>, StoreError> + Send>;

/// The future a backend answers a unit of work with.
pub type WorkFuture = Pin<Box<dyn Future<Output = Result<Box<dyn Any + Send>, StoreError>> + Send>>;

/// Where the records are kept: SQLite by default. A backend runs work off the
/// async workers and brings each component's schema up to date.
pub trait Backend: Send + Sync + 'static {
    /// Where the data is, for messages (a file path, a server).
    fn describe(&self) -> String;

    /// Applies the steps of `steps` past `component`'s recorded version, each in
    /// one transaction.
    fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), StoreError>;

    /// Runs `work` as one transaction.
    fn run(&self, work: Work) -> WorkFuture;

    /// The query by which the backend checks its own data; its rows of text,
    /// joined, read `ok` when the data is sound.
    fn integrity_query(&self) -> &'static str;
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

    /// Opens the database in `data_dir` for reading only, if there is one: nothing
    /// is created (no directory, no file, no table) and a read-only directory
    /// works. `None` when this host has kept no records there yet.
    pub fn open_existing_read_only(data_dir: &Path) -> Result<Option<Database>, StoreError> {
        check_not_a_file(data_dir)?;
        let backend = sqlite::Sqlite::open_existing_read_only(data_dir)?;
        Ok(backend.map(|backend| Database::with_backend(Arc::new(backend))))
    }

    /// Where the data is.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Brings `component`'s schema up to date: applies, in one transaction each, the
    /// steps of `steps` past the component's recorded version.
    pub fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), StoreError> {
        self.backend.migrate(component, steps)
    }

    /// The backend's own check of its data: `ok` when sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let query = self.backend.integrity_query();
        let rows = self.run(move |t| t.query(query, &[])).await?;
        let lines = rows.iter().map(|row| row.text(0)).collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("; "))
    }

    /// Runs `work` as one transaction, off the async workers: an async caller
    /// holds no runtime thread while the database waits on the disk.
    pub async fn run<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Transaction) -> Result<R, StoreError> + Send + 'static,
    {
        let erased: Work = Box::new(move |transaction| work(transaction).map(|r| Box::new(r) as Box<dyn Any + Send>));
        let answer = self.backend.run(erased).await?;
        answer.downcast::<R>().map(|r| *r).map_err(|_| StoreError::Worker("the work answered another type".into()))
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
        db.run(|t| {
            t.execute("INSERT INTO a (x, y) VALUES ($1, $2)", params![1, "b"])?;
            Ok(())
        })
        .await
        .unwrap();
        let rows = db.run(|t| t.query("SELECT x, y FROM a", &[])).await.unwrap();
        assert_eq!(rows, vec![Row(vec![Value::Integer(1), Value::Text("b".into())])]);
        let err = db.migrate("test", &steps[..1]).unwrap_err();
        assert!(err.to_string().contains("newer than this host knows"), "{err}");
    }
}
