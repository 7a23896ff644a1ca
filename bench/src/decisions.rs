//! The durable paths, which only miniapp has: payments through the ledger and link
//! decisions through the audit log, each beside the bare SQLite
//! `synchronous=FULL` commit rate of the same disk (their floor).

use crate::work;
use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::{Event, Host, HostConfig};
use std::path::Path;
use std::time::Instant;

/// Single-row `synchronous=FULL` commits per second in a WAL database in `dir`.
pub fn bare_commits_per_second(dir: &Path, commits: usize) -> f64 {
    let connection = rusqlite::Connection::open(dir.join("bare.db")).expect("open");
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",
        )
        .expect("schema");
    let started = Instant::now();
    for i in 0..commits {
        connection.execute("INSERT INTO t (k, v) VALUES (?1, 'order')", [i as i64]).expect("insert");
    }
    commits as f64 / started.elapsed().as_secs_f64()
}

fn host(dir: &Path) -> Host {
    let mut config = HostConfig::with_data_dir(dir);
    config.engine.max_live_programs = 8;
    // The provider simulator confirms at once: the figure is the host's, not a
    // simulated network's.
    miniapp_providers::SimulatorSettings::update(&mut config, |s| s.notification_delay_scale = 0.0).expect("settings");
    miniapp_providers::install(Host::builder(config)).build().expect("host")
}

/// Payments per second: the pay-demo sample's tap makes one `payment.request`,
/// the sheet is answered, the WeChat Pay simulator signs and encrypts its
/// notification, the host verifies it and settles the order, all committed.
pub async fn payments_per_second(dir: &Path, payments: usize) -> f64 {
    let host = host(dir);
    let app = host.load_app(work::here().join("../sample-programs/pay-demo")).await.expect("load pay-demo");
    let user = ScriptedUser::new(std::iter::repeat_n(Answer::Pick(1), payments + 1));
    let mut session = app.start_with_user(user).await.expect("start");
    session.launch(&work::launch()).await.expect("launch");
    let buy = Event::Tap { action: "buy".into(), payload: serde_json::Value::Null };
    let started = Instant::now();
    for _ in 0..payments {
        session.event(&buy).await.expect("pay");
    }
    let rate = payments as f64 / started.elapsed().as_secs_f64();
    let paid = session.take_output().stdout_text().matches("paid PAYDEMO").count();
    assert_eq!(paid, payments + 1, "every payment must be paid");
    rate
}

/// Link decisions per second: a tap opens an https link; the host parses it, runs
/// the safety checks and the surface's policy, asks the (scripted) user where the
/// rule says so, and commits the decision to the audit log.
pub async fn link_decisions_per_second(dir: &Path, decisions: usize) -> f64 {
    let host = host(dir);
    let app = host.load_app(work::miniapp_app_dir()).await.expect("load");
    let user = ScriptedUser::new(std::iter::repeat_n(Answer::Yes, decisions));
    let mut session = app.start_with_user(user).await.expect("start");
    session.launch(&work::launch()).await.expect("launch");
    let started = Instant::now();
    for n in 0..decisions {
        let url = format!("https://taobao.com/item/{n}?spm=deals.{n}");
        let open = Event::Tap { action: "open".into(), payload: serde_json::json!({ "url": url }) };
        session.event(&open).await.expect("open");
    }
    let rate = decisions as f64 / started.elapsed().as_secs_f64();
    let audited = host.audit().count("link", "open").await.expect("audit");
    assert!(audited >= decisions as u64, "every decision is audited ({audited} of {decisions})");
    rate
}
