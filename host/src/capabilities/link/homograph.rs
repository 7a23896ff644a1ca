//! IDN homograph detection for host-name labels, after UTS #39's "highly
//! restrictive" profile: a label may use one script, or Latin with the CJK scripts
//! that are written together (Han with Hiragana and Katakana, with Bopomofo, or with
//! Hangul). A label written wholly in Cyrillic or Greek letters that all look like
//! Latin ones (`аррӏе`) is refused too.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Hebrew,
    Arabic,
    Thai,
    Han,
    Hiragana,
    Katakana,
    Bopomofo,
    Hangul,
    Other,
}

/// Characters that belong to no one script (digits, `-`, marks that combine).
fn is_common(c: char) -> bool {
    c.is_ascii_digit() || c == '-' || ('\u{0300}'..='\u{036f}').contains(&c) || c == '\u{30fc}'
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x41..=0x5a | 0x61..=0x7a | 0xc0..=0x24f | 0x1e00..=0x1eff => Script::Latin,
        0x370..=0x3ff | 0x1f00..=0x1fff => Script::Greek,
        0x400..=0x52f | 0x2de0..=0x2dff | 0xa640..=0xa69f => Script::Cyrillic,
        0x530..=0x58f => Script::Armenian,
        0x590..=0x5ff => Script::Hebrew,
        0x600..=0x6ff | 0x750..=0x77f => Script::Arabic,
        0xe00..=0xe7f => Script::Thai,
        0x2e80..=0x2fdf
        | 0x3005
        | 0x3007
        | 0x3021..=0x3029
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xf900..=0xfaff
        | 0x20000..=0x3134f => Script::Han,
        0x3041..=0x309f => Script::Hiragana,
        0x30a0..=0x30ff | 0x31f0..=0x31ff | 0xff66..=0xff9f => Script::Katakana,
        0x3100..=0x312f | 0x31a0..=0x31bf => Script::Bopomofo,
        0x1100..=0x11ff | 0x3130..=0x318f | 0xac00..=0xd7af => Script::Hangul,
        _ => Script::Other,
    }
}

/// Cyrillic and Greek letters that are drawn like Latin ones.
const LATIN_LOOKALIKES: &[char] = &[
    'а', 'в', 'е', 'к', 'м', 'н', 'о', 'р', 'с', 'т', 'у', 'х', 'і', 'ј', 'ӏ', 'ѕ', 'ԁ', 'ԛ', 'ԝ', 'ү', 'һ', 'ɡ', 'α',
    'ο', 'ρ', 'τ', 'υ', 'ν', 'ι', 'κ', 'χ',
];

/// Why a Unicode host-name label is a likely homograph, or `None` if it is fine.
pub(super) fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_ascii() {
        return None;
    }
    let mut scripts: Vec<Script> = label.chars().filter(|c| !is_common(*c)).map(script_of).collect();
    scripts.sort();
    scripts.dedup();
    if scripts.contains(&Script::Other) {
        return Some("uses characters outside the scripts host names are written in");
    }
    let allowed_mix = |set: &[Script]| scripts.iter().all(|s| set.contains(s));
    let single = scripts.len() <= 1;
    let cjk_mix = allowed_mix(&[Script::Latin, Script::Han, Script::Hiragana, Script::Katakana])
        || allowed_mix(&[Script::Latin, Script::Han, Script::Bopomofo])
        || allowed_mix(&[Script::Latin, Script::Han, Script::Hangul]);
    if !single && !cjk_mix {
        return Some("mixes scripts");
    }
    if single && matches!(scripts.first(), Some(Script::Cyrillic | Script::Greek)) {
        let letters = label.chars().filter(|c| !is_common(*c));
        if letters.clone().all(|c| LATIN_LOOKALIKES.contains(&c)) {
            return Some("is written wholly in letters that imitate Latin ones");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_script_and_cjk_labels_pass() {
        for label in ["taobao", "淘宝", "天猫-1", "ひらがな漢字", "한국어", "россия", "ελλάδα", "tmall淘宝", "münchen"]
        {
            assert_eq!(label_problem(label), None, "{label}");
        }
    }

    #[test]
    fn mixed_and_lookalike_labels_fail() {
        // Latin "taobao" with a Cyrillic "а"; Latin with Greek "ο"; Cyrillic imitating "apple".
        for label in ["tаobao", "gοogle", "аррӏе", "раура1", "ταοβαο-x", "ab\u{200b}c"] {
            assert!(label_problem(label).is_some(), "{label}");
        }
    }
}
