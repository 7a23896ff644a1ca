//! Many hosts, one database: four host processes (`bin/host.rs`, the real host
//! library) on one PostgreSQL server, each running the same programs, so every
//! order is paid from four hosts at once, while the simulators deliver their
//! notifications through the database to whichever host takes them first
//! (`delivery = "any_host"`): fifteen copies of each WeChat Pay confirmation
//! spread over the hosts, and late, forged, stale and out-of-order Alipay
//! ones. One host is killed with SIGKILL mid-payment and started again.
//! Afterwards (and after one reconciliation, as `miniapp ledger check` does):
//! every order exists once and is paid at most once, every payment a program saw
//! as paid is paid, every payment a provider took is that order's paid attempt,
//! the ledger's total matches what the providers took, and no order is left in
//! progress.

use miniapp_host::capabilities::payment::ledger::State;
use miniapp_host::testing::TestBackend;
use miniapp_host::{Host, HostConfig};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const HOSTS: usize = 4;
const PROGRAMS: usize = 60;
const ORDERS: usize = 4;

fn config(url: &str) -> String {
    format!(
        r#"[database]
url = "{url}"

[payment]
# Long enough that payments settle by notification, not by asking the provider.
confirm_wait_ms = 30000

[wechat_pay]
delivery = "any_host"
notification_delay_scale = 0.0005
scenario = "duplicate_notifications"

[alipay]
delivery = "any_host"
notification_delay_scale = 0.0005
scenario = "success"

[alipay.order_scenarios]
"MH-001-01" = "timeout"
"MH-003-02" = "forged_notification"
"MH-005-03" = "out_of_order"
"MH-007-00" = "stale_notification"
"MH-009-01" = "timeout"
"#
    )
}

fn host_process(data: &Path, config: &Path) -> Child {
    let probe = crate::common::repo().join("tests/guests/probe/target/wasm32-wasip1/release/probe.wasm");
    Command::new(env!("CARGO_BIN_EXE_miniapp-test-host"))
        .arg(data)
        .arg(config)
        .arg(probe)
        .args([PROGRAMS.to_string(), ORDERS.to_string()])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test host starts")
}

/// The orders a host's programs saw paid, from its output, and its error output.
fn finish(child: Child) -> (Vec<String>, std::process::ExitStatus, String) {
    let output = child.wait_with_output().expect("the test host ends");
    let paid = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("paid ").map(str::to_string))
        .collect();
    (paid, output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn four_hosts_on_one_postgres_pay_each_order_at_most_once_and_lose_no_payment() {
    let Some(TestBackend::Postgres(settings)) = TestBackend::postgres() else { return };
    let url = settings.url.clone().expect("a test server url");
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&url)).unwrap();
    let data = |host: usize| dir.path().join(format!("host-{host}"));

    let mut hosts: Vec<Child> = (0..HOSTS).map(|host| host_process(&data(host), &config_path)).collect();

    // Kill host 0 with SIGKILL once its programs have seen a few payments through:
    // dozens of its payments are then in every state at once.
    let mut victim = hosts.remove(0);
    let mut seen_paid = Vec::new();
    let stdout = victim.stdout.take().expect("piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("host output");
        if let Some(order) = line.strip_prefix("paid ") {
            seen_paid.push(order.to_string());
        }
        if seen_paid.len() >= 12 {
            break;
        }
    }
    victim.kill().expect("SIGKILL");
    let _ = victim.wait();
    assert!(seen_paid.len() >= 12, "host 0 ended before it was killed: {seen_paid:?}");
    hosts.push(host_process(&data(0), &config_path));

    for host in hosts {
        let (paid, status, stderr) = finish(host);
        assert!(status.success(), "a host failed: {stderr}");
        seen_paid.extend(paid);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut config = HostConfig::from_toml(&config(&url)).unwrap();
        config.data_dir = dir.path().join("checker");
        let host = miniapp_providers::install(Host::builder(config)).build().unwrap();
        host.reconcile_payments().await.unwrap();
        let ledger = host.payment_ledger();
        let orders = ledger.list().await.unwrap();
        assert_eq!(orders.len(), PROGRAMS * ORDERS, "one order per key, however many hosts asked");
        let unfinished: Vec<_> = orders.iter().filter(|o| !o.state.is_final()).map(|o| &o.out_trade_no).collect();
        assert!(unfinished.is_empty(), "orders left in progress: {unfinished:?}");
        // An order need not end paid (the host paying it may die with it, and
        // the others may have passed it by), but money must follow the ledger:
        // checked below against what the providers took.
        let paid_orders = orders.iter().filter(|o| o.state == State::Paid).count();
        for (_, trade_no, count) in ledger.paid_transitions().await.unwrap() {
            assert_eq!(count, 1, "{trade_no} was moved to paid {count} times");
        }
        let paid: BTreeMap<&str, _> =
            orders.iter().filter(|o| o.state == State::Paid).map(|o| (o.out_trade_no.as_str(), o)).collect();
        for order in &seen_paid {
            assert!(paid.contains_key(order.as_str()), "a program saw {order} paid; the ledger does not have it");
        }

        // What the providers took, against what the ledger says was paid.
        let taken = host
            .database()
            .run(|t| {
                t.query(
                    "SELECT out_trade_no, attempt, amount_charged, transaction_id FROM simulator_payments
                     WHERE merchant_id = '1900000109' AND paid = 1",
                    &[],
                )
            })
            .await
            .unwrap();
        let mut provider_total = 0;
        for row in &taken {
            let (trade_no, attempt, amount, transaction) =
                (row.text(0).unwrap(), row.u32(1).unwrap(), row.integer(2).unwrap(), row.text(3).unwrap());
            let order = paid.get(trade_no.as_str()).unwrap_or_else(|| panic!("the provider took {trade_no}, unknown"));
            assert_eq!(order.attempt, attempt, "{trade_no}: the provider took a payment for another attempt");
            assert_eq!(order.transaction_id.as_deref(), Some(transaction.as_str()), "{trade_no}: another payment");
            provider_total += amount;
        }
        let ledger_total: i64 = paid.values().map(|o| o.amount).sum();
        assert_eq!(provider_total, ledger_total, "Σ paid in the ledger equals Σ taken by the providers");

        // Settled across hosts: a notification accepted by another host than the
        // one that started the order.
        let crossed = host
            .database()
            .run(|t| {
                t.query(
                    "SELECT COUNT(*) FROM payment_notifications n JOIN payment_events e
                       ON e.merchant_id = n.merchant_id AND e.out_trade_no = n.out_trade_no AND e.cause = 'requested'
                     WHERE n.outcome = 'accepted' AND n.host <> e.host",
                    &[],
                )
            })
            .await
            .unwrap()[0]
            .integer(0)
            .unwrap();
        assert!(crossed > 0, "some order started on one host was settled by a notification another host received");
        let duplicates = host
            .database()
            .run(|t| t.query("SELECT COUNT(*) FROM payment_notifications WHERE outcome = 'duplicate'", &[]))
            .await
            .unwrap();
        assert!(duplicates[0].integer(0).unwrap() > 0, "copies of notifications reached hosts after the first");
        eprintln!(
            "{HOSTS} hosts, {} orders, {paid_orders} paid once each, {crossed} settled by another host than the one that started them, {} seen paid by programs, {} duplicate notifications",
            orders.len(),
            seen_paid.len(),
            duplicates[0].integer(0).unwrap()
        );
    });
}
