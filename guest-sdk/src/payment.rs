//! Payments (capability `payment`): one request over several methods — WeChat Pay,
//! Alipay — with the user choosing on a payment sheet the host draws.
//!
//! Amounts are integers in the currency's minor unit (fen for CNY). The host shows
//! the payee from its own records, the exact amount and your description; the user
//! picks a method or cancels. The result is a value: [`Status::Paid`] (with a
//! transaction id and a host-signed receipt), [`Status::Cancelled`],
//! [`Status::Failed`] with a [`FailReason`], or [`Status::Pending`] when the
//! provider has not confirmed yet ([`query`] later).
//!
//! After the payment (ABI 1.1): [`refund`] gives part or all of a paid order back
//! (idempotent by `out_refund_no`; never more than was paid; the provider's rules
//! apply — WeChat Pay: at most 50 refunds per order, a minute apart, within 365
//! days), [`close`] closes an unpaid order so it can never be paid, and
//! [`query`] reports the whole order: attempts, paid amount and refunds.
//!
//! ```no_run
//! use miniapp_sdk::payment::{self, RefundStatus};
//! # fn demo() -> miniapp_sdk::Result<()> {
//! let refund = payment::refund(&payment::Refund::new("1900000109", "T20261121-0001", "R20261121-0001", 990))?;
//! assert!(matches!(refund.status, RefundStatus::Processing | RefundStatus::Success));
//! let order = payment::query("1900000109", "T20261121-0001")?;
//! println!("refunded {} of {}", order.refunded_amount, order.paid_amount);
//! # Ok(()) }
//! ```
//!
//! `(merchant_id, out_trade_no)` is the idempotency key: asking again returns the
//! recorded outcome and charges nothing; after a cancel or a failure, asking again
//! starts a new attempt that can succeed; the same key with another amount or
//! description fails with `idempotency_conflict`.
//!
//! ```toml
//! [capabilities.payment]
//! merchants = ["1900000109"]            # merchant ids this program charges for
//! methods = ["wechat_pay", "alipay"]    # optional
//! max_amount = 100000                   # optional per-order cap, minor units
//! ```
//!
//! ```no_run
//! use miniapp_sdk::payment::{self, Order, Status};
//! # fn demo() -> miniapp_sdk::Result<()> {
//! let result = payment::request(&Order::cny("1900000109", "T20261121-0001", 2990, "Deal: tea set"))?;
//! match result.status {
//!     Status::Paid => println!("paid, receipt {}", result.receipt.unwrap_or_default()),
//!     Status::Cancelled => println!("cancelled; you can try again"),
//!     other => println!("{other}: {:?}", result.reason),
//! }
//! # Ok(()) }
//! ```

use crate::Result;
use crate::host::{host_functions, request as call};
use miniapp_abi::payment::{CloseRequest, PaymentRequest, QueryRequest, RefundRequest};

pub use miniapp_abi::payment::{
    AttemptSummary, FailReason, Method, OrderDetails, PaymentResult, RefundResult, RefundStatus, Status,
};

host_functions!("miniapp:payment" {
    request => payment_request,
    query => payment_query,
    close => payment_close,
    refund => payment_refund,
});

/// A refund to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The merchant of the order.
    pub merchant_id: String,
    /// The paid order.
    pub out_trade_no: String,
    /// Your refund number: 1 to 64 of `A-Z a-z 0-9 _ - | * @`; the same number is
    /// the same refund, however often you ask.
    pub out_refund_no: String,
    /// How much to give back, in minor units (fen).
    pub amount: i64,
    /// Why, for the payer (at most 80 characters).
    pub reason: Option<String>,
}

impl Refund {
    /// A refund of `amount` minor units of order `out_trade_no`.
    pub fn new(merchant_id: &str, out_trade_no: &str, out_refund_no: &str, amount: i64) -> Refund {
        Refund {
            merchant_id: merchant_id.into(),
            out_trade_no: out_trade_no.into(),
            out_refund_no: out_refund_no.into(),
            amount,
            reason: None,
        }
    }

    /// This refund with `reason` shown to the payer.
    pub fn because(mut self, reason: &str) -> Refund {
        self.reason = Some(reason.into());
        self
    }
}

/// An order to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The merchant being paid.
    pub merchant_id: String,
    /// Your order number: 6 to 32 of `A-Z a-z 0-9 _ - | *`.
    pub out_trade_no: String,
    /// Minor units (fen).
    pub amount: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// What is bought, at most 127 bytes.
    pub description: String,
    /// The methods to offer; all the merchant accepts when `None`.
    pub methods: Option<Vec<Method>>,
}

impl Order {
    /// An order in yuan (CNY), amount in fen.
    pub fn cny(merchant_id: &str, out_trade_no: &str, fen: i64, description: &str) -> Order {
        Order {
            merchant_id: merchant_id.into(),
            out_trade_no: out_trade_no.into(),
            amount: fen,
            currency: "CNY".into(),
            description: description.into(),
            methods: None,
        }
    }
}

/// Asks the user to pay `order`.
pub fn request(order: &Order) -> Result<PaymentResult> {
    call(
        payment_request,
        &PaymentRequest {
            merchant_id: order.merchant_id.clone(),
            out_trade_no: order.out_trade_no.clone(),
            amount: order.amount.into(),
            currency: order.currency.clone(),
            description: order.description.clone(),
            methods: order.methods.clone(),
        },
    )
}

/// The whole state of an order this program requested: the payment result
/// (`.order`), paid and refunded amounts, attempts and refunds.
pub fn query(merchant_id: &str, out_trade_no: &str) -> Result<OrderDetails> {
    call(payment_query, &QueryRequest { merchant_id: merchant_id.into(), out_trade_no: out_trade_no.into() })
}

/// Closes an unpaid order so that it can never be paid. The answer is the order
/// as it then stands: `closed`, or `paid` when the payer paid first (refund it
/// then). WeChat Pay refuses (`limit_exceeded`) within 5 minutes of creation.
pub fn close(merchant_id: &str, out_trade_no: &str) -> Result<PaymentResult> {
    call(payment_close, &CloseRequest { merchant_id: merchant_id.into(), out_trade_no: out_trade_no.into() })
}

/// Refunds (part of) a paid order to the payer: `processing` until the provider
/// settles it (`success`, `abnormal` or `closed`; [`query`] to follow it).
pub fn refund(refund: &Refund) -> Result<RefundResult> {
    call(
        payment_refund,
        &RefundRequest {
            merchant_id: refund.merchant_id.clone(),
            out_trade_no: refund.out_trade_no.clone(),
            out_refund_no: refund.out_refund_no.clone(),
            amount: refund.amount.into(),
            reason: refund.reason.clone(),
        },
    )
}
