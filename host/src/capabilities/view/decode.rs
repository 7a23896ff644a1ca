//! The view decoder: a guest's JSON tree in, a checked [`View`] out — or an error
//! that names the place in the tree (`body[2].children[0].action`) and the problem.
//!
//! Everything a terminal or a phone will draw passes through here, so besides the
//! shape it refuses what could hurt the person looking: control characters (a
//! terminal escape sequence could rewrite the screen or the payment sheet), bidi
//! overrides, non-https images, oversized or over-deep trees.

use super::settings::ViewSettings;
use super::tree::Json;
use miniapp_abi::view::{ButtonStyle, Node, Tone, View};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// An object's fields, in the order sent.
type Object<'a> = [(Cow<'a, str>, Json<'a>)];

/// Largest button payload, as compact JSON.
pub const MAX_PAYLOAD_BYTES: usize = 1024;
/// Longest image URL.
const MAX_URL_BYTES: usize = 2048;
/// Longest title, button label or badge.
const MAX_LABEL_CHARS: usize = 64;
/// Largest amount a price may show (¥10,000,000,000,000.00).
const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// What is wrong with a view, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ViewError {
    /// Where in the tree, e.g. `body[2].children[0].action`.
    pub path: String,
    /// The problem.
    pub message: String,
}

/// Reads the JSON text of a view and decodes and checks it under `limits`.
pub fn decode_view(text: &str, limits: &ViewSettings) -> Result<View, ViewError> {
    let value = Json::parse(text).map_err(|e| error(&Place::Root("view"), format!("not JSON: {e}")))?;
    decode_view_tree(&value, limits)
}

/// Decodes and checks a view already read into a [`Json`] tree, under `limits`.
pub fn decode_view_tree(value: &Json<'_>, limits: &ViewSettings) -> Result<View, ViewError> {
    let mut decoder = Decoder { limits, nodes: 0, keys: BTreeSet::new(), fields: BTreeSet::new() };
    let view = Place::Root("view");
    let object = expect_object(value, &view)?;
    check_fields(object, &view, &["title", "body"])?;
    let title = decoder.label(object, &view, "title", MAX_LABEL_CHARS)?;
    let body = match get(object, "body") {
        None => Vec::new(),
        Some(body) => decoder.nodes(body, &Place::Root("body"), 1)?,
    };
    Ok(View { title, body })
}

struct Decoder<'a> {
    limits: &'a ViewSettings,
    nodes: u32,
    keys: BTreeSet<String>,
    fields: BTreeSet<String>,
}

impl Decoder<'_> {
    fn nodes(&mut self, value: &Json<'_>, path: &Place<'_>, depth: u32) -> Result<Vec<Node>, ViewError> {
        let Json::Array(items) = value else {
            return Err(error(path, format!("expected an array of components, found {}", value.kind())));
        };
        items.iter().enumerate().map(|(i, item)| self.node(item, &Place::Index(path, i), depth)).collect()
    }

    fn node(&mut self, value: &Json<'_>, path: &Place<'_>, depth: u32) -> Result<Node, ViewError> {
        if depth > self.limits.max_depth {
            return Err(error(path, format!("components are nested more than {} deep", self.limits.max_depth)));
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(error(path, format!("the view has more than {} components", self.limits.max_nodes)));
        }
        let object = expect_object(value, path)?;
        let kind_name = match get(object, "type") {
            Some(Json::String(name)) => name.as_ref(),
            Some(other) => {
                return Err(error(&Place::Field(path, "type"), format!("expected a string, found {}", other.kind())));
            }
            None => return Err(error(path, "missing field `type`")),
        };
        let node = match kind_name {
            "text" => {
                check_fields(object, path, &["type", "text", "tone"])?;
                Node::Text { text: self.text(object, path, "text")?, tone: tone(object, path)? }
            }
            "heading" => {
                check_fields(object, path, &["type", "text", "level"])?;
                let level = match get(object, "level") {
                    None => 1,
                    Some(value) => match as_i64(value) {
                        Some(level @ 1..=3) => level as u8,
                        _ => return Err(error(&Place::Field(path, "level"), "expected 1, 2 or 3")),
                    },
                };
                Node::Heading { text: self.text(object, path, "text")?, level }
            }
            "image" => {
                check_fields(object, path, &["type", "src", "alt"])?;
                let src = string(object, path, "src")?;
                check_image_url(src).map_err(|message| error(&Place::Field(path, "src"), message))?;
                Node::Image { src: src.to_string(), alt: self.label(object, path, "alt", MAX_LABEL_CHARS)? }
            }
            "price" => {
                check_fields(object, path, &["type", "amount", "currency", "original"])?;
                let currency = match get(object, "currency") {
                    None => "CNY".to_string(),
                    Some(_) => {
                        let currency = string(object, path, "currency")?;
                        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                            return Err(error(
                                &Place::Field(path, "currency"),
                                format!("`{currency}` is not an ISO 4217 code (three capital letters)"),
                            ));
                        }
                        currency.to_string()
                    }
                };
                let original = match get(object, "original") {
                    None | Some(Json::Null) => None,
                    Some(_) => Some(amount(object, path, "original")?),
                };
                Node::Price { amount: amount(object, path, "amount")?, currency, original }
            }
            "badge" => {
                check_fields(object, path, &["type", "text", "tone"])?;
                Node::Badge { text: self.label(object, path, "text", 16)?, tone: tone(object, path)? }
            }
            "row" | "column" => {
                check_fields(object, path, &["type", "children"])?;
                let children = required(object, path, "children")?;
                let children = self.nodes(children, &Place::Field(path, "children"), depth + 1)?;
                if kind_name == "row" { Node::Row { children } } else { Node::Column { children } }
            }
            "list" => {
                check_fields(object, path, &["type", "items"])?;
                let items = required(object, path, "items")?;
                Node::List { items: self.nodes(items, &Place::Field(path, "items"), depth + 1)? }
            }
            "button" => self.button(object, path)?,
            "input" => {
                check_fields(object, path, &["type", "field", "label", "placeholder", "value"])?;
                let field = identifier(object, path, "field")?;
                if !self.fields.insert(field.clone()) {
                    return Err(error(
                        &Place::Field(path, "field"),
                        format!("another input already uses field `{field}`"),
                    ));
                }
                Node::Input {
                    field,
                    label: self.optional_label(object, path, "label")?,
                    placeholder: self.optional_label(object, path, "placeholder")?,
                    value: match get(object, "value") {
                        None => String::new(),
                        Some(_) => self.label(object, path, "value", self.limits.max_text_chars as usize)?,
                    },
                }
            }
            "divider" => {
                check_fields(object, path, &["type"])?;
                Node::Divider {}
            }
            other => {
                return Err(error(
                    &Place::Field(path, "type"),
                    format!("unknown component `{}`; expected one of: {}", shorten(other), Node::TYPES.join(", ")),
                ));
            }
        };
        Ok(node)
    }

    fn button(&mut self, object: &Object<'_>, path: &Place<'_>) -> Result<Node, ViewError> {
        check_fields(object, path, &["type", "label", "action", "payload", "key", "style", "disabled"])?;
        let label = self.label(object, path, "label", MAX_LABEL_CHARS)?;
        if label.trim().is_empty() {
            return Err(error(&Place::Field(path, "label"), "a button needs a label"));
        }
        let action = identifier(object, path, "action")?;
        let payload = get(object, "payload").map_or(Value::Null, Json::to_value);
        let payload_size = json_size(&payload);
        if payload_size > MAX_PAYLOAD_BYTES {
            return Err(error(
                &Place::Field(path, "payload"),
                format!("payload is {payload_size} bytes of JSON; at most {MAX_PAYLOAD_BYTES}"),
            ));
        }
        let key = match get(object, "key") {
            None | Some(Json::Null) => None,
            Some(_) => {
                let key = string(object, path, "key")?;
                if key.len() != 1 || !key.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(error(&Place::Field(path, "key"), format!("`{}` is not one letter a-z", shorten(key))));
                }
                if !self.keys.insert(key.to_string()) {
                    return Err(error(&Place::Field(path, "key"), format!("another button already uses key `{key}`")));
                }
                Some(key.to_string())
            }
        };
        let style = match get(object, "style") {
            None | Some(Json::Null) => None,
            Some(_) => {
                let name = string(object, path, "style")?;
                Some(ButtonStyle::parse(name).ok_or_else(|| {
                    error(
                        &Place::Field(path, "style"),
                        format!("unknown style `{}`; expected primary, secondary or danger", shorten(name)),
                    )
                })?)
            }
        };
        let disabled = match get(object, "disabled") {
            None => false,
            Some(Json::Bool(disabled)) => *disabled,
            Some(other) => {
                return Err(error(
                    &Place::Field(path, "disabled"),
                    format!("expected true or false, found {}", other.kind()),
                ));
            }
        };
        Ok(Node::Button { label, action, payload, key, style, disabled })
    }

    /// Body text: newlines allowed.
    fn text(&self, object: &Object<'_>, path: &Place<'_>, field: &str) -> Result<String, ViewError> {
        let text = string(object, path, field)?;
        check_text(text, true, self.limits.max_text_chars as usize)
            .map_err(|m| error(&Place::Field(path, field), m))?;
        Ok(text.to_string())
    }

    /// A one-line string of at most `max` characters.
    fn label(&self, object: &Object<'_>, path: &Place<'_>, field: &str, max: usize) -> Result<String, ViewError> {
        let text = string(object, path, field)?;
        check_text(text, false, max).map_err(|m| error(&Place::Field(path, field), m))?;
        Ok(text.to_string())
    }

    fn optional_label(&self, object: &Object<'_>, path: &Place<'_>, field: &str) -> Result<String, ViewError> {
        match get(object, field) {
            None => Ok(String::new()),
            Some(_) => self.label(object, path, field, MAX_LABEL_CHARS),
        }
    }
}

/// Checks text shown to the user: length, and no characters that could change how
/// the rest of the screen reads.
pub fn check_text(text: &str, newlines: bool, max_chars: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!("text of {chars} characters; at most {max_chars}"));
    }
    // Line breaks are allowed where the component allows them; nothing else that
    // could rewrite or disguise the screen is.
    let problem = if newlines {
        text.split('\n').find_map(crate::sanitize::first_unsafe)
    } else {
        crate::sanitize::first_unsafe(text)
    };
    match problem {
        Some(problem) => Err(format!("{problem} is not allowed")),
        None => Ok(()),
    }
}

fn check_image_url(src: &str) -> Result<(), String> {
    if src.len() > MAX_URL_BYTES {
        return Err(format!("URL of {} bytes; at most {MAX_URL_BYTES}", src.len()));
    }
    let url = url::Url::parse(src).map_err(|e| format!("`{}` is not a URL: {e}", shorten(src)))?;
    if url.scheme() != "https" {
        return Err(format!("images must be https, not `{}`", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("image URLs must not carry credentials".to_string());
    }
    check_text(src, false, MAX_URL_BYTES)
}

fn tone(object: &Object<'_>, path: &Place<'_>) -> Result<Option<Tone>, ViewError> {
    match get(object, "tone") {
        None | Some(Json::Null) => Ok(None),
        Some(_) => {
            let name = string(object, path, "tone")?;
            let known: Vec<&str> = Tone::ALL.iter().map(|t| t.as_str()).collect();
            Tone::parse(name).map(Some).ok_or_else(|| {
                error(
                    &Place::Field(path, "tone"),
                    format!("unknown tone `{}`; expected one of: {}", shorten(name), known.join(", ")),
                )
            })
        }
    }
}

fn amount(object: &Object<'_>, path: &Place<'_>, field: &str) -> Result<i64, ViewError> {
    let value = required(object, path, field)?;
    match as_i64(value) {
        Some(amount @ 0..=MAX_AMOUNT) => Ok(amount),
        _ => Err(error(
            &Place::Field(path, field),
            format!("expected a whole number of minor units (fen) from 0 to {MAX_AMOUNT}, found {value}"),
        )),
    }
}

/// An action id or field name: 1 to 64 of `a-z 0-9 _ - . :`.
fn identifier(object: &Object<'_>, path: &Place<'_>, field: &str) -> Result<String, ViewError> {
    let text = string(object, path, field)?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.:".contains(&b));
    if !ok {
        return Err(error(
            &Place::Field(path, field),
            format!("`{}` is not an id (1 to 64 of a-z 0-9 _ - . :)", shorten(text)),
        ));
    }
    Ok(text.to_string())
}

fn string<'v>(object: &'v Object<'_>, path: &Place<'_>, field: &str) -> Result<&'v str, ViewError> {
    match required(object, path, field)? {
        Json::String(text) => Ok(text),
        other => Err(error(&Place::Field(path, field), format!("expected a string, found {}", other.kind()))),
    }
}

fn required<'v, 'a>(object: &'v Object<'a>, path: &Place<'_>, field: &str) -> Result<&'v Json<'a>, ViewError> {
    get(object, field).ok_or_else(|| error(path, format!("missing field `{field}`")))
}

/// The field `name`; [`check_fields`] has made sure it is there at most once.
fn get<'v, 'a>(object: &'v Object<'a>, name: &str) -> Option<&'v Json<'a>> {
    object.iter().find(|(field, _)| field == name).map(|(_, value)| value)
}

fn as_i64(value: &Json<'_>) -> Option<i64> {
    match value {
        Json::Number(number) => number.as_i64(),
        _ => None,
    }
}

fn expect_object<'v, 'a>(value: &'v Json<'a>, path: &Place<'_>) -> Result<&'v Object<'a>, ViewError> {
    match value {
        Json::Object(object) => Ok(object),
        other => Err(error(path, format!("expected an object, found {}", other.kind()))),
    }
}

/// Refuses a field not in `known`, and one sent twice (JSON leaves a repeated
/// name's meaning open; a view must not mean one thing to one reader and another
/// to the next).
fn check_fields(object: &Object<'_>, path: &Place<'_>, known: &[&str]) -> Result<(), ViewError> {
    let mut seen = 0u64;
    for (name, _) in object {
        let Some(index) = known.iter().position(|field| field == name) else {
            return Err(error(
                path,
                format!("unknown field `{}`; expected one of: {}", shorten(name), known.join(", ")),
            ));
        };
        if seen & (1 << index) != 0 {
            return Err(error(path, format!("field `{name}` is given twice")));
        }
        seen |= 1 << index;
    }
    Ok(())
}

/// The length of `value` as compact JSON, counted without writing it out.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(usize::MAX, |()| count.0)
}

/// A guest-chosen string quoted in an error: at most 40 characters, escaped.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect::<String>().escape_debug().to_string();
    if text.chars().count() > 40 {
        short.push('…');
    }
    short
}

/// Where in the tree a value is: written out only for an error, so that a view
/// that decodes allocates no paths.
#[derive(Clone, Copy)]
enum Place<'a> {
    Root(&'static str),
    Index(&'a Place<'a>, usize),
    Field(&'a Place<'a>, &'a str),
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Root(name) => f.write_str(name),
            Place::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Place::Field(parent, field) => write!(f, "{parent}.{field}"),
        }
    }
}

fn error(path: &Place<'_>, message: impl Into<String>) -> ViewError {
    ViewError { path: path.to_string(), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Every JSONTestSuite document that parses is fed to the view decoder: an
    /// answer, never a panic.
    #[test]
    fn the_json_test_suite_through_the_view_decoder() {
        let mut decoded = 0;
        for (_, bytes) in crate::capability::json_test_suite() {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = decode_view(text, &ViewSettings::default());
                decoded += 1;
            }
        }
        assert!(decoded > 90, "only {decoded} documents parsed");
    }

    fn decode(value: Value) -> Result<View, ViewError> {
        decode_view(&value.to_string(), &ViewSettings::default())
    }

    #[test]
    fn a_storefront_view_decodes() {
        let view = decode(json!({
            "title": "淘宝特价",
            "body": [
                {"type": "heading", "text": "今日好价", "level": 2},
                {"type": "image", "src": "https://img.example.com/1.jpg", "alt": "茶具"},
                {"type": "row", "children": [
                    {"type": "price", "amount": 2990, "original": 5990},
                    {"type": "badge", "text": "-50%", "tone": "accent"}
                ]},
                {"type": "list", "items": [{"type": "text", "text": "line one\nline two", "tone": "muted"}]},
                {"type": "button", "label": "加入购物车", "action": "cart.add", "payload": {"item": "1042"}, "key": "a"},
                {"type": "input", "field": "coupon", "label": "Coupon", "placeholder": "code"},
                {"type": "divider"}
            ]
        }))
        .unwrap();
        assert_eq!(view.body.len(), 7);
        assert_eq!(serde_json::to_value(&view).unwrap()["body"][2]["children"][0]["currency"], "CNY");
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        let cases = [
            (json!({"title": "t", "body": [{"type": "carousel"}]}), "body[0].type", "unknown component `carousel`"),
            (
                json!({"title": "t", "body": [{"type": "row", "children": [{"type": "button", "label": "Buy", "action": "Buy Now"}]}]}),
                "body[0].children[0].action",
                "not an id",
            ),
            (json!({"title": "t", "body": [{"type": "text"}]}), "body[0]", "missing field `text`"),
            (
                json!({"title": "t", "body": [{"type": "text", "text": "a", "colour": "red"}]}),
                "body[0]",
                "unknown field `colour`",
            ),
            (
                json!({"title": "t", "body": [{"type": "text", "text": "\u{1b}[2J"}]}),
                "body[0].text",
                "control character U+001B",
            ),
            (
                json!({"title": "t", "body": [{"type": "image", "src": "http://a.example/x.png", "alt": "x"}]}),
                "body[0].src",
                "https",
            ),
            (json!({"title": "t", "body": [{"type": "price", "amount": -1}]}), "body[0].amount", "whole number"),
            (json!({"title": "t", "body": [{"type": "price", "amount": 1.5}]}), "body[0].amount", "whole number"),
            (
                json!({"title": "t", "body": [{"type": "button", "label": "a", "action": "a", "key": "x"}, {"type": "button", "label": "b", "action": "b", "key": "x"}]}),
                "body[1].key",
                "already uses key",
            ),
            (json!({"title": "t\u{202E}", "body": []}), "view.title", "bidirectional"),
            (json!({"body": []}), "view", "missing field `title`"),
            (json!([1]), "view", "expected an object"),
        ];
        for (value, path, message) in cases {
            let err = decode(value.clone()).unwrap_err();
            assert_eq!(err.path, path, "{value}: {err}");
            assert!(err.message.contains(message), "{value}: {err}");
        }
    }

    #[test]
    fn text_that_is_not_a_view_is_refused_at_its_place() {
        let settings = ViewSettings::default();
        let cases = [
            (r#"{"title": "t", "title": "u", "body": []}"#, "view", "field `title` is given twice"),
            (
                r#"{"title": "t", "body": [{"type": "text", "text": "a", "type": "badge"}]}"#,
                "body[0]",
                "`type` is given twice",
            ),
            (r#"{"title": "t", "body": [}"#, "view", "not JSON"),
            (r#"{"title": "\u001b[2J", "body": []}"#, "view.title", "control character U+001B"),
        ];
        for (text, path, message) in cases {
            let err = decode_view(text, &settings).unwrap_err();
            assert_eq!(err.path, path, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let mut deep = json!({"type": "text", "text": "x"});
        for _ in 0..20 {
            deep = json!({"type": "column", "children": [deep]});
        }
        let err = decode(json!({"title": "t", "body": [deep]})).unwrap_err();
        assert!(err.message.contains("nested more than 16"), "{err}");
        let many: Vec<Value> = (0..2_001).map(|_| json!({"type": "divider"})).collect();
        let err = decode(json!({"title": "t", "body": many})).unwrap_err();
        assert!(err.message.contains("more than 2000 components"), "{err}");
        let long = "长".repeat(2_001);
        let err = decode(json!({"title": "t", "body": [{"type": "text", "text": long}]})).unwrap_err();
        assert!(err.message.contains("2001 characters"), "{err}");
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            prop::sample::select(vec!["text", "row", "button", "type", "children", "label", "action", "a"])
                .prop_map(|s| Value::String(s.into())),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "type", "text", "children", "items", "label", "action", "title", "body", "key"
                    ]),
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        /// Whatever a guest sends, the decoder answers; and what it accepts
        /// survives a round trip through the ABI type unchanged.
        #[test]
        fn any_json_decodes_or_is_refused_with_a_path(value in arbitrary_json()) {
            match decode(value) {
                Ok(view) => {
                    let again = decode(serde_json::to_value(&view).unwrap()).unwrap();
                    prop_assert_eq!(again, view);
                }
                Err(err) => prop_assert!(!err.path.is_empty() && !err.message.is_empty()),
            }
        }
    }
}
