//! Refunds and closing orders through a real guest, on both backends: every
//! refund scenario of the WeChat Pay simulator, Alipay's synchronous refunds,
//! idempotency, the providers' rules (over the remaining amount, a minute apart,
//! the 51st refund, the 365-day window) played on the host's clock, and closing
//! unpaid orders (WeChat Pay's five minutes; a closed order is never paid).

use crate::common::{self, probe_op};
use common::Backend;
use miniapp_host::capabilities::payment::PaymentSettings;
use miniapp_host::capabilities::payment::ledger::refunds::RefundState;
use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::{Host, HostConfig, Session};
use miniapp_providers::{RefundScenario, Scenario, SimulatorSettings};
use serde_json::{Value, json};
use std::time::Duration;

common::on_each_backend!(
    a_refund_settles_once_by_notification_with_a_receipt,
    each_refund_scenario_settles_as_the_provider_says,
    the_refund_rules_hold_on_the_hosts_clock,
    alipay_refunds_at_once_and_a_repeat_changes_no_funds,
    closing_an_unpaid_order_follows_the_providers_rule
);

const MERCHANT: &str = "1900000109";

fn refund_host(backend: &Backend, data: &tempfile::TempDir, configure: impl FnOnce(&mut HostConfig)) -> Host {
    common::host_on(backend, data, |config| {
        SimulatorSettings::update(config, |s| {
            s.notification_delay_scale = 0.0001;
            s.refund_settle_seconds = 60;
        })
        .unwrap();
        config.update_section("payment", |p: &mut PaymentSettings| p.confirm_wait_ms = 2_000).unwrap();
        configure(config);
    })
}

async fn payer(host: &Host, answers: Vec<Answer>) -> Session {
    let app = common::probe(host, "test.shop", "").await;
    let mut session = app.start_with_user(ScriptedUser::new(answers)).await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();
    session
}

async fn pay(session: &mut Session, trade_no: &str, amount: i64) -> Value {
    let order = json!({"merchant_id": MERCHANT, "out_trade_no": trade_no, "amount": amount, "description": "Tea set"});
    common::probe_tap(session, "pay", order).await
}

async fn refund(session: &mut Session, trade_no: &str, refund_no: &str, amount: i64) -> Value {
    let request =
        json!({"merchant_id": MERCHANT, "out_trade_no": trade_no, "out_refund_no": refund_no, "amount": amount});
    probe_op(session, "pay_refund", request).await
}

async fn query(session: &mut Session, trade_no: &str) -> Value {
    probe_op(session, "pay_query", json!({"merchant_id": MERCHANT, "out_trade_no": trade_no})).await
}

/// Moves the host's clock past the simulator's settling time (60 s) and waits
/// for the refund's notification, delivered in the background, to settle it;
/// the bound only keeps a broken build from hanging.
async fn settled(host: &Host, refund_no: &str) -> RefundState {
    host.clock().advance(Duration::from_secs(61));
    for _ in 0..6_000 {
        let refund = host.payment_ledger().refund(MERCHANT, refund_no).await.unwrap().expect("the refund is recorded");
        if refund.state.is_settled() {
            return refund.state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("refund {refund_no} never settled");
}

/// The order's recorded notifications once `done` holds for them (they are
/// delivered in the background); the bound only keeps a broken build from hanging.
async fn notices_until(
    host: &Host,
    trade_no: &str,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    for _ in 0..6_000 {
        let notices = host.payment_ledger().notifications(MERCHANT, trade_no).await.unwrap();
        if done(&notices) {
            return notices;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    host.payment_ledger().notifications(MERCHANT, trade_no).await.unwrap()
}

async fn a_refund_settles_once_by_notification_with_a_receipt(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = refund_host(&backend, &data, |_| {});
    let mut session = payer(&host, vec![Answer::Pick(1)]).await;
    assert_eq!(pay(&mut session, "T-refund-01", 2990).await["ok"]["status"], "paid");

    let first = refund(&mut session, "T-refund-01", "R-01", 990).await;
    assert_eq!(first["ok"]["status"], "processing", "{first}");
    assert_eq!(settled(&host, "R-01").await, RefundState::Success);
    // The same request again: the same refund, nothing more returned.
    let again = refund(&mut session, "T-refund-01", "R-01", 990).await;
    assert_eq!(again["ok"]["status"], "success", "{again}");
    let receipt = again["ok"]["receipt"].as_str().expect("a refund receipt");
    match host.payment_receipts().verify_any(receipt).unwrap() {
        miniapp_host::capabilities::payment::receipt::Receipt::Refund(payload) => {
            assert_eq!((payload.amount, payload.out_refund_no.as_str()), (990, "R-01"));
        }
        other => panic!("{other:?}"),
    }
    let changed = refund(&mut session, "T-refund-01", "R-01", 991).await;
    assert_eq!(changed["error"]["code"], "idempotency_conflict", "{changed}");

    // Over what is left: refused naming both amounts, nothing recorded.
    let over = refund(&mut session, "T-refund-01", "R-02", 2001).await;
    assert_eq!(over["error"]["code"], "invalid_argument", "{over}");
    let message = over["error"]["message"].as_str().unwrap();
    assert!(message.contains("¥20.01") && message.contains("¥20.00 left"), "{message}");
    assert!(host.payment_ledger().refund(MERCHANT, "R-02").await.unwrap().is_none());
    for (trade_no, code) in [("T-nobody-01", "not_found")] {
        assert_eq!(refund(&mut session, trade_no, "R-03", 1).await["error"]["code"], code);
    }
    for bad in [json!({"amount": 0}), json!({"amount": 1.5}), json!({"out_refund_no": "has space"})] {
        let mut request =
            json!({"merchant_id": MERCHANT, "out_trade_no": "T-refund-01", "out_refund_no": "R-04", "amount": 1});
        for (key, value) in bad.as_object().unwrap() {
            request[key] = value.clone();
        }
        let refused = probe_op(&mut session, "pay_refund", request).await;
        assert_eq!(refused["error"]["code"], "invalid_argument", "{bad}: {refused}");
    }

    let order = query(&mut session, "T-refund-01").await;
    assert_eq!(order["ok"]["paid_amount"], 2990);
    assert_eq!(order["ok"]["refunded_amount"], 990);
    assert_eq!(order["ok"]["refundable_amount"], 2000);
    assert_eq!(order["ok"]["refunds"].as_array().unwrap().len(), 1);
    // Settled once, by the notification or by the host asking the provider
    // (reconciliation runs on the same clock): never two acceptances.
    let notifications =
        notices_until(&host, "T-refund-01", |n| n.iter().any(|(_, _, d)| d.starts_with("refund R-01"))).await;
    let refund_notices: Vec<&(String, String, String)> =
        notifications.iter().filter(|(_, _, detail)| detail.starts_with("refund R-01")).collect();
    assert!(!refund_notices.is_empty(), "{notifications:?}");
    assert!(refund_notices.iter().filter(|(_, outcome, _)| outcome == "accepted").count() <= 1, "{notifications:?}");
}

async fn each_refund_scenario_settles_as_the_provider_says(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let scenarios = [
        ("R-success", RefundScenario::Success, RefundState::Success),
        ("R-abnormal", RefundScenario::Abnormal, RefundState::Abnormal),
        ("R-closed", RefundScenario::Closed, RefundState::Closed),
        ("R-duplicate", RefundScenario::DuplicateNotifications, RefundState::Success),
        ("R-late", RefundScenario::OutOfOrder, RefundState::Success),
        ("R-forged", RefundScenario::ForgedNotification, RefundState::Success),
    ];
    let host = refund_host(&backend, &data, |config| {
        config
            .update_section("wechat_pay", |s: &mut SimulatorSettings| {
                for (refund_no, scenario, _) in scenarios {
                    s.refund_scenarios.insert(refund_no.to_string(), scenario);
                }
            })
            .unwrap();
    });
    let mut session = payer(&host, vec![Answer::Pick(1); scenarios.len()]).await;
    for (n, (refund_no, scenario, expected)) in scenarios.into_iter().enumerate() {
        let trade_no = format!("T-scenario-{n:02}");
        assert_eq!(pay(&mut session, &trade_no, 1000).await["ok"]["status"], "paid");
        let asked = refund(&mut session, &trade_no, refund_no, 1000).await;
        assert_eq!(asked["ok"]["status"], "processing", "{scenario}: {asked}");
        assert_eq!(settled(&host, refund_no).await, expected, "{scenario}");
        // Whatever arrives after, the refund settled once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refund = host.payment_ledger().refund(MERCHANT, refund_no).await.unwrap().unwrap();
        assert_eq!(refund.state, expected, "{scenario}: a late notification changed a settled refund");
        let events = host.payment_ledger().refund_events(MERCHANT, refund_no).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.to_state == expected.as_str()).count(), 1, "{scenario}: {events:?}");
        let order = query(&mut session, &trade_no).await;
        let held = if expected == RefundState::Closed { 1000 } else { 0 };
        assert_eq!(order["ok"]["refundable_amount"], held, "{scenario}: a closed refund frees its amount");
        // The refund may settle by the provider's notification or by the host
        // asking it (reconciliation runs on the same clock); either way the
        // genuine notification is handled, and a forged one refused.
        let forged = scenario == RefundScenario::ForgedNotification;
        let notices = notices_until(&host, &trade_no, |notices| {
            let genuine = notices.iter().any(|(_, outcome, d)| d.starts_with("refund") && outcome != "rejected");
            let refused = notices.iter().any(|(_, outcome, d)| outcome == "rejected" && d.contains("forged"));
            genuine && refused == forged
        })
        .await;
        let rejected = notices.iter().filter(|(_, outcome, d)| outcome == "rejected" && d.contains("forged")).count();
        assert_eq!(rejected, usize::from(forged), "{scenario}: {notices:?}");
    }
    let settlements = host.payment_ledger().refund_settlements().await.unwrap();
    assert!(settlements.iter().all(|(_, _, count)| *count == 1), "{settlements:?}");
}

async fn the_refund_rules_hold_on_the_hosts_clock(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = refund_host(&backend, &data, |_| {});
    let mut session = payer(&host, vec![Answer::Pick(1), Answer::Pick(1)]).await;
    assert_eq!(pay(&mut session, "T-rules-01", 100).await["ok"]["status"], "paid");
    let minute = Duration::from_secs(61);
    for n in 1..=50 {
        let answer = refund(&mut session, "T-rules-01", &format!("R-part-{n:02}"), 1).await;
        assert_eq!(answer["ok"]["status"], "processing", "refund {n}: {answer}");
        // A second refund at once is refused by WeChat Pay's minute.
        if n == 1 {
            let soon = refund(&mut session, "T-rules-01", "R-soon", 1).await;
            assert_eq!(soon["error"]["code"], "limit_exceeded", "{soon}");
            assert!(soon["error"]["message"].as_str().unwrap().contains("FREQUENCY_LIMITED"), "{soon}");
        }
        host.clock().advance(minute);
    }
    let fifty_first = refund(&mut session, "T-rules-01", "R-part-51", 1).await;
    assert_eq!(fifty_first["error"]["code"], "limit_exceeded", "{fifty_first}");
    assert!(fifty_first["error"]["message"].as_str().unwrap().contains("at most 50"), "{fifty_first}");

    // A year and a day after payment, WeChat Pay refunds nothing.
    assert_eq!(pay(&mut session, "T-rules-02", 100).await["ok"]["status"], "paid");
    host.clock().advance(Duration::from_secs(366 * 86_400));
    let late = refund(&mut session, "T-rules-02", "R-late-01", 1).await;
    assert_eq!(late["error"]["code"], "invalid_argument", "{late}");
    assert!(late["error"]["message"].as_str().unwrap().contains("365 days"), "{late}");
    let check = host.payment_ledger().refund_totals().await.unwrap();
    assert!(check.iter().all(|t| t.held <= t.paid), "{check:?}");
}

async fn alipay_refunds_at_once_and_a_repeat_changes_no_funds(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = refund_host(&backend, &data, |_| {});
    let mut session = payer(&host, vec![Answer::Pick(2)]).await;
    assert_eq!(pay(&mut session, "T-alipay-01", 1999).await["ok"]["method"], "alipay");
    let first = refund(&mut session, "T-alipay-01", "R-ali-01", 999).await;
    assert_eq!(first["ok"]["status"], "success", "{first}");
    let second = refund(&mut session, "T-alipay-01", "R-ali-02", 1000).await;
    assert_eq!(second["ok"]["status"], "success", "Alipay has no minute between refunds: {second}");
    let over = refund(&mut session, "T-alipay-01", "R-ali-03", 1).await;
    assert_eq!(over["error"]["code"], "invalid_argument", "{over}");
    let order = query(&mut session, "T-alipay-01").await;
    assert_eq!(
        (order["ok"]["refunded_amount"].as_i64(), order["ok"]["refundable_amount"].as_i64()),
        (Some(1999), Some(0))
    );
}

async fn closing_an_unpaid_order_follows_the_providers_rule(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = refund_host(&backend, &data, |config| {
        SimulatorSettings::update(config, |s| {
            s.order_scenarios.insert("T-close-02".into(), Scenario::InsufficientFunds);
        })
        .unwrap();
    });
    let mut session = payer(&host, vec![Answer::No, Answer::Pick(1), Answer::Pick(1)]).await;
    let close = async |session: &mut Session, trade_no: &str| {
        probe_op(session, "pay_close", json!({"merchant_id": MERCHANT, "out_trade_no": trade_no})).await
    };
    // Cancelled on the sheet: no provider has it; closed at once, and never paid.
    assert_eq!(pay(&mut session, "T-close-01", 500).await["ok"]["status"], "cancelled");
    assert_eq!(close(&mut session, "T-close-01").await["ok"]["status"], "closed");
    let again = pay(&mut session, "T-close-01", 500).await;
    assert_eq!(again["ok"]["status"], "closed", "a closed order starts no new attempt: {again}");

    // Failed at WeChat Pay: it has the order, and refuses to close it within 5 minutes.
    assert_eq!(pay(&mut session, "T-close-02", 500).await["ok"]["status"], "failed");
    let early = close(&mut session, "T-close-02").await;
    assert_eq!(early["error"]["code"], "limit_exceeded", "{early}");
    host.clock().advance(Duration::from_secs(5 * 60));
    assert_eq!(close(&mut session, "T-close-02").await["ok"]["status"], "closed");

    // A paid order is never closed: the answer says it is paid.
    assert_eq!(pay(&mut session, "T-close-03", 500).await["ok"]["status"], "paid");
    assert_eq!(close(&mut session, "T-close-03").await["ok"]["status"], "paid");
    assert_eq!(close(&mut session, "T-nobody-02").await["error"]["code"], "not_found");
    let refused = refund(&mut session, "T-close-01", "R-closed-01", 1).await;
    assert_eq!(refused["error"]["code"], "invalid_argument", "a closed order has nothing to refund: {refused}");
}
