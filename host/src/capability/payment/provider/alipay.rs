//! Alipay style: amounts as yuan decimal strings (`"19.99"`, converted exactly);
//! the client's result codes 9000 (paid), 8000 (processing), 4000 (failed), 6001
//! (cancelled), 6002 (network error), 6004 (unknown); asynchronous notifications
//! as form parameters signed RSA2 (SHA256withRSA over the sorted `key=value`
//! pairs, `sign` and `sign_type` left out), delivered up to 8 times over 25 hours
//! (then 4 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h apart) until the merchant answers
//! `success`.

use super::{
    BoxFuture, ClientOutcome, Notification, PaymentProvider, ProviderOrder, ProviderState, Route, Scenario,
    SimulatedPayment, SimulatorSetup, random_text, send_confirmation, unix_seconds,
};
use crate::capability::payment::keys::RsaKeys;
use crate::capability::payment::money::{fen_to_yuan, yuan_to_fen};
use miniapp_abi::payment::{FailReason, Method};
use std::sync::Arc;
use std::time::Duration;

/// How old a notification may be: Alipay retries for 25 hours.
pub const MAX_NOTIFICATION_AGE_SECONDS: i64 = 25 * 3600;

/// The pauses between the 8 deliveries.
pub fn retry_schedule() -> Vec<Duration> {
    [240, 600, 600, 3600, 7200, 21600, 54000].into_iter().map(Duration::from_secs).collect()
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

/// The merchant's side: checks a notification's signature and age, and reads it.
pub fn verify_notification(
    params: &[(String, String)],
    alipay_key: &RsaKeys,
    now: i64,
) -> Result<super::Confirmation, String> {
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
    Ok(super::Confirmation {
        merchant_id: get("seller_id")?,
        out_trade_no: get("out_trade_no")?,
        attempt: get("passback_params").ok().and_then(|p| p.strip_prefix("attempt=").and_then(|n| n.parse().ok())),
        transaction_id: get("trade_no")?,
        paid: status == "TRADE_SUCCESS" || status == "TRADE_FINISHED",
        amount,
    })
}

/// Alipay's times are Beijing time.
const BEIJING: i64 = 8;

fn parse_beijing_time(text: &str) -> Option<i64> {
    crate::calendar::parse(text, BEIJING)
}

fn format_beijing_time(unix: i64) -> String {
    crate::calendar::format(unix, BEIJING)
}

/// The Alipay simulator.
pub struct AlipaySimulator {
    setup: SimulatorSetup,
}

impl AlipaySimulator {
    /// A simulator with shared keys and settings.
    pub fn new(setup: SimulatorSetup) -> AlipaySimulator {
        AlipaySimulator { setup }
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
            ("notify_time", format_beijing_time(unix_seconds() - age)),
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
        Notification::Alipay { params }
    }

    fn confirm(self: &Arc<Self>, order: &ProviderOrder, trade: SimulatedPayment, scenario: Scenario) {
        let simulator = self.clone();
        let order = order.clone();
        tokio::spawn(async move {
            let handler = simulator.setup.handler.clone();
            let (schedule, scale) = (retry_schedule(), simulator.setup.delay_scale);
            let genuine =
                |age| simulator.notification(&order, &trade, "TRADE_SUCCESS", age, &simulator.setup.alipay_key);
            let forged = |key: &RsaKeys| simulator.notification(&order, &trade, "TRADE_SUCCESS", 0, key);
            send_confirmation(
                Route { handler: &handler, method: Method::Alipay, schedule: &schedule, scale },
                scenario,
                MAX_NOTIFICATION_AGE_SECONDS * 2,
                genuine,
                forged,
            )
            .await;
        });
    }
}

impl PaymentProvider for Arc<AlipaySimulator> {
    fn method(&self) -> Method {
        Method::Alipay
    }

    fn display_name(&self) -> &'static str {
        "Alipay"
    }

    fn pay<'a>(&'a self, order: &'a ProviderOrder, scenario: Scenario) -> BoxFuture<'a, Result<ClientOutcome, String>> {
        Box::pin(async move {
            let charged = if scenario == Scenario::AmountMismatch { order.amount - 1 } else { order.amount };
            let trade = SimulatedPayment {
                attempt: order.attempt,
                amount_charged: charged,
                transaction_id: format!(
                    "2026{}",
                    random_text(24).chars().map(|c| (b'0' + (c as u8 % 10)) as char).collect::<String>()
                ),
                paid: !matches!(scenario, Scenario::UserCancel | Scenario::InsufficientFunds),
            };
            self.setup.book.record(Method::Alipay, order, &trade)?;
            let result_status = match scenario {
                Scenario::UserCancel => "6001",
                Scenario::InsufficientFunds => "4000",
                Scenario::TimeoutThenSuccess => "6004",
                _ => "9000",
            };
            if scenario == Scenario::OutOfOrder {
                let (handler, key) = (self.setup.handler.clone(), &self.setup.alipay_key);
                handler.handle(Method::Alipay, self.notification(order, &trade, "TRADE_SUCCESS", 0, key)).await;
                handler.handle(Method::Alipay, self.notification(order, &trade, "TRADE_CLOSED", 0, key)).await;
            } else if trade.paid {
                self.confirm(order, trade, scenario);
            }
            Ok(client_outcome(result_status))
        })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>> {
        Box::pin(async move { self.setup.book.state(Method::Alipay, order) })
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
