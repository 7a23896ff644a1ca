//! Test support, for the host's own tests and an embedder's: a host in a
//! throwaway data directory, and the context of a host call built without a
//! guest, so a capability's handler can be tested alone.
//!
//! ```
//! use miniapp_host::testing::{TestCall, TestHost};
//! use miniapp_host::consent::{Answer, ScriptedUser};
//!
//! # async fn demo() {
//! let test = TestHost::new(|builder| builder);
//! let storage = test.host.registry().get("storage").unwrap().clone();
//! let set = storage.functions().into_iter().find(|f| f.name() == "set").unwrap();
//! let call = TestCall::new("storage", &test.host).user(ScriptedUser::new([Answer::Yes]));
//! let reply = set.call(call.context(), br#"{"key":"k","value":1}"#.to_vec()).await;
//! assert!(reply.is_ok());
//! # }
//! ```

use crate::capability::{
    CallContext, CapabilityState, Grant, GrantState, OncePerLaunch, ProgramInfo, SessionView, UserAction,
};
use crate::consent::{Nobody, User};
use crate::host::{Host, HostBuilder};
use crate::sandbox::OutputCapture;
use crate::{CapturedOutput, HostConfig};
use miniapp_abi::lifecycle::Surface;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A host whose data directory is removed when it is dropped.
pub struct TestHost {
    /// The host.
    pub host: Host,
    dir: tempfile::TempDir,
}

impl TestHost {
    /// A host on the default configuration in a fresh directory, set up further by
    /// `setup` (add capabilities, providers, a user). Panics if it cannot start:
    /// it is for tests.
    pub fn new(setup: impl FnOnce(HostBuilder) -> HostBuilder) -> TestHost {
        TestHost::with_config(|_| {}, setup)
    }

    /// Like [`TestHost::new`], with the configuration changed by `configure` first.
    pub fn with_config(
        configure: impl FnOnce(&mut HostConfig),
        setup: impl FnOnce(HostBuilder) -> HostBuilder,
    ) -> TestHost {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = HostConfig::with_data_dir(dir.path());
        configure(&mut config);
        let host = setup(Host::builder(config)).build().unwrap_or_else(|e| panic!("the test host starts: {e}"));
        TestHost { host, dir }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A host call's context without a guest: which capability, which program (with
/// the grant its declaration would give), which user, which surface.
pub struct TestCall {
    host: Host,
    capability: &'static str,
    program_id: String,
    module_hash: String,
    grant: Option<Grant>,
    user: Arc<dyn User>,
    surface: Surface,
    gesture: bool,
    data: Option<crate::capability::SessionData>,
    output: OutputCapture,
    once: OncePerLaunch,
}

impl TestCall {
    /// A call to `capability` of `host` by program `test.program`, granted what
    /// an empty `[capabilities.<capability>]` table declares, from a direct launch,
    /// with nobody to answer prompts.
    pub fn new(capability: &'static str, host: &Host) -> TestCall {
        let grant = host.registry().get(capability).and_then(|c| c.declare(&toml::Table::new()).ok());
        TestCall {
            host: host.clone(),
            capability,
            program_id: "test.program".into(),
            module_hash: "0".repeat(64),
            grant,
            user: Arc::new(Nobody),
            surface: Surface::Direct,
            gesture: false,
            data: None,
            output: OutputCapture::new(1 << 20),
            once: OncePerLaunch::default(),
        }
    }

    /// The calling program's id.
    pub fn program(mut self, id: &str) -> TestCall {
        self.program_id = id.into();
        self
    }

    /// The calling program's module hash (consent is remembered per module).
    pub fn module_hash(mut self, hash: &str) -> TestCall {
        self.module_hash = hash.into();
        self
    }

    /// What the program was granted (from the capability's `declare`).
    pub fn grant(mut self, grant: Grant) -> TestCall {
        self.grant = Some(grant);
        self
    }

    /// Who answers the host's prompts.
    pub fn user(mut self, user: Arc<dyn User>) -> TestCall {
        self.user = user;
        self
    }

    /// The surface the program was launched on.
    pub fn surface(mut self, surface: Surface) -> TestCall {
        self.surface = surface;
        self
    }

    /// Whether the call is made while handling a tap (a user action).
    pub fn tap(mut self, gesture: bool) -> TestCall {
        self.gesture = gesture;
        self
    }

    /// The capability's session state (what its `prepare` would make).
    pub fn data(mut self, data: crate::capability::SessionData) -> TestCall {
        self.data = Some(data);
        self
    }

    /// The context a handler receives. Contexts made from one `TestCall` share a
    /// session: its once-per-launch marks and its output.
    pub fn context(&self) -> CallContext {
        let grants = match &self.grant {
            Some(grant) => BTreeMap::from([(self.capability.to_string(), GrantState::Granted(grant.clone()))]),
            None => BTreeMap::new(),
        };
        let program = Arc::new(ProgramInfo::new(
            self.program_id.clone(),
            "Test Program".into(),
            "1.0.0".into(),
            "Test Publisher".into(),
            self.host.development_identity(&self.program_id),
            self.module_hash.clone(),
            grants,
        ));
        let action = UserAction::default();
        action.set(self.gesture);
        let session = SessionView {
            user: self.user.clone(),
            surface: self.surface,
            gesture: self.gesture,
            action,
            output: self.output.clone(),
            once: self.once.clone(),
            states: self.states(),
        };
        let grant: Grant = self.grant.clone().unwrap_or_else(|| Arc::new(()));
        CallContext::new(self.capability, program, grant, session)
    }

    fn states(&self) -> Arc<[CapabilityState]> {
        match (&self.data, self.host.registry().get(self.capability)) {
            (Some(data), Some(capability)) => {
                Arc::from(vec![CapabilityState { capability: capability.clone(), data: data.clone() }])
            }
            _ => Arc::from(Vec::new()),
        }
    }

    /// What the host told the developer during the calls (notices).
    pub fn take_output(&self) -> CapturedOutput {
        self.output.drain()
    }
}

/// Environment variable naming the PostgreSQL server tests may use
/// (`tests/with-postgres` starts a throwaway one and sets it).
pub const POSTGRES_URL_ENV: &str = "MINIAPP_TEST_POSTGRES_URL";

/// The database a test of the storage interface runs on: one suite, run on each.
#[derive(Debug, Clone)]
pub enum TestBackend {
    /// The embedded SQLite database in the test's data directory.
    Sqlite,
    /// A schema of its own on the test PostgreSQL server.
    Postgres(crate::store::DatabaseSettings),
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
        let admin =
            crate::store::Database::connect(&crate::store::DatabaseSettings::at(&base), std::path::Path::new("."))
                .unwrap_or_else(|e| panic!("the test PostgreSQL server at {base}: {e}"));
        let statement = format!("CREATE SCHEMA {schema}");
        admin.run_blocking(move |t| t.execute_batch(&statement)).expect("a test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let settings = crate::store::DatabaseSettings { url: Some(url), pool_size: 4 };
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
            TestBackend::Sqlite => crate::store::DatabaseSettings::default(),
            TestBackend::Postgres(settings) => settings.clone(),
        };
    }

    /// The database itself, for a component's own tests (`data_dir` keeps the
    /// SQLite file).
    pub fn database(&self, data_dir: &std::path::Path) -> crate::store::Database {
        let settings = match self {
            TestBackend::Sqlite => crate::store::DatabaseSettings::default(),
            TestBackend::Postgres(settings) => settings.clone(),
        };
        crate::store::Database::connect(&settings, data_dir).expect("the test database opens")
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres(_) => "postgres",
        }
    }
}
