//! The databases a test of the storage interface runs on — one suite, run on
//! each (re-exported as `miniapp_host::testing::TestBackend`).

use crate::config::HostConfig;

/// Environment variable naming the PostgreSQL server tests may use
/// (`tests/with-postgres` starts a throwaway one and sets it).
pub const POSTGRES_URL_ENV: &str = "MINIAPP_TEST_POSTGRES_URL";

/// The database a test of the storage interface runs on: one suite, run on each.
#[derive(Debug, Clone)]
pub enum TestBackend {
    /// The embedded SQLite database in the test's data directory.
    Sqlite,
    /// A schema of its own on the test PostgreSQL server.
    Postgres(super::DatabaseSettings),
}

impl TestBackend {
    /// A fresh schema on the server [`POSTGRES_URL_ENV`] names, for one test.
    /// Without the variable: `None` and a note that the test was skipped — except
    /// in CI (`CI` set), which must run the PostgreSQL tests, where it panics.
    pub fn postgres() -> Option<TestBackend> {
        let Some(base) = std::env::var(POSTGRES_URL_ENV).ok().filter(|url| !url.trim().is_empty()) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the PostgreSQL tests, but {POSTGRES_URL_ENV} is not set (run them under tests/with-postgres)"
            );
            eprintln!(
                "skipped on PostgreSQL: {POSTGRES_URL_ENV} is not set (tests/with-postgres cargo test runs them)"
            );
            return None;
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("random bytes");
        let schema = format!("test_{}", hex::encode(suffix));
        let admin = super::Database::connect(&super::DatabaseSettings::at(&base), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("the test PostgreSQL server at {base}: {e}"));
        let statement = format!("CREATE SCHEMA {schema}");
        admin.run_blocking(move |t| t.execute_batch(&statement)).expect("a test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let settings = super::DatabaseSettings { url: Some(url), pool_size: 4 };
        Some(TestBackend::Postgres(settings))
    }

    /// Every backend a test runs on here: SQLite, and PostgreSQL when a test
    /// server is configured (see [`TestBackend::postgres`]).
    pub fn all() -> Vec<TestBackend> {
        std::iter::once(TestBackend::Sqlite).chain(TestBackend::postgres()).collect()
    }

    /// Points `config` at this backend.
    pub fn configure(&self, config: &mut HostConfig) {
        config.database = match self {
            TestBackend::Sqlite => super::DatabaseSettings::default(),
            TestBackend::Postgres(settings) => settings.clone(),
        };
    }

    /// The database itself, for a component's own tests (`data_dir` keeps the
    /// SQLite file).
    pub fn database(&self, data_dir: &std::path::Path) -> super::Database {
        let settings = match self {
            TestBackend::Sqlite => super::DatabaseSettings::default(),
            TestBackend::Postgres(settings) => settings.clone(),
        };
        super::Database::connect(&settings, data_dir).expect("the test database opens")
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres(_) => "postgres",
        }
    }
}
