//! The identity capability's section of the host configuration, `[identity]`:
//! the local user's personal data, which leaves the host only through the
//! capability's consent-gated calls.

use miniapp_abi::identity::Address;
use serde::{Deserialize, Serialize};

/// `[identity]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    /// The local user, `[identity.user]`.
    pub user: UserProfile,
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
