//! Structural safety of link targets, checked before any policy: a WHATWG parse
//! (the `url` crate) and named rejections for dangerous schemes, credentials in the
//! URL, IP-address hosts in any notation, IDN homographs, control characters,
//! over-long URLs and blocklisted hosts. The rules look only at a target's shape,
//! never at who owns it.

use super::homograph;
use super::settings::LinkSettings;
use miniapp_abi::link::DenyReason;
use url::{Host, Url};

/// A rejection: the reason code and a sentence for the user.
pub type Rejection = (DenyReason, String);

/// A web URL that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeWebUrl {
    /// The parsed URL.
    pub url: Url,
    /// The host in ASCII (punycode) form.
    pub host: String,
    /// What to show the user: the serialized URL, IDN hosts in punycode.
    pub display: String,
}

/// A platform deep link that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeDeepLink {
    /// The platform's name in the host configuration.
    pub platform: String,
    /// `item`, `shop` or `live`.
    pub kind: String,
    /// The linked page's id.
    pub id: String,
    /// What to show the user.
    pub display: String,
}

/// Rejects control, bidirectional-override, zero-width and whitespace characters,
/// and over-long text, before anything parses it.
pub fn check_text(raw: &str, max_bytes: usize) -> Result<(), Rejection> {
    if raw.len() > max_bytes {
        return Err((DenyReason::TooLong, format!("the link is {} bytes; at most {max_bytes} are allowed", raw.len())));
    }
    let bad = |c: char| crate::sanitize::is_unsafe(c) || c.is_whitespace();
    if let Some(c) = raw.chars().find(|c| bad(*c)) {
        return Err((
            DenyReason::ControlCharacters,
            format!("the link contains the invisible or control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

fn parse(raw: &str, settings: &LinkSettings) -> Result<Url, Rejection> {
    check_text(raw, settings.max_url_bytes)?;
    Url::parse(raw).map_err(|e| (DenyReason::Unparseable, format!("the link is not a valid URL: {e}")))
}

fn check_no_userinfo(url: &Url) -> Result<(), Rejection> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err((
            DenyReason::Userinfo,
            format!(
                "the link hides its real destination behind a user name: it leads to {}",
                url.host_str().unwrap_or("an unknown host")
            ),
        ));
    }
    Ok(())
}

/// Whether `host` is `domain` or one of its subdomains (both ASCII, lowercase).
pub fn within(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|prefix| prefix.ends_with('.'))
}

/// Checks an `https` web URL.
pub fn check_web_url(raw: &str, settings: &LinkSettings) -> Result<SafeWebUrl, Rejection> {
    let url = parse(raw, settings)?;
    if url.scheme() != "https" {
        return Err((
            DenyReason::SchemeNotAllowed,
            format!("`{}:` links are not allowed; web links must use https", url.scheme()),
        ));
    }
    check_no_userinfo(&url)?;
    let host = match url.host() {
        Some(Host::Domain(domain)) => domain.to_string(),
        Some(Host::Ipv4(ip)) => {
            return Err((DenyReason::IpAddressHost, format!("the link leads to the bare IP address {ip}")));
        }
        Some(Host::Ipv6(ip)) => {
            return Err((DenyReason::IpAddressHost, format!("the link leads to the bare IP address [{ip}]")));
        }
        None => return Err((DenyReason::Unparseable, "the link has no host".into())),
    };
    if host.split('.').all(|label| label.bytes().all(|b| b.is_ascii_digit())) {
        return Err((DenyReason::IpAddressHost, format!("the host {host} is made of numbers only")));
    }
    let (unicode, idna) = idna::domain_to_unicode(&host);
    if idna.is_err() {
        return Err((DenyReason::Homograph, format!("the host {host} is not a valid internationalised name")));
    }
    for label in unicode.split('.') {
        if let Some(problem) = homograph::label_problem(label) {
            return Err((
                DenyReason::Homograph,
                format!("the host {unicode} (shown as {host}) {problem}, which is how look-alike addresses are made"),
            ));
        }
    }
    if let Some(blocked) = settings.blocklist.iter().find(|b| within(&host, &b.to_ascii_lowercase())) {
        return Err((DenyReason::Blocklisted, format!("{host} is on the host's list of unsafe sites ({blocked})")));
    }
    let display = url.to_string();
    Ok(SafeWebUrl { url, host, display })
}

/// How a refused target is shown and audited: the program's text made safe to show
/// (escaped, cut at 200 characters with a visible mark), with a web link's host in
/// its ASCII (punycode) form so that a look-alike name never appears as one.
pub fn display_of_refused(raw: &str) -> String {
    let text = match Url::parse(raw) {
        Ok(url) if url.is_special() => url.to_string(),
        _ => raw.to_string(),
    };
    crate::sanitize::line_within(&text, 200)
}

/// Checks a platform deep link such as `taobao://shop/58`.
pub fn check_deep_link(raw: &str, settings: &LinkSettings) -> Result<SafeDeepLink, Rejection> {
    let url = parse(raw, settings)?;
    let scheme = url.scheme();
    let Some((platform, platform_settings)) = settings.platforms.iter().find(|(_, p)| p.scheme == scheme) else {
        let message = if matches!(scheme, "javascript" | "data" | "file" | "vbscript" | "http" | "https") {
            format!("`{scheme}:` is not a platform deep link")
        } else {
            format!("no platform with the `{scheme}:` scheme is registered on this host")
        };
        let reason = if matches!(scheme, "javascript" | "data" | "file" | "vbscript") {
            DenyReason::SchemeNotAllowed
        } else {
            DenyReason::UnknownPlatform
        };
        return Err((reason, message));
    };
    check_no_userinfo(&url)?;
    if url.port().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err((DenyReason::Malformed, format!("a {platform} deep link is {scheme}://<kind>/<id>, nothing more")));
    }
    let kind = url.host_str().unwrap_or_default().to_string();
    if !platform_settings.kinds.contains(&kind) {
        let kinds: Vec<&str> = platform_settings.kinds.iter().map(String::as_str).collect();
        return Err((
            DenyReason::UnknownPlatform,
            format!("{platform} deep links name one of: {}; not `{kind}`", kinds.join(", ")),
        ));
    }
    let id = url.path().strip_prefix('/').unwrap_or_default().to_string();
    let id_ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !id_ok {
        return Err((
            DenyReason::Malformed,
            format!("`{id}` is not a {platform} {kind} id (1-64 letters, digits, - or _)"),
        ));
    }
    let display = format!("{scheme}://{kind}/{id}");
    // The URL parser normalises (dot segments, percent-escapes, case): what is
    // checked, opened and audited must be exactly what the program sent.
    if display != raw {
        return Err((
            DenyReason::Malformed,
            format!("a {platform} deep link is written exactly {scheme}://<kind>/<id>; this one is not in that form"),
        ));
    }
    Ok(SafeDeepLink { platform: platform.clone(), kind, id, display })
}

/// Checks another mini-program target: its id, page path and extra data.
pub fn check_program(id: &str, path: &str, extra_data: Option<&serde_json::Value>) -> Result<String, Rejection> {
    let malformed = |message: String| Err((DenyReason::Malformed, message));
    check_text(id, 128)?;
    check_text(path, 256)?;
    let id_ok = id.split('.').all(|segment| {
        !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }) && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !id_ok {
        return malformed(format!("`{id}` is not a mini-program id"));
    }
    let path_ok = path.split('/').all(|segment| segment != ".." && segment != ".")
        && !path.starts_with('/')
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !path_ok {
        return malformed(format!("`{path}` is not a page path (letters, digits, /, _, -, . and no ..)"));
    }
    if let Some(extra) = extra_data {
        let size = serde_json::to_vec(extra).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > 1024 {
            return malformed(format!("extra_data is {size} bytes of JSON; at most 1024 are allowed"));
        }
    }
    Ok(if path.is_empty() { format!("mini-program {id}") } else { format!("mini-program {id} /{path}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LinkSettings {
        let mut settings = LinkSettings::default();
        settings.blocklist.insert("phish.example".into());
        settings
    }

    fn web_reason(raw: &str) -> Option<DenyReason> {
        check_web_url(raw, &settings()).err().map(|(reason, _)| reason)
    }

    #[test]
    fn good_web_links_pass_with_a_display_form() {
        let safe = check_web_url("https://Item.Taobao.com/item.htm?id=1042", &settings()).unwrap();
        assert_eq!(safe.host, "item.taobao.com");
        assert_eq!(safe.display, "https://item.taobao.com/item.htm?id=1042");
        let idn = check_web_url("https://淘宝.example/", &settings()).unwrap();
        assert_eq!(idn.display, "https://xn--pbt173b.example/");
    }

    #[test]
    fn dangerous_schemes_are_refused_in_any_spelling() {
        for raw in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<b>",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "http://taobao.com/",
        ] {
            assert_eq!(web_reason(raw), Some(DenyReason::SchemeNotAllowed), "{raw}");
        }
        for raw in [
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            " https://taobao.com/",
            "https://taobao.com/\u{202e}gpj.exe",
        ] {
            assert_eq!(web_reason(raw), Some(DenyReason::ControlCharacters), "{raw:?}");
        }
    }

    #[test]
    fn userinfo_tricks_are_refused() {
        assert_eq!(web_reason("https://taobao.com@evil.example/"), Some(DenyReason::Userinfo));
        assert_eq!(web_reason("https://user:pw@taobao.com/"), Some(DenyReason::Userinfo));
    }

    #[test]
    fn ip_hosts_are_refused_in_every_notation() {
        for raw in [
            "https://0xffffffff/",
            "https://192.0x00A80001/",
            "https://3232235521/",
            "https://127.1/",
            "https://[::1]/",
            "https://0300.0250.0.1/",
            "https://192.168.0.1./",
        ] {
            assert_eq!(web_reason(raw), Some(DenyReason::IpAddressHost), "{raw}");
        }
    }

    #[test]
    fn homographs_are_refused_and_named_in_punycode() {
        let (reason, message) = check_web_url("https://tаobao.com/", &settings()).unwrap_err();
        assert_eq!(reason, DenyReason::Homograph);
        assert!(message.contains("xn--"), "{message}");
        assert_eq!(web_reason("https://аррӏе.com/"), Some(DenyReason::Homograph));
    }

    #[test]
    fn length_and_blocklist() {
        let long = format!("https://taobao.com/{}", "a".repeat(3000));
        assert_eq!(web_reason(&long), Some(DenyReason::TooLong));
        assert_eq!(web_reason("https://login.phish.example/"), Some(DenyReason::Blocklisted));
        assert_eq!(web_reason("https://notphish.example/"), None);
    }

    #[test]
    fn deep_links() {
        let link = check_deep_link("taobao://shop/58", &settings()).unwrap();
        assert_eq!((link.platform.as_str(), link.kind.as_str(), link.id.as_str()), ("taobao", "shop", "58"));
        assert_eq!(check_deep_link("taobao://cart/1", &settings()).unwrap_err().0, DenyReason::UnknownPlatform);
        assert_eq!(check_deep_link("weird://item/1", &settings()).unwrap_err().0, DenyReason::UnknownPlatform);
        assert_eq!(check_deep_link("javascript://item/1", &settings()).unwrap_err().0, DenyReason::SchemeNotAllowed);
        assert_eq!(check_deep_link("taobao://item/a/b", &settings()).unwrap_err().0, DenyReason::Malformed);
        assert_eq!(check_deep_link("taobao://item/", &settings()).unwrap_err().0, DenyReason::Malformed);
        assert_eq!(check_deep_link("taobao://a@item/1", &settings()).unwrap_err().0, DenyReason::Userinfo);
    }

    #[test]
    fn program_targets() {
        assert!(check_program("com.taobao.deals", "pages/item", None).is_ok());
        assert!(check_program("Com.Bad", "", None).is_err());
        assert!(check_program("com.ok", "../secret", None).is_err());
        assert!(check_program("com.ok", "", Some(&serde_json::json!("x".repeat(2000)))).is_err());
    }

    #[test]
    fn within_matches_subdomains_only() {
        assert!(within("taobao.com", "taobao.com"));
        assert!(within("item.taobao.com", "taobao.com"));
        assert!(!within("nottaobao.com", "taobao.com"));
    }
}
