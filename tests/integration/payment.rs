//! Payments through a real guest: the payment sheet, validation, idempotency and
//! retries, every provider scenario on both providers, notification handling and
//! receipts.

use crate::common::{self, probe_op};
use common::Backend;
use miniapp_host::capabilities::payment::PaymentSettings;
use miniapp_host::consent::{Answer, Prompt, ScriptedUser};
use miniapp_host::{App, Host, HostConfig, Session};
use miniapp_providers::{Scenario, SimulatorSettings};
use serde_json::{Value, json};
use std::sync::Arc;

common::on_each_backend!(
    paying_with_each_method_shows_the_sheet_and_records_a_receipt,
    a_repeat_charges_nothing_and_returns_the_same_receipt,
    a_retry_after_a_cancel_or_a_failure_can_succeed,
    invalid_orders_are_refused_with_the_field_named,
    every_scenario_on_both_providers_settles_once,
    nobody_at_the_sheet_cancels
);

fn payment_host(backend: &Backend, data: &tempfile::TempDir, configure: impl FnOnce(&mut HostConfig)) -> Host {
    common::host_on(backend, data, |config| {
        SimulatorSettings::update(config, |s| s.notification_delay_scale = 0.0001).unwrap();
        config.update_section("payment", |p: &mut PaymentSettings| p.confirm_wait_ms = 2_000).unwrap();
        configure(config);
    })
}

async fn payer(host: &Host, answers: Vec<Answer>) -> (Session, Arc<ScriptedUser>, App) {
    let app = common::probe(host, "test.shop", "").await;
    let user = ScriptedUser::new(answers);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();
    (session, user, app)
}

fn order(trade_no: &str, amount: i64) -> Value {
    json!({"merchant_id": "1900000109", "out_trade_no": trade_no, "amount": amount, "description": "Tea set, 2 pieces"})
}

async fn pay(session: &mut Session, order: Value) -> Value {
    common::probe_tap(session, "pay", order).await
}

async fn paying_with_each_method_shows_the_sheet_and_records_a_receipt(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = payment_host(&backend, &data, |_| {});
    let (mut session, user, _) = payer(&host, vec![Answer::Pick(1), Answer::Pick(2)]).await;
    for (trade_no, method) in [("T-wechat-0001", "wechat_pay"), ("T-alipay-0001", "alipay")] {
        let reply = pay(&mut session, order(trade_no, 2990)).await;
        let result = &reply["ok"];
        assert_eq!(result["status"], "paid", "{reply}");
        assert_eq!(result["method"], method);
        assert_eq!(result["amount"], 2990);
        assert!(result["transaction_id"].as_str().unwrap().len() >= 20);
        let receipt = result["receipt"].as_str().unwrap();
        let payload = host.payment_receipts().verify(receipt).unwrap();
        assert_eq!((payload.out_trade_no.as_str(), payload.amount, payload.method.as_str()), (trade_no, 2990, method));
    }
    match &user.prompts()[0] {
        Prompt::Payment { payee, amount, description, methods, merchant_id, .. } => {
            assert_eq!(payee, "淘宝特价 Taobao Deals");
            assert_eq!(merchant_id, "1900000109");
            assert_eq!(amount, "¥29.90");
            assert_eq!(description, "Tea set, 2 pieces");
            assert_eq!(methods, &["WeChat Pay", "Alipay"]);
        }
        other => panic!("{other:?}"),
    }
    let ledger = host.payment_ledger();
    let events: Vec<String> =
        ledger.events("1900000109", "T-wechat-0001").await.unwrap().into_iter().map(|e| e.to_state).collect();
    assert_eq!(events, ["created", "awaiting_user", "processing", "paid"]);
}

async fn a_repeat_charges_nothing_and_returns_the_same_receipt(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = payment_host(&backend, &data, |_| {});
    let (mut session, user, _) = payer(&host, vec![Answer::Pick(1)]).await;
    let first = pay(&mut session, order("T-repeat-01", 1999)).await;
    let again = pay(&mut session, order("T-repeat-01", 1999)).await;
    assert_eq!(first["ok"], again["ok"], "same outcome, same receipt bytes");
    assert_eq!(user.prompts().len(), 1, "no second sheet, no second charge");
    let conflict = pay(&mut session, order("T-repeat-01", 2999)).await;
    assert_eq!(conflict["error"]["code"], "idempotency_conflict", "{conflict}");
    let queried =
        probe_op(&mut session, "pay_query", json!({"merchant_id": "1900000109", "out_trade_no": "T-repeat-01"})).await;
    // The query reports the whole order: the payment result's fields, and more.
    for field in ["status", "out_trade_no", "amount", "transaction_id", "receipt", "attempt"] {
        assert_eq!(queried["ok"][field], first["ok"][field], "{field}");
    }
    assert_eq!(queried["ok"]["paid_amount"], 1999);
    assert_eq!(queried["ok"]["attempts"], json!([{"attempt": 1, "status": "paid", "method": "wechat_pay"}]));
}

async fn a_retry_after_a_cancel_or_a_failure_can_succeed(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = payment_host(&backend, &data, |c| {
        SimulatorSettings::update(c, |s| {
            s.order_scenarios.insert("T-retry-02".into(), Scenario::InsufficientFunds);
        })
        .unwrap();
    });
    let (mut session, _, _) = payer(&host, vec![Answer::No, Answer::Pick(1), Answer::Pick(1)]).await;
    let cancelled = pay(&mut session, order("T-retry-01", 500)).await;
    assert_eq!(cancelled["ok"]["status"], "cancelled", "{cancelled}");
    let retried = pay(&mut session, order("T-retry-01", 500)).await;
    assert_eq!(retried["ok"]["status"], "paid", "{retried}");
    assert_eq!(retried["ok"]["attempt"], 2);
    let failed = pay(&mut session, order("T-retry-02", 500)).await;
    assert_eq!(
        (failed["ok"]["status"].as_str(), failed["ok"]["reason"].as_str()),
        (Some("failed"), Some("insufficient_funds"))
    );
}

async fn invalid_orders_are_refused_with_the_field_named(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = payment_host(&backend, &data, |_| {});
    let (mut session, user, _) = payer(&host, vec![]).await;
    let cases = [
        (
            json!({"merchant_id": "1900000109", "out_trade_no": "T-bad-0001", "amount": 0, "description": "x"}),
            "invalid_argument",
            "amount",
        ),
        (
            json!({"merchant_id": "1900000109", "out_trade_no": "T-bad-0001", "amount": 2000000, "description": "x"}),
            "invalid_argument",
            "exceeds the limit",
        ),
        (
            json!({"merchant_id": "1900000109", "out_trade_no": "bad", "amount": 100, "description": "x"}),
            "invalid_argument",
            "out_trade_no",
        ),
        (
            json!({"merchant_id": "1900000109", "out_trade_no": "T-bad-0001", "amount": 100, "description": "x".repeat(200)}),
            "invalid_argument",
            "description",
        ),
        (
            json!({"merchant_id": "1900000109", "out_trade_no": "T-bad-0001", "amount": 100, "currency": "XYZ", "description": "x"}),
            "invalid_argument",
            "currency",
        ),
        (
            json!({"merchant_id": "1234567890", "out_trade_no": "T-bad-0001", "amount": 100, "description": "x"}),
            "capability_denied",
            "not declared",
        ),
    ];
    for (request, code, needle) in cases {
        let reply = pay(&mut session, request.clone()).await;
        assert_eq!(reply["error"]["code"], code, "{request}: {reply}");
        assert!(reply["error"]["message"].as_str().unwrap().contains(needle), "{request}: {reply}");
    }
    assert!(user.prompts().is_empty(), "nothing invalid reaches the user");
    let denied = host.audit().recent(Some("test.shop"), 20).await.unwrap();
    assert!(
        denied
            .iter()
            .any(|d| d.capability == "payment" && d.outcome.as_str() == "denied" && d.reason.contains("1234567890"))
    );
}

async fn every_scenario_on_both_providers_settles_once(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let scenarios = [
        (Scenario::Success, "paid", None),
        (Scenario::UserCancel, "cancelled", None),
        (Scenario::InsufficientFunds, "failed", Some("insufficient_funds")),
        (Scenario::TimeoutThenSuccess, "paid", None),
        (Scenario::DuplicateNotifications, "paid", None),
        (Scenario::OutOfOrder, "paid", None),
        (Scenario::ForgedNotification, "paid", None),
        (Scenario::StaleNotification, "paid", None),
        (Scenario::AmountMismatch, "failed", Some("amount_mismatch")),
    ];
    let host = payment_host(&backend, &data, |c| {
        SimulatorSettings::update(c, |s| {
            for (i, (scenario, _, _)) in scenarios.iter().enumerate() {
                for method in 1..=2 {
                    s.order_scenarios.insert(format!("T-s{i}-m{method}"), *scenario);
                }
            }
        })
        .unwrap();
    });
    let answers = (0..scenarios.len()).flat_map(|_| [Answer::Pick(1), Answer::Pick(2)]).collect();
    let (mut session, _, _) = payer(&host, answers).await;
    let ledger = host.payment_ledger();
    for (i, (scenario, status, reason)) in scenarios.iter().enumerate() {
        for method in 1..=2 {
            let trade_no = format!("T-s{i}-m{method}");
            let reply = pay(&mut session, order(&trade_no, 1234)).await;
            assert_eq!(reply["ok"]["status"], *status, "{scenario:?} method {method}: {reply}");
            assert_eq!(reply["ok"]["reason"].as_str(), *reason, "{scenario:?} method {method}");
            let paid_events = ledger
                .events("1900000109", &trade_no)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.to_state == "paid")
                .count();
            assert!(paid_events <= 1, "{scenario:?}: paid {paid_events} times");
        }
    }
    // Let late deliveries land, then check what was recorded.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let outcomes = async |i: usize, method: usize| -> Vec<String> {
        ledger
            .notifications("1900000109", &format!("T-s{i}-m{method}"))
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.1)
            .collect()
    };
    for method in 1..=2 {
        let duplicates = outcomes(4, method).await;
        assert_eq!(duplicates.iter().filter(|o| *o == "accepted").count(), 1, "{duplicates:?}");
        assert_eq!(duplicates.iter().filter(|o| *o == "duplicate").count(), 14, "{duplicates:?}");
        assert!(
            outcomes(6, method).await.first().is_some_and(|o| o == "rejected"),
            "forged first: {:?}",
            outcomes(6, method).await
        );
        assert!(
            outcomes(7, method).await.first().is_some_and(|o| o == "rejected"),
            "stale first: {:?}",
            outcomes(7, method).await
        );
        assert!(
            outcomes(5, method).await.contains(&"ignored".to_string()),
            "out of order: {:?}",
            outcomes(5, method).await
        );
        assert!(outcomes(8, method).await.contains(&"rejected".to_string()));
    }
}

async fn nobody_at_the_sheet_cancels(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = payment_host(&backend, &data, |_| {});
    let (mut session, _, _) = payer(&host, vec![]).await;
    let reply = pay(&mut session, order("T-nobody-1", 100)).await;
    assert_eq!(reply["ok"]["status"], "cancelled");
    let events = host.payment_ledger().events("1900000109", "T-nobody-1").await.unwrap();
    assert_eq!(events.last().unwrap().cause, "nobody answered the payment sheet");
}
