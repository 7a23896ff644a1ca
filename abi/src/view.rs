//! `miniapp:view`: what a program shows — a declarative tree of components the host
//! draws — and its page stack (navigate, redirect, back).
//!
//! A program never draws: it hands the host a [`View`], and the host renders it
//! on whatever screen it has (a phone, a terminal, a test transcript). Taps and
//! text input come back as [`crate::lifecycle::Event`]s carrying the action ids and
//! field names the program put in the tree.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The capability name, used in `[capabilities.view]` and `miniapp:view`.
pub const CAPABILITY: &str = "view";

/// A screen: a title and a column of components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// The title bar's text.
    pub title: String,
    /// The components, top to bottom.
    #[serde(default)]
    pub body: Vec<Node>,
}

stable_names! {
    /// How a piece of text or a badge is emphasised.
    pub enum Tone {
        /// Ordinary text.
        Normal => "normal",
        /// Secondary text (shop names, hints).
        Muted => "muted",
        /// Highlighted (discounts, the brand colour).
        Accent => "accent",
        /// Good news (paid, added).
        Success => "success",
        /// Bad news (failed, refused).
        Danger => "danger",
    }
}

stable_names! {
    /// How prominent a button is.
    pub enum ButtonStyle {
        /// The main action of the screen.
        Primary => "primary",
        /// Any other action.
        Secondary => "secondary",
        /// An action that loses something (remove, cancel).
        Danger => "danger",
    }
}

/// One component of a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// A paragraph of text.
    Text {
        /// The text.
        text: String,
        /// Its emphasis.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tone: Option<Tone>,
    },
    /// A section heading.
    Heading {
        /// The text.
        text: String,
        /// 1 (largest) to 3.
        #[serde(default = "default_level")]
        level: u8,
    },
    /// A picture. Hosts without pictures show `alt` and the URL.
    Image {
        /// An `https` URL.
        src: String,
        /// What the picture shows, in words.
        alt: String,
    },
    /// An amount of money, exactly, optionally beside the price before a discount.
    Price {
        /// In the currency's minor unit (fen for CNY).
        amount: i64,
        /// ISO 4217; `CNY` when omitted.
        #[serde(default = "default_currency")]
        currency: String,
        /// The price before the discount, same unit; shown struck through.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        original: Option<i64>,
    },
    /// A short label such as `-40%` or `包邮`.
    Badge {
        /// The label.
        text: String,
        /// Its emphasis.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tone: Option<Tone>,
    },
    /// Components side by side.
    Row {
        /// The components, left to right.
        children: Vec<Node>,
    },
    /// Components one above the other.
    Column {
        /// The components, top to bottom.
        children: Vec<Node>,
    },
    /// A list of entries, each a component (often a row or a column).
    List {
        /// The entries.
        items: Vec<Node>,
    },
    /// Something to tap. Tapping sends a `tap` event with `action` and `payload`.
    Button {
        /// The text on the button.
        label: String,
        /// The action id the tap event carries: 1 to 64 of `a-z 0-9 _ - . :`.
        action: String,
        /// Data the tap event carries back (at most 1 KiB of JSON).
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        payload: serde_json::Value,
        /// A one-character shortcut (`a`–`z`) a keyboard host offers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Its prominence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        style: Option<ButtonStyle>,
        /// Shown but not tappable.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        disabled: bool,
    },
    /// A one-line text field. Changing it sends an `input` event with `field`.
    Input {
        /// The field name the input event carries: same rules as an action id.
        field: String,
        /// The label in front of the field.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        label: String,
        /// Shown while the field is empty.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        placeholder: String,
        /// The current text.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        value: String,
    },
    /// A horizontal rule.
    Divider {},
}

impl View {
    /// An empty view titled `title`.
    pub fn new(title: impl Into<String>) -> View {
        View { title: title.into(), body: Vec::new() }
    }

    /// Adds a component at the bottom.
    pub fn push(mut self, node: Node) -> View {
        self.body.push(node);
        self
    }

    /// Adds components at the bottom.
    pub fn extend(mut self, nodes: impl IntoIterator<Item = Node>) -> View {
        self.body.extend(nodes);
        self
    }
}

/// Builders for the optional parts of components; each leaves components it does
/// not apply to unchanged.
impl Node {
    /// Sets the tone of a text or badge.
    pub fn tone(mut self, new: Tone) -> Node {
        if let Node::Text { tone, .. } | Node::Badge { tone, .. } = &mut self {
            *tone = Some(new);
        }
        self
    }

    /// Sets the payload a button's tap carries.
    pub fn payload(mut self, value: serde_json::Value) -> Node {
        if let Node::Button { payload, .. } = &mut self {
            *payload = value;
        }
        self
    }

    /// Sets a button's one-letter keyboard shortcut, e.g. `.key(Key::C)`.
    pub fn key(mut self, letter: Key) -> Node {
        if let Node::Button { key, .. } = &mut self {
            *key = Some(letter.as_str().to_string());
        }
        self
    }

    /// Sets a button's prominence.
    pub fn style(mut self, new: ButtonStyle) -> Node {
        if let Node::Button { style, .. } = &mut self {
            *style = Some(new);
        }
        self
    }

    /// Shows a button that cannot be tapped, when `yes`.
    pub fn disabled(mut self, yes: bool) -> Node {
        if let Node::Button { disabled, .. } = &mut self {
            *disabled = yes;
        }
        self
    }

    /// Sets an input's label.
    pub fn label(mut self, text: impl Into<String>) -> Node {
        if let Node::Input { label, .. } = &mut self {
            *label = text.into();
        }
        self
    }

    /// Sets an input's placeholder.
    pub fn placeholder(mut self, text: impl Into<String>) -> Node {
        if let Node::Input { placeholder, .. } = &mut self {
            *placeholder = text.into();
        }
        self
    }

    /// Sets an input's current text.
    pub fn value(mut self, text: impl Into<String>) -> Node {
        if let Node::Input { value, .. } = &mut self {
            *value = text.into();
        }
        self
    }

    /// Sets the price before a discount.
    pub fn was(mut self, amount: i64) -> Node {
        if let Node::Price { original, .. } = &mut self {
            *original = Some(amount);
        }
        self
    }
}

fn default_level() -> u8 {
    1
}

fn default_currency() -> String {
    "CNY".to_string()
}

impl Node {
    /// The `type` names of every component, as they appear in JSON.
    pub const TYPES: [&'static str; 11] =
        ["text", "heading", "image", "price", "badge", "row", "column", "list", "button", "input", "divider"];

    /// The component's `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Text { .. } => "text",
            Node::Heading { .. } => "heading",
            Node::Image { .. } => "image",
            Node::Price { .. } => "price",
            Node::Badge { .. } => "badge",
            Node::Row { .. } => "row",
            Node::Column { .. } => "column",
            Node::List { .. } => "list",
            Node::Button { .. } => "button",
            Node::Input { .. } => "input",
            Node::Divider {} => "divider",
        }
    }

    /// The components directly inside this one.
    pub fn children(&self) -> &[Node] {
        match self {
            Node::Row { children } | Node::Column { children } => children,
            Node::List { items } => items,
            _ => &[],
        }
    }
}

/// `navigate` and `redirect`: the page to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// The page path, e.g. `pages/item`: 1 to 128 of `a-z 0-9 _ - /`.
    pub path: String,
    /// The page's query, e.g. `{"id": "1042"}`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// `back`: close pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackRequest {
    /// How many pages to close (1 when omitted); the first page always stays.
    #[serde(default = "one")]
    pub pages: u32,
}

fn one() -> u32 {
    1
}

/// The reply of `navigate`, `redirect` and `back`: the page stack after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackReply {
    /// Pages on the stack now, including the one on top.
    pub depth: u32,
    /// The page stack's limit.
    pub max_depth: u32,
}

stable_names! {
    /// Why a page is (re)shown.
    pub enum PageReason {
        /// The program navigated to a new page (pushed on the stack).
        Navigate => "navigate",
        /// The program replaced the top page.
        Redirect => "redirect",
        /// The page on top was closed; this page is visible again.
        Back => "back",
        /// The host asks for a fresh view of the current page (the user refreshed).
        Refresh => "refresh",
    }
}

/// Where a page came from: the path and query of one entry of the page stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The page path; empty for the program's home page.
    pub path: String,
    /// The page's query.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// A button's keyboard shortcut: one letter `a`–`z`, the only keys the host
/// accepts. Only these constants exist, so a key the host would refuse (`'+'`, an
/// upper-case letter) does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(u8);

impl Key {
    /// The key `a`.
    pub const A: Key = Key(b'a');
    /// The key `b`.
    pub const B: Key = Key(b'b');
    /// The key `c`.
    pub const C: Key = Key(b'c');
    /// The key `d`.
    pub const D: Key = Key(b'd');
    /// The key `e`.
    pub const E: Key = Key(b'e');
    /// The key `f`.
    pub const F: Key = Key(b'f');
    /// The key `g`.
    pub const G: Key = Key(b'g');
    /// The key `h`.
    pub const H: Key = Key(b'h');
    /// The key `i`.
    pub const I: Key = Key(b'i');
    /// The key `j`.
    pub const J: Key = Key(b'j');
    /// The key `k`.
    pub const K: Key = Key(b'k');
    /// The key `l`.
    pub const L: Key = Key(b'l');
    /// The key `m`.
    pub const M: Key = Key(b'm');
    /// The key `n`.
    pub const N: Key = Key(b'n');
    /// The key `o`.
    pub const O: Key = Key(b'o');
    /// The key `p`.
    pub const P: Key = Key(b'p');
    /// The key `q`.
    pub const Q: Key = Key(b'q');
    /// The key `r`.
    pub const R: Key = Key(b'r');
    /// The key `s`.
    pub const S: Key = Key(b's');
    /// The key `t`.
    pub const T: Key = Key(b't');
    /// The key `u`.
    pub const U: Key = Key(b'u');
    /// The key `v`.
    pub const V: Key = Key(b'v');
    /// The key `w`.
    pub const W: Key = Key(b'w');
    /// The key `x`.
    pub const X: Key = Key(b'x');
    /// The key `y`.
    pub const Y: Key = Key(b'y');
    /// The key `z`.
    pub const Z: Key = Key(b'z');

    /// The key as the view's JSON carries it.
    pub fn as_str(self) -> &'static str {
        const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
        let at = usize::from(self.0 - b'a');
        &LETTERS[at..at + 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip_with_their_type_names() {
        let view = View {
            title: "淘宝特价".into(),
            body: vec![
                Node::Heading { text: "今日特价".into(), level: 1 },
                Node::Row {
                    children: vec![
                        Node::Price { amount: 1990, currency: "CNY".into(), original: Some(3990) },
                        Node::Badge { text: "-50%".into(), tone: Some(Tone::Accent) },
                    ],
                },
                Node::Button {
                    label: "加入购物车".into(),
                    action: "add".into(),
                    payload: serde_json::json!({"item": "1042"}),
                    key: Some("a".into()),
                    style: Some(ButtonStyle::Primary),
                    disabled: false,
                },
                Node::Divider {},
            ],
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["body"][1]["children"][0]["type"], "price");
        assert_eq!(json["body"][3], serde_json::json!({"type": "divider"}));
        assert_eq!(serde_json::from_value::<View>(json).unwrap(), view);
        for node in &view.body {
            assert!(Node::TYPES.contains(&node.type_name()));
        }
    }
}
