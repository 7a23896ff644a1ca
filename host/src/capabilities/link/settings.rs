//! The link capability's section of the host configuration, `[link]`: the link
//! policy, as data.

use miniapp_abi::lifecycle::Surface;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Link policy. It is data, not code: a platform engineer changes it in the host
/// configuration. No rule may depend on who owns a target — only on its shape and
/// safety — so every platform is configured the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSettings {
    /// Longest URL accepted, in bytes (2,048).
    pub max_url_bytes: usize,
    /// Most domains a manifest may declare (20, as WeChat's business domains).
    pub max_declared_domains: usize,
    /// Hosts considered unsafe, with their subdomains, whoever owns them.
    pub blocklist: BTreeSet<String>,
    /// Platforms whose deep links the host understands, by name.
    pub platforms: BTreeMap<String, PlatformSettings>,
    /// What each surface allows, per kind of target.
    pub surfaces: BTreeMap<Surface, SurfaceRules>,
}

/// A platform's deep-link scheme and the kinds of page it links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSettings {
    /// The URL scheme, e.g. `taobao` for `taobao://item/1042`.
    pub scheme: String,
    /// The kinds of page (`item`, `shop`, `live`) deep links may name.
    pub kinds: BTreeSet<String>,
}

/// One surface's rule for each kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceRules {
    /// `https` web pages.
    pub web: LinkRule,
    /// Platform deep links to an item.
    pub item: LinkRule,
    /// Platform deep links to a shop.
    pub shop: LinkRule,
    /// Platform deep links to a live room.
    pub live: LinkRule,
    /// Other mini-programs.
    pub mini_program: LinkRule,
}

miniapp_abi::stable_names! {
    /// What a surface does with a kind of target.
    pub enum LinkRule {
        /// Open it.
        Allow => "allow",
        /// Ask the user first.
        Confirm => "confirm",
        /// Open it if the user turned links on for this surface; otherwise deny.
        OptIn => "opt_in",
        /// Only while handling a tap, and after asking the user.
        GestureConfirm => "gesture_confirm",
        /// Refuse it.
        Deny => "deny",
    }
}

impl SurfaceRules {
    /// Each kind of target with its rule, by the configuration's names.
    pub fn by_kind(&self) -> [(&'static str, LinkRule); 5] {
        [
            ("web", self.web),
            ("item", self.item),
            ("shop", self.shop),
            ("live", self.live),
            ("mini_program", self.mini_program),
        ]
    }

    /// Whether the user's switch for this surface changes anything (some rule is
    /// `opt_in`).
    pub fn has_switch(&self) -> bool {
        self.by_kind().iter().any(|(_, rule)| *rule == LinkRule::OptIn)
    }
}

impl Default for LinkSettings {
    fn default() -> LinkSettings {
        use LinkRule::*;
        let deep_link_kinds: BTreeSet<String> = ["item", "shop", "live"].into_iter().map(String::from).collect();
        // Two storefront platforms, configured identically: neutrality by construction.
        let platforms = [("taobao", "taobao"), ("jd", "jd")]
            .into_iter()
            .map(|(name, scheme)| {
                (name.to_string(), PlatformSettings { scheme: scheme.to_string(), kinds: deep_link_kinds.clone() })
            })
            .collect();
        let open = SurfaceRules { web: Allow, item: Allow, shop: Allow, live: Allow, mini_program: GestureConfirm };
        let opt_in = SurfaceRules { web: OptIn, item: OptIn, shop: OptIn, live: OptIn, mini_program: GestureConfirm };
        let surfaces = BTreeMap::from([
            (Surface::Direct, open),
            (Surface::Chat, open),
            (Surface::Group, opt_in),
            (Surface::Moments, opt_in),
            (
                Surface::ChannelsAd,
                SurfaceRules { web: Confirm, item: Confirm, shop: Allow, live: Allow, mini_program: GestureConfirm },
            ),
            (
                Surface::MiniProgram,
                SurfaceRules {
                    web: Confirm,
                    item: Confirm,
                    shop: Confirm,
                    live: Confirm,
                    mini_program: GestureConfirm,
                },
            ),
        ]);
        LinkSettings { max_url_bytes: 2048, max_declared_domains: 20, blocklist: BTreeSet::new(), platforms, surfaces }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_policy_is_configurable_data() {
        let text = "[link]\nblocklist = [\"evil.example\"]\n[link.surfaces.chat]\nweb = \"confirm\"\nitem = \"allow\"\nshop = \"allow\"\nlive = \"allow\"\nmini_program = \"deny\"\n";
        let config = crate::HostConfig::from_toml(text).unwrap();
        let link: LinkSettings = config.settings("link").unwrap();
        assert_eq!(link.surfaces[&Surface::Chat].web, LinkRule::Confirm);
        assert!(link.blocklist.contains("evil.example"));
        let text = "[link.surfaces.billboard]\nweb = \"allow\"\n";
        let config = crate::HostConfig::from_toml(text).unwrap();
        assert!(config.settings::<LinkSettings>("link").unwrap_err().contains("billboard"));
    }
}
