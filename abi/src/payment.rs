//! `miniapp:payment`: one request API over several payment methods, with the user
//! choosing the method on a payment sheet the host draws.

use serde::{Deserialize, Serialize};

/// The capability name, used in `[capabilities.payment]` and `miniapp:payment`.
pub const CAPABILITY: &str = "payment";

stable_names! {
    /// A way to pay.
    pub enum Method {
        /// WeChat Pay (API v3): amounts in fen.
        WechatPay => "wechat_pay",
        /// Alipay: amounts in yuan as decimal strings.
        Alipay => "alipay",
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
