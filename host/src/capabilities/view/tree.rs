//! A JSON document read in place: the tree the view decoder walks.
//!
//! A view is the largest message a program sends, once per render. Reading it into
//! `serde_json::Value` builds a map per component and a `String` per text only for
//! the decoder to copy them again into the [`View`](miniapp_abi::view::View); this
//! tree borrows every string that has no escapes from the request and keeps an
//! object's fields as a list, in the order sent.
//!
//! The parser is this module's own, one pass over the bytes: strict RFC 8259 (what
//! serde_json accepts, it accepts, and refuses what serde_json refuses — tested on
//! the JSONTestSuite and on generated text), numbers read exactly as serde_json
//! reads them (its `Number` parses their text), and nesting bounded at
//! [`MAX_DEPTH`] levels, as serde_json's is, so the recursion is bounded by a constant.

use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// How deeply arrays and objects may nest: serde_json's own limit (it refuses the
/// 128th level).
pub const MAX_DEPTH: usize = 127;

/// Why a text is not one JSON document: what was wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    problem: &'static str,
    /// The 1-based line and column of the byte where it was found.
    line: usize,
    column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.problem, self.line, self.column)
    }
}

impl std::error::Error for ParseError {}

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
    pub fn parse(text: &'a str) -> Result<Json<'a>, ParseError> {
        let mut parser = Parser { text, at: 0 };
        parser.skip_whitespace();
        let value = parser.value(0)?;
        parser.skip_whitespace();
        if parser.at < parser.bytes().len() {
            return Err(parser.error("trailing characters"));
        }
        Ok(value)
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

/// The parser's place in the text. `at` is always on a character boundary of
/// `text`: it only moves past ASCII bytes or past whole runs the parser checked.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn error(&self, problem: &'static str) -> ParseError {
        let before = &self.bytes()[..self.at.min(self.bytes().len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        ParseError { problem, line, column: self.at.saturating_sub(line_start) + 1 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Json<'a>) -> Result<Json<'a>, ParseError> {
        if self.bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// Opens an array or object at `depth`, the parser on its opening bracket:
    /// whether it closes at once with `close`.
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.at += 1;
        self.skip_whitespace();
        let empty = self.peek() == Some(close);
        if empty {
            self.at += 1;
        }
        Ok(empty)
    }

    /// After an item: `,` (another follows) or `close` (the end, consumed).
    fn next_or_close(&mut self, close: u8, eof: &'static str, expected: &'static str) -> Result<bool, ParseError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                self.skip_whitespace();
                Ok(true)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            None => Err(self.error(eof)),
            Some(_) => Err(self.error(expected)),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        let mut items = Vec::new();
        if self.open(depth, b']')? {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            if !self.next_or_close(b']', "EOF while parsing a list", "expected `,` or `]`")? {
                return Ok(Json::Array(items));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        const EOF: &str = "EOF while parsing an object";
        let mut fields = Vec::new();
        if self.open(depth, b'}')? {
            return Ok(Json::Object(fields));
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error(EOF)),
                Some(_) => return Err(self.error("key must be a string")),
            }
            let name = self.string()?;
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.at += 1,
                None => return Err(self.error(EOF)),
                Some(_) => return Err(self.error("expected `:`")),
            }
            self.skip_whitespace();
            let value = self.value(depth)?;
            fields.push((name, value));
            if !self.next_or_close(b'}', EOF, "expected `,` or `}`")? {
                return Ok(Json::Object(fields));
            }
        }
    }

    /// A string, the parser on its opening quote: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.at += 1;
        let start = self.at;
        // The run up to the first quote or backslash: the text is UTF-8 already,
        // so only control characters need a look.
        loop {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    let text = &self.text[start..self.at];
                    self.at += 1;
                    return Ok(Cow::Borrowed(text));
                }
                Some(b'\\') => break,
                Some(0x00..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => self.at += 1,
            }
        }
        let mut owned = String::from(&self.text[start..self.at]);
        loop {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut owned)?;
                }
                Some(0x00..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => {
                    let run = self.at;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.at += 1;
                    }
                    owned.push_str(&self.text[run..self.at]);
                }
            }
        }
    }

    /// One escape, the parser just past its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let Some(kind) = self.peek() else { return Err(self.error("EOF while parsing a string")) };
        self.at += 1;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        if !self.bytes()[self.at..].starts_with(b"\\u") {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        self.at += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
                    code => char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?,
                }
            }
            _ => {
                self.at -= 1;
                return Err(self.error("invalid escape"));
            }
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                None => return Err(self.error("EOF while parsing a string")),
                Some(_) => return Err(self.error("invalid escape")),
            };
            code = code * 16 + u32::from(digit);
            self.at += 1;
        }
        Ok(code)
    }

    /// A number: its grammar checked here, its value read by serde_json's own
    /// `Number` from the same text, so that integers stay exact and floats round
    /// as serde_json rounds them.
    fn number(&mut self) -> Result<Json<'a>, ParseError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        let text = &self.text[start..self.at];
        text.parse::<Number>().map(Json::Number).map_err(|_| {
            self.at = start;
            self.error("number out of range")
        })
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
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
        let limit = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Json::parse(&limit).is_ok(), "{MAX_DEPTH} levels are allowed");
        let over = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(Json::parse(&over).is_err());
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

        /// Strings of escapes (surrogate pairs, lone and reversed surrogates, bad
        /// escapes), raw control characters and any Unicode read as serde_json
        /// reads them, or are refused as it refuses them.
        #[test]
        fn strings_read_as_serde_json_reads_them(pieces in prop::collection::vec(prop_oneof![
            Just("a".to_string()), Just("\\n".to_string()), Just("\\u00e9".to_string()),
            Just("\\ud83d\\ude00".to_string()), Just("\\ud83d".to_string()), Just("\\ude00".to_string()),
            Just("\\uD83D\\uDE00".to_string()), Just("\\ud83da".to_string()), Just("\\x".to_string()),
            Just("\\u12".to_string()), Just("\u{1}".to_string()), Just("\u{7f}".to_string()),
            Just("\\/".to_string()), Just("\\\"".to_string()), any::<char>().prop_map(String::from),
            // The surrogate ranges' edges, alone and paired.
            Just("\\ud800".to_string()), Just("\\udbff".to_string()), Just("\\udc00".to_string()),
            Just("\\udfff".to_string()), Just("\\ue000".to_string()), Just("\\ud7ff".to_string()),
        ], 0..8)) {
            let text = format!("\"{}\"", pieces.concat());
            let ours = Json::parse(&text).map(|json| json.to_value()).ok();
            let theirs = serde_json::from_str::<Value>(&text).ok();
            prop_assert_eq!(ours, theirs, "{}", text);
        }

        /// Number-like text reads as the number serde_json reads, or is refused as
        /// it refuses it (leading zeros, a bare sign or point, huge exponents).
        #[test]
        fn numbers_read_as_serde_json_reads_them(
            text in r"-?[0-9]{0,25}(\.[0-9]{0,3})?([eE][+-]?[0-9]{0,4})?"
        ) {
            let ours = Json::parse(&text).map(|json| json.to_value()).ok();
            let theirs = serde_json::from_str::<Value>(&text).ok();
            prop_assert_eq!(ours, theirs, "{}", text);
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
