//! The embedded backend: one SQLite file, WAL mode, `synchronous=FULL` (a commit
//! is on disk before it is acknowledged), one connection owned by one writer
//! thread.
//!
//! **Group commit.** The writer takes every unit of work waiting when it is free
//! and runs them in one `BEGIN IMMEDIATE` transaction, each inside its own
//! savepoint, then commits once: one flush to disk for the whole group, instead
//! of one per unit. A unit that fails or abandons is rolled back to its savepoint
//! and leaves the others alone; units run one after another, so each sees the
//! ones before it as a serial order would; no unit is answered before the commit
//! that makes it durable. `BEGIN IMMEDIATE` takes SQLite's write lock at once, so
//! host processes sharing the file (waiting up to the busy timeout) are
//! serialized too.

use super::{Backend, DATABASE_FILE, Dialect, Row, StoreError, Transaction, Value, Work, WorkFuture};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// How many waiting units one commit takes at most: enough to share a flush
/// among many concurrent payers, few enough that a unit is not kept long.
const MAX_GROUP: usize = 128;

/// How many prepared statements the connection keeps.
const STATEMENT_CACHE: usize = 256;

type Answer = Result<Box<dyn Any + Send>, StoreError>;

/// Where a unit's answer goes.
enum Reply {
    Async(tokio::sync::oneshot::Sender<Answer>),
    Blocking(mpsc::SyncSender<Answer>),
}

impl Reply {
    fn send(self, answer: Answer) {
        // The caller may have stopped waiting (a dropped future); the work is
        // done or rolled back either way.
        match self {
            Reply::Async(sender) => drop(sender.send(answer)),
            Reply::Blocking(sender) => drop(sender.send(answer)),
        }
    }
}

struct Job {
    work: Work,
    reply: Reply,
}

/// The SQLite backend.
pub(super) struct Sqlite {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Sqlite {
    /// Waits for the writer thread to finish its queue and close the
    /// connection, so a process that exits right after leaves the database
    /// closed cleanly (checkpointed, no `-wal`/`-shm` files behind) rather than
    /// cut off mid-close.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take()
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
    }
}

/// How long a host waits for another to release the database file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether SQLite refused because another connection holds the lock.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

fn query_error(error: rusqlite::Error) -> StoreError {
    StoreError::Query(error.to_string())
}

impl Sqlite {
    /// Opens (creating if needed) the database file at `path`.
    pub(super) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let open_error = |e: rusqlite::Error| StoreError::Open { path: path.to_path_buf(), reason: e.to_string() };
        let connection = Connection::open(path).map_err(open_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // Turning a new file to WAL takes an exclusive lock for which SQLite does
        // not call the busy handler (it could deadlock): hosts opening one file
        // at once take turns here, within the same timeout.
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let set = connection.execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA foreign_keys=ON;",
            );
            match set {
                Ok(()) => break,
                Err(error) if is_busy(&error) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(error) => return Err(open_error(error)),
            }
        }
        Sqlite::start(path.to_path_buf(), connection, false)
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
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        Sqlite::start(path, connection, true).map(Some)
    }

    fn start(path: PathBuf, connection: Connection, read_only: bool) -> Result<Sqlite, StoreError> {
        // Every component's statements, and the writer's own, stay prepared: the
        // default of 16 would have them evict each other and be parsed again.
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("miniapp-sqlite".into())
            .spawn(move || writer(connection, queue, read_only))
            .map_err(|e| StoreError::Open { path: path.clone(), reason: format!("cannot start its thread: {e}") })?;
        Ok(Sqlite { path, jobs: Some(jobs), writer: Some(writer) })
    }

    fn submit(&self, work: Work, reply: Reply) -> Result<(), StoreError> {
        self.jobs
            .as_ref()
            .ok_or_else(|| StoreError::Worker("the SQLite backend is closing".into()))?
            .send(Job { work, reply })
            .map_err(|_| StoreError::Worker("the SQLite writer thread has stopped".into()))
    }
}

/// The writer thread: takes the waiting units in groups, until the backend is
/// dropped.
fn writer(connection: Connection, queue: mpsc::Receiver<Job>, read_only: bool) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&connection, group, read_only);
    }
}

/// What one unit of a group came to, before the commit.
enum Ran {
    /// Its writes are in the transaction; answered once the commit is durable.
    Kept(Box<dyn Any + Send>),
    /// Rolled back to its savepoint (it failed, abandoned or a statement failed):
    /// its answer stands whatever the commit does.
    RolledBack(Answer),
}

/// Runs one of the writer's own transaction-control statements. They run for
/// every unit, so they are prepared once and kept, not parsed each time (as
/// `execute_batch` would).
fn control(connection: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_group(connection: &Connection, group: Vec<Job>, read_only: bool) {
    let begin = if read_only { "BEGIN DEFERRED" } else { "BEGIN IMMEDIATE" };
    if let Err(error) = control(connection, begin) {
        let error = query_error(error);
        for job in group {
            job.reply.send(Err(StoreError::Query(error.to_string())));
        }
        return;
    }
    let mut ran = Vec::with_capacity(group.len());
    for Job { mut work, reply } in group {
        ran.push((run_unit(connection, &mut work), reply));
    }
    let committed = control(connection, "COMMIT").map_err(query_error);
    if committed.is_err() {
        // SQLite leaves the transaction open when a commit fails (a busy reader,
        // a full disk): end it, so the next group starts clean.
        let _ = control(connection, "ROLLBACK");
    }
    for (outcome, reply) in ran {
        reply.send(match (outcome, &committed) {
            (Ran::RolledBack(answer), _) => answer,
            (Ran::Kept(answer), Ok(())) => Ok(answer),
            (Ran::Kept(_), Err(error)) => Err(StoreError::Query(format!("commit failed: {error}"))),
        });
    }
}

fn run_unit(connection: &Connection, work: &mut Work) -> Ran {
    if let Err(error) = control(connection, "SAVEPOINT unit") {
        return Ran::RolledBack(Err(query_error(error)));
    }
    let mut unit = SqliteTransaction { connection, abandoned: false, failed: false };
    // A panicking unit is one failed unit, not a stopped writer.
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut unit)))
        .unwrap_or_else(|_| Err(StoreError::Worker("the unit of work panicked".into())));
    let keep = answer.is_ok() && !unit.abandoned && !unit.failed;
    let end = if keep {
        control(connection, "RELEASE unit")
    } else {
        control(connection, "ROLLBACK TO unit").and_then(|()| control(connection, "RELEASE unit"))
    };
    match (end, keep, answer) {
        (Ok(()), true, Ok(answer)) => Ran::Kept(answer),
        (Ok(()), _, answer) => Ran::RolledBack(answer),
        (Err(error), _, _) => Ran::RolledBack(Err(query_error(error))),
    }
}

struct SqliteTransaction<'a> {
    connection: &'a Connection,
    abandoned: bool,
    failed: bool,
}

impl SqliteTransaction<'_> {
    fn note<T>(&mut self, result: Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        result.map_err(|error| {
            self.failed = true;
            query_error(error)
        })
    }
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

fn read_rows(connection: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>, rusqlite::Error> {
    let mut statement = connection.prepare_cached(&dialect(sql))?;
    let columns = statement.column_count();
    let mut rows = statement.query(rusqlite::params_from_iter(bind(params)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for index in 0..columns {
            values.push(match row.get_ref(index)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Integer(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
                ValueRef::Blob(_) => {
                    return Err(rusqlite::Error::InvalidColumnType(
                        index,
                        "a blob".into(),
                        rusqlite::types::Type::Blob,
                    ));
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

impl Transaction for SqliteTransaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        let result = self
            .connection
            .prepare_cached(&dialect(sql))
            .and_then(|mut statement| statement.execute(rusqlite::params_from_iter(bind(params))));
        self.note(result)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let result = read_rows(self.connection, sql, params);
        self.note(result)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let result = self.connection.execute_batch(sql);
        self.note(result)
    }

    fn abandon(&mut self) {
        self.abandoned = true;
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl Backend for Sqlite {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn run(&self, work: Work) -> WorkFuture {
        let (sender, answer) = tokio::sync::oneshot::channel();
        let submitted = self.submit(work, Reply::Async(sender));
        Box::pin(async move {
            submitted?;
            answer.await.map_err(|_| StoreError::Worker("the SQLite writer thread stopped before answering".into()))?
        })
    }

    fn run_exclusive(&self, work: Work) -> Result<Box<dyn Any + Send>, StoreError> {
        // The writer runs one unit at a time, and `BEGIN IMMEDIATE` takes the
        // file's write lock (waiting for other processes) before reading.
        self.run_blocking(work)
    }

    fn run_blocking(&self, work: Work) -> Result<Box<dyn Any + Send>, StoreError> {
        let (sender, answer) = mpsc::sync_channel(1);
        self.submit(work, Reply::Blocking(sender))?;
        answer.recv().map_err(|_| StoreError::Worker("the SQLite writer thread stopped before answering".into()))?
    }
}
