//! Exact money: integer minor units (fen) and the yuan decimal strings Alipay
//! speaks, converted both ways without floating point.

/// Currencies with their minor-unit exponent and symbol. Only currencies with two
/// decimal places are supported.
const CURRENCIES: &[(&str, &str)] = &[("CNY", "¥"), ("HKD", "HK$"), ("USD", "US$"), ("EUR", "€")];

/// Whether `code` is an ISO 4217 currency this host knows.
pub fn is_known_currency(code: &str) -> bool {
    CURRENCIES.iter().any(|(c, _)| *c == code)
}

/// `19.99` for 1999 fen. Negative amounts keep their sign.
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let magnitude = fen.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// 1999 for `"19.99"`. Accepts `D+`, `D+.D` and `D+.DD` only: no sign, exponent,
/// spaces or more than two decimals; refuses values past `i64::MAX` fen.
pub fn yuan_to_fen(text: &str) -> Result<i64, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) || fraction.len() > 2 {
        return Err(format!("`{text}` is not a yuan amount like 19.99"));
    }
    let cents = match fraction.len() {
        0 => 0,
        1 => i64::from(fraction.as_bytes()[0] - b'0') * 10,
        _ => fraction.parse::<i64>().map_err(|e| e.to_string())?,
    };
    whole
        .parse::<i64>()
        .ok()
        .and_then(|yuan| yuan.checked_mul(100))
        .and_then(|fen| fen.checked_add(cents))
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// The amount as the payment sheet shows it: `¥19.99`.
pub fn display(amount: i64, currency: &str) -> String {
    let symbol = CURRENCIES.iter().find(|(c, _)| *c == currency).map_or(currency, |(_, s)| s);
    format!("{symbol}{}", fen_to_yuan(amount))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(fen_to_yuan(1999), "19.99");
        assert_eq!(fen_to_yuan(1), "0.01");
        assert_eq!(fen_to_yuan(10000), "100.00");
        assert_eq!(yuan_to_fen("19.99"), Ok(1999));
        assert_eq!(yuan_to_fen("0.1"), Ok(10));
        assert_eq!(yuan_to_fen("7"), Ok(700));
        assert_eq!(display(2990, "CNY"), "¥29.90");
        for bad in ["", ".5", "1.", "1.234", "-1.00", "+1", "1e3", " 1", "1,00", "92233720368547758.08"] {
            assert!(yuan_to_fen(bad).is_err(), "{bad}");
        }
        assert_eq!(yuan_to_fen("92233720368547758.07"), Ok(i64::MAX));
    }

    proptest! {
        #[test]
        fn fen_round_trips_over_the_whole_range(fen in 0..=i64::MAX) {
            prop_assert_eq!(yuan_to_fen(&fen_to_yuan(fen)), Ok(fen));
        }

        #[test]
        fn yuan_text_round_trips(whole in 0u64..1_000_000_000_000, cents in 0u8..100) {
            let text = format!("{whole}.{cents:02}");
            let fen = yuan_to_fen(&text).unwrap();
            prop_assert_eq!(fen_to_yuan(fen), text);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = yuan_to_fen(&text);
        }
    }
}
