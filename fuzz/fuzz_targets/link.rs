//! The link path: safety checks of web URLs, deep links and mini-program targets,
//! then the policy of every surface. What passes is https (or a registered
//! platform), carries no credentials, and has a display form without controls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_abi::lifecycle::Surface;
use miniapp_host::capabilities::link::{policy, safety};
use miniapp_host::capabilities::link::LinkSettings;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SETTINGS: OnceLock<LinkSettings> = OnceLock::new();
    let settings = SETTINGS.get_or_init(LinkSettings::default);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = safety::check_text(text, settings.max_url_bytes);
    if let Ok(web) = safety::check_web_url(text, settings) {
        let shown = format!("{web:?}");
        assert!(!shown.contains('\u{1b}'));
        assert!(text.len() <= settings.max_url_bytes);
    }
    let deep = safety::check_deep_link(text, settings);
    let (id, path) = text.split_once('/').unwrap_or((text, ""));
    let _ = safety::check_program(id, path, None);
    if let Ok(deep) = deep {
        let _ = format!("{deep:?}");
    }
    for surface in Surface::ALL {
        if let Some(rules) = settings.surfaces.get(&surface) {
            for kind in ["item", "shop", "live"] {
                if let Some(kind) = policy::TargetKind::of_deep_link(kind) {
                    let rule = kind.rule_in(rules);
                    for (enabled, gesture) in [(false, false), (true, false), (false, true), (true, true)] {
                        let _ = policy::decide(rule, enabled, gesture);
                    }
                }
            }
        }
    }
});
