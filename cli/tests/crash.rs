//! Crash safety of the payment ledger: the real `miniapp` binary pays a stream of
//! orders and is killed with SIGKILL at many points; each restart must find a sound
//! database, no order paid twice, every order the program saw as paid recorded as
//! paid, and nothing left unfinished.
//!
//! It runs on each database: the embedded SQLite file, and a PostgreSQL server
//! (when `MINIAPP_TEST_POSTGRES_URL` names one; `tests/with-postgres` starts one).
//! The short version runs in the test suite. The long version:
//! `MINIAPP_CRASH_ROUNDS=200 cargo test -p miniapp-cli --test crash -- --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

use miniapp_host::testing::TestBackend;

fn miniapp(backend: &TestBackend, data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_miniapp"));
    command.current_dir(repo()).arg("--data-dir").arg(data);
    if let TestBackend::Postgres(settings) = backend {
        command.arg("--database").arg(settings.url.as_deref().unwrap_or_default());
    }
    command
}

fn json(backend: &TestBackend, data: &Path, args: &[&str]) -> serde_json::Value {
    let output = miniapp(backend, data).args(args).output().unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn killing_the_host_mid_payment_loses_and_doubles_nothing_on_sqlite() {
    killing_the_host_mid_payment_loses_and_doubles_nothing(&TestBackend::Sqlite);
}

#[test]
fn killing_the_host_mid_payment_loses_and_doubles_nothing_on_postgres() {
    if let Some(backend) = TestBackend::postgres() {
        killing_the_host_mid_payment_loses_and_doubles_nothing(&backend);
    }
}

fn killing_the_host_mid_payment_loses_and_doubles_nothing(backend: &TestBackend) {
    let rounds: u64 = std::env::var("MINIAPP_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(6);
    let data = tempfile::tempdir().unwrap();
    // Build the sample and make the host's keys once, so the rounds time payments.
    let first =
        miniapp(backend, data.path()).args(["run", "sample-programs/pay-demo", "--answer", "1"]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    let mut seen_paid = Vec::new();
    for round in 0..rounds {
        let mut args = vec!["run".to_string(), "sample-programs/pay-demo".into(), "--no-build".into()];
        for _ in 0..20 {
            args.extend(["--event".into(), r#"{"type":"tap","action":"buy"}"#.into(), "--answer".into(), "1".into()]);
        }
        args.extend(["--answer".into(), "1".into()]);
        let child =
            miniapp(backend, data.path()).args(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        // Spread the kills over start-up, the sheet, the provider and the ledger.
        std::thread::sleep(Duration::from_millis(40 + (round * 137) % 900));
        let mut child = child;
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        seen_paid.extend(stdout.lines().filter_map(|l| l.split("paid ").nth(1)?.split(' ').next().map(str::to_string)));

        // The restart: opening the host reconciles, then the checks.
        let check = json(backend, data.path(), &["ledger", "check", "--json"]);
        assert_eq!(check["integrity"], "ok", "round {round}: {check}");
        assert_eq!(check["problems"], serde_json::json!([]), "round {round}: {check}");
    }
    let orders = json(backend, data.path(), &["ledger", "list", "--json"]);
    let paid: Vec<&str> = orders
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "paid")
        .filter_map(|o| o["out_trade_no"].as_str())
        .collect();
    for order in &seen_paid {
        assert!(paid.contains(&order.as_str()), "the program saw {order} paid, the ledger does not");
    }
    eprintln!(
        "{}: {rounds} kills; {} orders, {} paid, {} seen paid by the program",
        backend.name(),
        orders.as_array().unwrap().len(),
        paid.len(),
        seen_paid.len()
    );
}

#[test]
fn killing_the_host_mid_refund_refunds_nothing_twice_and_loses_nothing_on_sqlite() {
    killing_the_host_mid_refund(|| Some(TestBackend::Sqlite));
}

#[test]
fn killing_the_host_mid_refund_refunds_nothing_twice_and_loses_nothing_on_postgres() {
    if TestBackend::postgres().is_some() {
        killing_the_host_mid_refund(TestBackend::postgres);
    }
}

/// The storefront's demo — a payment, a refund of one item, a refusal, the rest
/// refunded — killed at points spread over its run, each round on a fresh
/// database (`fresh` makes one); the restart (`ledger check` reconciles first)
/// must find Σ refunds ≤ paid, each refund settled at most once, and no refund
/// left half-asked: each one the provider was asked for is known to it.
fn killing_the_host_mid_refund(fresh: impl Fn() -> Option<TestBackend>) {
    let rounds: u64 = std::env::var("MINIAPP_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(6);
    let script = repo().join("sample-programs/taobao-deals/demo.script");
    let script = script.to_str().unwrap();
    // Build the storefront once, and time a whole run to spread the kills over it.
    let first = tempfile::tempdir().unwrap();
    let backend = fresh().unwrap();
    let started = std::time::Instant::now();
    let whole = miniapp(&backend, first.path())
        .args(["run", "sample-programs/taobao-deals", "--script", script])
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let span = started.elapsed().as_millis().max(200) as u64;
    let mut refunded = 0;
    for round in 0..rounds {
        let data = tempfile::tempdir().unwrap();
        let backend = fresh().unwrap();
        let mut child = miniapp(&backend, data.path())
            .args(["run", "sample-programs/taobao-deals", "--no-build", "--script", script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // From the start of the session to its end: the refunds come late in it.
        std::thread::sleep(Duration::from_millis(span / 2 + (round * 389) % (span / 2 + span / 4)));
        let _ = child.kill();
        let _ = child.wait();

        let check = json(&backend, data.path(), &["ledger", "check", "--json"]);
        assert_eq!(check["integrity"], "ok", "round {round}: {check}");
        assert_eq!(check["problems"], serde_json::json!([]), "round {round}: {check}");
        let orders = json(&backend, data.path(), &["ledger", "list", "--json"]);
        for order in orders.as_array().unwrap() {
            let no = order["out_trade_no"].as_str().unwrap();
            let shown = json(&backend, data.path(), &["ledger", "show", no, "--json"]);
            for refund in shown["refunds"].as_array().unwrap() {
                let state = refund["refund"]["state"].as_str().unwrap();
                assert_ne!(state, "created", "round {round}: a refund was left unasked after the restart: {refund}");
                let settled = refund["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| ["success", "abnormal", "closed"].contains(&e["to_state"].as_str().unwrap()))
                    .count();
                assert!(settled <= 1, "round {round}: settled {settled} times: {refund}");
                refunded += usize::from(state == "success");
            }
        }
    }
    eprintln!("{rounds} kills mid-session; {refunded} refunds settled after the restarts");
}
