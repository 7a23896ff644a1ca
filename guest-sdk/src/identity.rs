//! Who the user is to this program, and their personal data by consent
//! (capability `identity`).
//!
//! [`user_id`] is stable for this user and different for every program (as
//! WeChat's openid); [`union_id`] is shared by every program of the same publisher
//! (as unionid) and needs `union_id = true` — it lets those programs recognise the
//! same user across them, so ask for it only if you need that.
//!
//! [`profile`], [`phone`] and [`address`] each need their scope declared with a
//! purpose the user sees. The first call asks the user, showing exactly what would
//! be shared; a refusal (or a later revocation) makes calls fail with
//! [`ErrorCode::CapabilityDenied`](crate::ErrorCode::CapabilityDenied) until
//! [`authorize`] asks again — which the host allows once per launch.
//! [`address`] always lets the user pick one address; the program gets only that.
//!
//! ```toml
//! [capabilities.identity]
//! union_id = false
//! [capabilities.identity.scopes]
//! address = "Deliver your order"
//! profile = "Show your name on your orders"
//! ```
//!
//! ```no_run
//! use miniapp_sdk::identity::{self, Scope};
//! # fn demo() -> miniapp_sdk::Result<()> {
//! let me = identity::user_id()?;
//! let address = match identity::address() {
//!     Ok(address) => address,
//!     Err(refused) if identity::authorize(Scope::Address)? => identity::address()?,
//!     Err(refused) => return Err(refused),
//! };
//! # Ok(()) }
//! ```

use crate::Result;
use crate::host::{host_functions, request};
use miniapp_abi::identity::{AuthorizeReply, AuthorizeRequest, IdReply};

pub use miniapp_abi::identity::{Address, Phone, Profile, Scope};

host_functions!("miniapp:identity" {
    user_id => identity_user_id,
    union_id => identity_union_id,
    authorize => identity_authorize,
    profile => identity_profile,
    phone => identity_phone,
    address => identity_address,
});

#[derive(serde::Serialize)]
struct Nothing {}

/// This user's id for this program.
pub fn user_id() -> Result<String> {
    let reply: IdReply = request(identity_user_id, &Nothing {})?;
    Ok(reply.id)
}

/// This user's id for every program of this program's publisher.
pub fn union_id() -> Result<String> {
    let reply: IdReply = request(identity_union_id, &Nothing {})?;
    Ok(reply.id)
}

/// Asks the user for `scope` now; returns whether the program holds it. Asks at
/// most once per launch; a scope already granted returns `true` without asking.
pub fn authorize(scope: Scope) -> Result<bool> {
    let reply: AuthorizeReply = request(identity_authorize, &AuthorizeRequest { scope })?;
    Ok(reply.granted)
}

/// The user's display name and avatar (scope `profile`).
pub fn profile() -> Result<Profile> {
    request(identity_profile, &Nothing {})
}

/// The user's phone number (scope `phone`).
pub fn phone() -> Result<String> {
    let reply: Phone = request(identity_phone, &Nothing {})?;
    Ok(reply.phone)
}

/// One shipping address the user picks (scope `address`).
pub fn address() -> Result<Address> {
    request(identity_address, &Nothing {})
}
