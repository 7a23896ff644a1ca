//! Host configuration: which host this is, its resource limits, engine settings and
//! capability policy — with a built-in default so `miniapp run` needs no file.
//!
//! A platform engineer writes the same settings as TOML (`miniapp --config
//! host.toml`); every field is optional and unknown fields are rejected.

use miniapp_abi::identity::Address;
use miniapp_abi::lifecycle::Surface;
use miniapp_abi::payment::Method;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The host's own top-level fields; every other table is a plug-in's section.
const HOST_FIELDS: &[&str] =
    &["profile", "data_dir", "limits", "engine", "storage", "view", "link", "user", "payment", "disabled_capabilities"];

/// Environment variable naming the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "MINIAPP_DATA_DIR";

/// Everything a [`crate::Host`] needs to know about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// The host profile's name, shown to users (a WeChat-style host by default).
    pub profile: String,
    /// Where the host keeps its databases and compiled-module cache.
    pub data_dir: PathBuf,
    /// Resource limits every program runs under; a manifest may only tighten them.
    pub limits: Limits,
    /// How the WebAssembly engine is set up.
    pub engine: EngineSettings,
    /// Storage quotas.
    pub storage: StorageSettings,
    /// Views: page stack depth and view size limits.
    pub view: ViewSettings,
    /// Link policy: URL rules, platforms, blocklist, per-surface rules.
    pub link: LinkSettings,
    /// The local user's personal data, shared with programs only with consent.
    pub user: UserProfile,
    /// Payment: merchants, currencies, limits and the provider simulators.
    pub payment: PaymentSettings,
    /// Capabilities the host's policy turns off for every program.
    pub disabled_capabilities: BTreeSet<String>,
    /// The plug-ins' own sections, by name: every top-level table of the TOML that
    /// is not one of the fields above (`[wechat_pay]`, `[location]`, …). The plug-in
    /// of that name decodes its section and rejects unknown keys; a section no
    /// plug-in claims is refused when the host is built.
    #[serde(skip)]
    pub sections: BTreeMap<String, toml::Table>,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            profile: "wechat".to_string(),
            data_dir: default_data_dir(),
            limits: Limits::default(),
            engine: EngineSettings::default(),
            storage: StorageSettings::default(),
            view: ViewSettings::default(),
            link: LinkSettings::default(),
            user: UserProfile::default(),
            payment: PaymentSettings::default(),
            disabled_capabilities: BTreeSet::new(),
            sections: BTreeMap::new(),
        }
    }
}

impl HostConfig {
    /// The default configuration with its data in `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> HostConfig {
        HostConfig { data_dir: data_dir.into(), ..HostConfig::default() }
    }

    /// Parses a TOML host configuration. Missing fields take their defaults; a
    /// top-level table that is no field of the host's is a plug-in's section.
    pub fn from_toml(text: &str) -> Result<HostConfig, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut sections = BTreeMap::new();
        let names: Vec<String> = table.keys().filter(|k| !HOST_FIELDS.contains(&k.as_str())).cloned().collect();
        for name in names {
            match table.remove(&name) {
                Some(toml::Value::Table(section)) => {
                    sections.insert(name, section);
                }
                _ => return Err(format!("unknown field `{name}` (a plug-in's settings are a table, `[{name}]`)")),
            }
        }
        let mut config: HostConfig =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| e.to_string())?;
        config.sections = sections;
        if config.limits.message_bytes < MIN_MESSAGE_BYTES {
            return Err(format!(
                "limits.message_bytes: {} is below the minimum of {MIN_MESSAGE_BYTES} (the host's own messages must fit)",
                config.limits.message_bytes
            ));
        }
        Ok(config)
    }

    /// The section of the plug-in called `name`, if the configuration has one.
    pub fn section(&self, name: &str) -> Option<&toml::Table> {
        self.sections.get(name)
    }

    /// Sets the section of the plug-in called `name` from typed settings.
    pub fn set_section(&mut self, name: &str, settings: &impl Serialize) -> Result<(), String> {
        let section = toml::Table::try_from(settings).map_err(|e| format!("[{name}]: {e}"))?;
        self.sections.insert(name.to_string(), section);
        Ok(())
    }

    /// Reads a TOML host configuration file.
    pub fn from_file(path: &Path) -> Result<HostConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        HostConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The data directory when none is given: `$MINIAPP_DATA_DIR`, else the platform's
/// per-user data directory (`~/.local/share/miniapp` on Linux), else `.miniapp`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().map(|d| d.join("miniapp")).unwrap_or_else(|| PathBuf::from(".miniapp"))
}

/// Hard limits on one program. Exceeding one ends that program with an error naming
/// the limit and its value; other programs are unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest linear memory, in bytes (64 MiB).
    pub memory_bytes: u64,
    /// Most table elements (10,000).
    pub table_elements: u64,
    /// Running time for `miniapp_on_launch`, in milliseconds (5,000): the time the
    /// program's code runs plus the waits it chooses (a WASI sleep). Time it waits
    /// to be scheduled, and time the host spends serving its host calls (the user,
    /// a provider, the disk), does not count.
    pub launch_time_ms: u64,
    /// Running time for every other callback, in milliseconds (1,000), counted
    /// like `launch_time_ms`.
    pub callback_time_ms: u64,
    /// Fuel (roughly, wasm instructions) per callback; `None` runs without fuel.
    /// Setting it makes runs deterministic, at some cost in speed.
    pub fuel_per_callback: Option<u64>,
    /// Host calls per callback (10,000).
    pub host_calls_per_callback: u32,
    /// Largest message in either direction of a host call, in bytes (1 MiB).
    pub message_bytes: u32,
    /// Bytes of stdout plus stderr per callback (1 MiB).
    pub output_bytes: u64,
    /// Largest module, in bytes, as given (8 MiB): checked before compiling.
    pub module_bytes: u64,
    /// Most functions a module defines (20,000): checked before compiling.
    pub module_functions: u64,
    /// Most imports a module declares (1,000): checked before compiling.
    pub module_imports: u64,
}

/// The smallest `limits.message_bytes` a host or manifest may set: every message
/// the host itself builds — an error reply (its text is cut to fit), the launch
/// context without query parameters, an event — fits in it.
pub const MIN_MESSAGE_BYTES: u32 = 4096;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            table_elements: 10_000,
            launch_time_ms: 5_000,
            callback_time_ms: 1_000,
            fuel_per_callback: None,
            host_calls_per_callback: 10_000,
            message_bytes: 1 << 20,
            output_bytes: 1 << 20,
            module_bytes: 8 << 20,
            module_functions: 20_000,
            module_imports: 1_000,
        }
    }
}

impl Limits {
    /// The time budget of `miniapp_on_launch`.
    pub fn launch_time(&self) -> Duration {
        Duration::from_millis(self.launch_time_ms)
    }

    /// The time budget of every other callback.
    pub fn callback_time(&self) -> Duration {
        Duration::from_millis(self.callback_time_ms)
    }
}

/// Settings of the shared WebAssembly engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Use the pooling instance allocator (fast instantiation, memory reserved up front).
    pub pooling: bool,
    /// Programs that may be instantiated at once (the pool's size).
    pub max_live_programs: u32,
    /// Largest wasm stack, in bytes (512 KiB). Engine-wide: a manifest cannot change it.
    pub wasm_stack_bytes: usize,
    /// Period of the interruption clock, in milliseconds (5): the granularity of
    /// time limits and of yielding a busy guest's thread to others.
    pub epoch_tick_ms: u64,
    /// Keep compiled modules in `<data dir>/cache` so the next load skips compilation.
    pub module_cache: bool,
    /// Count fuel, so `limits.fuel_per_callback` can apply.
    pub fuel: bool,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            pooling: true,
            max_live_programs: 1_000,
            wasm_stack_bytes: 512 << 10,
            epoch_tick_ms: 5,
            module_cache: true,
            fuel: false,
        }
    }
}

/// Storage quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Quota of a program whose manifest names none (10 MiB).
    pub default_quota_bytes: u64,
    /// Largest quota a manifest may ask for (10 MiB).
    pub max_quota_bytes: u64,
    /// Largest single entry, key plus value (1 MiB).
    pub max_entry_bytes: u64,
}

impl Default for StorageSettings {
    fn default() -> StorageSettings {
        StorageSettings { default_quota_bytes: 10 << 20, max_quota_bytes: 10 << 20, max_entry_bytes: 1 << 20 }
    }
}

/// View limits: what a program may put on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewSettings {
    /// Pages on a program's page stack at most (10, as in WeChat); a manifest may
    /// ask for fewer.
    pub max_pages: u32,
    /// Components in one view at most (2,000).
    pub max_nodes: u32,
    /// Components nested in each other at most (16).
    pub max_depth: u32,
    /// Characters in one string of a view at most (2,000).
    pub max_text_chars: u32,
}

impl Default for ViewSettings {
    fn default() -> ViewSettings {
        ViewSettings { max_pages: 10, max_nodes: 2_000, max_depth: 16, max_text_chars: 2_000 }
    }
}

/// Payment settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// Currencies accepted (ISO 4217).
    pub currencies: Vec<String>,
    /// The largest order the host allows, in minor units (¥50,000.00).
    pub max_amount: i64,
    /// Merchants registered with the host, by merchant id: the payee name the
    /// payment sheet shows comes from here, never from the program.
    pub merchants: BTreeMap<String, MerchantSettings>,
    /// How long a payment waits for the provider's notification before asking the
    /// provider, in milliseconds.
    pub confirm_wait_ms: u64,
}

/// A merchant the host knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    /// The name shown to the user as the payee.
    pub name: String,
    /// The methods the merchant accepts (offered when a provider for them is installed).
    pub methods: Vec<Method>,
}

impl Default for PaymentSettings {
    fn default() -> PaymentSettings {
        let both: Vec<Method> = [Method::WECHAT_PAY, Method::ALIPAY].into_iter().filter_map(Method::parse).collect();
        PaymentSettings {
            currencies: vec!["CNY".into()],
            max_amount: 5_000_000,
            merchants: BTreeMap::from([
                ("1900000109".into(), MerchantSettings { name: "淘宝特价 Taobao Deals".into(), methods: both.clone() }),
                ("1900000110".into(), MerchantSettings { name: "Example Coffee".into(), methods: both }),
            ]),
            confirm_wait_ms: 3_000,
        }
    }
}

/// The user's personal data as the host holds it. It leaves the host only through
/// the identity capability's consent-gated calls, one scope at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserProfile {
    /// The name the user shows.
    pub display_name: String,
    /// The user's avatar, an https URL.
    pub avatar_url: String,
    /// The user's phone number, E.164.
    pub phone: String,
    /// The user's shipping addresses; a program gets only the one the user picks.
    pub addresses: Vec<Address>,
}

impl Default for UserProfile {
    fn default() -> UserProfile {
        let address = |recipient: &str,
                       phone: &str,
                       province: &str,
                       city: &str,
                       district: &str,
                       detail: &str,
                       postal_code: &str| {
            Address {
                recipient: recipient.into(),
                phone: phone.into(),
                province: province.into(),
                city: city.into(),
                district: district.into(),
                detail: detail.into(),
                postal_code: postal_code.into(),
            }
        };
        UserProfile {
            display_name: "李雷 Li Lei".into(),
            avatar_url: "https://avatars.example/li-lei.png".into(),
            phone: "+8613800138000".into(),
            addresses: vec![
                address("李雷", "+8613800138000", "上海市", "上海市", "浦东新区", "世纪大道100号 12楼", "200120"),
                address("韩梅梅", "+8613900139000", "北京市", "北京市", "海淀区", "中关村大街27号 3单元 501", "100080"),
            ],
        }
    }
}

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
    fn empty_toml_is_the_default() {
        let config = HostConfig::from_toml("data_dir = \"/tmp/x\"").unwrap();
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = HostConfig::from_toml("[limits]\nmemory = 5").unwrap_err();
        assert!(err.contains("memory"), "{err}");
    }

    #[test]
    fn link_policy_is_configurable_data() {
        let text = "[link]\nblocklist = [\"evil.example\"]\n[link.surfaces.chat]\nweb = \"confirm\"\nitem = \"allow\"\nshop = \"allow\"\nlive = \"allow\"\nmini_program = \"deny\"\n";
        let config = HostConfig::from_toml(text).unwrap();
        assert_eq!(config.link.surfaces[&Surface::Chat].web, LinkRule::Confirm);
        assert!(config.link.blocklist.contains("evil.example"));
        let text = "[link.surfaces.billboard]\nweb = \"allow\"\n";
        assert!(HostConfig::from_toml(text).unwrap_err().contains("billboard"));
    }
}
