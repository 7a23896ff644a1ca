//! Payments and storage writes per second on each backend — the embedded SQLite
//! file and a PostgreSQL server — with one program and with 64 programs at once,
//! each beside its backend's bare single-row commit rate on the same machine;
//! and the provider simulators' RSA work per payment, measured alone, so the
//! host's own part of a payment can be told from it.
//!
//! The programs are the tests' probe guest (`tests/guests/probe`), which pays
//! the order a tap names and stores the value an event names: each of the 64 has
//! its own id and its own orders, so no payment is an idempotent repeat.

use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::testing::TestBackend;
use miniapp_host::{Event, Host, HostConfig, Manifest};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A backend to measure on.
pub struct Backend {
    /// For the table.
    pub name: &'static str,
    test: TestBackend,
}

/// SQLite, and PostgreSQL when `MINIAPP_TEST_POSTGRES_URL` names a server
/// (`tests/with-postgres` starts one); a fresh schema each time.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend { name: "SQLite", test: TestBackend::Sqlite }];
    match TestBackend::postgres() {
        Some(test) => backends.push(Backend { name: "PostgreSQL", test }),
        None => eprintln!("(no PostgreSQL: run under tests/with-postgres for its figures)"),
    }
    backends
}

impl Backend {
    /// Single-row commits per second, one after another, on this backend
    /// without miniapp: SQLite in WAL mode with `synchronous=FULL` (as miniapp
    /// opens it), or autocommitted `INSERT`s on one PostgreSQL connection.
    pub fn bare_commits_per_second(&self, dir: &Path, commits: usize) -> f64 {
        match &self.test {
            TestBackend::Sqlite => crate::decisions::bare_commits_per_second(dir, commits),
            TestBackend::Postgres(settings) => {
                let url = settings.url.clone().expect("a test server");
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let (client, connection) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
                    tokio::spawn(connection);
                    client.batch_execute("CREATE TABLE bare (k BIGINT PRIMARY KEY, v TEXT)").await.expect("schema");
                    let insert = client.prepare("INSERT INTO bare (k, v) VALUES ($1, 'order')").await.expect("prepare");
                    let started = Instant::now();
                    for k in 0..commits as i64 {
                        client.execute(&insert, &[&k]).await.expect("insert");
                    }
                    commits as f64 / started.elapsed().as_secs_f64()
                })
            }
        }
    }

    /// A host on this backend, its simulators confirming at once.
    pub fn host(&self, dir: &Path) -> Host {
        let mut config = HostConfig::with_data_dir(dir);
        config.engine.max_live_programs = 80;
        self.test.configure(&mut config);
        miniapp_providers::SimulatorSettings::update(&mut config, |s| s.notification_delay_scale = 0.0)
            .expect("settings");
        miniapp_providers::install(Host::builder(config)).build().expect("host")
    }
}

fn probe() -> Vec<u8> {
    let path = crate::work::here().join("../tests/guests/probe/target/wasm32-wasip1/release/probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (build.rs builds it)", path.display()))
}

fn manifest(program: usize) -> Manifest {
    let text = format!(
        "id = \"bench.payer.p{program}\"\nname = \"Payer\"\nversion = \"0.1.0\"\npublisher = \"bench\"\nmodule = \"m.wasm\"\n\
         [capabilities.storage]\n[capabilities.payment]\nmerchants = [\"1900000109\"]\n\
         [capabilities.link]\ndomains = [\"taobao.com\"]\n[capabilities.identity]\n"
    );
    Manifest::parse(&text, Path::new("bench/miniapp.toml")).expect("manifest")
}

/// What each of `programs` programs does `each` times: pay an order, or store a
/// value.
#[derive(Clone, Copy)]
pub enum Work {
    /// `payment.request` of a new order, paid with WeChat Pay.
    Pay,
    /// `storage.set` of a new key.
    Store,
}

/// Operations per second with `programs` programs running at once, `each`
/// operations apiece, timed from when all are launched to when all are done.
pub async fn per_second(host: &Host, work: Work, programs: usize, each: usize) -> f64 {
    let module = probe();
    let ready = Arc::new(tokio::sync::Barrier::new(programs + 1));
    let round = crate::work::nonce();
    let tasks: Vec<_> = (0..programs)
        .map(|program| {
            let (host, module, ready) = (host.clone(), module.clone(), ready.clone());
            tokio::spawn(async move {
                let app = host.load_app_from_parts(manifest(program), module).await.expect("load");
                let user = ScriptedUser::new(std::iter::repeat_n(Answer::Pick(1), each));
                let mut session = app.start_with_user(user).await.expect("start");
                session.launch(&crate::work::launch()).await.expect("launch");
                session.take_output();
                ready.wait().await;
                for n in 0..each {
                    let event = match work {
                        Work::Pay => Event::Tap {
                            action: "pay".into(),
                            payload: serde_json::json!({
                                "merchant_id": "1900000109",
                                "out_trade_no": format!("B{round}-{program}-{n}"),
                                "amount": 1990,
                                "description": "bench order",
                            }),
                        },
                        Work::Store => Event::Custom {
                            name: "set".into(),
                            data: serde_json::json!({"key": format!("k{n}"), "value": n}),
                        },
                    };
                    session.event(&event).await.expect("event");
                    let text = session.take_output().stdout_text();
                    let reply: serde_json::Value =
                        serde_json::from_str(text.lines().last().unwrap_or_default()).expect("a reply");
                    if let Work::Pay = work {
                        assert_eq!(reply["ok"]["status"], "paid", "every payment is paid: {reply}");
                    } else {
                        assert!(reply.get("error").is_none(), "every write is kept: {reply}");
                    }
                }
            })
        })
        .collect();
    ready.wait().await;
    let started = Instant::now();
    for task in tasks {
        task.await.expect("a program");
    }
    (programs * each) as f64 / started.elapsed().as_secs_f64()
}

/// The simulators' RSA work in one WeChat Pay payment, alone: the merchant signs
/// the order request and the provider verifies it; the provider signs the
/// notification and the merchant's server verifies it (2 signatures, 2
/// verifications, SHA256withRSA-2048, through the simulators' own `RsaKeys`).
pub fn rsa_per_payment(samples: usize) -> Duration {
    let keys = miniapp_providers::RsaKeys::throwaway().expect("a key");
    let message = vec![b'x'; 600];
    let started = Instant::now();
    for _ in 0..samples {
        let first = keys.sign(&message);
        assert!(keys.verify(&message, &first));
        let second = keys.sign(&message);
        assert!(keys.verify(&message, &second));
    }
    started.elapsed() / samples as u32
}
