//! `miniapp:link`: open and share links — web pages, other mini-programs and
//! platform deep links — under per-surface policy, with every decision explained.

use crate::lifecycle::Surface;
use serde::{Deserialize, Serialize};

/// The capability name, used in `[capabilities.link]` and `miniapp:link`.
pub const CAPABILITY: &str = "link";

/// What a link points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// An `https` web page.
    Web {
        /// The URL.
        url: String,
    },
    /// Another mini-program, as `navigateToMiniProgram` opens it.
    MiniProgram {
        /// The program's id.
        id: String,
        /// The page to open; empty for its home page.
        #[serde(default)]
        path: String,
        /// Data handed to the opened program (at most 1 KiB of JSON).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extra_data: Option<serde_json::Value>,
    },
    /// A deep link into another platform registered by the host, e.g.
    /// `taobao://item/1042`, `taobao://shop/58`, `taobao://live/7`.
    DeepLink {
        /// The URL.
        url: String,
    },
}

/// `open`: open a target from the surface the program is running on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// What to open.
    pub target: Target,
}

/// A card to share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The card's title (1 to 64 characters).
    pub title: String,
    /// Where tapping the card leads.
    pub target: Target,
    /// An https image URL for the card, optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `share`: share a card to a surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// The card.
    pub card: Card,
    /// Where to share it: `chat`, `group` or `moments`.
    pub surface: Surface,
}

stable_names! {
    /// How a link request ended.
    pub enum Outcome {
        /// Opened (or shared) without asking.
        Opened => "opened",
        /// The user was asked and agreed; opened (or shared).
        Confirmed => "confirmed",
        /// The user was asked and said no (or nobody could be asked).
        Declined => "declined",
        /// Refused; `reason` says why.
        Denied => "denied",
    }
}

stable_names! {
    /// Why a link was denied. Stable names; new reasons are a minor ABI change.
    pub enum DenyReason {
        /// The manifest does not list this domain, platform or program.
        NotDeclared => "not_declared",
        /// The URL's scheme is not allowed for this kind of target.
        SchemeNotAllowed => "scheme_not_allowed",
        /// The URL carries a user name or password (`https://taobao.com@evil.example/`).
        Userinfo => "userinfo",
        /// The host is an IP address, in any notation.
        IpAddressHost => "ip_address_host",
        /// The host name mixes scripts or imitates another script (an IDN homograph).
        Homograph => "homograph",
        /// The text has control, bidirectional-override or whitespace characters.
        ControlCharacters => "control_characters",
        /// The URL is longer than the host allows.
        TooLong => "too_long",
        /// The URL does not parse.
        Unparseable => "unparseable",
        /// The target is malformed (a bad program id, page path, deep-link id, title…).
        Malformed => "malformed",
        /// The host's blocklist lists the host.
        Blocklisted => "blocklisted",
        /// The host registers no platform with this scheme or kind.
        UnknownPlatform => "unknown_platform",
        /// The surface's policy does not allow this kind of target.
        SurfacePolicy => "surface_policy",
        /// The user has not turned links on for this surface.
        SurfaceDisabled => "surface_disabled",
        /// Only allowed while handling a tap.
        GestureRequired => "gesture_required",
    }
}

/// Reply of `open` and `share`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReply {
    /// How it ended.
    pub outcome: Outcome,
    /// Why, when denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DenyReason>,
    /// What the user was (or would be) shown: the target in its safe display form,
    /// with IDN host names in punycode.
    pub display: String,
    /// A human explanation, naming the rule that decided.
    pub message: String,
}

impl Target {
    /// An https web page.
    pub fn web(url: impl Into<String>) -> Target {
        Target::Web { url: url.into() }
    }

    /// A platform deep link, e.g. `taobao://live/7`.
    pub fn deep_link(url: impl Into<String>) -> Target {
        Target::DeepLink { url: url.into() }
    }

    /// Another mini-program's page.
    pub fn program(id: impl Into<String>, path: impl Into<String>) -> Target {
        Target::MiniProgram { id: id.into(), path: path.into(), extra_data: None }
    }
}

impl LinkReply {
    /// Whether the link was opened (or the card shared), with or without asking.
    pub fn is_opened(&self) -> bool {
        matches!(self.outcome, Outcome::Opened | Outcome::Confirmed)
    }
}
