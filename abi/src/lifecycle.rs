//! Messages the host passes to the guest's lifecycle callbacks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

stable_names! {
    /// Where a program was opened or a link is shown. Link policy is per surface.
    pub enum Surface {
        /// Opened from the host's own program list (and `miniapp run` by default).
        Direct => "direct",
        /// A one-to-one chat.
        Chat => "chat",
        /// A group chat.
        Group => "group",
        /// The Moments feed.
        Moments => "moments",
        /// An ad on Channels (short video).
        ChannelsAd => "channels_ad",
        /// Inside another mini-program.
        MiniProgram => "mini_program",
    }
}

/// The argument of `miniapp_on_launch`: how and where the program was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchContext {
    /// Where the program was opened.
    pub surface: Surface,
    /// The page path asked for, e.g. `pages/index`; empty for the program's home.
    #[serde(default)]
    pub path: String,
    /// Query parameters of the launch, e.g. `{"item": "1042"}`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// The id of the mini-program that opened this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

impl LaunchContext {
    /// A launch on `surface` at the program's home page with no query.
    pub fn new(surface: Surface) -> LaunchContext {
        LaunchContext { surface, path: String::new(), query: BTreeMap::new(), referrer: None }
    }
}

/// The argument of `miniapp_on_event`: something the user or the host did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The user tapped something carrying `action`.
    Tap {
        /// The action id the program attached to what was tapped.
        action: String,
        /// Data the program attached to the action.
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// The user changed a text input.
    Input {
        /// The input's field name.
        field: String,
        /// The new text.
        value: String,
    },
    /// A host- or test-defined event.
    Custom {
        /// What happened.
        name: String,
        /// Its data.
        #[serde(default)]
        data: serde_json::Value,
    },
    /// A page of the program's page stack is shown: render it. Sent after the
    /// program navigates, redirects or goes back, and when the host asks for a
    /// fresh view.
    Page {
        /// Why the page is shown.
        reason: crate::view::PageReason,
        /// The page path; empty for the program's home page.
        path: String,
        /// The page's query.
        #[serde(default)]
        query: BTreeMap<String, String>,
    },
    /// An event type from a newer ABI minor version; a guest should ignore it.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_round_trip() {
        for surface in Surface::ALL {
            assert_eq!(Surface::parse(surface.as_str()), Some(surface));
            let json = serde_json::to_string(&surface).unwrap();
            assert_eq!(json, format!("\"{}\"", surface.as_str()));
        }
    }

    #[test]
    fn unknown_event_types_decode_as_unknown() {
        let event: Event = serde_json::from_str(r#"{"type":"swipe","dir":"left"}"#).unwrap();
        assert_eq!(event, Event::Unknown);
        let event: Event = serde_json::from_str(r#"{"type":"tap","action":"buy"}"#).unwrap();
        assert_eq!(event, Event::Tap { action: "buy".into(), payload: serde_json::Value::Null });
    }
}
