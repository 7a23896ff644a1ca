//! Durable payments per second through the whole path — a guest's request, the
//! payment sheet answered by a script, the provider simulator, its signed
//! notification, the ledger committed with `synchronous=FULL` — beside the bare
//! SQLite `synchronous=FULL` commit rate on the same disk, so the ratio to the
//! disk's floor is visible.
//!
//! `RUST_BACKTRACE=0 cargo bench -p miniapp-host --bench payments` (the pay-demo
//! sample must be built: `miniapp run sample-programs/pay-demo` builds it).

use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::{Event, Host, HostConfig, LaunchContext, Surface};
use std::path::Path;
use std::time::Instant;

const PAYMENTS: usize = 300;
const ROUNDS: usize = 5;

fn bare_sqlite_commits_per_second(dir: &Path) -> f64 {
    let connection = rusqlite::Connection::open(dir.join("bare.db")).unwrap();
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",
        )
        .unwrap();
    let started = Instant::now();
    for i in 0..PAYMENTS {
        connection.execute("INSERT INTO t (k, v) VALUES (?1, 'order')", [i as i64]).unwrap();
    }
    PAYMENTS as f64 / started.elapsed().as_secs_f64()
}

async fn payments_per_second(dir: &Path) -> f64 {
    let mut config = HostConfig::with_data_dir(dir);
    config.engine.max_live_programs = 8;
    config.payment.notification_delay_scale = 0.0;
    let host = Host::new(config).unwrap();
    let app = host.load_app(Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-programs/pay-demo")).await.unwrap();
    let user = ScriptedUser::new(std::iter::repeat_n(Answer::Pick(1), PAYMENTS + 1));
    let mut session = app.start_with_user(user).await.unwrap();
    session.launch(&LaunchContext::new(Surface::Direct)).await.unwrap();
    let buy = Event::Tap { action: "buy".into(), payload: serde_json::Value::Null };
    let started = Instant::now();
    for _ in 0..PAYMENTS {
        session.event(&buy).await.unwrap();
    }
    let rate = PAYMENTS as f64 / started.elapsed().as_secs_f64();
    let paid = session.take_output().stdout_text().matches("paid PAYDEMO").count();
    assert_eq!(paid, PAYMENTS + 1, "every payment must be paid");
    rate
}

fn summary(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (mut bare, mut miniapp) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        bare.push(bare_sqlite_commits_per_second(dir.path()));
        miniapp.push(runtime.block_on(payments_per_second(dir.path())));
    }
    let (bare_median, bare_min, bare_max) = summary(bare);
    let (pay_median, pay_min, pay_max) = summary(miniapp);
    println!("bare SQLite synchronous=FULL commits/s: median {bare_median:.0} (min {bare_min:.0}, max {bare_max:.0})");
    println!("durable payments/s through miniapp:    median {pay_median:.0} (min {pay_min:.0}, max {pay_max:.0})");
    println!(
        "ratio payments / bare commits: {:.3} ({} payments x {ROUNDS} rounds)",
        pay_median / bare_median,
        PAYMENTS
    );
}
