//! Draws a [`View`] in a terminal: wrapped to the terminal's width with CJK
//! characters counted as two columns, colour only where it helps and only when
//! wanted (a terminal, and `NO_COLOR` unset), and every button and input numbered
//! so a person can pick it by number or by its one-letter key.

use miniapp_abi::view::{Node, Page, View};
use miniapp_host::capabilities::view::reading::Control;
use miniapp_host::capabilities::view::reading::{Emphasis as Paint, Span, controls, inline};
use std::io::IsTerminal;
use unicode_width::UnicodeWidthChar;

/// How to draw: how wide, and whether with colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns available.
    pub width: usize,
    /// Whether to use ANSI colours and emphasis.
    pub colour: bool,
}

impl Style {
    /// For standard output: its width when it is a terminal (else `COLUMNS`, else 80),
    /// colour only on a terminal and only without `NO_COLOR`.
    pub fn for_stdout() -> Style {
        let terminal = std::io::stdout().is_terminal();
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style { width: columns(&std::io::stdout()), colour: terminal && !no_colour }
    }

    /// Plain text at `width` columns.
    pub fn plain(width: usize) -> Style {
        Style { width: width.max(24), colour: false }
    }
}

/// A drawn view: the lines to print and the controls on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// The lines, without newlines.
    pub lines: Vec<String>,
    /// Buttons and inputs, numbered in reading order.
    pub controls: Vec<Control>,
}

/// Draws `view`, the view of `page`, with the page stack's `depth` of `max`.
pub fn draw(view: &View, page: &Page, depth: u32, max: u32, style: Style) -> Drawn {
    let mut lines = Vec::new();
    let where_ = if page.path.is_empty() { String::new() } else { format!(" {}", page.path) };
    let mut right = format!("{where_} {depth}/{max} ");
    let title = format!(" {} ", truncate(&view.title, style.width.saturating_sub(4)));
    if width_of(&title) + width_of(&right) + 2 > style.width {
        right.clear();
    }
    let fill = style.width.saturating_sub(width_of(&title) + width_of(&right) + 2);
    let bar = format!("━━{title}{}{right}", "━".repeat(fill));
    lines.push(paint(&bar, Paint::Bold, style));
    let mut number = 0;
    block(&view.body, &mut lines, &mut number, style, 0);
    lines.push(paint(&"━".repeat(style.width), Paint::Dim, style));
    Drawn { lines, controls: controls(view) }
}

fn block(nodes: &[Node], lines: &mut Vec<String>, number: &mut usize, style: Style, indent: usize) {
    let width = style.width.saturating_sub(indent).max(8);
    let pad = " ".repeat(indent);
    for node in nodes {
        match node {
            Node::Heading { text, level } => {
                if *level == 1 {
                    lines.push(String::new());
                }
                let marker = match level {
                    1 => "■ ",
                    2 => "▌ ",
                    _ => "",
                };
                for line in wrap(&[Span { text: format!("{marker}{text}"), emphasis: Paint::Bold }], width, style) {
                    lines.push(format!("{pad}{line}"));
                }
            }
            Node::Column { children } => block(children, lines, number, style, indent),
            Node::List { items } => {
                for item in items {
                    let mut inner = Vec::new();
                    block(std::slice::from_ref(item), &mut inner, number, style, indent + 2);
                    for (i, line) in inner.into_iter().enumerate() {
                        let line = line.get(indent + 2..).map(str::to_string).unwrap_or(line);
                        let bullet = if i == 0 { "• " } else { "  " };
                        lines.push(format!("{pad}{bullet}{line}"));
                    }
                }
            }
            Node::Divider {} => lines.push(format!("{pad}{}", paint(&"─".repeat(width), Paint::Dim, style))),
            Node::Row { children } => {
                let mut spans = Vec::new();
                inline(children, &mut spans, number, style.colour);
                for line in wrap(&spans, width, style) {
                    lines.push(format!("{pad}{line}"));
                }
            }
            other => {
                let mut spans = Vec::new();
                inline(std::slice::from_ref(other), &mut spans, number, style.colour);
                for line in wrap(&spans, width, style) {
                    lines.push(format!("{pad}{line}"));
                }
            }
        }
    }
}

/// The longest prefix of `text` at most `width` columns wide.
fn truncate(text: &str, width: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= width
        })
        .collect()
}

/// The width to draw at on `stream`: the terminal's own width when it is one (read
/// from the terminal, so it need not be exported), else `COLUMNS`, else 80; kept
/// between 24 and 160 columns.
pub fn columns(stream: &impl std::os::fd::AsFd) -> usize {
    let from_terminal =
        rustix::termios::tcgetwinsize(stream).ok().map(|size| usize::from(size.ws_col)).filter(|c| *c > 0);
    let width = from_terminal
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()))
        .unwrap_or(80);
    width.clamp(24, 160)
}

/// `text` wrapped at word boundaries (CJK between characters) to `width` columns,
/// the first line starting with `prefix` and the rest indented to match.
pub fn wrap_text(prefix: &str, text: &str, width: usize) -> Vec<String> {
    let indent = " ".repeat(width_of(prefix));
    let room = width.saturating_sub(width_of(prefix)).max(12);
    let spans = [Span { text: text.to_string(), emphasis: Paint::Plain }];
    wrap(&spans, room, Style::plain(room))
        .into_iter()
        .enumerate()
        .map(|(i, line)| format!("{}{line}", if i == 0 { prefix } else { &indent }))
        .collect()
}

/// Display width of `text` in terminal columns.
pub fn width_of(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Wraps styled spans to `width` columns: Latin words stay whole where they fit,
/// CJK text breaks between any two characters.
fn wrap(spans: &[Span], width: usize, style: Style) -> Vec<String> {
    let mut lines: Vec<Vec<(String, Paint)>> = vec![Vec::new()];
    let mut used = 0usize;
    for span in spans {
        for token in tokens(&span.text) {
            let token_width = width_of(token);
            if used + token_width > width && used > 0 {
                if token.trim().is_empty() {
                    continue;
                }
                lines.push(Vec::new());
                used = 0;
            }
            if token_width > width {
                // A word longer than the line: break it by characters.
                for c in token.chars() {
                    let w = c.width().unwrap_or(0);
                    if used + w > width {
                        lines.push(Vec::new());
                        used = 0;
                    }
                    push(lines.last_mut(), c.to_string(), span.emphasis);
                    used += w;
                }
                continue;
            }
            if used == 0 && token.trim().is_empty() && lines.len() > 1 {
                continue;
            }
            push(lines.last_mut(), token.to_string(), span.emphasis);
            used += token_width;
        }
    }
    lines
        .into_iter()
        .map(|pieces| pieces.into_iter().map(|(text, p)| paint(&text, p, style)).collect::<String>())
        .map(|line| line.trim_end().to_string())
        .collect()
}

fn push(line: Option<&mut Vec<(String, Paint)>>, text: String, paint: Paint) {
    if let Some(line) = line {
        match line.last_mut() {
            Some((last, last_paint)) if *last_paint == paint => last.push_str(&text),
            _ => line.push((text, paint)),
        }
    }
}

/// Splits text into runs of spaces, Latin words, and single wide characters.
fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut previous: Option<u8> = None; // 0 space, 1 narrow, 2 wide
    for (i, c) in text.char_indices() {
        let class = if c == ' ' {
            0
        } else if c.width().unwrap_or(0) >= 2 {
            2
        } else {
            1
        };
        if let Some(p) = previous
            && (p != class || class == 2)
        {
            tokens.push(&text[start..i]);
            start = i;
        }
        previous = Some(class);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

fn paint(text: &str, paint: Paint, style: Style) -> String {
    if !style.colour || paint == Paint::Plain || text.is_empty() {
        return text.to_string();
    }
    let code = match paint {
        Paint::Plain => "0",
        Paint::Bold => "1",
        Paint::Dim => "2",
        Paint::Accent => "1;38;5;202",
        Paint::Success => "32",
        Paint::Danger => "31",
        Paint::Struck => "2;9",
        Paint::Primary => "1;7;38;5;202",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn view() -> View {
        serde_json::from_value(serde_json::json!({
            "title": "淘宝特价 Taobao Deals",
            "body": [
                {"type": "heading", "text": "今日好价"},
                {"type": "row", "children": [
                    {"type": "text", "text": "景德镇手绘青花瓷茶具套装 一壶四杯 送礼佳品 Jingdezhen hand-painted tea set"},
                    {"type": "price", "amount": 12900, "original": 25900},
                    {"type": "badge", "text": "-50%"}
                ]},
                {"type": "list", "items": [
                    {"type": "button", "label": "查看", "action": "item.open", "payload": {"id": "1"}},
                    {"type": "button", "label": "View all", "action": "all", "key": "v"}
                ]},
                {"type": "input", "field": "q", "label": "搜索", "placeholder": "关键词"},
                {"type": "divider"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn lines_fit_the_width_counting_wide_characters_as_two() {
        let page = Page { path: "pages/index".into(), query: BTreeMap::new() };
        for width in [24, 40, 80] {
            let drawn = draw(&view(), &page, 1, 10, Style::plain(width));
            for line in &drawn.lines {
                assert!(width_of(line) <= width, "{width}: `{line}` is {} wide", width_of(line));
            }
            let text = drawn.lines.join("\n");
            assert!(text.contains("¥129.00") && text.contains("¥259.00)"), "{text}");
            assert!(
                text.contains("[1] 查看") && text.contains("[2] View all (v)") && text.contains("[3] 搜索"),
                "{text}"
            );
            assert!(!text.contains('\x1b'));
        }
        let drawn = draw(&view(), &page, 1, 10, Style::plain(24));
        // Latin words are not broken when they fit on a line.
        assert!(drawn.lines.iter().any(|l| l.contains("Jingdezhen")), "{:?}", drawn.lines);
    }

    #[test]
    fn colour_only_when_asked() {
        let page = Page { path: String::new(), query: BTreeMap::new() };
        let coloured = draw(&view(), &page, 1, 10, Style { width: 60, colour: true });
        assert!(coloured.lines.join("\n").contains("\x1b["));
        let plain_width: Vec<usize> =
            draw(&view(), &page, 1, 10, Style::plain(60)).lines.iter().map(|l| width_of(l)).collect();
        assert!(plain_width.iter().all(|w| *w <= 60));
    }
}
