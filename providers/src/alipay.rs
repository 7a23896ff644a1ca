//! Alipay style: amounts as yuan decimal strings (`"19.99"`, converted exactly);
//! the client's result codes 9000 (paid), 8000 (processing), 4000 (failed), 6001
//! (cancelled), 6002 (network error), 6004 (unknown); asynchronous notifications
//! as form parameters signed RSA2 (SHA256withRSA over the sorted `key=value`
//! pairs, `sign` and `sign_type` left out), delivered up to 8 times over 25 hours
//! (then 4 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h apart) until the merchant answers
//! `success`.
//!
//! Refunds (`alipay.trade.refund`, partial ones keyed by `out_request_no`) are
//! made at once: the answer is `code 10000` with `fund_change: Y`, and `N` to a
//! repeated request (nothing more is returned). Refunds are within 12 months of
//! payment and never more than was paid. Orders close by `alipay.trade.close`
//! at any time.

use crate::book::RefundRules;
use crate::{
    Outbox, RefundEnd, RefundScenario, Route, RsaKeys, Scenario, SimulatedPayment, SimulatorBook, SimulatorSettings,
    Started, random_digits, random_text, send_confirmation,
};
use miniapp_abi::payment::{FailReason, Method};
use miniapp_host::capabilities::payment::money::{fen_to_yuan, yuan_to_fen};
use miniapp_host::capabilities::payment::provider::{
    BoxFuture, ClientOutcome, CloseRefused, Closed, Confirmation, Notification, NotificationHandler, PaymentProvider,
    ProviderContext, ProviderOrder, ProviderPlugin, ProviderRefund, ProviderRefundState, ProviderState, RefundOutcome,
    Verified,
};
use miniapp_host::clock::Clock;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How old a notification may be: Alipay retries for 25 hours.
pub const MAX_NOTIFICATION_AGE_SECONDS: i64 = 25 * 3600;

/// The pauses between the 8 deliveries.
pub fn retry_schedule() -> Vec<Duration> {
    [240, 600, 600, 3600, 7200, 21600, 54000].into_iter().map(Duration::from_secs).collect()
}

/// The refund rules: within 12 months of payment, never more than was paid.
const REFUND_RULES: RefundRules = RefundRules {
    max_refunds: None,
    min_spacing_ms: 0,
    window_ms: 365 * 86_400_000,
    settle_after_ms: 0,
    codes: [
        "ACQ.TRADE_NOT_EXIST",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    ],
};

/// The merchant's side: what the answer to `alipay.trade.refund` says.
/// `fund_change: N` (a repeated request) is the same refund, already made.
pub fn read_refund_response(response: &Value) -> Result<RefundOutcome, String> {
    let reply = &response["alipay_trade_refund_response"];
    let text = |name: &str| reply[name].as_str().ok_or(format!("the refund response lacks {name}"));
    if text("code")? != "10000" {
        let code = match reply["sub_code"].as_str() {
            Some("ACQ.TRADE_NOT_EXIST") => miniapp_abi::ErrorCode::NotFound,
            _ => miniapp_abi::ErrorCode::InvalidArgument,
        };
        return Ok(RefundOutcome::Refused { code, message: format!("{}: {}", text("sub_code")?, text("sub_msg")?) });
    }
    match text("fund_change")? {
        "Y" | "N" => Ok(RefundOutcome::Accepted(ProviderRefundState::Success {
            refund_id: text("trade_no")?.to_string(),
            amount: yuan_to_fen(text("refund_fee")?)?,
        })),
        other => Err(format!("fund_change `{other}` is neither Y nor N")),
    }
}

/// What the client's `resultStatus` means.
pub fn client_outcome(result_status: &str) -> ClientOutcome {
    match result_status {
        "9000" => ClientOutcome::Paid,
        "6001" => ClientOutcome::Cancelled,
        "4000" => ClientOutcome::Failed(FailReason::InsufficientFunds),
        _ => ClientOutcome::Unknown, // 8000, 6002, 6004: ask the server
    }
}

/// The string Alipay signs: sorted `key=value` pairs joined by `&`, without `sign`
/// and `sign_type`, and without empty values.
pub fn signing_string(params: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> =
        params.iter().filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty()).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The form parameters of a notification's body.
pub fn form_params(notification: &Notification) -> Vec<(String, String)> {
    url::form_urlencoded::parse(notification.body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The merchant's side: checks a notification's signature and age, and reads it.
pub fn verify_notification(notification: &Notification, alipay_key: &RsaKeys, now: i64) -> Result<Verified, String> {
    let params = &form_params(notification);
    let get =
        |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).ok_or(format!("missing {name}"));
    if get("sign_type")? != "RSA2" {
        return Err("sign_type must be RSA2".into());
    }
    if !alipay_key.verify(signing_string(params).as_bytes(), &get("sign")?) {
        return Err("forged: the sign does not verify with Alipay's key".into());
    }
    let sent = parse_beijing_time(&get("notify_time")?).ok_or("notify_time is not yyyy-MM-dd HH:mm:ss")?;
    if now - sent > MAX_NOTIFICATION_AGE_SECONDS || sent - now > 300 {
        return Err(format!("stale: notify_time is {}s from now", now - sent));
    }
    let amount = yuan_to_fen(&get("total_amount")?)?;
    let status = get("trade_status")?;
    Ok(Verified::Payment(Confirmation {
        merchant_id: get("seller_id")?,
        out_trade_no: get("out_trade_no")?,
        attempt: get("passback_params").ok().and_then(|p| p.strip_prefix("attempt=").and_then(|n| n.parse().ok())),
        transaction_id: get("trade_no")?,
        paid: status == "TRADE_SUCCESS" || status == "TRADE_FINISHED",
        amount,
    }))
}

/// Alipay's times are Beijing time.
const BEIJING: i64 = 8;

fn parse_beijing_time(text: &str) -> Option<i64> {
    miniapp_host::calendar::parse(text, BEIJING)
}

fn format_beijing_time(unix: i64) -> String {
    miniapp_host::calendar::format(unix, BEIJING)
}

/// The Alipay plug-in: registers `alipay` and starts an [`AlipayState`].
pub struct Alipay {
    switch: crate::ScenarioSwitch,
}

impl Alipay {
    /// The plug-in, following `switch` for the scenario of new orders.
    pub fn new(switch: crate::ScenarioSwitch) -> Alipay {
        Alipay { switch }
    }
}

impl ProviderPlugin for Alipay {
    fn method(&self) -> Method {
        Method::parse(Method::ALIPAY).unwrap_or_else(|| unreachable!("the constant is a method id"))
    }

    fn display_name(&self) -> String {
        "Alipay".to_string()
    }

    fn check_section(&self, section: &toml::Table) -> Result<(), String> {
        let settings = SimulatorSettings::from_section(section)?;
        let scenarios = std::iter::once(settings.refund_scenario).chain(settings.refund_scenarios.values().copied());
        if let Some(other) = scenarios.into_iter().find(|s| *s != RefundScenario::Success) {
            return Err(format!(
                "refund scenario `{other}`: Alipay refunds at once, without notifications; only `success` applies (the others are WeChat Pay's)"
            ));
        }
        Ok(())
    }

    fn start(&self, context: ProviderContext) -> Result<Arc<dyn PaymentProvider>, String> {
        let settings = SimulatorSettings::from_section(&context.section)?;
        let outbox = Outbox::for_settings(&settings, &context.database, Method::ALIPAY, &context.clock)?;
        let state = Arc::new(AlipayState {
            clock: context.clock.clone(),
            method: self.method(),
            outbox,
            settings,
            switch: self.switch.clone(),
            alipay_key: RsaKeys::load_or_create(&context.database, &context.key_dir, "alipay")?,
            handler: context.notifications,
            book: SimulatorBook::open(context.database, Method::ALIPAY).map_err(|e| e.to_string())?,
        });
        if let Some(outbox) = &state.outbox {
            let scale = state.settings.notification_delay_scale;
            outbox.serve(Arc::downgrade(&state), state.handler.clone(), state.method.clone(), retry_schedule(), scale);
        }
        Ok(Arc::new(Started(state)))
    }
}

/// The started Alipay simulator (`Started<AlipayState>` is the provider), shared
/// with the tasks that deliver its notifications.
pub struct AlipayState {
    /// The scenario chosen while the host runs, if any.
    switch: crate::ScenarioSwitch,
    method: Method,
    settings: SimulatorSettings,
    /// Alipay's key: signs notifications; the merchant verifies them.
    alipay_key: RsaKeys,
    handler: Arc<dyn NotificationHandler>,
    book: SimulatorBook,
    /// The shared outbox, when notifications go to any host.
    outbox: Option<Outbox>,
    /// The host's clock: Alipay's time.
    clock: Clock,
}

impl AlipayState {
    /// How its notifications travel: to its merchant's server (or the shared
    /// outbox), paused by `schedule` on the host's clock.
    fn route<'a>(&'a self, schedule: &'a [Duration]) -> Route<'a> {
        Route {
            handler: &self.handler,
            method: &self.method,
            schedule,
            scale: self.settings.notification_delay_scale,
            outbox: self.outbox.as_ref(),
            clock: &self.clock,
        }
    }

    fn notification(
        &self,
        order: &ProviderOrder,
        trade: &SimulatedPayment,
        status: &str,
        age: i64,
        key: &RsaKeys,
    ) -> Notification {
        let mut params: Vec<(String, String)> = [
            ("notify_time", format_beijing_time(self.clock.now_seconds() - age)),
            ("notify_type", "trade_status_sync".to_string()),
            ("notify_id", random_text(32).to_lowercase()),
            ("app_id", "2021000000000000".to_string()),
            ("charset", "utf-8".to_string()),
            ("version", "1.0".to_string()),
            ("trade_no", trade.transaction_id.clone()),
            ("out_trade_no", order.out_trade_no.clone()),
            ("seller_id", order.merchant_id.clone()),
            ("total_amount", fen_to_yuan(trade.amount_charged)),
            ("trade_status", status.to_string()),
            ("passback_params", format!("attempt={}", trade.attempt)),
            ("sign_type", "RSA2".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let sign = key.sign(signing_string(&params).as_bytes());
        params.push(("sign".to_string(), sign));
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
        let headers =
            vec![("Content-Type".to_string(), "application/x-www-form-urlencoded; charset=utf-8".to_string())];
        Notification { headers, body }
    }

    fn confirm(self: &Arc<Self>, order: &ProviderOrder, trade: SimulatedPayment, scenario: Scenario) {
        let simulator = self.clone();
        let order = order.clone();
        tokio::spawn(async move {
            let schedule = retry_schedule();
            let genuine = |age| simulator.notification(&order, &trade, "TRADE_SUCCESS", age, &simulator.alipay_key);
            let forged = |key: &RsaKeys| simulator.notification(&order, &trade, "TRADE_SUCCESS", 0, key);
            let route = simulator.route(&schedule);
            send_confirmation(route, scenario, MAX_NOTIFICATION_AGE_SECONDS * 2, genuine, forged).await;
        });
    }
}

impl PaymentProvider for Started<AlipayState> {
    fn pay<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ClientOutcome, String>> {
        Box::pin(async move {
            let scenario = self.switch.scenario_for(&self.settings, order);
            let charged = if scenario == Scenario::AmountMismatch { order.amount - 1 } else { order.amount };
            let trade = SimulatedPayment {
                attempt: order.attempt,
                amount_charged: charged,
                transaction_id: format!("2026{}", random_digits(24)),
                paid: !matches!(scenario, Scenario::UserCancel | Scenario::InsufficientFunds),
            };
            self.book.record(order, &trade, self.clock.now_ms()).await?;
            let result_status = match scenario {
                Scenario::UserCancel => "6001",
                Scenario::InsufficientFunds => "4000",
                Scenario::TimeoutThenSuccess => "6004",
                _ => "9000",
            };
            if scenario == Scenario::OutOfOrder {
                let key = &self.alipay_key;
                self.handler.handle(&self.method, self.notification(order, &trade, "TRADE_SUCCESS", 0, key)).await;
                self.handler.handle(&self.method, self.notification(order, &trade, "TRADE_CLOSED", 0, key)).await;
            } else if trade.paid {
                self.confirm(order, trade, scenario);
            }
            Ok(client_outcome(result_status))
        })
    }

    fn close<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<Result<Closed, CloseRefused>, String>> {
        Box::pin(async move { self.book.close(order, self.clock.now_ms(), None).await })
    }

    fn refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<RefundOutcome, String>> {
        Box::pin(async move {
            let now = self.clock.now_ms();
            let taken =
                self.book.refund(refund, &REFUND_RULES, now, RefundEnd::Success, refund.transaction_id.clone()).await?;
            // The provider's answer, as `alipay.trade.refund` gives it.
            let reply = match taken {
                (RefundOutcome::Refused { message, .. }, _) => {
                    let (sub_code, sub_msg) = message.split_once(": ").unwrap_or(("ACQ.SYSTEM_ERROR", &message));
                    json!({"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg})
                }
                (RefundOutcome::Accepted(_), new) => json!({
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": refund.transaction_id,
                    "out_trade_no": refund.out_trade_no,
                    "refund_fee": fen_to_yuan(refund.amount),
                    "fund_change": if new.is_some() { "Y" } else { "N" },
                }),
            };
            read_refund_response(&json!({ "alipay_trade_refund_response": reply }))
        })
    }

    fn query_refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<ProviderRefundState, String>> {
        Box::pin(async move { self.book.refund_state(refund, self.clock.now_ms()).await })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>> {
        Box::pin(async move { self.book.state(order).await })
    }

    fn verify(&self, notification: &Notification, now: i64) -> Result<Verified, String> {
        verify_notification(notification, &self.alipay_key, now)
    }

    fn claimed_order(&self, notification: &Notification) -> Option<(String, String)> {
        let params = form_params(notification);
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        Some((get("seller_id")?, get("out_trade_no")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_string_sorts_and_skips_the_signature() {
        let params: Vec<(String, String)> = [("b", "2"), ("sign", "x"), ("a", "1"), ("sign_type", "RSA2"), ("c", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(signing_string(&params), "a=1&b=2");
    }

    #[test]
    fn result_codes() {
        assert_eq!(client_outcome("9000"), ClientOutcome::Paid);
        assert_eq!(client_outcome("6001"), ClientOutcome::Cancelled);
        assert_eq!(client_outcome("4000"), ClientOutcome::Failed(FailReason::InsufficientFunds));
        for unknown in ["8000", "6002", "6004"] {
            assert_eq!(client_outcome(unknown), ClientOutcome::Unknown);
        }
    }
}
