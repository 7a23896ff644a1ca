//! The one consent gate: any capability asks the user through it for a scope it
//! names, with the purpose the program's manifest gives. The answer is remembered
//! per user, program and module (a new module asks again), can be revoked by the
//! user (`miniapp permissions revoke`), and a refused scope is asked again at most
//! once per launch, when the program asks for it explicitly. Every decision is
//! audited.

use super::{CallContext, DeclarationError};
use crate::audit::{AuditLog, DecisionRecord, Outcome};
use crate::consent::grants::{Decision, Grants};
use crate::consent::{Answer, Prompt};
use miniapp_abi::{ApiError, ErrorCode};
use std::collections::BTreeMap;

/// A scope a capability may ask for, as listed to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    /// Its name (`phone`, `location`): unique among the host's capabilities.
    pub name: String,
    /// What granting it shares, in a few words.
    pub summary: String,
}

/// One question to the gate.
#[derive(Debug, Clone, Copy)]
pub struct ConsentRequest<'a> {
    /// The scope.
    pub scope: &'a str,
    /// Why, in the program's words (from its manifest).
    pub purpose: &'a str,
    /// Exactly what would be shared.
    pub shared: &'a str,
}

/// The consent gate, shared by every capability.
#[derive(Debug, Clone)]
pub struct ConsentGate {
    grants: Grants,
    audit: AuditLog,
}

impl ConsentGate {
    /// The gate remembering answers in `grants` and auditing to `audit`.
    pub fn new(grants: Grants, audit: AuditLog) -> ConsentGate {
        ConsentGate { grants, audit }
    }

    /// Passes if the user granted the scope, asking on first use; a remembered
    /// refusal or revocation is `capability_denied` (audited).
    pub async fn require(&self, context: &CallContext, request: ConsentRequest<'_>) -> Result<(), ApiError> {
        match self.remembered(context, request.scope).await? {
            Some(Decision::Granted) => Ok(()),
            Some(decision) => {
                let reason = format!("the user's remembered answer: {decision}");
                self.audit(context, request.scope, Outcome::Denied, &reason).await;
                Err(refused(request.scope))
            }
            None => {
                context.session().once.first(&ask_mark(context, request.scope));
                if self.ask(context, request).await? { Ok(()) } else { Err(refused(request.scope)) }
            }
        }
    }

    /// The program asks for the scope explicitly: granted if remembered so;
    /// otherwise the user is asked — at most once per launch.
    pub async fn authorize(&self, context: &CallContext, request: ConsentRequest<'_>) -> Result<bool, ApiError> {
        if self.remembered(context, request.scope).await? == Some(Decision::Granted) {
            return Ok(true);
        }
        if !context.session().once.first(&ask_mark(context, request.scope)) {
            return Ok(false);
        }
        self.ask(context, request).await
    }

    /// Asks the user now and remembers a yes or a no (not a missing answer).
    pub async fn ask(&self, context: &CallContext, request: ConsentRequest<'_>) -> Result<bool, ApiError> {
        let prompt = Prompt::Consent {
            program: context.program().label(),
            scope: request.scope.to_string(),
            purpose: request.purpose.to_string(),
            shared: request.shared.to_string(),
        };
        match context.session().user.ask(&prompt).await {
            Answer::Yes => {
                self.remember(context, request.scope, Decision::Granted).await?;
                self.audit(context, request.scope, Outcome::Confirmed, "the user allowed it").await;
                Ok(true)
            }
            Answer::No | Answer::Pick(_) => {
                self.remember(context, request.scope, Decision::Denied).await?;
                self.audit(context, request.scope, Outcome::Declined, "the user refused").await;
                Ok(false)
            }
            Answer::NoAnswer => {
                self.audit(context, request.scope, Outcome::Declined, "nobody answered").await;
                Ok(false)
            }
        }
    }

    /// The user's remembered answer for this program's module, if any.
    pub async fn remembered(&self, context: &CallContext, scope: &str) -> Result<Option<Decision>, ApiError> {
        let program = context.program();
        self.grants
            .lookup(context.session().user.id(), program.key(), &program.module_hash, scope)
            .await
            .map_err(unavailable)
    }

    /// Remembers `decision` for this program's module (a capability whose own
    /// prompt gives consent — an address picker — records it here).
    pub async fn remember(&self, context: &CallContext, scope: &str, decision: Decision) -> Result<(), ApiError> {
        let program = context.program();
        self.grants
            .remember(context.session().user.id(), program.key(), &program.module_hash, scope, decision)
            .await
            .map_err(unavailable)
    }

    /// Marks that the scope was asked for in this launch (a capability's own
    /// prompt counts as the once-per-launch question).
    pub fn mark_asked(&self, context: &CallContext, scope: &str) {
        context.session().once.first(&ask_mark(context, scope));
    }

    /// Records that `detail` was shared under `scope`, and tells the developer.
    pub async fn log_use(&self, context: &CallContext, scope: &str, detail: &str) -> Result<(), ApiError> {
        context.session().output.notice(context.capability(), format!("shared your {scope}: {detail}"));
        self.grants
            .log_use(context.session().user.id(), context.program().key(), scope, detail)
            .await
            .map_err(unavailable)
    }

    async fn audit(&self, context: &CallContext, scope: &str, outcome: Outcome, reason: &str) {
        let record = DecisionRecord {
            program_id: context.program().key(),
            capability: context.capability(),
            action: "consent",
            outcome,
            reason,
            target: Some(scope),
            surface: None,
        };
        // The decision stands whether or not its record could be written.
        if let Err(error) = self.audit.record_decision(&record).await {
            tracing::warn!("cannot audit a consent decision: {error}");
        }
    }
}

fn ask_mark(context: &CallContext, scope: &str) -> String {
    format!("{}.ask.{scope}", context.capability())
}

/// The error of a scope the user has not allowed.
pub fn refused(scope: &str) -> ApiError {
    ApiError::capability_denied(format!(
        "the user has not allowed `{scope}` (refused or revoked); call authorize to ask again, once per launch"
    ))
}

fn unavailable(error: crate::store::StoreError) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("consent records are unavailable: {error}"))
}

/// Checks a manifest's scope table (`scope = "purpose the user sees"`) against
/// the scopes a capability knows; the field named in an error is `scopes.<name>`.
pub fn declare_scopes(
    declared: BTreeMap<String, String>,
    known: &[&str],
) -> Result<BTreeMap<String, String>, DeclarationError> {
    let mut scopes = BTreeMap::new();
    for (name, purpose) in declared {
        let field = format!("scopes.{name}");
        if !known.contains(&name.as_str()) {
            return Err(DeclarationError::new(field, format!("unknown scope; expected one of: {}", known.join(", "))));
        }
        let length = purpose.chars().count();
        if purpose.trim().is_empty() || length > 200 || crate::sanitize::first_unsafe(&purpose).is_some() {
            return Err(DeclarationError::new(field, "the purpose the user sees must be 1 to 200 characters of text"));
        }
        scopes.insert(name, purpose);
    }
    Ok(scopes)
}
