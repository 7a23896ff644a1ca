//! The payment capability's section of the host configuration, `[payment]`.

use miniapp_abi::payment::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// How long a host's claim on an order in progress lasts without renewal, in
    /// milliseconds: a host renews its claims while it runs; when one runs out
    /// (its host died on another machine), any host reconciles the order. A host
    /// on the same machine as a dead one takes its orders over at once.
    pub order_lease_ms: u64,
}

/// A merchant the host knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    /// The name shown to the user as the payee.
    pub name: String,
    /// The methods the merchant accepts (offered when a provider for them is installed).
    pub methods: Vec<Method>,
    /// The publishers whose programs may charge it: fingerprints, or
    /// `"development"` for this host's development key (programs run from a
    /// directory). The real platforms bind a merchant id to an appid the same way.
    #[serde(default = "development_only")]
    pub publishers: Vec<String>,
}

/// What `publishers` names for this host's own development key.
pub const DEVELOPMENT_PUBLISHER: &str = "development";

fn development_only() -> Vec<String> {
    vec![DEVELOPMENT_PUBLISHER.to_string()]
}

impl MerchantSettings {
    /// Whether a program of `identity` may charge this merchant.
    pub fn serves(&self, identity: &crate::capability::ProgramIdentity) -> bool {
        self.publishers.iter().any(|publisher| match publisher.as_str() {
            DEVELOPMENT_PUBLISHER => identity.is_development(),
            fingerprint => fingerprint == identity.publisher().as_str(),
        })
    }
}

impl PaymentSettings {
    /// Every merchant's `publishers` names the development key or a fingerprint.
    pub fn check_publishers(&self) -> Result<(), String> {
        for (id, merchant) in &self.merchants {
            for publisher in &merchant.publishers {
                if publisher != DEVELOPMENT_PUBLISHER {
                    crate::package::Fingerprint::parse(publisher).map_err(|m| {
                        format!("[payment.merchants.\"{id}\"] publishers: {m} or \"{DEVELOPMENT_PUBLISHER}\"")
                    })?;
                }
            }
        }
        Ok(())
    }
}

impl Default for PaymentSettings {
    fn default() -> PaymentSettings {
        let both: Vec<Method> = [Method::WECHAT_PAY, Method::ALIPAY].into_iter().filter_map(Method::parse).collect();
        PaymentSettings {
            currencies: vec!["CNY".into()],
            max_amount: 5_000_000,
            merchants: BTreeMap::from([
                (
                    "1900000109".into(),
                    MerchantSettings {
                        name: "淘宝特价 Taobao Deals".into(),
                        methods: both.clone(),
                        publishers: development_only(),
                    },
                ),
                (
                    "1900000110".into(),
                    MerchantSettings { name: "Example Coffee".into(), methods: both, publishers: development_only() },
                ),
            ]),
            confirm_wait_ms: 3_000,
            order_lease_ms: 30_000,
        }
    }
}
