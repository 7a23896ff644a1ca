//! How deeply a JSON text nests, found without recursion: QuickJS's `JSON.parse`
//! recurses once per level on the guest's stack, so the framework refuses text
//! nested deeper than its limit before parsing it (a hostile reply or stored
//! value must be an exception, not a stack overflow).

/// The deepest nesting of arrays and objects in `text`, outside strings.
pub fn depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::depth;

    #[test]
    fn counts_nesting_outside_strings() {
        assert_eq!(depth("1"), 0);
        assert_eq!(depth(r#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(depth(r#"["[[[[", "\"[[["]"#), 1);
        assert_eq!(depth(&"[".repeat(100_000)), 100_000);
    }
}
