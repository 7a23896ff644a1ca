//! The one sanitizer for text a program supplies and the host shows: on the
//! terminal, the payment sheet, prompts, notices, link displays, audit rows and
//! transcripts. What the user sees must be what is true, so nothing a program
//! writes may move the cursor, recolour or erase the screen, reorder what is drawn
//! (bidirectional controls), hide characters (zero-width and other invisible
//! format characters) or begin a line of its own that could pass for the host's.
//!
//! Two uses: where text is the program's request (a payment description, a view,
//! a card title) such characters are refused with [`first_unsafe`]; where text is
//! shown anyway (output, link displays, audit rows) they are escaped visibly as
//! `\u{…}` by [`line`] and [`output_lines`], and long text is cut with a visible mark.

use std::fmt::Write;

/// Whether `c` could rewrite or disguise what is drawn: a C0 or C1 control or DEL,
/// a bidirectional control, or an invisible format character.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// What is wrong with the first unsafe character of `text`, if any: "control
/// character U+001B", "bidirectional control U+202E", "invisible character U+200B".
pub fn first_unsafe(text: &str) -> Option<String> {
    // Printable ASCII, the common case, is safe throughout.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    text.chars().find(|c| is_unsafe(*c)).map(|c| {
        let kind = if c.is_control() {
            "control character"
        } else if is_bidi_control(c) {
            "bidirectional control"
        } else {
            "invisible character"
        };
        format!("{kind} U+{:04X}", c as u32)
    })
}

/// `text` as one line that is safe to show: every unsafe character, line breaks
/// included, escaped as `\u{…}`.
pub fn line(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    push_escaped(&mut shown, text, false);
    shown
}

/// Like [`line`], cut to at most `max_chars` characters of the original, with a
/// visible mark saying how many were left out.
pub fn line_within(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return line(text);
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{}… ({} more characters)", line(&kept), total - max_chars)
}

/// A program's output as lines that are safe to show, one per line it wrote
/// (tabs kept, every other unsafe character escaped). A caller prefixes each with
/// the program's id, so no line can start like one of the host's.
pub fn output_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().map(|raw| {
        let mut shown = String::with_capacity(raw.len());
        push_escaped(&mut shown, raw, true);
        shown
    })
}

/// A program's output as one text that is safe to show (for records such as the
/// transcript): [`output_lines`] joined by line breaks, ending in one where the
/// output did.
pub fn output_text(text: &str) -> String {
    let mut shown: Vec<String> = output_lines(text).collect();
    if text.ends_with('\n') {
        shown.push(String::new());
    }
    shown.join("\n")
}

fn push_escaped(out: &mut String, text: &str, keep_tabs: bool) {
    for c in text.chars() {
        if is_unsafe(c) && !(keep_tabs && c == '\t') {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_what_could_rewrite_the_screen() {
        assert_eq!(line("paid\u{1b}[2K\r[host] ok"), "paid\\u{1b}[2K\\u{d}[host] ok");
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(line("two\nlines"), "two\\u{a}lines");
        assert_eq!(line("淘宝特价 ¥39.90"), "淘宝特价 ¥39.90");
        let lines: Vec<String> = output_lines("a\tb\u{7}\n\u{200b}c\r\n").collect();
        assert_eq!(lines, ["a\tb\\u{7}", "\\u{200b}c"]);
        assert_eq!(output_text("one\ntwo\u{1b}\n"), "one\ntwo\\u{1b}\n");
        assert_eq!(output_text("no end"), "no end");
    }

    #[test]
    fn names_the_first_unsafe_character() {
        assert_eq!(first_unsafe("ok"), None);
        assert_eq!(first_unsafe("a\u{1b}").unwrap(), "control character U+001B");
        assert_eq!(first_unsafe("a\u{202E}").unwrap(), "bidirectional control U+202E");
        assert_eq!(first_unsafe("a\u{200B}").unwrap(), "invisible character U+200B");
    }

    #[test]
    fn long_text_is_cut_visibly() {
        assert_eq!(line_within("abcdef", 6), "abcdef");
        assert_eq!(line_within("abcdefgh", 3), "abc… (5 more characters)");
    }

    proptest! {
        #[test]
        fn first_unsafe_finds_exactly_the_unsafe_characters(text in any::<String>()) {
            prop_assert_eq!(first_unsafe(&text).is_some(), text.chars().any(is_unsafe));
        }

        #[test]
        fn nothing_unsafe_survives(text in any::<String>()) {
            prop_assert!(line(&text).chars().all(|c| !is_unsafe(c)));
            for shown in output_lines(&text) {
                prop_assert!(shown.chars().all(|c| c == '\t' || !is_unsafe(c)));
            }
        }
    }
}
