//! Views and pages (capability `view`): show the user a screen, and move between
//! pages the way `wx.navigateTo`, `wx.redirectTo` and `wx.navigateBack` do.
//!
//! A view is a tree of components built with the functions here; [`render`] hands
//! it to the host, which draws it (a phone, a terminal) and sends the user's taps
//! and text back as [`Event::Tap`](crate::Event::Tap) and
//! [`Event::Input`](crate::Event::Input). After [`navigate`], [`redirect`] or
//! [`back`], the host sends [`Event::Page`](crate::Event::Page) for the page now
//! on top: render it then. The page stack holds 10 pages unless the manifest asks
//! for fewer.
//!
//! ```toml
//! [capabilities.view]
//! max_pages = 5     # optional
//! ```
//!
//! ```no_run
//! use miniapp_sdk::view::{self, ButtonStyle, Key, Tone, View};
//! # fn demo() -> miniapp_sdk::Result<()> {
//! let screen = View::new("淘宝特价")
//!     .push(view::heading("今日好价"))
//!     .push(view::row([view::price(2990).was(5990), view::badge("-50%").tone(Tone::Accent)]))
//!     .push(view::button("加入购物车", "cart.add").payload(miniapp_sdk::json!({"item": "1042"})).style(ButtonStyle::Primary).key(Key::A));
//! view::render(&screen)?;
//! view::navigate("pages/cart", &[])?;
//! # Ok(()) }
//! ```
//!
//! A button's key is one letter a–z, as [`Key`]'s constants; anything else does
//! not compile:
//!
//! ```compile_fail
//! miniapp_sdk::view::button("Add", "cart.add").key('+');
//! ```

use crate::Result;
use crate::host::{host_functions, request};
use miniapp_abi::view::{BackRequest, PageRequest};

pub use miniapp_abi::view::{ButtonStyle, Key, Node, Page, PageReason, StackReply, Tone, View};

host_functions!("miniapp:view" {
    render => view_render,
    navigate => view_navigate,
    redirect => view_redirect,
    back => view_back,
});

/// Shows `view` as the page on top. A view the host cannot accept is refused
/// with an error naming the component and the problem; the screen keeps the last
/// good view.
pub fn render(view: &View) -> Result<()> {
    request(view_render, view)
}

/// Opens a new page on top of the stack (fails with `limit_exceeded` when full).
pub fn navigate(path: &str, query: &[(&str, &str)]) -> Result<StackReply> {
    request(view_navigate, &page_request(path, query))
}

/// Replaces the page on top.
pub fn redirect(path: &str, query: &[(&str, &str)]) -> Result<StackReply> {
    request(view_redirect, &page_request(path, query))
}

/// Closes `pages` pages (the first page always stays).
pub fn back(pages: u32) -> Result<StackReply> {
    request(view_back, &BackRequest { pages })
}

fn page_request(path: &str, query: &[(&str, &str)]) -> PageRequest {
    PageRequest { path: path.into(), query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
}

/// A paragraph.
pub fn text(text: impl Into<String>) -> Node {
    Node::Text { text: text.into(), tone: None }
}

/// A top-level heading.
pub fn heading(text: impl Into<String>) -> Node {
    Node::Heading { text: text.into(), level: 1 }
}

/// A smaller heading (level 2 or 3).
pub fn subheading(text: impl Into<String>) -> Node {
    Node::Heading { text: text.into(), level: 2 }
}

/// A picture at an https URL, described by `alt`.
pub fn image(src: impl Into<String>, alt: impl Into<String>) -> Node {
    Node::Image { src: src.into(), alt: alt.into() }
}

/// A price in fen (CNY); add `.was(original)` for a discount.
pub fn price(fen: i64) -> Node {
    Node::Price { amount: fen, currency: "CNY".into(), original: None }
}

/// A short label.
pub fn badge(text: impl Into<String>) -> Node {
    Node::Badge { text: text.into(), tone: None }
}

/// Components side by side.
pub fn row(children: impl IntoIterator<Item = Node>) -> Node {
    Node::Row { children: children.into_iter().collect() }
}

/// Components one above the other.
pub fn column(children: impl IntoIterator<Item = Node>) -> Node {
    Node::Column { children: children.into_iter().collect() }
}

/// A list of entries.
pub fn list(items: impl IntoIterator<Item = Node>) -> Node {
    Node::List { items: items.into_iter().collect() }
}

/// A button sending `action` when tapped; add `.payload(..)`, `.key(..)`, `.style(..)`.
pub fn button(label: impl Into<String>, action: impl Into<String>) -> Node {
    Node::Button {
        label: label.into(),
        action: action.into(),
        payload: serde_json::Value::Null,
        key: None,
        style: None,
        disabled: false,
    }
}

/// A text field sending `input` events for `field`; add `.label(..)`, `.value(..)`.
pub fn input(field: impl Into<String>) -> Node {
    Node::Input { field: field.into(), label: String::new(), placeholder: String::new(), value: String::new() }
}

/// A horizontal rule.
pub fn divider() -> Node {
    Node::Divider {}
}
