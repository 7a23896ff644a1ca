//! A view as it is read, whatever draws it: its controls numbered in reading
//! order, one line of styled spans per simple component, and its plain text (what a
//! script's `expect` searches). The CLI's terminal renderer paints these spans;
//! a web page or a test reads the same ones, so every front end numbers a view's
//! buttons alike.

use crate::capabilities::payment::money;
use miniapp_abi::view::{ButtonStyle, Node, Tone, View};

/// A control a person can use: a button or an input, by number.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// Its number on screen, from 1.
    pub number: usize,
    /// What it is.
    pub kind: ControlKind,
}

/// A button or an input.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlKind {
    /// A button: tapping sends its action and payload.
    Button {
        /// Its label.
        label: String,
        /// Its action id.
        action: String,
        /// Its payload.
        payload: serde_json::Value,
        /// Its one-letter key.
        key: Option<String>,
        /// Whether it can be tapped.
        disabled: bool,
    },
    /// A text input.
    Input {
        /// Its field name.
        field: String,
        /// Its label.
        label: String,
    },
}

/// The controls of `view`, numbered in reading order (as every front end numbers them).
pub fn controls(view: &View) -> Vec<Control> {
    let mut controls = Vec::new();
    fn walk(nodes: &[Node], controls: &mut Vec<Control>) {
        for node in nodes {
            let number = controls.len() + 1;
            match node {
                Node::Button { label, action, payload, key, disabled, .. } => controls.push(Control {
                    number,
                    kind: ControlKind::Button {
                        label: label.clone(),
                        action: action.clone(),
                        payload: payload.clone(),
                        key: key.clone(),
                        disabled: *disabled,
                    },
                }),
                Node::Input { field, label, .. } => controls
                    .push(Control { number, kind: ControlKind::Input { field: field.clone(), label: label.clone() } }),
                other => walk(other.children(), controls),
            }
        }
    }
    walk(&view.body, &mut controls);
    controls
}

/// All the text of a view as a person reads it, one component per line, without
/// wrapping or colour: what a script's `expect` searches.
pub fn text_of(view: &View) -> String {
    let mut out = vec![view.title.clone()];
    let mut number = 0;
    fn walk(nodes: &[Node], out: &mut Vec<String>, number: &mut usize) {
        for node in nodes {
            match node {
                Node::Row { children } => {
                    let mut spans = Vec::new();
                    inline(children, &mut spans, number, false);
                    out.push(spans.into_iter().map(|s| s.text).collect());
                }
                Node::Column { children } | Node::List { items: children } => walk(children, out, number),
                other => {
                    let mut spans = Vec::new();
                    inline(std::slice::from_ref(other), &mut spans, number, false);
                    out.push(spans.into_iter().map(|s| s.text).collect());
                }
            }
        }
    }
    walk(&view.body, &mut out, &mut number);
    out.join("\n")
}

/// How a stretch of text is emphasised; a front end decides what that looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    /// Ordinary text.
    Plain,
    /// Strong (headings, buttons, inputs).
    Bold,
    /// Secondary (image sources, disabled buttons, placeholders).
    Dim,
    /// The program's accent (prices, badges).
    Accent,
    /// A good outcome.
    Success,
    /// A dangerous action or a bad outcome.
    Danger,
    /// Struck through (an original price).
    Struck,
    /// The primary button.
    Primary,
}

/// A stretch of text with its emphasis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text.
    pub text: String,
    /// How it is emphasised.
    pub emphasis: Emphasis,
}

fn span(text: impl Into<String>, emphasis: Emphasis) -> Span {
    Span { text: text.into(), emphasis }
}

/// The emphasis of a text tone.
pub fn tone_emphasis(tone: Option<Tone>) -> Emphasis {
    match tone {
        None | Some(Tone::Normal) => Emphasis::Plain,
        Some(Tone::Muted) => Emphasis::Dim,
        Some(Tone::Accent) => Emphasis::Accent,
        Some(Tone::Success) => Emphasis::Success,
        Some(Tone::Danger) => Emphasis::Danger,
    }
}

/// Lays components out on one line (a row, or one simple component), numbering
/// controls on from `number`. Where the front end cannot strike text through
/// (`can_strike` false), an original price reads `(was ¥…)`.
pub fn inline(nodes: &[Node], spans: &mut Vec<Span>, number: &mut usize, can_strike: bool) {
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            spans.push(span("  ", Emphasis::Plain));
        }
        match node {
            Node::Text { text, tone } => spans.push(span(text.replace('\n', " "), tone_emphasis(*tone))),
            Node::Heading { text, .. } => spans.push(span(text.clone(), Emphasis::Bold)),
            Node::Image { src, alt } => {
                spans.push(span(format!("[image: {alt}]"), Emphasis::Plain));
                spans.push(span(format!(" {src}"), Emphasis::Dim));
            }
            Node::Price { amount, currency, original } => {
                spans.push(span(money::display(*amount, currency), Emphasis::Accent));
                if let Some(original) = original {
                    let was = money::display(*original, currency);
                    if can_strike {
                        spans.push(span(" ", Emphasis::Plain));
                        spans.push(span(was, Emphasis::Struck));
                    } else {
                        spans.push(span(format!(" (was {was})"), Emphasis::Dim));
                    }
                }
            }
            Node::Badge { text, tone } => {
                let emphasis = if tone.is_none() { Emphasis::Accent } else { tone_emphasis(*tone) };
                spans.push(span(format!("[{text}]"), emphasis));
            }
            Node::Button { label, key, style: button_style, disabled, .. } => {
                *number += 1;
                let key = key.as_ref().map(|k| format!(" ({k})")).unwrap_or_default();
                if *disabled {
                    spans.push(span(format!("[-] {label}{key}"), Emphasis::Dim));
                } else {
                    let emphasis = match button_style {
                        Some(ButtonStyle::Primary) => Emphasis::Primary,
                        Some(ButtonStyle::Danger) => Emphasis::Danger,
                        _ => Emphasis::Bold,
                    };
                    spans.push(span(format!("[{number}] {label}{key}"), emphasis));
                }
            }
            Node::Input { label, placeholder, value, .. } => {
                *number += 1;
                let label = if label.is_empty() { String::new() } else { format!("{label}: ") };
                spans.push(span(format!("[{number}] {label}"), Emphasis::Bold));
                if value.is_empty() {
                    spans.push(span(format!("_{placeholder}_"), Emphasis::Dim));
                } else {
                    spans.push(span(format!("_{value}_"), Emphasis::Plain));
                }
            }
            Node::Row { children } | Node::Column { children } | Node::List { items: children } => {
                inline(children, spans, number, can_strike)
            }
            Node::Divider {} => spans.push(span("|", Emphasis::Dim)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_numbered_in_reading_order() {
        let view: View = serde_json::from_value(serde_json::json!({
            "title": "t",
            "body": [
                {"type": "list", "items": [
                    {"type": "button", "label": "查看", "action": "item.open", "payload": {"id": "1"}},
                    {"type": "button", "label": "View all", "action": "all", "key": "v"}
                ]},
                {"type": "row", "children": [{"type": "price", "amount": 12900, "original": 25900}]},
                {"type": "input", "field": "q", "label": "搜索", "placeholder": "关键词"}
            ]
        }))
        .unwrap();
        let controls = controls(&view);
        assert_eq!(controls.len(), 3);
        assert!(matches!(&controls[0].kind, ControlKind::Button { action, .. } if action == "item.open"));
        assert!(matches!(&controls[2].kind, ControlKind::Input { field, .. } if field == "q"));
        let text = text_of(&view);
        assert!(text.contains("[2] View all (v)") && text.contains("¥129.00 (was ¥259.00)"), "{text}");
    }
}
