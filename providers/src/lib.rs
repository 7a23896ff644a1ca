#![deny(missing_docs)]
//! # miniapp providers: simulated WeChat Pay and Alipay
//!
//! Payment provider plug-ins for a miniapp host that play the provider's side of
//! its real protocol — signed requests, amounts in its own units, its result codes,
//! signed notifications retried on its real schedule — so a merchant integration
//! can be tested against them, which the real platforms do not allow.
//! [`Scenario`]s make them misbehave the ways real providers do.
//!
//! The CLI and the tests install them; an embedder does the same:
//!
//! ```no_run
//! # fn demo() -> Result<(), miniapp_host::HostError> {
//! let config = miniapp_host::HostConfig::with_data_dir("/tmp/miniapp-data");
//! let host = miniapp_providers::install(miniapp_host::Host::builder(config)).build()?;
//! # Ok(()) }
//! ```
//!
//! Each simulator reads its section of the host configuration, `[wechat_pay]` or
//! `[alipay]` ([`SimulatorSettings`]: the scenario, per-order scenarios, the
//! refund scenario, and a scale for the retry delays).
//!
//! Refunds follow each provider's rules: WeChat Pay v3
//! (`/v3/refund/domestic/refunds`) takes at most 50 refunds per order, at least a
//! minute apart, within 365 days of payment, answers `PROCESSING` and confirms
//! with a signed `REFUND.SUCCESS` / `REFUND.ABNORMAL` / `REFUND.CLOSED`
//! notification on its payment retry schedule; Alipay (`alipay.trade.refund`
//! with `out_request_no`) refunds at once and answers `fund_change: Y`, or `N` to
//! a repeated request. Every time they read — timestamps, schedules, windows —
//! is the host's clock ([`miniapp_host::clock`]), so a script's `advance 25h`
//! plays a provider's day.

pub mod alipay;
mod book;
mod keys;
mod outbox;
pub mod wechat;

pub use alipay::AlipayState;
pub use book::{ABNORMAL_DETAIL, CLOSED_DETAIL, RefundEnd, SimulatedPayment, SimulatorBook};
pub use keys::RsaKeys;
pub use outbox::Outbox;
pub use wechat::WechatPayState;

use miniapp_abi::payment::Method;
use miniapp_host::capabilities::payment::provider::{Notification, NotificationHandler, ProviderOrder, ProviderPlugin};
use miniapp_host::clock::Clock;
use miniapp_host::{HostBuilder, HostConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Installs both simulators in `builder`, with a scenario control for scripts
/// (`scenario insufficient_funds`).
pub fn install(builder: HostBuilder) -> HostBuilder {
    install_switched(builder, &ScenarioSwitch::default())
}

/// The simulators as plug-ins: WeChat Pay, then Alipay.
pub fn simulators() -> Vec<Arc<dyn ProviderPlugin>> {
    simulators_switched(&ScenarioSwitch::default())
}

/// Installs both simulators in `builder`, both following `switch` for the orders
/// started while it is set (a simulator's "payment scenario" control).
pub fn install_switched(builder: HostBuilder, switch: &ScenarioSwitch) -> HostBuilder {
    simulators_switched(switch)
        .into_iter()
        .fold(builder, HostBuilder::payment_provider)
        .scenario_control(Arc::new(switch.clone()))
}

/// The simulators as plug-ins, both following `switch`.
pub fn simulators_switched(switch: &ScenarioSwitch) -> Vec<Arc<dyn ProviderPlugin>> {
    vec![Arc::new(wechat::WechatPay::new(switch.clone())), Arc::new(alipay::Alipay::new(switch.clone()))]
}

/// How the simulators behave for the orders started from now on, changed while
/// the host runs (a DevTools panel, a test): overrides the configured `scenario`,
/// never an order's own entry in `order_scenarios`. Shared by every simulator it
/// was given to; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSwitch {
    chosen: Arc<std::sync::Mutex<Option<Scenario>>>,
}

impl miniapp_host::capabilities::payment::provider::ScenarioControl for ScenarioSwitch {
    fn names(&self) -> Vec<&'static str> {
        Scenario::ALL.iter().map(|s| s.as_str()).collect()
    }

    fn set(&self, name: &str) -> Result<(), String> {
        if name == "default" {
            ScenarioSwitch::set(self, None);
            return Ok(());
        }
        let scenario = Scenario::parse(name).ok_or_else(|| {
            format!("unknown payment scenario `{name}`; expected default or one of: {}", self.names().join(", "))
        })?;
        ScenarioSwitch::set(self, Some(scenario));
        Ok(())
    }
}

impl ScenarioSwitch {
    /// Sets the scenario for the next orders (`None`: back to the configuration's).
    pub fn set(&self, scenario: Option<Scenario>) {
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) = scenario;
    }

    /// The scenario set, if any.
    pub fn get(&self) -> Option<Scenario> {
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The scenario for `order`: its own configured one, else the one set here,
    /// else the configured default.
    pub fn scenario_for(&self, settings: &SimulatorSettings, order: &ProviderOrder) -> Scenario {
        match settings.order_scenarios.get(&order.out_trade_no) {
            Some(scenario) => *scenario,
            None => self.get().unwrap_or(settings.scenario),
        }
    }
}

/// A started simulator: its state, shared with the tasks that deliver its
/// notifications.
pub struct Started<S>(Arc<S>);

impl<S> std::ops::Deref for Started<S> {
    type Target = Arc<S>;
    fn deref(&self) -> &Arc<S> {
        &self.0
    }
}

/// The method ids of the simulators.
pub const METHODS: [&str; 2] = [Method::WECHAT_PAY, Method::ALIPAY];

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

miniapp_abi::stable_names! {
    /// How a simulated provider handles a refund.
    pub enum RefundScenario {
        /// Accepted, then settled: the payer has the money back, confirmed once.
        Success => "success",
        /// Accepted, then ABNORMAL: the money could not be returned.
        Abnormal => "abnormal",
        /// Accepted, then CLOSED: nothing was returned.
        Closed => "closed",
        /// The success notification is delivered 15 times at once.
        DuplicateNotifications => "duplicate_notifications",
        /// The success notification, then an ABNORMAL one for the same refund.
        OutOfOrder => "out_of_order",
        /// A notification signed with the wrong key arrives before the genuine one.
        ForgedNotification => "forged_notification",
    }
}

impl RefundScenario {
    /// How the refund ends at the provider.
    pub fn end(self) -> RefundEnd {
        match self {
            RefundScenario::Abnormal => RefundEnd::Abnormal,
            RefundScenario::Closed => RefundEnd::Closed,
            _ => RefundEnd::Success,
        }
    }
}

miniapp_abi::stable_names! {
    /// Where a simulator sends its notifications.
    pub enum Delivery {
        /// To the merchant's server of the host the payment was made on.
        ThisHost => "this_host",
        /// Through the shared database, to whichever host running the simulator
        /// takes it first (see [`Outbox`]): for many hosts on one database.
        AnyHost => "any_host",
    }
}

/// A simulator's section of the host configuration (`[wechat_pay]`, `[alipay]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorSettings {
    /// How the simulator behaves for every order.
    pub scenario: Scenario,
    /// Per-order scenarios, by `out_trade_no`.
    pub order_scenarios: BTreeMap<String, Scenario>,
    /// Multiplies the notification retry delays (1.0 is the provider's real
    /// schedule; tests compress time).
    pub notification_delay_scale: f64,
    /// Where notifications go: `this_host` (the default) or `any_host`.
    pub delivery: Delivery,
    /// How refunds go (WeChat Pay; Alipay refunds at once and takes only `success`).
    pub refund_scenario: RefundScenario,
    /// Per-refund scenarios, by `out_refund_no`.
    pub refund_scenarios: BTreeMap<String, RefundScenario>,
    /// How long, on the host's clock, a WeChat Pay refund takes to settle (real
    /// ones: up to 20 minutes to a balance, days to a bank card).
    pub refund_settle_seconds: u64,
}

impl Default for SimulatorSettings {
    fn default() -> SimulatorSettings {
        SimulatorSettings {
            scenario: Scenario::Success,
            order_scenarios: BTreeMap::new(),
            notification_delay_scale: 1.0,
            delivery: Delivery::ThisHost,
            refund_scenario: RefundScenario::Success,
            refund_scenarios: BTreeMap::new(),
            refund_settle_seconds: 60,
        }
    }
}

impl SimulatorSettings {
    /// Reads a simulator's section; unknown keys are refused, naming the key.
    pub fn from_section(section: &toml::Table) -> Result<SimulatorSettings, String> {
        toml::Value::Table(section.clone()).try_into().map_err(|e: toml::de::Error| e.message().trim().to_string())
    }

    /// The refund scenario for `out_refund_no`.
    pub fn refund_scenario_for(&self, out_refund_no: &str) -> RefundScenario {
        self.refund_scenarios.get(out_refund_no).copied().unwrap_or(self.refund_scenario)
    }

    /// The scenario for `order`.
    pub fn scenario_for(&self, order: &ProviderOrder) -> Scenario {
        self.order_scenarios.get(&order.out_trade_no).copied().unwrap_or(self.scenario)
    }

    /// Changes both simulators' sections of `config` with `change`, keeping what
    /// `change` leaves alone; a section that does not decode is an error.
    pub fn update(config: &mut HostConfig, change: impl Fn(&mut SimulatorSettings)) -> Result<(), String> {
        for method in METHODS {
            config.update_section(method, &change)?;
        }
        Ok(())
    }
}

/// Where and how a simulator delivers notifications.
pub(crate) struct Route<'a> {
    /// The merchant's server.
    pub handler: &'a Arc<dyn NotificationHandler>,
    /// The provider's method.
    pub method: &'a Method,
    /// Pauses between deliveries.
    pub schedule: &'a [Duration],
    /// Multiplies the pauses.
    pub scale: f64,
    /// The shared outbox, when notifications go to any host.
    pub outbox: Option<&'a Outbox>,
    /// The host's clock, which the pauses are on.
    pub clock: &'a Clock,
}

/// Delivers a notification until it is acknowledged or the schedule runs out; each
/// delivery is built afresh by `make` (new timestamp, nonce and signature).
async fn deliver(route: &Route<'_>, make: impl Fn() -> Notification) -> bool {
    if let Some(outbox) = route.outbox {
        outbox.put(route, &make(), Duration::ZERO, true).await;
        return true;
    }
    for pause in std::iter::once(Duration::ZERO).chain(route.schedule.iter().copied()) {
        route.clock.sleep(pause.mul_f64(route.scale.max(0.0))).await;
        if route.handler.handle(route.method, make()).await {
            return true;
        }
    }
    false
}

/// Sends a payment's confirmation the way `scenario` says: once (retried until
/// acknowledged), 15 times at once, late, or after a forged or stale copy.
/// `genuine(age)` builds a correctly signed notification sent `age` seconds ago;
/// `forged(key)` one signed with another key; `stale_age` is an age the merchant
/// must refuse.
pub(crate) async fn send_confirmation(
    route: Route<'_>,
    scenario: Scenario,
    stale_age: i64,
    genuine: impl Fn(i64) -> Notification,
    forged: impl Fn(&RsaKeys) -> Notification,
) {
    if let Some(outbox) = route.outbox {
        let copy = genuine(0);
        match scenario {
            Scenario::DuplicateNotifications => {
                for _ in 0..15 {
                    outbox.put(&route, &copy, Duration::ZERO, true).await;
                }
            }
            Scenario::ForgedNotification | Scenario::StaleNotification => {
                let first = match (scenario, RsaKeys::throwaway()) {
                    (Scenario::ForgedNotification, Ok(forger)) => forged(&forger),
                    _ => genuine(stale_age),
                };
                outbox.put(&route, &first, Duration::ZERO, false).await;
                outbox.put(&route, &copy, Duration::from_millis(1), true).await;
            }
            Scenario::TimeoutThenSuccess => {
                outbox.put(&route, &copy, route.schedule.first().copied().unwrap_or_default(), true).await;
            }
            _ => outbox.put(&route, &copy, Duration::ZERO, true).await,
        }
        return;
    }
    match scenario {
        Scenario::DuplicateNotifications => duplicate_concurrently(route.handler, route.method, genuine(0)).await,
        Scenario::ForgedNotification | Scenario::StaleNotification => {
            let forger = RsaKeys::throwaway();
            let sent = std::sync::atomic::AtomicUsize::new(0);
            deliver(&route, || match (sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst), &forger) {
                (0, Ok(forger)) if scenario == Scenario::ForgedNotification => forged(forger),
                (0, _) if scenario == Scenario::StaleNotification => genuine(stale_age),
                _ => genuine(0),
            })
            .await;
        }
        Scenario::TimeoutThenSuccess => {
            route.clock.sleep(route.schedule.first().copied().unwrap_or_default().mul_f64(route.scale.max(0.0))).await;
            deliver(&route, || genuine(0)).await;
        }
        _ => {
            deliver(&route, || genuine(0)).await;
        }
    }
}

/// Delivers the same notification 15 times at once, as a provider under load may.
async fn duplicate_concurrently(handler: &Arc<dyn NotificationHandler>, method: &Method, copy: Notification) {
    let deliveries: Vec<_> = (0..15)
        .map(|_| {
            let (handler, copy, method) = (handler.clone(), copy.clone(), method.clone());
            tokio::spawn(async move { handler.handle(&method, copy).await })
        })
        .collect();
    for delivery in deliveries {
        let _ = delivery.await;
    }
}

/// A random alphanumeric string, for nonces and ids.
pub(crate) fn random_text(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// A random string of decimal digits, for transaction ids.
pub(crate) fn random_digits(len: usize) -> String {
    random_text(len).chars().map(|c| (b'0' + (c as u8 % 10)) as char).collect()
}

/// Sends a refund's settling notification the way `scenario` says, built by
/// `genuine(end)`; `forged` is one signed with another key.
pub(crate) async fn send_refund_notification(
    route: Route<'_>,
    scenario: RefundScenario,
    genuine: impl Fn(RefundEnd) -> Notification,
    forged: impl Fn(&RsaKeys) -> Notification,
) {
    let end = scenario.end();
    if let Some(outbox) = route.outbox {
        match scenario {
            RefundScenario::DuplicateNotifications => {
                for _ in 0..15 {
                    outbox.put(&route, &genuine(end), Duration::ZERO, true).await;
                }
            }
            RefundScenario::OutOfOrder => {
                outbox.put(&route, &genuine(end), Duration::ZERO, true).await;
                outbox.put(&route, &genuine(RefundEnd::Abnormal), Duration::from_millis(1), false).await;
            }
            RefundScenario::ForgedNotification => {
                if let Ok(forger) = RsaKeys::throwaway() {
                    outbox.put(&route, &forged(&forger), Duration::ZERO, false).await;
                }
                outbox.put(&route, &genuine(end), Duration::from_millis(1), true).await;
            }
            _ => outbox.put(&route, &genuine(end), Duration::ZERO, true).await,
        }
        return;
    }
    match scenario {
        RefundScenario::DuplicateNotifications => {
            duplicate_concurrently(route.handler, route.method, genuine(end)).await;
        }
        RefundScenario::OutOfOrder => {
            deliver(&route, || genuine(end)).await;
            route.handler.handle(route.method, genuine(RefundEnd::Abnormal)).await;
        }
        RefundScenario::ForgedNotification => {
            if let Ok(forger) = RsaKeys::throwaway() {
                route.handler.handle(route.method, forged(&forger)).await;
            }
            deliver(&route, || genuine(end)).await;
        }
        _ => {
            deliver(&route, || genuine(end)).await;
        }
    }
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

    #[test]
    fn settings_refuse_unknown_keys() {
        let section: toml::Table = toml::from_str("scenario = \"timeout\"\nscenarios = 1").unwrap();
        let err = SimulatorSettings::from_section(&section).unwrap_err();
        assert!(err.contains("scenarios"), "{err}");
        let section: toml::Table = toml::from_str("scenario = \"timeout\"").unwrap();
        assert_eq!(SimulatorSettings::from_section(&section).unwrap().scenario, Scenario::TimeoutThenSuccess);
    }
}
