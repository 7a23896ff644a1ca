//! Checking a payment request before anything else happens: every rejection names
//! the field and the rule.

use super::ledger::refunds::ValidRefund;
use super::money;
use miniapp_abi::ApiError;
use miniapp_abi::payment::{Method, PaymentRequest, RefundRequest};

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrder {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// What is bought.
    pub description: String,
    /// Methods the user may choose from (not yet narrowed by the merchant's).
    pub methods: Option<Vec<Method>>,
}

/// Longest description, in bytes (WeChat Pay's limit).
pub const MAX_DESCRIPTION_BYTES: usize = 127;

/// Checks `request`; `cap` is the largest amount allowed (the manifest's and the
/// host's, whichever is lower).
pub fn validate(request: &PaymentRequest, cap: i64, currencies: &[String]) -> Result<ValidOrder, ApiError> {
    let invalid = |field: &str, message: String| Err(ApiError::invalid_argument(format!("{field}: {message}")));
    let amount = whole_amount(&request.amount)?;
    if amount > cap {
        return invalid(
            "amount",
            format!(
                "{} exceeds the limit of {} per order",
                money::display(amount, &request.currency),
                money::display(cap, &request.currency)
            ),
        );
    }
    if !money::is_known_currency(&request.currency) {
        return invalid("currency", format!("`{}` is not a known ISO 4217 currency", request.currency));
    }
    if !currencies.contains(&request.currency) {
        return invalid(
            "currency",
            format!("{} is not accepted here (accepted: {})", request.currency, currencies.join(", ")),
        );
    }
    let trade_no = &request.out_trade_no;
    let trade_no_ok = (6..=32).contains(&trade_no.len())
        && trade_no.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'));
    if !trade_no_ok {
        return invalid("out_trade_no", format!("`{trade_no}` must be 6 to 32 of A-Z a-z 0-9 _ - | *"));
    }
    let description = &request.description;
    if description.trim().is_empty()
        || description.len() > MAX_DESCRIPTION_BYTES
        || crate::sanitize::first_unsafe(description).is_some()
    {
        return invalid(
            "description",
            format!(
                "must be 1 to {MAX_DESCRIPTION_BYTES} bytes of text without control, bidirectional or invisible characters (is {} bytes)",
                description.len()
            ),
        );
    }
    if request.methods.as_ref().is_some_and(|m| m.is_empty()) {
        return invalid("methods", "must name at least one method when given".into());
    }
    Ok(ValidOrder {
        merchant_id: request.merchant_id.clone(),
        out_trade_no: trade_no.clone(),
        amount,
        currency: request.currency.clone(),
        description: description.clone(),
        methods: request.methods.clone(),
    })
}

/// A positive whole number of minor units, or an error naming `amount`.
fn whole_amount(amount: &serde_json::Number) -> Result<i64, ApiError> {
    let invalid = |message: String| Err(ApiError::invalid_argument(format!("amount: {message}")));
    match (amount.as_i64(), amount.is_f64()) {
        (_, true) => invalid(format!("{amount} is not a whole number of minor units (fen)")),
        (Some(value), _) if value <= 0 => invalid(format!("{value} must be greater than 0")),
        (Some(value), _) => Ok(value),
        (None, _) => invalid(format!("{amount} overflows (the largest is {})", i64::MAX)),
    }
}

/// Longest refund reason, in characters (WeChat Pay's limit).
pub const MAX_REFUND_REASON_CHARS: usize = 80;

/// Checks a refund request's own fields (whether the order has room for it is
/// the ledger's to say).
pub fn validate_refund(request: &RefundRequest) -> Result<ValidRefund, ApiError> {
    let invalid = |field: &str, message: String| Err(ApiError::invalid_argument(format!("{field}: {message}")));
    let amount = whole_amount(&request.amount)?;
    let refund_no = &request.out_refund_no;
    let refund_no_ok = (1..=64).contains(&refund_no.len())
        && refund_no.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'));
    if !refund_no_ok {
        return invalid("out_refund_no", format!("`{refund_no}` must be 1 to 64 of A-Z a-z 0-9 _ - | * @"));
    }
    if let Some(reason) = &request.reason
        && (reason.trim().is_empty()
            || reason.chars().count() > MAX_REFUND_REASON_CHARS
            || crate::sanitize::first_unsafe(reason).is_some())
    {
        return invalid(
            "reason",
            format!(
                "must be 1 to {MAX_REFUND_REASON_CHARS} characters of text without control, bidirectional or invisible characters"
            ),
        );
    }
    Ok(ValidRefund {
        merchant_id: request.merchant_id.clone(),
        out_trade_no: request.out_trade_no.clone(),
        out_refund_no: refund_no.clone(),
        amount,
        reason: request.reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(amount: &str) -> PaymentRequest {
        serde_json::from_str(&format!(
            r#"{{"merchant_id":"1900000109","out_trade_no":"T2026112100001","amount":{amount},"currency":"CNY","description":"Deal"}}"#
        ))
        .unwrap()
    }

    fn field(amount: &str, cap: i64) -> String {
        validate(&request(amount), cap, &["CNY".to_string()]).unwrap_err().message
    }

    #[test]
    fn amounts_are_positive_integers_within_the_cap() {
        assert_eq!(validate(&request("1999"), 100_000, &["CNY".into()]).unwrap().amount, 1999);
        assert!(field("0", 100).contains("greater than 0"));
        assert!(field("-5", 100).contains("greater than 0"));
        assert!(field("19.99", 100_000).contains("not a whole number"));
        assert!(field("1e3", 100_000).contains("not a whole number"));
        assert!(field("18446744073709551615", i64::MAX).contains("overflows"));
        assert!(field("100001", 100_000).contains("exceeds the limit of ¥1000.00"));
    }

    #[test]
    fn other_fields_are_named() {
        let accepted = ["CNY".to_string()];
        let mut r = request("100");
        r.currency = "XYZ".into();
        assert!(validate(&r, 1000, &accepted).unwrap_err().message.starts_with("currency: `XYZ` is not a known"));
        r.currency = "USD".into();
        assert!(validate(&r, 1000, &accepted).unwrap_err().message.contains("not accepted here"));
        let mut r = request("100");
        r.out_trade_no = "short".into();
        assert!(validate(&r, 1000, &accepted).unwrap_err().message.starts_with("out_trade_no"));
        r.out_trade_no = "has space 123".into();
        assert!(validate(&r, 1000, &accepted).is_err());
        let mut r = request("100");
        r.description = "好".repeat(43);
        assert!(validate(&r, 1000, &accepted).unwrap_err().message.starts_with("description"));
        let unknown = serde_json::from_str::<PaymentRequest>(
            r#"{"merchant_id":"m","out_trade_no":"T123456","amount":1,"currency":"CNY","description":"d","tip":5}"#,
        );
        assert!(unknown.unwrap_err().to_string().contains("unknown field `tip`"));
    }

    proptest! {
        #[test]
        fn any_accepted_amount_is_positive_and_within_the_cap(amount in any::<i64>(), cap in 1i64..=i64::MAX) {
            if let Ok(order) = validate(&request(&amount.to_string()), cap, &["CNY".to_string()]) {
                prop_assert!(order.amount > 0 && order.amount <= cap);
            }
        }
    }
}
