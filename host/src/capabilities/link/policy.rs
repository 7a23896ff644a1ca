//! Per-surface policy: what a surface's rule says about a kind of target, given
//! whether the user turned links on there and whether a tap is being handled.

use super::settings::{LinkRule, SurfaceRules};
use miniapp_abi::link::DenyReason;

/// The kind of target a rule is chosen by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An https page.
    Web,
    /// A platform item page.
    Item,
    /// A platform shop.
    Shop,
    /// A platform live room.
    Live,
    /// Another mini-program.
    MiniProgram,
}

impl TargetKind {
    /// The rule's key in the host configuration.
    pub fn key(self) -> &'static str {
        match self {
            TargetKind::Web => "web",
            TargetKind::Item => "item",
            TargetKind::Shop => "shop",
            TargetKind::Live => "live",
            TargetKind::MiniProgram => "mini_program",
        }
    }

    /// The kind of a deep link to a page of `kind` (`item`, `shop`, `live`).
    pub fn of_deep_link(kind: &str) -> Option<TargetKind> {
        match kind {
            "item" => Some(TargetKind::Item),
            "shop" => Some(TargetKind::Shop),
            "live" => Some(TargetKind::Live),
            _ => None,
        }
    }

    /// This kind's rule in `rules`.
    pub fn rule_in(self, rules: &SurfaceRules) -> LinkRule {
        match self {
            TargetKind::Web => rules.web,
            TargetKind::Item => rules.item,
            TargetKind::Shop => rules.shop,
            TargetKind::Live => rules.live,
            TargetKind::MiniProgram => rules.mini_program,
        }
    }
}

/// What the policy decided before the user is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// Go ahead.
    Allow,
    /// Ask the user.
    Ask,
    /// Refuse, for this reason.
    Deny(DenyReason, &'static str),
}

/// Applies `rule`. `surface_enabled` is whether the user turned links on for the
/// surface; `gesture` whether the program is handling a tap.
pub fn decide(rule: LinkRule, surface_enabled: bool, gesture: bool) -> PolicyDecision {
    match rule {
        LinkRule::Allow => PolicyDecision::Allow,
        LinkRule::Confirm => PolicyDecision::Ask,
        LinkRule::OptIn if surface_enabled => PolicyDecision::Allow,
        LinkRule::OptIn => PolicyDecision::Deny(
            DenyReason::SurfaceDisabled,
            "links are off here until the user turns them on (miniapp settings links --surface <surface> --enable)",
        ),
        LinkRule::GestureConfirm if gesture => PolicyDecision::Ask,
        LinkRule::GestureConfirm => PolicyDecision::Deny(
            DenyReason::GestureRequired,
            "opening another mini-program needs a tap from the user first",
        ),
        LinkRule::Deny => {
            PolicyDecision::Deny(DenyReason::SurfacePolicy, "this surface does not allow this kind of link")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_toggle() {
        assert_eq!(decide(LinkRule::Allow, false, false), PolicyDecision::Allow);
        assert_eq!(decide(LinkRule::Confirm, false, false), PolicyDecision::Ask);
        assert_eq!(decide(LinkRule::OptIn, true, false), PolicyDecision::Allow);
        assert!(matches!(decide(LinkRule::OptIn, false, true), PolicyDecision::Deny(DenyReason::SurfaceDisabled, _)));
        assert_eq!(decide(LinkRule::GestureConfirm, false, true), PolicyDecision::Ask);
        assert!(matches!(
            decide(LinkRule::GestureConfirm, true, false),
            PolicyDecision::Deny(DenyReason::GestureRequired, _)
        ));
        assert!(matches!(decide(LinkRule::Deny, true, true), PolicyDecision::Deny(DenyReason::SurfacePolicy, _)));
    }
}
