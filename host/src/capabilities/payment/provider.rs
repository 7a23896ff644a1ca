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

use crate::store::Database;
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
    fn close<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<Closed, String>>;

    /// The merchant's side of the protocol: checks a notification (signature, age,
    /// encryption) at `now` (Unix seconds) and reads what it confirms; `Err` names
    /// why it is refused.
    fn verify(&self, notification: &Notification, now: i64) -> Result<Confirmation, String>;

    /// The `(merchant_id, out_trade_no)` a notification claims to be about, read
    /// without trusting it, so a refusal is recorded against that order.
    fn claimed_order(&self, notification: &Notification) -> Option<(String, String)>;
}
