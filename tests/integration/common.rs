//! Helpers shared by the integration tests.

use miniapp_host::{App, Event, Fault, Host, HostConfig, LaunchContext, LimitKind, Manifest, SessionError, Surface};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A host on a fresh data directory, with a pool sized for a test.
pub fn host(data: &TempDir) -> Host {
    host_with(data, |_| {})
}

/// A host on a fresh data directory, configured by `configure`.
pub fn host_with(data: &TempDir, configure: impl FnOnce(&mut HostConfig)) -> Host {
    host_on(&Backend::Sqlite, data, configure)
}

/// The databases the storage, ledger, consent and audit tests run on.
pub use miniapp_host::testing::TestBackend as Backend;

/// A host on `backend`, with a fresh data directory, configured by `configure`.
pub fn host_on(backend: &Backend, data: &TempDir, configure: impl FnOnce(&mut HostConfig)) -> Host {
    let mut config = HostConfig::with_data_dir(data.path());
    config.engine.max_live_programs = 64;
    backend.configure(&mut config);
    configure(&mut config);
    miniapp_providers::install(Host::builder(config)).build().expect("host starts")
}

/// Runs the test body `async fn name(backend: Backend)` on each database:
/// `on_each_backend!(name);` beside it makes the tests `name::sqlite` and
/// `name::postgres` (skipped, saying so, when no test PostgreSQL server is
/// configured; required in CI).
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::common::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    )*};
}
pub(crate) use on_each_backend;

/// A manifest for program `id` with extra TOML appended (capabilities, limits).
pub fn manifest(id: &str, extra: &str) -> Manifest {
    let text = format!(
        "id = \"{id}\"\nname = \"Test\"\nversion = \"0.1.0\"\npublisher = \"tests\"\nmodule = \"module.wasm\"\n{extra}"
    );
    Manifest::parse(&text, Path::new("test/miniapp.toml")).expect("test manifest is valid")
}

/// The text of a hostile test guest.
pub fn hostile_module(name: &str) -> Vec<u8> {
    let path = repo().join("tests/guests/hostile").join(format!("{name}.wat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The compiled probe guest (built by build.rs).
pub fn probe_module() -> Vec<u8> {
    let path = repo().join("tests/guests/probe/target/wasm32-wasip1/release/probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The link declaration the probe gets unless a test gives its own.
pub const PROBE_LINKS: &str = "[capabilities.link]
domains = [\"taobao.com\", \"jd.com\"]
platforms = [\"taobao\", \"jd\"]
programs = [\"com.taobao.deals\", \"com.jd.deals\"]
";

/// The payment declaration the probe gets unless a test gives its own.
pub const PROBE_PAYMENT: &str = "[capabilities.payment]
merchants = [\"1900000109\"]
max_amount = 1000000
";

/// The identity declaration the probe gets unless a test gives its own.
pub const PROBE_IDENTITY: &str = "[capabilities.identity]
union_id = true
[capabilities.identity.scopes]
profile = \"Show your name\"
phone = \"Call you\"
address = \"Deliver your order\"
";

/// The probe loaded as program `id`, with extra manifest TOML.
pub async fn probe(host: &Host, id: &str, extra: &str) -> App {
    let mut extra = if extra.contains("[capabilities.storage]") {
        extra.to_string()
    } else {
        format!("[capabilities.storage]\n{extra}")
    };
    if !extra.contains("[capabilities.link]") {
        extra = format!("{extra}\n{PROBE_LINKS}");
    }
    if !extra.contains("[capabilities.identity]") {
        extra = format!("{extra}\n{PROBE_IDENTITY}");
    }
    if !extra.contains("[capabilities.payment]") {
        extra = format!("{extra}\n{PROBE_PAYMENT}");
    }
    host.load_app_from_parts(manifest(id, &extra), probe_module()).await.expect("probe loads")
}

/// A session of `app` launched directly, its prompts answered by `answers`, its
/// launch output taken.
pub async fn launched(
    app: &App,
    answers: Vec<miniapp_host::consent::Answer>,
) -> (miniapp_host::Session, std::sync::Arc<miniapp_host::consent::ScriptedUser>) {
    let user = miniapp_host::consent::ScriptedUser::new(answers);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&direct()).await.unwrap();
    session.take_output();
    (session, user)
}

/// A `custom` event.
pub fn custom(name: &str, data: Value) -> Event {
    Event::Custom { name: name.to_string(), data }
}

/// A launch from the host's program list.
pub fn direct() -> LaunchContext {
    LaunchContext::new(Surface::Direct)
}

/// Sends `op` to a running probe and returns the JSON line it printed.
pub async fn probe_op(session: &mut miniapp_host::Session, op: &str, data: Value) -> Value {
    probe_event(session, &custom(op, data)).await
}

/// Sends `op` to a running probe as a tap (a user action, which a payment sheet
/// needs) and returns the JSON line it printed.
pub async fn probe_tap(session: &mut miniapp_host::Session, op: &str, data: Value) -> Value {
    probe_event(session, &Event::Tap { action: op.to_string(), payload: data }).await
}

async fn probe_event(session: &mut miniapp_host::Session, event: &Event) -> Value {
    session.event(event).await.expect("probe handles the event");
    let output = session.take_output();
    let text = output.stdout_text();
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("probe printed {text:?}: {e}"))
}

/// The error `result` ended with, if the program was ended for breaking `kind`.
pub fn expect_limit(result: Result<(), SessionError>, kind: LimitKind) -> SessionError {
    match result {
        Err(error @ SessionError::Ended { fault: Fault::Limit { kind: k, .. }, .. }) if k == kind => error,
        other => panic!("expected the {kind:?} limit, got {other:?}"),
    }
}

/// Asserts a well-behaved program still starts and runs on `host`.
pub async fn neighbour_still_works(host: &Host) {
    let mut session = probe(host, "test.neighbour", "").await.start().await.unwrap();
    session.launch(&direct()).await.unwrap();
    session.take_output();
    probe_op(&mut session, "set", serde_json::json!({"key": "alive", "value": true})).await;
    assert_eq!(probe_op(&mut session, "get", serde_json::json!({"key": "alive"})).await["ok"], serde_json::json!(true));
}
