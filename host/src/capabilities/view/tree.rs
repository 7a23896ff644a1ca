//! A JSON document read in place: the tree the view decoder walks.
//!
//! A view is the largest message a program sends, once per render. Reading it into
//! `serde_json::Value` builds a map per component and a `String` per text only for
//! the decoder to copy them again into the [`View`](miniapp_abi::view::View); this
//! tree borrows every string that has no escapes from the request and keeps an
//! object's fields as a list, in the order sent. serde_json's parser (its nesting
//! limit of 128 bounds the recursion) reads it.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// One JSON value, its strings borrowed from the text where they can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json reads it (an integer stays exact).
    Number(Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object's fields in the order sent (a repeated name is the decoder's to refuse).
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Reads `text` as one JSON document.
    pub fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// What kind of value it is, for an error: `a string`, `an object`.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The same value as a `serde_json::Value` (a repeated field name keeps its last value).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(value) => Value::Bool(*value),
            Json::Number(number) => Value::Number(number.clone()),
            Json::String(text) => Value::String(text.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(fields) => {
                Value::Object(fields.iter().map(|(name, value)| (name.to_string(), value.to_value())).collect())
            }
        }
    }
}

impl fmt::Display for Json<'_> {
    /// Compact JSON (only errors show a value, so the copy costs nothing that matters).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_value().fmt(f)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Json<'de>, E> {
        // serde_json never reads a non-finite number from text.
        Number::from_f64(value).map(Json::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut fields = Vec::new();
        while let Some(FieldName(name)) = map.next_key()? {
            fields.push((name, map.next_value()?));
        }
        Ok(Json::Object(fields))
    }
}

/// An object's field name, borrowed like a string value (serde's own `Cow<str>`
/// always copies).
struct FieldName<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_str(JsonVisitor)? {
            Json::String(name) => Ok(FieldName(name)),
            _ => Err(serde::de::Error::custom("a field name that is not a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let json = Json::parse(r#"{"title": "淘宝", "body": ["a\nb"]}"#).unwrap();
        let Json::Object(fields) = json else { panic!("an object") };
        assert!(matches!(fields[0].0, Cow::Borrowed("title")));
        assert!(matches!(fields[0].1, Json::String(Cow::Borrowed("淘宝"))));
        let Json::Array(items) = &fields[1].1 else { panic!("an array") };
        assert_eq!(items[0], Json::String(Cow::Owned("a\nb".to_string())));
    }

    #[test]
    fn nesting_is_bounded_by_the_parser() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Json::parse(&deep).unwrap_err().to_string().contains("recursion limit"));
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| n.into()),
            any::<u64>().prop_map(|n| n.into()),
            (-1e300f64..1e300).prop_map(|n| n.into()),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\\n]{0,4}", inner, 0..5)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any value written as JSON (escapes, any Unicode, big and negative
        /// numbers) reads back as serde_json's `Value` reads it (a float's last
        /// digit is serde_json's parser's, the same for both).
        #[test]
        fn what_is_written_reads_back(value in any_value()) {
            let text = value.to_string();
            let theirs = serde_json::from_str::<Value>(&text).unwrap();
            prop_assert_eq!(Json::parse(&text).unwrap().to_value(), theirs);
        }

        /// Text of JSON's own characters reads as serde_json's `Value` reads it,
        /// or is refused as it refuses it.
        #[test]
        fn it_reads_what_serde_json_reads(text in r#"[\[\]{}",:0-9a-z\\ .e-]{0,40}"#) {
            let ours = Json::parse(&text).map(|json| json.to_value()).ok();
            let theirs = serde_json::from_str::<Value>(&text).ok();
            prop_assert_eq!(ours, theirs);
        }
    }

    /// The JSONTestSuite's documents: what serde_json's `Value` accepts, this
    /// accepts as the same value, and what it refuses, this refuses.
    #[test]
    fn the_json_test_suite_reads_as_serde_json_reads_it() {
        let mut compared = 0;
        for (name, bytes) in crate::capability::json_test_suite() {
            let Ok(text) = std::str::from_utf8(&bytes) else { continue };
            let ours = Json::parse(text).map(|json| json.to_value()).ok();
            let theirs = serde_json::from_str::<Value>(text).ok();
            assert_eq!(ours, theirs, "{name}");
            compared += 1;
        }
        assert!(compared > 200, "only {compared} documents compared");
    }
}
