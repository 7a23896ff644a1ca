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
use miniapp_abi::payment::{PaymentRequest, QueryRequest};

pub use miniapp_abi::payment::{FailReason, Method, PaymentResult, Status};

host_functions!("miniapp:payment" {
    request => payment_request,
    query => payment_query,
});

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

/// The current state of an order this program requested.
pub fn query(merchant_id: &str, out_trade_no: &str) -> Result<PaymentResult> {
    call(payment_query, &QueryRequest { merchant_id: merchant_id.into(), out_trade_no: out_trade_no.into() })
}
