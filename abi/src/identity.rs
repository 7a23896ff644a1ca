//! `miniapp:identity`: who the user is to this program, and — with the user's
//! consent, scope by scope — their profile, phone number and a shipping address.

use serde::{Deserialize, Serialize};

/// The capability name, used in `[capabilities.identity]` and `miniapp:identity`.
pub const CAPABILITY: &str = "identity";

stable_names! {
    /// A piece of personal data a program may ask for, with the user's consent.
    pub enum Scope {
        /// Display name and avatar.
        Profile => "profile",
        /// Phone number.
        Phone => "phone",
        /// One shipping address, picked by the user.
        Address => "address",
    }
}

/// Reply of `user_id` and `union_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdReply {
    /// The id: stable for this user across runs, different for every program
    /// (`user_id`) or every publisher (`union_id`).
    pub id: String,
}

/// `authorize`: ask the user for a scope now (at most once per launch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The scope to ask for.
    pub scope: Scope,
}

/// Reply of `authorize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeReply {
    /// Whether the program holds the scope now.
    pub granted: bool,
}

/// Reply of `profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The name the user shows.
    pub display_name: String,
    /// An https URL of the user's avatar.
    pub avatar_url: String,
}

/// Reply of `phone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// The phone number, E.164 (`+8613800000000`).
    pub phone: String,
}

/// A shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Who receives the parcel.
    pub recipient: String,
    /// Their phone number.
    pub phone: String,
    /// Province or region.
    pub province: String,
    /// City.
    pub city: String,
    /// District.
    pub district: String,
    /// Street, building, flat.
    pub detail: String,
    /// Postal code.
    pub postal_code: String,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {} — {} {} {} {} {}",
            self.recipient, self.phone, self.province, self.city, self.district, self.detail, self.postal_code
        )
    }
}
