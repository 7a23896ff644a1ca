//! `identity`: who the user is to a program, and their personal data by consent.
//!
//! - **Per-program user id** (like WeChat's openid): an HMAC of the user and the
//!   program id under a secret kept in the data directory, so it is stable across
//!   runs, different for every program, and two programs cannot join their data on
//!   it. A program that declares `union_id = true` also gets a **publisher-scoped
//!   id** (like unionid), the same for every program of its publisher — which lets
//!   those programs recognise the same user across them.
//! - **Scopes** (`profile`, `phone`, `address`), each declared in the manifest with
//!   a purpose the user sees. The first use asks the user, showing exactly what
//!   would be shared; the answer is remembered per program and module (a new module
//!   asks again). A refused or revoked scope fails with `capability_denied` until
//!   the program calls `authorize`, which asks again at most once per launch. An
//!   address is always picked by the user: the program gets that one address.

use super::{CallContext, Capability, DeclarationError, Grant, HostFunction, NoArguments};
use crate::audit::{AuditLog, DecisionRecord, Outcome as AuditOutcome};
use crate::config::UserProfile;
use crate::consent::grants::{Decision, Grants};
use crate::consent::{Answer, Prompt};
use hmac::{Hmac, Mac};
use miniapp_abi::identity::{Address, AuthorizeReply, AuthorizeRequest, IdReply, Phone, Profile, Scope};
use miniapp_abi::{ApiError, ErrorCode};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The identity capability.
pub struct Identity {
    key: [u8; 32],
    grants: Grants,
    profile: UserProfile,
    audit: AuditLog,
}

/// What a program that declares `identity` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityGrant {
    /// Whether it may read the publisher-scoped id.
    pub union_id: bool,
    /// The scopes it may ask for, with the purpose shown to the user.
    pub scopes: BTreeMap<Scope, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityParams {
    #[serde(default)]
    union_id: bool,
    #[serde(default)]
    scopes: BTreeMap<String, String>,
}

impl Identity {
    /// The identity capability, with its secret in `data_dir`.
    pub fn new(data_dir: &Path, grants: Grants, profile: UserProfile, audit: AuditLog) -> Result<Identity, String> {
        Ok(Identity { key: crate::store::secret::load_or_create(data_dir, "identity.key")?, grants, profile, audit })
    }

    /// Records a consent gate's decision for `scope` in the audit log.
    async fn audit(&self, context: &CallContext, scope: Scope, outcome: AuditOutcome, reason: &str) {
        let record = DecisionRecord {
            program_id: &context.program().id,
            capability: miniapp_abi::identity::CAPABILITY,
            action: "consent",
            outcome,
            reason,
            target: Some(scope.as_str()),
            surface: None,
        };
        // The decision stands whether or not its record could be written.
        if let Err(error) = self.audit.record_decision(&record).await {
            tracing::warn!("cannot audit a consent decision: {error}");
        }
    }

    fn derive(&self, kind: &str, subject: &str, user: &str) -> String {
        // A key of any length is valid for HMAC; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in ["miniapp-user-id", kind, subject, user] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        let digest = mac.finalize().into_bytes();
        format!("{}_{}", if kind == "program" { "u" } else { "un" }, hex::encode(&digest[..16]))
    }

    async fn user_id(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<IdReply, ApiError> {
        let user = context.session().user.id();
        Ok(IdReply { id: self.derive("program", &context.program().id, user) })
    }

    async fn union_id(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<IdReply, ApiError> {
        if !context.grant::<IdentityGrant>()?.union_id {
            return Err(ApiError::capability_denied(
                "the publisher-scoped id needs `union_id = true` in [capabilities.identity]",
            ));
        }
        let user = context.session().user.id();
        Ok(IdReply { id: self.derive("publisher", &context.program().publisher, user) })
    }

    async fn authorize(
        self: Arc<Self>,
        context: CallContext,
        request: AuthorizeRequest,
    ) -> Result<AuthorizeReply, ApiError> {
        let purpose = declared(&context, request.scope)?;
        let remembered = self.remembered(&context, request.scope)?;
        if remembered == Some(Decision::Granted) {
            return Ok(AuthorizeReply { granted: true });
        }
        if !context.session().once.first(&format!("identity.ask.{}", request.scope)) {
            return Ok(AuthorizeReply { granted: false });
        }
        let granted = match request.scope {
            // Permission for addresses is given by picking one, when one is needed.
            Scope::Address => {
                self.ask_consent(&context, request.scope, &purpose, "one address you pick each time").await?
            }
            scope => self.ask_consent(&context, scope, &purpose, &self.describe(scope)).await?,
        };
        Ok(AuthorizeReply { granted })
    }

    async fn profile(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Profile, ApiError> {
        self.gate(&context, Scope::Profile).await?;
        let profile =
            Profile { display_name: self.profile.display_name.clone(), avatar_url: self.profile.avatar_url.clone() };
        self.log_use(&context, Scope::Profile, &self.describe(Scope::Profile))?;
        Ok(profile)
    }

    async fn phone(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Phone, ApiError> {
        self.gate(&context, Scope::Phone).await?;
        self.log_use(&context, Scope::Phone, &self.describe(Scope::Phone))?;
        Ok(Phone { phone: self.profile.phone.clone() })
    }

    async fn address(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Address, ApiError> {
        let purpose = declared(&context, Scope::Address)?;
        match self.remembered(&context, Scope::Address)? {
            Some(Decision::Denied | Decision::Revoked) => return Err(refused(Scope::Address)),
            Some(Decision::Granted) | None => {}
        }
        if self.profile.addresses.is_empty() {
            return Err(ApiError::new(ErrorCode::NotFound, "the user has no shipping address"));
        }
        context.session().once.first("identity.ask.address");
        let program = program_label(&context);
        let options = self.profile.addresses.iter().map(Address::to_string).collect();
        let prompt = Prompt::ChooseAddress { program, purpose, options };
        match context.session().user.ask(&prompt).await {
            Answer::Pick(n) if n >= 1 && n <= self.profile.addresses.len() => {
                let address = self.profile.addresses[n - 1].clone();
                self.remember(&context, Scope::Address, Decision::Granted)?;
                self.log_use(&context, Scope::Address, &format!("address {n}: {address}"))?;
                Ok(address)
            }
            Answer::No => {
                self.remember(&context, Scope::Address, Decision::Denied)?;
                Err(refused(Scope::Address))
            }
            _ => Err(ApiError::new(ErrorCode::UserCancelled, "no address was picked")),
        }
    }

    /// Passes if the scope is granted, asking on first use; else `capability_denied`.
    async fn gate(&self, context: &CallContext, scope: Scope) -> Result<(), ApiError> {
        let purpose = declared(context, scope)?;
        match self.remembered(context, scope)? {
            Some(Decision::Granted) => Ok(()),
            Some(decision) => {
                let reason = format!("the user's remembered answer: {decision}");
                self.audit(context, scope, AuditOutcome::Denied, &reason).await;
                Err(refused(scope))
            }
            None => {
                context.session().once.first(&format!("identity.ask.{scope}"));
                if self.ask_consent(context, scope, &purpose, &self.describe(scope)).await? {
                    Ok(())
                } else {
                    Err(refused(scope))
                }
            }
        }
    }

    /// Asks the user and remembers a yes or a no (not a missing answer).
    async fn ask_consent(
        &self,
        context: &CallContext,
        scope: Scope,
        purpose: &str,
        shared: &str,
    ) -> Result<bool, ApiError> {
        let prompt = Prompt::Consent {
            program: program_label(context),
            scope,
            purpose: purpose.to_string(),
            shared: shared.to_string(),
        };
        match context.session().user.ask(&prompt).await {
            Answer::Yes => {
                self.remember(context, scope, Decision::Granted)?;
                self.audit(context, scope, AuditOutcome::Confirmed, "the user allowed it").await;
                Ok(true)
            }
            Answer::No | Answer::Pick(_) => {
                self.remember(context, scope, Decision::Denied)?;
                self.audit(context, scope, AuditOutcome::Declined, "the user refused").await;
                Ok(false)
            }
            Answer::NoAnswer => {
                self.audit(context, scope, AuditOutcome::Declined, "nobody answered").await;
                Ok(false)
            }
        }
    }

    fn describe(&self, scope: Scope) -> String {
        match scope {
            Scope::Profile => format!("name \"{}\", avatar {}", self.profile.display_name, self.profile.avatar_url),
            Scope::Phone => format!("phone number {}", self.profile.phone),
            Scope::Address => "one address you pick".into(),
        }
    }

    fn remembered(&self, context: &CallContext, scope: Scope) -> Result<Option<Decision>, ApiError> {
        let program = context.program();
        self.grants
            .lookup(context.session().user.id(), &program.id, &program.module_hash, scope.as_str())
            .map_err(unavailable)
    }

    fn remember(&self, context: &CallContext, scope: Scope, decision: Decision) -> Result<(), ApiError> {
        let program = context.program();
        self.grants
            .remember(context.session().user.id(), &program.id, &program.module_hash, scope.as_str(), decision)
            .map_err(unavailable)
    }

    fn log_use(&self, context: &CallContext, scope: Scope, detail: &str) -> Result<(), ApiError> {
        context.session().output.notice(miniapp_abi::identity::CAPABILITY, format!("shared your {scope}: {detail}"));
        self.grants
            .log_use(context.session().user.id(), &context.program().id, scope.as_str(), detail)
            .map_err(unavailable)
    }
}

fn declared(context: &CallContext, scope: Scope) -> Result<String, ApiError> {
    context.grant::<IdentityGrant>()?.scopes.get(&scope).cloned().ok_or_else(|| {
        ApiError::capability_denied(format!("scope `{scope}` is not declared in [capabilities.identity.scopes]"))
    })
}

fn refused(scope: Scope) -> ApiError {
    ApiError::capability_denied(format!(
        "the user has not allowed `{scope}` (refused or revoked); call authorize to ask again, once per launch"
    ))
}

fn program_label(context: &CallContext) -> String {
    format!("{} ({})", context.program().name, context.program().id)
}

fn unavailable(error: crate::store::StoreError) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("consent records are unavailable: {error}"))
}

impl Capability for Identity {
    fn name(&self) -> &'static str {
        miniapp_abi::identity::CAPABILITY
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: IdentityParams = DeclarationError::decode(params)?;
        let mut scopes = BTreeMap::new();
        for (name, purpose) in params.scopes {
            let field = format!("scopes.{name}");
            let Some(scope) = Scope::parse(&name) else {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                return Err(DeclarationError::new(
                    field,
                    format!("unknown scope; expected one of: {}", known.join(", ")),
                ));
            };
            let length = purpose.chars().count();
            if purpose.trim().is_empty() || length > 200 || crate::sanitize::first_unsafe(&purpose).is_some() {
                return Err(DeclarationError::new(
                    field,
                    "the purpose the user sees must be 1 to 200 characters of text",
                ));
            }
            scopes.insert(scope, purpose);
        }
        Ok(Arc::new(IdentityGrant { union_id: params.union_id, scopes }))
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![
            HostFunction::method("user_id", &self, Identity::user_id),
            HostFunction::method("union_id", &self, Identity::union_id),
            HostFunction::method("authorize", &self, Identity::authorize),
            HostFunction::method("profile", &self, Identity::profile),
            HostFunction::method("phone", &self, Identity::phone),
            HostFunction::method("address", &self, Identity::address),
        ]
    }
}
