//! Payment providers: the [`PaymentProvider`] trait and the built-in simulators.
//!
//! A simulator plays the provider's side of its real protocol — signed requests,
//! amounts in its own units, its result codes, signed notifications retried on its
//! real schedule — so a merchant integration can be tested against it, which the
//! real platforms do not allow. [`Scenario`]s make it misbehave the ways real
//! providers do. [`builtin`] is the one place providers are registered.

pub mod alipay;
pub mod wechat;

use super::keys::RsaKeys;
use miniapp_abi::payment::{FailReason, Method};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, for the provider trait's async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An order as the host hands it to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrder {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The attempt (a provider sees each attempt as its own payment).
    pub attempt: u32,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// What is bought.
    pub description: String,
}

/// What the paying client learns right away (before the provider confirms to the
/// merchant's server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutcome {
    /// The client says paid; the merchant still waits for the notification.
    Paid,
    /// The user backed out.
    Cancelled,
    /// The payment was refused.
    Failed(FailReason),
    /// The client does not know (a time-out, a network error).
    Unknown,
}

/// What the provider says when the merchant's server asks about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderState {
    /// No such payment.
    NotFound,
    /// Not paid (yet).
    NotPaid,
    /// Paid.
    Paid {
        /// The provider's transaction id.
        transaction_id: String,
        /// The amount the provider charged, in minor units.
        amount: i64,
    },
}

/// A notification the provider sends to the merchant's server, as its protocol
/// carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// WeChat Pay v3: signed headers and a JSON body with an encrypted resource.
    Wechat {
        /// `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`.
        headers: Vec<(String, String)>,
        /// The JSON body.
        body: String,
    },
    /// Alipay: form parameters with an RSA2 `sign`.
    Alipay {
        /// The parameters.
        params: Vec<(String, String)>,
    },
}

/// What a verified notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The attempt, from `attach`.
    pub attempt: Option<u32>,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Whether the trade succeeded (`SUCCESS`) or ended otherwise.
    pub paid: bool,
    /// The amount paid, in fen.
    pub amount: i64,
}

impl Confirmation {
    /// What a provider's answer to a query says about a paid `order`.
    pub fn paid(order: &ProviderOrder, transaction_id: String, amount: i64) -> Confirmation {
        Confirmation {
            merchant_id: order.merchant_id.clone(),
            out_trade_no: order.out_trade_no.clone(),
            attempt: Some(order.attempt),
            transaction_id,
            paid: true,
            amount,
        }
    }
}

/// The merchant's server, as providers see it: it answers each notification with
/// an acknowledgement (stop retrying) or not.
pub trait NotificationHandler: Send + Sync + 'static {
    /// Handles one delivery; `true` acknowledges it.
    fn handle(&self, method: Method, notification: Notification) -> BoxFuture<'_, bool>;
}

miniapp_abi::stable_names! {
    /// How a simulated provider behaves for an order.
    pub enum Scenario {
        /// The user pays; one notification confirms it.
        Success => "success",
        /// The user cancels on the provider's page.
        UserCancel => "user_cancel",
        /// The payment is refused for insufficient funds.
        InsufficientFunds => "insufficient_funds",
        /// The client times out; the order stays pending until the notification arrives later.
        TimeoutThenSuccess => "timeout",
        /// The confirmation is delivered 15 times at once.
        DuplicateNotifications => "duplicate_notifications",
        /// The confirmation arrives before the client's answer, and a stale "closed" one after it.
        OutOfOrder => "out_of_order",
        /// A notification signed with the wrong key arrives first.
        ForgedNotification => "forged_notification",
        /// A correctly signed notification with an old timestamp arrives first.
        StaleNotification => "stale_notification",
        /// The provider confirms a different amount.
        AmountMismatch => "amount_mismatch",
    }
}

/// A payment provider.
pub trait PaymentProvider: Send + Sync + 'static {
    /// The method it implements.
    fn method(&self) -> Method;

    /// Its name on the payment sheet.
    fn display_name(&self) -> &'static str;

    /// Creates the order with the provider, lets the user pay under `scenario`, and
    /// returns what the client learns. Confirmation reaches the merchant's server
    /// separately, by notification.
    fn pay<'a>(&'a self, order: &'a ProviderOrder, scenario: Scenario) -> BoxFuture<'a, Result<ClientOutcome, String>>;

    /// Asks the provider about an order, as the merchant's server does when a
    /// notification is late.
    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>>;
}

/// Keys and settings the simulators share.
#[derive(Clone)]
pub struct SimulatorSetup {
    /// Signs merchant requests; the simulator verifies them.
    pub merchant_key: RsaKeys,
    /// The provider's own key: signs notifications; the merchant verifies them.
    pub wechat_platform_key: RsaKeys,
    /// Alipay's key.
    pub alipay_key: RsaKeys,
    /// WeChat Pay's APIv3 key, for the notification resource's AES-256-GCM.
    pub wechat_api_v3_key: [u8; 32],
    /// Multiplies every notification retry delay (1.0 is real time).
    pub delay_scale: f64,
    /// Where notifications go.
    pub handler: Arc<dyn NotificationHandler>,
    /// The providers' own records of payments.
    pub book: SimulatorBook,
}

/// A payment as a simulated provider records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedPayment {
    /// The merchant's attempt it belongs to.
    pub attempt: u32,
    /// What the provider charged, in minor units.
    pub amount_charged: i64,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Whether the payer paid.
    pub paid: bool,
}

const BOOK_SCHEMA: &[&str] = &["CREATE TABLE simulator_payments (
        provider TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        amount_charged INTEGER NOT NULL,
        transaction_id TEXT NOT NULL,
        paid INTEGER NOT NULL,
        PRIMARY KEY (provider, merchant_id, out_trade_no)
    ) WITHOUT ROWID;"];

/// The simulated providers' own records, kept in the host database (in their own
/// table) so that, like real providers, they still know after the host restarts
/// which payments they took.
#[derive(Debug, Clone)]
pub struct SimulatorBook {
    database: crate::store::Database,
}

impl SimulatorBook {
    /// The book in `database`.
    pub fn new(database: crate::store::Database) -> Result<SimulatorBook, crate::store::StoreError> {
        database.migrate("payment_simulators", BOOK_SCHEMA)?;
        Ok(SimulatorBook { database })
    }

    /// Records `payment` for `order` at `provider`.
    pub fn record(&self, provider: Method, order: &ProviderOrder, payment: &SimulatedPayment) -> Result<(), String> {
        self.database
            .run_blocking(|c| {
                c.execute(
                    "INSERT INTO simulator_payments (provider, merchant_id, out_trade_no, attempt, amount_charged, transaction_id, paid)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(provider, merchant_id, out_trade_no) DO UPDATE SET attempt = excluded.attempt,
                         amount_charged = excluded.amount_charged, transaction_id = excluded.transaction_id, paid = excluded.paid",
                    rusqlite::params![
                        provider.as_str(),
                        order.merchant_id,
                        order.out_trade_no,
                        payment.attempt,
                        payment.amount_charged,
                        payment.transaction_id,
                        payment.paid
                    ],
                )?;
                Ok(())
            })
            .map_err(|e| e.to_string())
    }

    /// What `provider` says about `order` when asked.
    pub fn state(&self, provider: Method, order: &ProviderOrder) -> Result<ProviderState, String> {
        use rusqlite::OptionalExtension;
        let found: Option<SimulatedPayment> = self
            .database
            .run_blocking(|c| {
                Ok(c.query_row(
                    "SELECT attempt, amount_charged, transaction_id, paid FROM simulator_payments
                     WHERE provider = ?1 AND merchant_id = ?2 AND out_trade_no = ?3",
                    rusqlite::params![provider.as_str(), order.merchant_id, order.out_trade_no],
                    |row| {
                        Ok(SimulatedPayment {
                            attempt: row.get(0)?,
                            amount_charged: row.get(1)?,
                            transaction_id: row.get(2)?,
                            paid: row.get(3)?,
                        })
                    },
                )
                .optional()?)
            })
            .map_err(|e| e.to_string())?;
        Ok(match found {
            None => ProviderState::NotFound,
            Some(p) if p.paid && p.attempt == order.attempt => {
                ProviderState::Paid { transaction_id: p.transaction_id, amount: p.amount_charged }
            }
            Some(_) => ProviderState::NotPaid,
        })
    }
}

/// The built-in providers. This is the one place providers are registered.
pub fn builtin(setup: &SimulatorSetup) -> Vec<Arc<dyn PaymentProvider>> {
    // Each simulator is shared with the background tasks that deliver its notifications.
    vec![
        Arc::new(Arc::new(wechat::WechatPaySimulator::new(setup.clone()))),
        Arc::new(Arc::new(alipay::AlipaySimulator::new(setup.clone()))),
    ]
}

/// Delivers a notification until it is acknowledged or `schedule` runs out; each
/// delivery is built afresh by `make` (new timestamp, nonce and signature).
pub(super) async fn deliver(
    handler: &Arc<dyn NotificationHandler>,
    method: Method,
    schedule: &[Duration],
    scale: f64,
    make: impl Fn() -> Notification,
) -> bool {
    for pause in std::iter::once(Duration::ZERO).chain(schedule.iter().copied()) {
        tokio::time::sleep(pause.mul_f64(scale.max(0.0))).await;
        if handler.handle(method, make()).await {
            return true;
        }
    }
    false
}

/// Where and how a provider delivers notifications.
pub(super) struct Route<'a> {
    /// The merchant's server.
    pub handler: &'a Arc<dyn NotificationHandler>,
    /// The provider's method.
    pub method: Method,
    /// Pauses between deliveries.
    pub schedule: &'a [Duration],
    /// Multiplies the pauses.
    pub scale: f64,
}

/// Sends a payment's confirmation the way `scenario` says: once (retried until
/// acknowledged), 15 times at once, late, or after a forged or stale copy.
/// `genuine(age)` builds a correctly signed notification sent `age` seconds ago;
/// `forged(key)` one signed with another key; `stale_age` is an age the merchant
/// must refuse.
pub(super) async fn send_confirmation(
    route: Route<'_>,
    scenario: Scenario,
    stale_age: i64,
    genuine: impl Fn(i64) -> Notification,
    forged: impl Fn(&RsaKeys) -> Notification,
) {
    let Route { handler, method, schedule, scale } = route;
    match scenario {
        Scenario::DuplicateNotifications => duplicate_concurrently(handler, method, genuine(0)).await,
        Scenario::ForgedNotification | Scenario::StaleNotification => {
            let forger = RsaKeys::throwaway();
            let sent = std::sync::atomic::AtomicUsize::new(0);
            deliver(handler, method, schedule, scale, || {
                match (sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst), &forger) {
                    (0, Ok(forger)) if scenario == Scenario::ForgedNotification => forged(forger),
                    (0, _) if scenario == Scenario::StaleNotification => genuine(stale_age),
                    _ => genuine(0),
                }
            })
            .await;
        }
        Scenario::TimeoutThenSuccess => {
            tokio::time::sleep(schedule.first().copied().unwrap_or_default().mul_f64(scale.max(0.0))).await;
            deliver(handler, method, schedule, scale, || genuine(0)).await;
        }
        _ => {
            deliver(handler, method, schedule, scale, || genuine(0)).await;
        }
    }
}

/// Delivers the same notification 15 times at once, as a provider under load may.
pub(super) async fn duplicate_concurrently(handler: &Arc<dyn NotificationHandler>, method: Method, copy: Notification) {
    let deliveries: Vec<_> = (0..15)
        .map(|_| {
            let (handler, copy) = (handler.clone(), copy.clone());
            tokio::spawn(async move { handler.handle(method, copy).await })
        })
        .collect();
    for delivery in deliveries {
        let _ = delivery.await;
    }
}

/// A random alphanumeric string, for nonces and ids.
pub(super) fn random_text(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Seconds since the Unix epoch.
pub(super) fn unix_seconds() -> i64 {
    crate::calendar::now_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedules_follow_the_providers() {
        let wechat: Duration = wechat::retry_schedule().iter().sum();
        assert_eq!(wechat::retry_schedule().len(), 15);
        assert_eq!(wechat, Duration::from_secs(24 * 3600 + 4 * 60), "WeChat Pay retries over 24 h 4 m");
        let alipay: Duration = alipay::retry_schedule().iter().sum();
        assert_eq!(alipay::retry_schedule().len() + 1, 8, "Alipay delivers at most 8 times");
        assert!(alipay <= Duration::from_secs(25 * 3600));
    }

    #[test]
    fn scenario_names_round_trip() {
        for scenario in Scenario::ALL {
            assert_eq!(Scenario::parse(scenario.as_str()), Some(scenario));
        }
    }
}
