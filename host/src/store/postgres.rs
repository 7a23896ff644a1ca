//! The PostgreSQL backend: records on a server that any number of host processes
//! share.
//!
//! The client is `tokio-postgres` (the asynchronous, pipelining client the Rust
//! ecosystem's PostgreSQL libraries build on) with a `deadpool-postgres` pool
//! (connections kept open and reused, prepared statements cached per
//! connection). The backend runs both on a small runtime of its own, so it works
//! the same whatever runtime, or none, the embedder's code is on; a unit of work
//! runs on one of that runtime's blocking threads, one connection held for the
//! unit, each statement awaited there.
//!
//! Every unit is one `SERIALIZABLE` transaction. When the server refuses one for
//! conflicting with concurrent work (SQLSTATE 40001, or a deadlock, 40P01), it is
//! rolled back and run again, after a short random pause, until it commits or
//! has conflicted [`MAX_RUNS`] times: the components' read-check-write steps
//! (an order moved from `processing` to `paid` once, a quota checked before a
//! write) are then correct across hosts without locks of their own.

use super::{Backend, Dialect, Row, StoreError, Transaction, Value, Work, WorkFuture};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::any::Any;
use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio_postgres::NoTls;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

/// How many times a unit is run before a conflict is reported to its caller.
pub(super) const MAX_RUNS: u32 = 64;

type Answer = Result<Box<dyn Any + Send>, StoreError>;

/// The PostgreSQL backend.
pub(super) struct Postgres {
    described: String,
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    read_only: bool,
}

/// A connection string without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
        let authority = match authority.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{user}:***@{host}"),
                None => format!("{credentials}@{host}"),
            },
            None => authority.to_string(),
        };
        let path = path.map(|p| format!("/{p}")).unwrap_or_default();
        let path = redact_password_parameter(&path);
        return format!("{scheme}://{authority}{path}");
    }
    redact_password_parameter(url)
}

fn redact_password_parameter(text: &str) -> String {
    text.split_inclusive([' ', '&', '?'])
        .map(|part| {
            let trimmed = part.trim_end_matches([' ', '&', '?']);
            let end = &part[trimmed.len()..];
            match trimmed.split_once('=') {
                Some((key, _)) if key.trim().eq_ignore_ascii_case("password") => format!("{key}=***{end}"),
                _ => part.to_string(),
            }
        })
        .collect()
}

impl Postgres {
    /// Connects to the server at `url` with at most `pool_size` connections, and
    /// checks that it answers, so a wrong url is reported when the host starts.
    pub(super) fn connect(url: &str, pool_size: usize, read_only: bool) -> Result<Postgres, StoreError> {
        let described = redact(url);
        let open_error = |reason: String| StoreError::Open { path: PathBuf::from(&described), reason };
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| open_error(format!("not a connection string: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("miniapp");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(open_error(
                "sslmode=require: this host connects without TLS (a server on loopback, a unix socket or a private network)"
                    .into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("miniapp-postgres")
            .enable_all()
            .build()
            .map_err(|e| open_error(format!("cannot start its runtime: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| open_error(chain(&e)))?;
        let backend = Postgres { described: described.clone(), pool, runtime: Some(runtime), read_only };
        backend
            .run_blocking(Box::new(|t| t.query("SELECT 1", &[]).map(|_| Box::new(()) as Box<dyn Any + Send>)))
            .map_err(|error| match error {
                StoreError::Open { reason, .. } => open_error(reason),
                other => open_error(other.to_string()),
            })?;
        Ok(backend)
    }

    fn handle(&self) -> Result<Handle, StoreError> {
        self.runtime
            .as_ref()
            .map(|runtime| runtime.handle().clone())
            .ok_or_else(|| StoreError::Worker("the PostgreSQL backend has stopped".into()))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Without waiting: the host may be dropped inside an async runtime, where
        // blocking on the backend's threads is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn is_conflict(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error
        .code()
        .is_some_and(|code| *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED)
}

fn describe_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(": {detail}"));
            }
            text
        }
        None => chain(error),
    }
}

/// An error and its causes in one line, each said once.
fn chain(error: &dyn StdError) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn store_error(error: &tokio_postgres::Error) -> StoreError {
    if is_conflict(error) {
        StoreError::Conflict(describe_error(error))
    } else {
        StoreError::Query(describe_error(error))
    }
}

/// How a unit's transaction starts.
#[derive(Clone, Copy)]
enum Mode {
    /// `SERIALIZABLE`, the rule for work.
    Serializable { read_only: bool },
    /// `READ COMMITTED` under the schema lock, for migrations: each statement
    /// sees what was committed before it, so a host that waited for the lock
    /// sees the migration the host before it made.
    Exclusive,
}

/// The schema lock: a transaction-scoped advisory lock, released by the commit
/// or by the death of the host holding it.
const SCHEMA_LOCK: &str = "SELECT pg_advisory_xact_lock(7306015021718069248)";

/// Runs one unit on a blocking thread of the backend's runtime: again after a
/// conflict, up to [`MAX_RUNS`] times.
fn run_unit(handle: &Handle, pool: &Pool, work: &mut Work, mode: Mode) -> Answer {
    let client = handle.block_on(pool.get()).map_err(|e| StoreError::Open {
        path: PathBuf::from("the PostgreSQL server"),
        reason: match &e {
            deadpool_postgres::PoolError::Backend(error) => chain(error),
            other => chain(other),
        },
    })?;
    let mut run = 0;
    loop {
        run += 1;
        let begin = match mode {
            Mode::Serializable { read_only: false } => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            Mode::Serializable { read_only: true } => "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
            Mode::Exclusive => "BEGIN ISOLATION LEVEL READ COMMITTED",
        };
        let mut unit = PgTransaction { handle, client: &client, begin: Some(begin), abandoned: false, failed: None };
        let answer = match mode {
            Mode::Exclusive => unit.query(SCHEMA_LOCK, &[]).and_then(|_| run_work(work, &mut unit)),
            Mode::Serializable { .. } => run_work(work, &mut unit),
        };
        let PgTransaction { begin, abandoned, failed, .. } = unit;
        // A unit that ran no statement began no transaction.
        let started = begin.is_none();
        let rollback = || {
            if started {
                let _ = handle.block_on(client.batch_execute("ROLLBACK"));
            }
        };
        let outcome = match failed {
            Some(StoreError::Conflict(reason)) => {
                rollback();
                Err(StoreError::Conflict(reason))
            }
            Some(_) => {
                rollback();
                return answer;
            }
            None if abandoned || answer.is_err() => {
                rollback();
                return answer;
            }
            None if !started => return answer,
            // A failed COMMIT ends the transaction on the server too.
            None => handle.block_on(client.batch_execute("COMMIT")).map_err(|e| store_error(&e)).and(answer),
        };
        match outcome {
            Err(StoreError::Conflict(reason)) if run < MAX_RUNS => {
                tracing::debug!(run, %reason, "a unit of work conflicted with concurrent work; running it again");
                std::thread::sleep(backoff(run));
            }
            outcome => return outcome,
        }
    }
}

/// Runs the work; a panic is one failed unit (rolled back), not a lost
/// connection left inside a transaction.
fn run_work(work: &mut Work, unit: &mut PgTransaction<'_>) -> Answer {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(unit)))
        .unwrap_or_else(|_| Err(StoreError::Worker("the unit of work panicked".into())))
}

/// A random pause before running a conflicted unit again, growing with the runs,
/// so units that conflicted together do not meet again.
fn backoff(run: u32) -> Duration {
    let ceiling_micros = 200u64 << run.min(8);
    let random = getrandom::u64().unwrap_or(ceiling_micros / 2);
    Duration::from_micros(random % ceiling_micros.max(1))
}

struct PgTransaction<'a> {
    handle: &'a Handle,
    client: &'a deadpool_postgres::ClientWrapper,
    /// The `BEGIN` not yet sent: it goes out with the unit's first statement, in
    /// the same round trip (the client pipelines requests made together).
    begin: Option<&'static str>,
    abandoned: bool,
    /// The first failed statement: the server aborts the transaction with it.
    failed: Option<StoreError>,
}

impl PgTransaction<'_> {
    /// Runs `statement`, beginning the transaction in the same round trip if it
    /// has not begun.
    fn with_begin<T, F>(&mut self, statement: F) -> Result<T, tokio_postgres::Error>
    where
        F: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = self.client;
        match self.begin.take() {
            None => self.handle.block_on(statement),
            Some(begin) => self.handle.block_on(async {
                let (begun, result) = tokio::join!(client.batch_execute(begin), statement);
                begun?;
                result
            }),
        }
    }

    fn note<T>(&mut self, result: Result<T, tokio_postgres::Error>) -> Result<T, StoreError> {
        result.map_err(|error| {
            let error = store_error(&error);
            if self.failed.is_none() {
                self.failed = Some(match &error {
                    StoreError::Conflict(reason) => StoreError::Conflict(reason.clone()),
                    other => StoreError::Query(other.to_string()),
                });
            }
            error
        })
    }
}

impl Transaction for PgTransaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        let parameters: Vec<&(dyn ToSql + Sync)> = params.iter().map(|value| value as &(dyn ToSql + Sync)).collect();
        let client = self.client;
        let result = self.with_begin(async {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, &parameters).await
        });
        self.note(result).map(|changed| usize::try_from(changed).unwrap_or(usize::MAX))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let parameters: Vec<&(dyn ToSql + Sync)> = params.iter().map(|value| value as &(dyn ToSql + Sync)).collect();
        let client = self.client;
        let result = self.with_begin(async {
            let statement = client.prepare_cached(sql).await?;
            let rows = client.query(&statement, &parameters).await?;
            rows.iter()
                .map(|row| (0..row.len()).map(|index| row.try_get::<_, Cell>(index).map(|cell| cell.0)).collect())
                .map(|values: Result<Vec<Value>, _>| values.map(Row))
                .collect::<Result<Vec<Row>, _>>()
        });
        self.note(result)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let client = self.client;
        let result = self.with_begin(client.batch_execute(sql));
        self.note(result)
    }

    fn abandon(&mut self) {
        self.abandoned = true;
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

impl Backend for Postgres {
    fn describe(&self) -> String {
        self.described.clone()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn run(&self, mut work: Work) -> WorkFuture {
        let handle = match self.handle() {
            Ok(handle) => handle,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        let (pool, mode) = (self.pool.clone(), Mode::Serializable { read_only: self.read_only });
        let inner = handle.clone();
        let task = handle.spawn_blocking(move || run_unit(&inner, &pool, &mut work, mode));
        Box::pin(async move { task.await.map_err(|e| StoreError::Worker(e.to_string()))? })
    }

    fn run_blocking(&self, work: Work) -> Answer {
        self.wait(work, Mode::Serializable { read_only: self.read_only })
    }

    fn run_exclusive(&self, work: Work) -> Answer {
        self.wait(work, Mode::Exclusive)
    }
}

impl Postgres {
    fn wait(&self, mut work: Work, mode: Mode) -> Answer {
        let handle = self.handle()?;
        let pool = self.pool.clone();
        let (sender, answer) = std::sync::mpsc::sync_channel(1);
        let inner = handle.clone();
        handle.spawn_blocking(move || {
            let _ = sender.send(run_unit(&inner, &pool, &mut work, mode));
        });
        answer.recv().map_err(|_| StoreError::Worker("the PostgreSQL worker stopped before answering".into()))?
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer parameter where the statement wants {ty}").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("a number parameter where the statement wants {ty}").into()),
            },
            Value::Text(v) => {
                if <&str as ToSql>::accepts(ty) {
                    v.as_str().to_sql(ty, out)
                } else {
                    Err(format!("a text parameter where the statement wants {ty}").into())
                }
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A column's value read into the backend-neutral [`Value`].
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        Ok(Cell(match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Integer(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => Value::Integer(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Integer(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::NUMERIC => numeric(raw)?,
            Type::VOID => Value::Null,
            _ if <&str as FromSql>::accepts(ty) => Value::Text(<&str as FromSql>::from_sql(ty, raw)?.to_string()),
            _ => return Err(format!("a column of type {ty}, which this host does not read").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A `NUMERIC` (what PostgreSQL's `SUM` of integers is) as an integer when it is
/// whole and fits, else as a double. The binary form: digit count, weight (of the
/// first base-10000 digit), sign, display scale, then the digits.
fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |index: usize| -> Result<u16, BoxError> {
        let bytes = raw.get(index * 2..index * 2 + 2).ok_or("a truncated numeric")?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    };
    let digits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut whole: i128 = 0;
    let mut fraction = 0.0f64;
    let mut fits = true;
    for index in 0..digits {
        let digit = word(4 + index)?;
        let power = weight - i32::try_from(index).map_err(|_| "a numeric with too many digits")?;
        if power >= 0 {
            match 10000i128.checked_pow(power as u32).and_then(|scale| whole.checked_add(i128::from(digit) * scale)) {
                Some(sum) => whole = sum,
                None => fits = false,
            }
        } else {
            fraction += f64::from(digit) * 10000f64.powi(power);
        }
    }
    let negative = sign == 0x4000;
    if fits && fraction == 0.0 {
        let signed = if negative { -whole } else { whole };
        if let Ok(value) = i64::try_from(signed) {
            return Ok(Value::Integer(value));
        }
    }
    let magnitude = whole as f64 + fraction;
    Ok(Value::Real(if negative { -magnitude } else { magnitude }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/miniapp"),
            "postgres://app:***@db.internal:5432/miniapp"
        );
        assert_eq!(
            redact("postgres://app@db/miniapp?password=s3cret&x=1"),
            "postgres://app@db/miniapp?password=***&x=1"
        );
        assert_eq!(redact("host=db user=app password=s3cret dbname=m"), "host=db user=app password=*** dbname=m");
        assert_eq!(redact("postgres://%2Ftmp%2Fs/miniapp"), "postgres://%2Ftmp%2Fs/miniapp");
    }

    #[test]
    fn numerics_decode_exactly() {
        // 1234·10000² + 5678·10000 + 9012: weight 2, digits [1234, 5678, 9012].
        let encode = |digits: &[u16], weight: i16, sign: u16| {
            let mut raw = Vec::new();
            for word in [digits.len() as u16, weight as u16, sign, 0] {
                raw.extend_from_slice(&word.to_be_bytes());
            }
            for digit in digits {
                raw.extend_from_slice(&digit.to_be_bytes());
            }
            raw
        };
        assert_eq!(numeric(&encode(&[1234, 5678, 9012], 2, 0)).unwrap(), Value::Integer(123_456_789_012));
        assert_eq!(numeric(&encode(&[5], 1, 0x4000)).unwrap(), Value::Integer(-50_000));
        assert_eq!(numeric(&encode(&[], 0, 0)).unwrap(), Value::Integer(0));
        assert_eq!(numeric(&encode(&[1, 5000], 0, 0)).unwrap(), Value::Real(1.5));
        assert!(numeric(&[0, 1]).is_err());
    }
}
