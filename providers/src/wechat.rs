//! WeChat Pay, API v3 style: amounts in fen; the merchant's request signed
//! (`WECHATPAY2-SHA256-RSA2048` over method, path, timestamp, nonce and body);
//! a `prepay_id` back; notifications whose headers carry a platform signature over
//! `timestamp\nnonce\nbody\n` and whose body carries the transaction encrypted with
//! AEAD_AES_256_GCM under the APIv3 key; retries 15 s, 15 s, 30 s, 3 m, 10 m, 20 m,
//! 30 m, 30 m, 30 m, 60 m, 3 h, 3 h, 3 h, 6 h, 6 h (24 h 4 m in all).
//!
//! Orders close by `/v3/pay/transactions/out-trade-no/{no}/close`, not within
//! five minutes of their creation, and a paid one answers `ORDERPAID`. Refunds
//! (`/v3/refund/domestic/refunds`, keyed by `out_refund_no`): at most 50 per
//! order, at least a minute apart, within 365 days of payment; answered
//! `PROCESSING`, settled `SUCCESS`, `ABNORMAL` or `CLOSED` and confirmed by a
//! `REFUND.*` notification whose resource (`associated_data = "refund"`) is
//! encrypted like a payment's.
//!
//! Both sides live here: what the merchant's server does ([`sign_request`],
//! [`verify_notification`]) and what the provider does ([`WechatPayState`]).

use crate::book::{NewRefund, RefundRules};
use crate::{
    Outbox, RefundEnd, Route, RsaKeys, Scenario, SimulatedPayment, SimulatorBook, SimulatorSettings, Started,
    random_digits, random_text, send_confirmation, send_refund_notification,
};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use miniapp_abi::payment::{FailReason, Method};
use miniapp_host::capabilities::payment::provider::{
    BoxFuture, ClientOutcome, CloseRefused, Closed, Confirmation, Notification, NotificationHandler, PaymentProvider,
    ProviderContext, ProviderOrder, ProviderPlugin, ProviderRefund, ProviderRefundState, ProviderState,
    RefundConfirmation, RefundOutcome, Verified,
};
use miniapp_host::clock::Clock;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The request path the merchant signs.
const PAY_PATH: &str = "/v3/pay/transactions/jsapi";
/// How old a notification's timestamp may be, in seconds.
pub const MAX_NOTIFICATION_AGE_SECONDS: i64 = 300;
/// The platform certificate serial the simulator signs with.
const PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

/// How long after creation an order may be closed, ms.
pub const CLOSE_AFTER_MS: i64 = 5 * 60_000;

/// The refund rules of `/v3/refund/domestic/refunds`.
fn refund_rules(settings: &SimulatorSettings) -> RefundRules {
    RefundRules {
        max_refunds: Some(50),
        min_spacing_ms: 60_000,
        window_ms: 365 * 86_400_000,
        settle_after_ms: i64::try_from(settings.refund_settle_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
        codes: [
            "RESOURCE_NOT_EXISTS",
            "INVALID_REQUEST",
            "INVALID_REQUEST",
            "INVALID_REQUEST",
            "FREQUENCY_LIMITED",
            "INVALID_REQUEST",
        ],
    }
}

/// The retry schedule after the first delivery.
pub fn retry_schedule() -> Vec<Duration> {
    [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// The merchant's side: the body and `Authorization` header of the order request.
pub fn sign_request(order: &ProviderOrder, merchant_key: &RsaKeys, timestamp: i64) -> (String, String) {
    let body = json!({
        "mchid": order.merchant_id,
        "out_trade_no": order.out_trade_no,
        "description": order.description,
        "notify_url": "https://host.invalid/notify/wechat_pay",
        "attach": format!("attempt={}", order.attempt),
        "amount": {"total": order.amount, "currency": order.currency},
    })
    .to_string();
    let nonce = random_text(32);
    let message = format!("POST\n{PAY_PATH}\n{timestamp}\n{nonce}\n{body}\n");
    let signature = merchant_key.sign(message.as_bytes());
    let authorization = format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"MERCHANT\",signature=\"{signature}\"",
        order.merchant_id
    );
    (authorization, body)
}

/// The merchant's side: checks a notification's signature, age and encryption,
/// and reads the transaction or refund it carries.
pub fn verify_notification(
    notification: &Notification,
    platform_key: &RsaKeys,
    api_v3_key: &[u8; 32],
    now: i64,
) -> Result<Verified, String> {
    let body = notification.body.as_str();
    let header = |name: &str| notification.header(name).ok_or(format!("missing header {name}"));
    let timestamp = header("Wechatpay-Timestamp")?;
    let nonce = header("Wechatpay-Nonce")?;
    let signature = header("Wechatpay-Signature")?;
    if !platform_key.verify(format!("{timestamp}\n{nonce}\n{body}\n").as_bytes(), signature) {
        return Err("forged: the Wechatpay-Signature does not verify with the platform key".into());
    }
    let sent: i64 = timestamp.parse().map_err(|_| "Wechatpay-Timestamp is not a number")?;
    if (now - sent).abs() > MAX_NOTIFICATION_AGE_SECONDS {
        return Err(format!("stale: sent {}s ago (at most {MAX_NOTIFICATION_AGE_SECONDS}s accepted)", now - sent));
    }
    let body: Value = serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let resource = &body["resource"];
    let text = |v: &Value, what: &str| v.as_str().map(str::to_string).ok_or(format!("missing {what}"));
    let ciphertext =
        STANDARD.decode(text(&resource["ciphertext"], "resource.ciphertext")?).map_err(|e| e.to_string())?;
    let nonce = text(&resource["nonce"], "resource.nonce")?;
    let aad = text(&resource["associated_data"], "resource.associated_data")?;
    if nonce.len() != 12 {
        return Err("resource.nonce must be 12 bytes".into());
    }
    let cipher = Aes256Gcm::new_from_slice(api_v3_key).map_err(|e| e.to_string())?;
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: &ciphertext, aad: aad.as_bytes() })
        .map_err(|_| "the resource does not decrypt with the APIv3 key")?;
    let transaction: Value = serde_json::from_slice(&plain).map_err(|e| format!("the resource is not JSON: {e}"))?;
    if body["event_type"].as_str().is_some_and(|t| t.starts_with("REFUND.")) {
        let refund_id = text(&transaction["refund_id"], "refund_id")?;
        let amount = transaction["amount"]["refund"].as_i64().ok_or("missing amount.refund")?;
        let state = match transaction["refund_status"].as_str() {
            Some("SUCCESS") => ProviderRefundState::Success { refund_id, amount },
            Some("ABNORMAL") => ProviderRefundState::Abnormal { refund_id, detail: crate::ABNORMAL_DETAIL.into() },
            Some("CLOSED") => ProviderRefundState::Closed { refund_id, detail: crate::CLOSED_DETAIL.into() },
            Some("PROCESSING") => ProviderRefundState::Processing { refund_id },
            other => {
                return Err(format!("refund_status {other:?} is not one of SUCCESS, ABNORMAL, CLOSED, PROCESSING"));
            }
        };
        return Ok(Verified::Refund(RefundConfirmation {
            merchant_id: text(&transaction["mchid"], "mchid")?,
            out_trade_no: text(&transaction["out_trade_no"], "out_trade_no")?,
            out_refund_no: text(&transaction["out_refund_no"], "out_refund_no")?,
            state,
            amount,
        }));
    }
    Ok(Verified::Payment(Confirmation {
        merchant_id: text(&transaction["mchid"], "mchid")?,
        out_trade_no: text(&transaction["out_trade_no"], "out_trade_no")?,
        attempt: transaction["attach"].as_str().and_then(|a| a.strip_prefix("attempt=")).and_then(|n| n.parse().ok()),
        transaction_id: text(&transaction["transaction_id"], "transaction_id")?,
        paid: transaction["trade_state"] == "SUCCESS",
        amount: transaction["amount"]["total"].as_i64().ok_or("missing amount.total")?,
    }))
}

/// The `(mchid, out_trade_no)` inside a notification's resource, decrypted without
/// checking the signature (only to say which order a refused notification named).
pub fn claimed_order(body: &str, api_v3_key: &[u8; 32]) -> Option<(String, String)> {
    let body: Value = serde_json::from_str(body).ok()?;
    let resource = &body["resource"];
    let ciphertext = STANDARD.decode(resource["ciphertext"].as_str()?).ok()?;
    let nonce = resource["nonce"].as_str().filter(|n| n.len() == 12)?;
    let aad = resource["associated_data"].as_str()?;
    let cipher = Aes256Gcm::new_from_slice(api_v3_key).ok()?;
    let plain =
        cipher.decrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: &ciphertext, aad: aad.as_bytes() }).ok()?;
    let transaction: Value = serde_json::from_slice(&plain).ok()?;
    Some((transaction["mchid"].as_str()?.to_string(), transaction["out_trade_no"].as_str()?.to_string()))
}

/// The WeChat Pay plug-in: registers `wechat_pay` and starts a [`WechatPayState`].
pub struct WechatPay {
    switch: crate::ScenarioSwitch,
}

impl WechatPay {
    /// The plug-in, following `switch` for the scenario of new orders.
    pub fn new(switch: crate::ScenarioSwitch) -> WechatPay {
        WechatPay { switch }
    }
}

impl ProviderPlugin for WechatPay {
    fn method(&self) -> Method {
        Method::parse(Method::WECHAT_PAY).unwrap_or_else(|| unreachable!("the constant is a method id"))
    }

    fn display_name(&self) -> String {
        "WeChat Pay".to_string()
    }

    fn check_section(&self, section: &toml::Table) -> Result<(), String> {
        SimulatorSettings::from_section(section).map(|_| ())
    }

    fn start(&self, context: ProviderContext) -> Result<Arc<dyn PaymentProvider>, String> {
        let dir = &context.key_dir;
        let settings = SimulatorSettings::from_section(&context.section)?;
        let outbox = Outbox::for_settings(&settings, &context.database, Method::WECHAT_PAY, &context.clock)?;
        let state = Arc::new(WechatPayState {
            clock: context.clock.clone(),
            method: self.method(),
            outbox,
            settings,
            switch: self.switch.clone(),
            merchant_key: RsaKeys::load_or_create(&context.database, dir, "merchant")?,
            platform_key: RsaKeys::load_or_create(&context.database, dir, "wechat-platform")?,
            api_v3_key: miniapp_host::store::secret::load_or_create(&context.database, dir, "wechat-api-v3.key")?,
            handler: context.notifications,
            book: SimulatorBook::open(context.database, Method::WECHAT_PAY).map_err(|e| e.to_string())?,
        });
        if let Some(outbox) = &state.outbox {
            let scale = state.settings.notification_delay_scale;
            outbox.serve(Arc::downgrade(&state), state.handler.clone(), state.method.clone(), retry_schedule(), scale);
        }
        Ok(Arc::new(Started(state)))
    }
}

/// The started WeChat Pay simulator (`Started<WechatPayState>` is the provider):
/// both the provider's and the merchant's keys, shared with the tasks that deliver
/// its notifications.
pub struct WechatPayState {
    /// The scenario chosen while the host runs, if any.
    switch: crate::ScenarioSwitch,
    method: Method,
    settings: SimulatorSettings,
    /// Signs merchant requests; the simulator verifies them.
    merchant_key: RsaKeys,
    /// The platform's key: signs notifications; the merchant verifies them.
    platform_key: RsaKeys,
    /// The APIv3 key, for the notification resource's AES-256-GCM.
    api_v3_key: [u8; 32],
    handler: Arc<dyn NotificationHandler>,
    book: SimulatorBook,
    /// The shared outbox, when notifications go to any host.
    outbox: Option<Outbox>,
    /// The host's clock: the platform's time.
    clock: Clock,
}

impl WechatPayState {
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

    /// The provider's side of the order request: checks the merchant's signature.
    fn accept_request(&self, authorization: &str, body: &str) -> Result<String, String> {
        let field = |name: &str| {
            authorization
                .split([',', ' '])
                .find_map(|part| part.strip_prefix(&format!("{name}=\"")).and_then(|v| v.strip_suffix('"')))
                .ok_or(format!("Authorization lacks {name}"))
        };
        let message = format!("POST\n{PAY_PATH}\n{}\n{}\n{body}\n", field("timestamp")?, field("nonce_str")?);
        if !self.merchant_key.verify(message.as_bytes(), field("signature")?) {
            return Err("SIGN_ERROR: the request signature does not verify".into());
        }
        Ok(format!("wx{}", random_text(30).to_lowercase()))
    }

    fn notification(
        &self,
        order: &ProviderOrder,
        payment: &SimulatedPayment,
        state: &str,
        age: i64,
        key: &RsaKeys,
    ) -> Notification {
        let transaction = json!({
            "mchid": order.merchant_id,
            "out_trade_no": order.out_trade_no,
            "transaction_id": payment.transaction_id,
            "trade_state": state,
            "attach": format!("attempt={}", payment.attempt),
            "amount": {"total": payment.amount_charged, "payer_total": payment.amount_charged, "currency": order.currency},
        })
        .to_string();
        let event_type = if state == "SUCCESS" { "TRANSACTION.SUCCESS" } else { "TRANSACTION.CLOSED" };
        self.signed(event_type, "transaction", &transaction, age, key)
    }

    /// A `REFUND.*` notification of `refund`, ending as `end`.
    fn refund_notification(
        &self,
        refund: &ProviderRefund,
        refund_id: &str,
        end: RefundEnd,
        key: &RsaKeys,
    ) -> Notification {
        let status = match end {
            RefundEnd::Success => "SUCCESS",
            RefundEnd::Abnormal => "ABNORMAL",
            RefundEnd::Closed => "CLOSED",
        };
        let resource = json!({
            "mchid": refund.merchant_id,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": refund.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund_id,
            "refund_status": status,
            "amount": {"total": refund.order_amount, "refund": refund.amount, "payer_total": refund.order_amount, "payer_refund": refund.amount},
        })
        .to_string();
        self.signed(&format!("REFUND.{status}"), "refund", &resource, 0, key)
    }

    /// A notification of `event_type` carrying `plain` encrypted under the APIv3
    /// key, sent `age` seconds ago, signed with `key`.
    fn signed(&self, event_type: &str, aad: &str, plain: &str, age: i64, key: &RsaKeys) -> Notification {
        let nonce = random_text(12);
        let ciphertext = Aes256Gcm::new_from_slice(&self.api_v3_key)
            .and_then(|cipher| {
                cipher
                    .encrypt(
                        Nonce::from_slice(nonce.as_bytes()),
                        Payload { msg: plain.as_bytes(), aad: aad.as_bytes() },
                    )
                    .map_err(|_| aes_gcm::aes::cipher::InvalidLength)
            })
            .map(|bytes| STANDARD.encode(bytes))
            .unwrap_or_default();
        let body = json!({
            "id": random_text(36),
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext, "associated_data": aad, "nonce": nonce},
        })
        .to_string();
        let (timestamp, header_nonce) = ((self.clock.now_seconds() - age).to_string(), random_text(32));
        let signature = key.sign(format!("{timestamp}\n{header_nonce}\n{body}\n").as_bytes());
        let headers = vec![
            ("Wechatpay-Timestamp".to_string(), timestamp),
            ("Wechatpay-Nonce".to_string(), header_nonce),
            ("Wechatpay-Signature".to_string(), signature),
            ("Wechatpay-Serial".to_string(), PLATFORM_SERIAL.to_string()),
        ];
        Notification { headers, body }
    }

    /// Sends the confirmation, as the scenario says, in the background.
    fn confirm(self: &Arc<Self>, order: &ProviderOrder, payment: SimulatedPayment, scenario: Scenario) {
        let simulator = self.clone();
        let order = order.clone();
        tokio::spawn(async move {
            let schedule = retry_schedule();
            let genuine = |age| simulator.notification(&order, &payment, "SUCCESS", age, &simulator.platform_key);
            let forged = |key: &RsaKeys| simulator.notification(&order, &payment, "SUCCESS", 0, key);
            let route = simulator.route(&schedule);
            send_confirmation(route, scenario, MAX_NOTIFICATION_AGE_SECONDS * 2, genuine, forged).await;
        });
    }

    /// Confirms a refund when it settles, by notification, as its scenario says.
    fn confirm_refund(self: &Arc<Self>, refund: &ProviderRefund, taken: NewRefund) {
        let simulator = self.clone();
        let refund = refund.clone();
        let scenario = self.settings.refund_scenario_for(&refund.out_refund_no);
        tokio::spawn(async move {
            simulator.clock.sleep_until_ms(taken.settles_ms).await;
            let schedule = retry_schedule();
            let id = &taken.refund_id;
            let genuine = |end| simulator.refund_notification(&refund, id, end, &simulator.platform_key);
            let forged = |key: &RsaKeys| simulator.refund_notification(&refund, id, taken.end, key);
            let route = simulator.route(&schedule);
            send_refund_notification(route, scenario, genuine, forged).await;
        });
    }
}

impl PaymentProvider for Started<WechatPayState> {
    fn pay<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ClientOutcome, String>> {
        Box::pin(async move {
            let scenario = self.switch.scenario_for(&self.settings, order);
            let (authorization, body) = sign_request(order, &self.merchant_key, self.clock.now_seconds());
            let _prepay_id = self.accept_request(&authorization, &body)?;
            let charged = if scenario == Scenario::AmountMismatch { order.amount - 1 } else { order.amount };
            let payment = SimulatedPayment {
                attempt: order.attempt,
                amount_charged: charged,
                transaction_id: format!("4200{}", random_digits(24)),
                paid: !matches!(scenario, Scenario::UserCancel | Scenario::InsufficientFunds),
            };
            self.book.record(order, &payment, self.clock.now_ms()).await?;
            match scenario {
                Scenario::UserCancel => Ok(ClientOutcome::Cancelled),
                Scenario::InsufficientFunds => Ok(ClientOutcome::Failed(FailReason::InsufficientFunds)),
                Scenario::TimeoutThenSuccess => {
                    self.confirm(order, payment, scenario);
                    Ok(ClientOutcome::Unknown)
                }
                Scenario::OutOfOrder => {
                    // The confirmation overtakes the client's answer; a stale "closed"
                    // notification follows it.
                    let key = &self.platform_key;
                    self.handler.handle(&self.method, self.notification(order, &payment, "SUCCESS", 0, key)).await;
                    self.handler.handle(&self.method, self.notification(order, &payment, "CLOSED", 0, key)).await;
                    Ok(ClientOutcome::Paid)
                }
                _ => {
                    self.confirm(order, payment, scenario);
                    Ok(ClientOutcome::Paid)
                }
            }
        })
    }

    fn close<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<Result<Closed, CloseRefused>, String>> {
        Box::pin(async move { self.book.close(order, self.clock.now_ms(), Some((CLOSE_AFTER_MS, "RULE_LIMIT"))).await })
    }

    fn refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<RefundOutcome, String>> {
        Box::pin(async move {
            let end = self.settings.refund_scenario_for(&refund.out_refund_no).end();
            let refund_id = format!("50{}", random_digits(28));
            let rules = refund_rules(&self.settings);
            let (outcome, taken) = self.book.refund(refund, &rules, self.clock.now_ms(), end, refund_id).await?;
            if let Some(taken) = taken {
                self.confirm_refund(refund, taken);
            }
            Ok(outcome)
        })
    }

    fn query_refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<ProviderRefundState, String>> {
        Box::pin(async move { self.book.refund_state(refund, self.clock.now_ms()).await })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>> {
        Box::pin(async move { self.book.state(order).await })
    }

    fn verify(&self, notification: &Notification, now: i64) -> Result<Verified, String> {
        verify_notification(notification, &self.platform_key, &self.api_v3_key, now)
    }

    fn claimed_order(&self, notification: &Notification) -> Option<(String, String)> {
        claimed_order(&notification.body, &self.api_v3_key)
    }
}
