//! The link safety checks over outside corpora and arbitrary input: never a panic,
//! never an allow for a target that breaks a safety rule.

use crate::common;
use miniapp_host::capabilities::link::LinkSettings;
use miniapp_host::capabilities::link::safety::{check_deep_link, check_web_url};
use proptest::prelude::*;
use serde_json::Value;
use url::Host;

fn settings() -> LinkSettings {
    let mut settings = LinkSettings::default();
    settings.blocklist.insert("phish.example".into());
    settings
}

/// Every property a web URL that passed must have.
fn assert_safe_if_allowed(raw: &str, settings: &LinkSettings) {
    if let Ok(safe) = check_web_url(raw, settings) {
        assert!(raw.len() <= settings.max_url_bytes, "{raw:?}");
        assert_eq!(safe.url.scheme(), "https", "{raw:?}");
        assert!(safe.url.username().is_empty() && safe.url.password().is_none(), "{raw:?}");
        assert!(matches!(safe.url.host(), Some(Host::Domain(_))), "{raw:?}");
        assert!(!safe.host.ends_with("phish.example"), "{raw:?}");
        assert!(safe.host.is_ascii(), "{raw:?}");
        assert!(!raw.chars().any(|c| c.is_control() || c.is_whitespace()), "{raw:?}");
    }
}

#[test]
fn whatwg_url_corpus_never_panics_and_failures_are_rejected() {
    let path = common::repo().join("tests/data/whatwg-url/urltestdata.json");
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let settings = settings();
    let (mut inputs, mut failures) = (0, 0);
    for case in cases.iter().filter_map(Value::as_object) {
        let Some(input) = case.get("input").and_then(Value::as_str) else {
            continue;
        };
        inputs += 1;
        let web = check_web_url(input, &settings);
        let deep = check_deep_link(input, &settings);
        assert_safe_if_allowed(input, &settings);
        if case.get("failure").and_then(Value::as_bool) == Some(true) {
            failures += 1;
            assert!(web.is_err() && deep.is_err(), "the corpus marks {input:?} as a failure");
        }
    }
    assert!(inputs > 800 && failures > 250, "{inputs} inputs, {failures} failures");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics_or_slips_through(raw in any::<String>()) {
        let settings = settings();
        let _ = check_deep_link(&raw, &settings);
        assert_safe_if_allowed(&raw, &settings);
    }

    #[test]
    fn url_shaped_text_never_slips_through(
        scheme in prop::sample::select(vec!["https", "http", "javascript", "HTTPS", "taobao", "jd", "data", "file"]),
        userinfo in prop::option::of("[a-z@:.]{0,8}"),
        host in prop_oneof![
            "[a-z]{1,10}\\.(com|cn|example)",
            "[0-9]{1,10}",
            "0x[0-9a-f]{1,8}",
            "[0-9]{1,3}\\.[0-9x]{1,4}\\.[0-9]{1,3}",
            "[a-zа-я]{1,8}\\.com",
            "(login\\.)?phish\\.example",
            "\\[[0-9a-f:]{2,12}\\]",
        ],
        path in "[ -~]{0,30}",
    ) {
        let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        let raw = format!("{scheme}://{userinfo}{host}/{path}");
        let settings = settings();
        let _ = check_deep_link(&raw, &settings);
        assert_safe_if_allowed(&raw, &settings);
    }
}

/// The same target on two platforms' hosts (or schemes), with the owner's name
/// blanked out: what neutrality compares.
fn without_owner(result: Result<String, (miniapp_abi::link::DenyReason, String)>, owners: &[&str]) -> String {
    let text = match result {
        Ok(display) => format!("allowed {display}"),
        Err((reason, message)) => format!("denied {reason:?} {message}"),
    };
    owners.iter().fold(text, |text, owner| text.replace(owner, "<owner>"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Neutrality: a web URL's verdict depends on its shape, never on whose
    /// domain it is. The same path and query on Taobao's, JD's and Pinduoduo's
    /// domains get the same answer, word for word.
    #[test]
    fn web_verdicts_do_not_depend_on_the_owner(suffix in "[a-zA-Z0-9/?=&%.#:@_~ -]{0,40}") {
        let settings = settings();
        let owners = ["taobao.com", "jd.com", "pinduoduo.com"];
        let verdicts: Vec<String> = owners
            .iter()
            .map(|domain| {
                let raw = format!("https://{domain}/{suffix}");
                without_owner(check_web_url(&raw, &settings).map(|safe| safe.display), &owners)
            })
            .collect();
        prop_assert!(verdicts.windows(2).all(|pair| pair[0] == pair[1]), "{verdicts:#?}");
    }

    /// Neutrality for deep links: every registered platform's scheme gets the same
    /// answer for the same kind and id.
    #[test]
    fn deep_link_verdicts_do_not_depend_on_the_platform(
        kind in prop::sample::select(vec!["item", "shop", "live", "coupon", ""]),
        id in "[a-zA-Z0-9_%-]{0,70}",
    ) {
        let settings = settings();
        let platforms: Vec<(String, String)> =
            settings.platforms.iter().map(|(name, p)| (name.clone(), p.scheme.clone())).collect();
        prop_assume!(platforms.len() >= 2);
        let owners: Vec<&str> = platforms.iter().flat_map(|(name, scheme)| [name.as_str(), scheme.as_str()]).collect();
        let verdicts: Vec<String> = platforms
            .iter()
            .map(|(_, scheme)| {
                let raw = format!("{scheme}://{kind}/{id}");
                without_owner(check_deep_link(&raw, &settings).map(|safe| safe.display), &owners)
            })
            .collect();
        prop_assert!(verdicts.windows(2).all(|pair| pair[0] == pair[1]), "{verdicts:#?}");
    }
}

/// Deep links are checked on the text the program sent: dot segments (literal or
/// percent-encoded), escapes and case changes that the URL parser would normalise
/// away are `malformed`, so what is opened and audited is what was sent.
#[test]
fn deep_links_are_checked_as_sent() {
    use miniapp_host::capabilities::link::safety::display_of_refused;
    let settings = settings();
    let good = check_deep_link("taobao://item/123", &settings).unwrap();
    assert_eq!(good.display, "taobao://item/123");
    for raw in [
        "taobao://item/123/../../../settings",
        "taobao://item/123/%2e%2e/settings",
        "taobao://item/./123",
        "taobao://item/%31%32%33",
        "TAOBAO://item/123",
        "taobao://item//123",
    ] {
        let (reason, message) = check_deep_link(raw, &settings).expect_err(raw);
        assert_eq!(reason.as_str(), "malformed", "{raw}: {message}");
        // The refusal shows and audits the program's own text.
        assert_eq!(display_of_refused(raw), raw);
    }
}

/// What a refused link's display shows: look-alike hosts in punycode, bidi
/// controls escaped, and long text cut with a mark.
#[test]
fn refused_link_displays_are_safe_and_say_when_cut() {
    use miniapp_host::capabilities::link::safety::display_of_refused;
    let settings = settings();
    let mixed = "https://аpple.com/login"; // Cyrillic а
    assert!(check_web_url(mixed, &settings).is_err());
    let shown = display_of_refused(mixed);
    assert!(shown.contains("xn--") && shown.is_ascii(), "{shown}");
    let flipped = display_of_refused("javascript:alert(1)//\u{202e}moc.oabaot");
    assert!(flipped.contains("\\u{202e}") && !flipped.contains('\u{202e}'), "{flipped}");
    let long = format!("https://taobao.com/{}", "a".repeat(100_000));
    let shown = display_of_refused(&long);
    assert!(shown.ends_with("(99819 more characters)"), "{}", &shown[shown.len() - 40..]);
}
