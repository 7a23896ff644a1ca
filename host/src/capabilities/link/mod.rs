//! `link`: open and share links — https pages, other mini-programs and platform
//! deep links — under the three gates:
//!
//! 1. **safe** ([`safety`]): structural checks before anything else;
//! 2. **declared**: the manifest lists the domains, platforms and programs the
//!    program may open (`[capabilities.link]`);
//! 3. **allowed** ([`policy`]): the surface's rule for the kind of target, the
//!    user's per-surface switch, and — where the rule says — a tap and the user's
//!    confirmation.
//!
//! Every decision is recorded in the audit log with the target, the surface and the
//! rule that decided; a denial tells the user why. No rule looks at who owns a
//! target.

mod homograph;
pub mod policy;
pub mod safety;
mod settings;

pub use settings::{LinkRule, LinkSettings, PlatformSettings, SurfaceRules};

use crate::audit::{AuditLog, DecisionRecord, Outcome as AuditOutcome};
use crate::capability::{CallContext, Capability, DeclarationError, Grant, HostFunction, InitContext};
use crate::consent::{Answer, Prompt};
use crate::error::HostError;
use crate::settings::UserSettings;
use miniapp_abi::ApiError;
use miniapp_abi::lifecycle::Surface;
use miniapp_abi::link::{DenyReason, LinkReply, OpenRequest, Outcome, ShareRequest, Target};
use policy::{PolicyDecision, TargetKind};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The link capability.
pub struct Link {
    settings: LinkSettings,
    user_settings: UserSettings,
    audit: AuditLog,
}

/// What a program that declares `link` may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkGrant {
    /// Web domains (and their subdomains), ASCII.
    pub domains: Vec<String>,
    /// Platform names whose deep links it may open.
    pub platforms: BTreeSet<String>,
    /// Mini-program ids it may open.
    pub programs: BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkParams {
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    programs: Vec<String>,
}

/// A target that passed the safety checks.
struct CheckedTarget {
    kind: TargetKind,
    display: String,
    declared: bool,
    declaration: String,
}

enum Action<'a> {
    Open,
    Share { title: &'a str },
}

/// Makes the link capability from `[link]`, the user's switches and the audit log.
pub fn init(context: &InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> {
    let settings = context.settings(miniapp_abi::link::CAPABILITY)?;
    let services = context.services;
    Ok(Arc::new(Link::new(settings, services.user_settings.clone(), services.audit.clone())))
}

impl Link {
    /// The link capability with the host's policy.
    pub fn new(settings: LinkSettings, user_settings: UserSettings, audit: AuditLog) -> Link {
        Link { settings, user_settings, audit }
    }

    async fn open(self: Arc<Self>, context: CallContext, request: OpenRequest) -> Result<LinkReply, ApiError> {
        let surface = context.session().surface;
        self.evaluate(&context, &request.target, surface, Action::Open).await
    }

    async fn share(self: Arc<Self>, context: CallContext, request: ShareRequest) -> Result<LinkReply, ApiError> {
        let card = &request.card;
        if !matches!(request.surface, Surface::Chat | Surface::Group | Surface::Moments) {
            return Err(ApiError::invalid_argument(format!(
                "cards are shared to chat, group or moments, not {}",
                request.surface
            )));
        }
        let title_chars = card.title.chars().count();
        if title_chars == 0 || title_chars > 64 {
            return Err(ApiError::invalid_argument("a card's title is 1 to 64 characters"));
        }
        if let Some(problem) = crate::sanitize::first_unsafe(&card.title) {
            return Err(ApiError::invalid_argument(format!("a card's title must not contain a {problem}")));
        }
        if let Some(image) = &card.image
            && let Err((reason, message)) = safety::check_web_url(image, &self.settings)
        {
            return Err(ApiError::invalid_argument(format!(
                "the card's image is unsafe ({}): {message}",
                reason.as_str()
            )));
        }
        self.evaluate(&context, &card.target, request.surface, Action::Share { title: &card.title }).await
    }

    /// Checks `target` for safety and against the declarations; `own_id` is the
    /// calling program's, which a mini-program target with an empty `id` means (a
    /// program may always name itself: a card of its own page).
    fn check(
        &self,
        target: &Target,
        grant: &LinkGrant,
        own_id: &str,
    ) -> Result<CheckedTarget, (DenyReason, String, String)> {
        let raw_display = |text: &str| safety::display_of_refused(text);
        match target {
            Target::Web { url } => {
                let safe = safety::check_web_url(url, &self.settings).map_err(|(r, m)| (r, m, raw_display(url)))?;
                let declared = grant.domains.iter().any(|d| safety::within(&safe.host, d));
                Ok(CheckedTarget {
                    kind: TargetKind::Web,
                    declaration: format!("domain {}", safe.host),
                    display: safe.display,
                    declared,
                })
            }
            Target::DeepLink { url } => {
                let link = safety::check_deep_link(url, &self.settings).map_err(|(r, m)| (r, m, raw_display(url)))?;
                let kind = TargetKind::of_deep_link(&link.kind).ok_or_else(|| {
                    (DenyReason::UnknownPlatform, format!("`{}` pages have no policy", link.kind), link.display.clone())
                })?;
                Ok(CheckedTarget {
                    kind,
                    declared: grant.platforms.contains(&link.platform),
                    declaration: format!("platform {}", link.platform),
                    display: link.display,
                })
            }
            Target::MiniProgram { id, path, extra_data } => {
                let id = if id.is_empty() { own_id } else { id.as_str() };
                let display =
                    safety::check_program(id, path, extra_data.as_ref()).map_err(|(r, m)| (r, m, raw_display(id)))?;
                Ok(CheckedTarget {
                    kind: TargetKind::MiniProgram,
                    declared: id == own_id || grant.programs.contains(id),
                    declaration: format!("program {id}"),
                    display,
                })
            }
        }
    }

    async fn evaluate(
        &self,
        context: &CallContext,
        target: &Target,
        surface: Surface,
        action: Action<'_>,
    ) -> Result<LinkReply, ApiError> {
        let grant = context.grant::<LinkGrant>()?;
        let session = context.session();
        let (action_name, verb, done) = match action {
            Action::Open => ("open", "open", "not opened"),
            Action::Share { .. } => ("share", "share", "not shared"),
        };
        let denied = |reason: DenyReason, message: String, display: String| LinkReply {
            outcome: Outcome::Denied,
            reason: Some(reason),
            display,
            message,
        };

        let reply = match self.check(target, grant, &context.program().id) {
            Err((reason, message, display)) => denied(reason, format!("{done}: {message}"), display),
            Ok(checked) if !checked.declared => denied(
                DenyReason::NotDeclared,
                format!(
                    "{done}: {} is not listed in the program's [capabilities.link] (add it to `{}`)",
                    checked.declaration,
                    match checked.kind {
                        TargetKind::Web => "domains",
                        TargetKind::MiniProgram => "programs",
                        _ => "platforms",
                    }
                ),
                checked.display,
            ),
            Ok(checked) => {
                let rule_key = format!("link.surfaces.{surface}.{}", checked.kind.key());
                let Some(rules) = self.settings.surfaces.get(&surface) else {
                    let reply = denied(
                        DenyReason::SurfacePolicy,
                        format!("{done}: the host has no link rules for {surface}"),
                        checked.display,
                    );
                    return self.finish(context, action_name, surface, reply).await;
                };
                let rule = checked.kind.rule_in(rules);
                let enabled = self
                    .user_settings
                    .links_enabled(session.user.id(), surface)
                    .await
                    .map_err(|e| ApiError::new(miniapp_abi::ErrorCode::Unavailable, e.to_string()))?;
                match policy::decide(rule, enabled, session.gesture) {
                    PolicyDecision::Allow => LinkReply {
                        outcome: Outcome::Opened,
                        reason: None,
                        message: format!("{verb} allowed by {rule_key}"),
                        display: checked.display,
                    },
                    PolicyDecision::Deny(reason, why) => denied(
                        reason,
                        format!("{done}: {} ({rule_key})", why.replace("<surface>", surface.as_str())),
                        checked.display,
                    ),
                    PolicyDecision::Ask => {
                        let program = format!("{} ({})", context.program().name, context.program().id);
                        let prompt = match action {
                            Action::Open => Prompt::OpenLink { program, target: checked.display.clone(), surface },
                            Action::Share { title } => Prompt::Share {
                                program,
                                title: title.to_string(),
                                target: checked.display.clone(),
                                surface,
                            },
                        };
                        match session.user.ask(&prompt).await {
                            Answer::Yes => LinkReply {
                                outcome: Outcome::Confirmed,
                                reason: None,
                                message: format!("the user agreed ({rule_key} asks first)"),
                                display: checked.display,
                            },
                            answer => LinkReply {
                                outcome: Outcome::Declined,
                                reason: None,
                                message: match answer {
                                    Answer::NoAnswer => format!("nobody was there to confirm ({rule_key} asks first)"),
                                    _ => format!("the user said no ({rule_key} asks first)"),
                                },
                                display: checked.display,
                            },
                        }
                    }
                }
            }
        };
        self.finish(context, action_name, surface, reply).await
    }

    /// Records the decision, tells the host what was opened or shared, and returns it.
    async fn finish(
        &self,
        context: &CallContext,
        action: &str,
        surface: Surface,
        reply: LinkReply,
    ) -> Result<LinkReply, ApiError> {
        let (outcome, opened) = match reply.outcome {
            Outcome::Opened => (AuditOutcome::Allowed, true),
            Outcome::Confirmed => (AuditOutcome::Confirmed, true),
            Outcome::Declined => (AuditOutcome::Declined, false),
            Outcome::Denied => (AuditOutcome::Denied, false),
        };
        let reason = match reply.reason {
            Some(code) => format!("{}: {}", code.as_str(), reply.message),
            None => reply.message.clone(),
        };
        let record = DecisionRecord {
            program_id: context.program().key(),
            capability: miniapp_abi::link::CAPABILITY,
            action,
            outcome,
            reason: &reason,
            target: Some(&reply.display),
            surface: Some(surface.as_str()),
        };
        self.audit.record_decision(&record).await.map_err(|e| {
            ApiError::new(miniapp_abi::ErrorCode::Unavailable, format!("cannot record the decision: {e}"))
        })?;
        let notice = match (opened, action) {
            (true, "share") => format!("shared {} to {surface}", reply.display),
            (true, _) => format!("opening {} (from {surface})", reply.display),
            (false, _) => {
                let why = reply.reason.map_or("the user did not agree", DenyReason::as_str);
                format!("refused to {action} {} on {surface}: {why}", reply.display)
            }
        };
        context.session().output.notice(miniapp_abi::link::CAPABILITY, notice);
        Ok(reply)
    }
}

impl Capability for Link {
    fn name(&self) -> &'static str {
        miniapp_abi::link::CAPABILITY
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: LinkParams = DeclarationError::decode(params)?;
        if params.domains.len() > self.settings.max_declared_domains {
            return Err(DeclarationError::new(
                "domains",
                format!("at most {} domains may be declared", self.settings.max_declared_domains),
            ));
        }
        let mut domains = Vec::new();
        for domain in &params.domains {
            domains.push(check_declared_domain(domain).map_err(|m| DeclarationError::new("domains", m))?);
        }
        for platform in &params.platforms {
            if !self.settings.platforms.contains_key(platform) {
                let known: Vec<&str> = self.settings.platforms.keys().map(String::as_str).collect();
                return Err(DeclarationError::new(
                    "platforms",
                    format!("`{platform}` is not a platform this host knows ({})", known.join(", ")),
                ));
            }
        }
        for program in &params.programs {
            safety::check_program(program, "", None).map_err(|(_, m)| DeclarationError::new("programs", m))?;
        }
        Ok(Arc::new(LinkGrant {
            domains,
            platforms: params.platforms.into_iter().collect(),
            programs: params.programs.into_iter().collect(),
        }))
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![HostFunction::method("open", &self, Link::open), HostFunction::method("share", &self, Link::share)]
    }
}

/// A declared domain: a bare host name (no scheme, path or port), not an IP
/// address, returned in ASCII form.
fn check_declared_domain(domain: &str) -> Result<String, String> {
    if domain.contains("://") || domain.contains(['/', ':', '@', '?', '#']) {
        return Err(format!("`{domain}`: give the domain alone, e.g. `taobao.com` (links must be https)"));
    }
    let url = url::Url::parse(&format!("https://{domain}/")).map_err(|e| format!("`{domain}` is not a domain: {e}"))?;
    match url.host() {
        Some(url::Host::Domain(host))
            if host.contains('.') && !host.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Ok(host.to_string())
        }
        Some(url::Host::Domain(_)) => Err(format!("`{domain}` is not a full domain name")),
        _ => Err(format!("`{domain}` is an IP address; declare domain names only")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_domains_are_bare_names() {
        assert_eq!(check_declared_domain("Taobao.com").unwrap(), "taobao.com");
        assert_eq!(check_declared_domain("淘宝.com").unwrap(), "xn--pbt173b.com");
        for bad in ["https://taobao.com", "taobao.com/x", "taobao.com:443", "10.0.0.1", "localhost", "0x7f.1"] {
            assert!(check_declared_domain(bad).is_err(), "{bad}");
        }
    }
}
