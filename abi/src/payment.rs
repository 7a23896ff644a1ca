//! `miniapp:payment`: one request API over several payment methods, with the user
//! choosing the method on a payment sheet the host draws.

use serde::{Deserialize, Serialize};

/// The capability name, used in `[capabilities.payment]` and `miniapp:payment`.
pub const CAPABILITY: &str = "payment";

/// A way to pay: the id a payment provider registers with the host (`wechat_pay`,
/// `alipay`, or any other an embedder installs). 1 to 32 of `a-z 0-9 _`, starting
/// with a letter; the host offers only the methods it has a provider for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Method(String);

/// A method id that breaks the id rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMethod(pub String);

impl std::fmt::Display for InvalidMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a method id (1 to 32 of a-z 0-9 _, starting with a letter)", self.0)
    }
}

impl std::error::Error for InvalidMethod {}

impl Method {
    /// WeChat Pay's id (API v3: amounts in fen).
    pub const WECHAT_PAY: &'static str = "wechat_pay";
    /// Alipay's id (amounts in yuan as decimal strings).
    pub const ALIPAY: &'static str = "alipay";

    /// The method called `id`, if `id` follows the id rules.
    pub fn new(id: &str) -> Result<Method, InvalidMethod> {
        let mut chars = id.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && id.len() <= 32;
        if well_formed { Ok(Method(id.to_string())) } else { Err(InvalidMethod(id.to_string())) }
    }

    /// The method called `id`, or `None` if `id` is not a method id.
    pub fn parse(id: &str) -> Option<Method> {
        Method::new(id).ok()
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Method {
    type Error = InvalidMethod;
    fn try_from(id: String) -> Result<Method, InvalidMethod> {
        Method::new(&id)
    }
}

impl From<Method> for String {
    fn from(method: Method) -> String {
        method.0
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// `request`: ask the user to pay for an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The merchant being paid; must be declared in the manifest and registered with the host.
    pub merchant_id: String,
    /// The merchant's order number: 6 to 32 of `A-Z a-z 0-9 _ - | *`. With
    /// `merchant_id` it is the idempotency key.
    pub out_trade_no: String,
    /// The amount in the currency's minor unit (fen for CNY): a positive integer.
    pub amount: serde_json::Number,
    /// ISO 4217 code, e.g. `CNY`.
    pub currency: String,
    /// What is bought, at most 127 bytes.
    pub description: String,
    /// The methods the user may choose from; all the merchant accepts when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<Method>>,
}

/// `query`: the current state of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
}

stable_names! {
    /// Where an order stands.
    pub enum Status {
        /// Paid: `transaction_id`, `method` and `receipt` are set.
        Paid => "paid",
        /// The user cancelled; the order may be paid by a new attempt.
        Cancelled => "cancelled",
        /// Payment failed (`reason` says why); the order may be paid by a new attempt.
        Failed => "failed",
        /// The provider has not confirmed yet; query again later.
        Pending => "pending",
        /// The merchant closed the order unpaid (ABI 1.1): it can never be paid;
        /// a new order needs a new `out_trade_no`.
        Closed => "closed",
    }
}

stable_names! {
    /// Why a payment failed.
    pub enum FailReason {
        /// The user's balance or card was refused.
        InsufficientFunds => "insufficient_funds",
        /// The provider did not answer in time.
        ProviderTimeout => "provider_timeout",
        /// The provider refused the order.
        ProviderError => "provider_error",
        /// The provider's confirmation did not match the order.
        AmountMismatch => "amount_mismatch",
    }
}

/// The reply of `request` and `query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentResult {
    /// Where the order stands.
    pub status: Status,
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The amount, in minor units.
    pub amount: i64,
    /// The currency.
    pub currency: String,
    /// The provider's transaction id, when paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The method used, when chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The host-signed receipt, when paid (`miniapp ledger verify` checks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Why, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailReason>,
    /// Which attempt at paying this order this is (1 for the first).
    pub attempt: u32,
}

/// `close` (ABI 1.1): close an unpaid order, so that it can no longer be paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
}

/// `refund` (ABI 1.1): give (part of) a paid order back to the payer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The merchant of the order.
    pub merchant_id: String,
    /// The paid order.
    pub out_trade_no: String,
    /// The program's refund number: 1 to 64 of `A-Z a-z 0-9 _ - | * @`. With
    /// `merchant_id` it is the refund's idempotency key.
    pub out_refund_no: String,
    /// How much to give back, in the order currency's minor unit: a positive
    /// integer, at most what is left to refund.
    pub amount: serde_json::Number,
    /// Why, shown to the payer by the provider: at most 80 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

stable_names! {
    /// Where a refund stands (WeChat Pay's refund states).
    pub enum RefundStatus {
        /// The provider accepted it; the money is on its way.
        Processing => "processing",
        /// The payer has the money back: `refund_id` and `receipt` are set.
        Success => "success",
        /// The provider could not return it (the payer's card was closed, say):
        /// it needs the merchant's manual handling; its amount stays reserved.
        Abnormal => "abnormal",
        /// The provider closed it without returning the money; the amount may be
        /// refunded again under a new `out_refund_no`.
        Closed => "closed",
    }
}

/// The reply of `refund`, and each refund in `query`'s reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundResult {
    /// Where it stands.
    pub status: RefundStatus,
    /// The merchant.
    pub merchant_id: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// The program's refund number.
    pub out_refund_no: String,
    /// The amount, in minor units.
    pub amount: i64,
    /// The currency.
    pub currency: String,
    /// The provider's refund id, once it accepted the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// The host-signed refund receipt, once the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// The provider's word on an abnormal or closed refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One attempt at paying an order, as `query` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptSummary {
    /// The attempt (1 for the first).
    pub attempt: u32,
    /// How it ended, or `pending` while in progress.
    pub status: Status,
    /// The method chosen, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
}

/// The reply of `query` (ABI 1.1 adds every field after the payment result's):
/// the order's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetails {
    /// The order as a payment result.
    #[serde(flatten)]
    pub order: PaymentResult,
    /// What the payer paid, in minor units (0 unless paid).
    #[serde(default)]
    pub paid_amount: i64,
    /// What has been given back: refunds that succeeded.
    #[serde(default)]
    pub refunded_amount: i64,
    /// What may still be refunded: paid, less every refund that succeeded, is
    /// processing or is abnormal.
    #[serde(default)]
    pub refundable_amount: i64,
    /// Every attempt at paying it, oldest first.
    #[serde(default)]
    pub attempts: Vec<AttemptSummary>,
    /// Its refunds, oldest first.
    #[serde(default)]
    pub refunds: Vec<RefundResult>,
}
