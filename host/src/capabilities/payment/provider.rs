//! Payment providers as plug-ins: what a provider implements, and what the host
//! hands it.
//!
//! A method on the payment sheet is an id a [`ProviderPlugin`] registers (through
//! [`crate::HostBuilder::payment_provider`]), with the name the sheet shows. When
//! payments are first used the host starts each plug-in with its services (the
//! database, a key directory, where notifications go, its own configuration section
//! `[<method id>]`) and gets a [`PaymentProvider`]: it takes payments, answers
//! queries, and verifies its own notifications by its own protocol — the host's
//! merchant server settles what a provider verified, whatever the provider.
//!
//! The simulators of WeChat Pay and Alipay are such plug-ins, in the
//! `miniapp-providers` crate.

use crate::clock::Clock;
use crate::store::Database;
use miniapp_abi::ErrorCode;
use miniapp_abi::payment::{FailReason, Method};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, for the provider traits' async methods.
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

/// What closing an unpaid order at the provider came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The order is closed: the provider will take no payment for it.
    Closed,
    /// The payer paid before the close arrived (WeChat Pay's `ORDERPAID`).
    AlreadyPaid {
        /// The provider's transaction id.
        transaction_id: String,
        /// The amount the provider charged, in minor units.
        amount: i64,
    },
}

/// A notification as it reaches the merchant's server: an HTTP request's headers
/// and body, in whatever form the provider's protocol gives them (signed headers
/// and JSON for WeChat Pay, a signed form for Alipay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: String,
}

impl Notification {
    /// The value of header `name` (compared without case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// What a verified notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The attempt, when the provider echoes it back.
    pub attempt: Option<u32>,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Whether the trade succeeded, or ended otherwise.
    pub paid: bool,
    /// The amount paid, in minor units.
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

/// A refund as the host hands it to the provider that took the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The merchant.
    pub merchant_id: String,
    /// The paid order.
    pub out_trade_no: String,
    /// The attempt that paid.
    pub attempt: u32,
    /// The provider's transaction id of the payment.
    pub transaction_id: String,
    /// What the order was paid, in minor units.
    pub order_amount: i64,
    /// The refund's key: the same key is the same refund, however often asked.
    pub out_refund_no: String,
    /// How much to give back, in minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Why, for the payer.
    pub reason: Option<String>,
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRefundState {
    /// The provider has no such refund.
    NotFound,
    /// Accepted; the money is on its way.
    Processing {
        /// The provider's refund id.
        refund_id: String,
    },
    /// The payer has the money back.
    Success {
        /// The provider's refund id.
        refund_id: String,
        /// What was returned, in minor units.
        amount: i64,
    },
    /// The provider could not return it; the merchant must handle it.
    Abnormal {
        /// The provider's refund id.
        refund_id: String,
        /// The provider's word.
        detail: String,
    },
    /// Closed without returning anything.
    Closed {
        /// The provider's refund id.
        refund_id: String,
        /// The provider's word.
        detail: String,
    },
}

/// What asking a provider for a refund came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Taken: where it stands now.
    Accepted(ProviderRefundState),
    /// Refused by the provider's rules (nothing was refunded): the ABI error code
    /// the program gets, and the provider's code and words.
    Refused {
        /// What the program gets.
        code: ErrorCode,
        /// The provider's error code and message (`FREQUENCY_LIMITED: …`).
        message: String,
    },
}

/// What closing an order at its provider came to, when it could not be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRefused {
    /// What the program gets (`limit_exceeded` for WeChat Pay's five minutes).
    pub code: ErrorCode,
    /// The provider's code and words.
    pub message: String,
}

/// What a verified notification says: a payment's or a refund's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// About a payment.
    Payment(Confirmation),
    /// About a refund.
    Refund(RefundConfirmation),
}

/// What a verified refund notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundConfirmation {
    /// The merchant.
    pub merchant_id: String,
    /// The refunded order.
    pub out_trade_no: String,
    /// The refund's key.
    pub out_refund_no: String,
    /// Where it ended (never `NotFound` or `Processing` in a notification the
    /// host settles; those are acknowledged and change nothing).
    pub state: ProviderRefundState,
    /// The amount the notification states, in minor units.
    pub amount: i64,
}

/// The merchant's server, as providers see it: it answers each notification with
/// an acknowledgement (stop retrying) or not.
pub trait NotificationHandler: Send + Sync + 'static {
    /// Handles one delivery from the provider of `method`; `true` acknowledges it.
    fn handle<'a>(&'a self, method: &'a Method, notification: Notification) -> BoxFuture<'a, bool>;
}

/// What the host hands a provider plug-in when payments are first used.
#[derive(Clone)]
pub struct ProviderContext {
    /// The host database (a provider keeps its own tables there).
    pub database: Database,
    /// The data directory's `payment-keys/`, where earlier versions kept
    /// providers' keys: a provider keeps its keys with the host's secrets in the
    /// database ([`crate::store::secret`], shared by every host on it) and takes
    /// over a key file it finds here.
    pub key_dir: PathBuf,
    /// Where the provider delivers its notifications.
    pub notifications: Arc<dyn NotificationHandler>,
    /// The provider's configuration section, `[<method id>]` of the host TOML
    /// (empty when absent).
    pub section: toml::Table,
    /// The host's clock: the provider's own time (its timestamps, schedules and
    /// rules), so a script that advances it plays the provider's day too.
    pub clock: Clock,
}

/// A payment provider plug-in: registered with the host, started on first use.
pub trait ProviderPlugin: Send + Sync + 'static {
    /// The method id it implements (`wechat_pay`).
    fn method(&self) -> Method;

    /// Its name on the payment sheet (`WeChat Pay`).
    fn display_name(&self) -> String;

    /// Checks its configuration section when the host is built, so a mistake is
    /// reported before any program runs. Unknown keys should be refused.
    fn check_section(&self, section: &toml::Table) -> Result<(), String>;

    /// Starts the provider (makes or loads its keys, opens its records). Called
    /// once, on a blocking thread.
    fn start(&self, context: ProviderContext) -> Result<Arc<dyn PaymentProvider>, String>;
}

/// A started payment provider.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Creates the order with the provider and lets the user pay; returns what the
    /// client learns. Confirmation reaches the merchant's server separately, by
    /// notification.
    fn pay<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ClientOutcome, String>>;

    /// Asks the provider about an order, as the merchant's server does when a
    /// notification is late.
    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>>;

    /// Closes the order's attempt at the provider, so that it can no longer be
    /// paid — what a merchant does before it records an unconfirmed order as
    /// failed — or learns that it was paid meanwhile. Atomic with the provider's
    /// own payment step: an attempt is either paid or closed, never both.
    /// `Ok(Err(..))` when the provider's rules refuse to close it yet.
    fn close<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<Result<Closed, CloseRefused>, String>>;

    /// Asks the provider to give `refund` back to the payer, under its rules;
    /// asked again with the same `out_refund_no`, it answers about the same
    /// refund and returns nothing more. `Err` when it cannot be reached (the
    /// refund may or may not have been taken: ask again). A provider that takes
    /// no refunds keeps this default, which refuses them by name.
    fn refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<RefundOutcome, String>> {
        let _ = refund;
        Box::pin(std::future::ready(Ok(RefundOutcome::Refused {
            code: ErrorCode::Unsupported,
            message: "this payment provider takes no refunds through the host".to_string(),
        })))
    }

    /// Where `refund` stands at the provider, as the merchant's server asks when
    /// a refund notification is late.
    fn query_refund<'a>(&'a self, refund: &'a ProviderRefund) -> BoxFuture<'a, Result<ProviderRefundState, String>> {
        let _ = refund;
        Box::pin(std::future::ready(Ok(ProviderRefundState::NotFound)))
    }

    /// The merchant's side of the protocol: checks a notification (signature, age,
    /// encryption) at `now` (Unix seconds, the host's clock) and reads what it
    /// confirms — a payment's or a refund's outcome; `Err` names why it is refused.
    fn verify(&self, notification: &Notification, now: i64) -> Result<Verified, String>;

    /// The `(merchant_id, out_trade_no)` a notification claims to be about, read
    /// without trusting it, so a refusal is recorded against that order.
    fn claimed_order(&self, notification: &Notification) -> Option<(String, String)>;
}

/// What a script may switch in the installed providers' behaviour (the script
/// step `scenario NAME`, docs/scripts.md): the simulators offer one, so that a
/// test sets a provider's answer (a declined card, a timeout) before the tap that
/// pays. A production provider offers none.
pub trait ScenarioControl: Send + Sync + 'static {
    /// The scenarios' names.
    fn names(&self) -> Vec<&'static str>;
    /// Sets the scenario for the orders started from now on (`default`: back to
    /// the configured one); an unknown name is an error naming the known ones.
    fn set(&self, name: &str) -> Result<(), String>;
}
