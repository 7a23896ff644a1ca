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

mod settings;

pub use settings::{IdentitySettings, UserProfile};

use crate::capability::{
    CallContext, Capability, ConsentGate, ConsentRequest, DeclarationError, Grant, HostFunction, InitContext,
    NoArguments, ScopeInfo, declare_scopes,
};
use crate::consent::grants::Decision;
use crate::consent::{Answer, Prompt};
use crate::error::HostError;
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
    consent: ConsentGate,
    profile: UserProfile,
}

/// Makes the identity capability from `[identity]`, the consent gate and its
/// secret in the data directory.
pub fn init(context: &InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> {
    let settings: IdentitySettings = context.settings(miniapp_abi::identity::CAPABILITY)?;
    let identity =
        Identity::new(&context.services.database, context.data_dir(), context.services.consent.clone(), settings.user)
            .map_err(|reason| crate::store::StoreError::Open { path: context.data_dir().to_path_buf(), reason })?;
    Ok(Arc::new(identity))
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
    /// The identity capability, with its secret in `database` (taken over from
    /// `data_dir` when an earlier version kept it there).
    pub fn new(
        database: &crate::store::Database,
        data_dir: &Path,
        consent: ConsentGate,
        profile: UserProfile,
    ) -> Result<Identity, String> {
        let key = crate::store::secret::load_or_create(database, data_dir, "identity.key")?;
        Ok(Identity { key, consent, profile })
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
        Ok(IdReply { id: self.derive("program", context.program().key(), user) })
    }

    async fn union_id(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<IdReply, ApiError> {
        if !context.grant::<IdentityGrant>()?.union_id {
            return Err(ApiError::capability_denied(
                "the publisher-scoped id needs `union_id = true` in [capabilities.identity]",
            ));
        }
        let user = context.session().user.id();
        Ok(IdReply { id: self.derive("publisher", context.program().identity.publisher().as_str(), user) })
    }

    async fn authorize(
        self: Arc<Self>,
        context: CallContext,
        request: AuthorizeRequest,
    ) -> Result<AuthorizeReply, ApiError> {
        let purpose = declared(&context, request.scope)?;
        // Permission for addresses is given by picking one, when one is needed.
        let shared = match request.scope {
            Scope::Address => "one address you pick each time".to_string(),
            scope => self.describe(scope),
        };
        let question = ConsentRequest { scope: request.scope.as_str(), purpose: &purpose, shared: &shared };
        Ok(AuthorizeReply { granted: self.consent.authorize(&context, question).await? })
    }

    async fn profile(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Profile, ApiError> {
        self.require(&context, Scope::Profile).await?;
        let profile =
            Profile { display_name: self.profile.display_name.clone(), avatar_url: self.profile.avatar_url.clone() };
        self.consent.log_use(&context, Scope::Profile.as_str(), &self.describe(Scope::Profile)).await?;
        Ok(profile)
    }

    async fn phone(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Phone, ApiError> {
        self.require(&context, Scope::Phone).await?;
        self.consent.log_use(&context, Scope::Phone.as_str(), &self.describe(Scope::Phone)).await?;
        Ok(Phone { phone: self.profile.phone.clone() })
    }

    async fn address(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Address, ApiError> {
        let purpose = declared(&context, Scope::Address)?;
        let scope = Scope::Address.as_str();
        match self.consent.remembered(&context, scope).await? {
            Some(Decision::Denied | Decision::Revoked) => return Err(crate::capability::consent_refused(scope)),
            Some(Decision::Granted) | None => {}
        }
        if self.profile.addresses.is_empty() {
            return Err(ApiError::new(ErrorCode::NotFound, "the user has no shipping address"));
        }
        // Picking an address is the consent question of this launch.
        self.consent.mark_asked(&context, scope);
        let program = context.program().label();
        let options = self.profile.addresses.iter().map(Address::to_string).collect();
        let prompt = Prompt::ChooseAddress { program, purpose, options };
        match context.session().user.ask(&prompt).await {
            Answer::Pick(n) if n >= 1 && n <= self.profile.addresses.len() => {
                let address = self.profile.addresses[n - 1].clone();
                self.consent.remember(&context, scope, Decision::Granted).await?;
                self.consent.log_use(&context, scope, &format!("address {n}: {address}")).await?;
                Ok(address)
            }
            Answer::No => {
                self.consent.remember(&context, scope, Decision::Denied).await?;
                Err(crate::capability::consent_refused(scope))
            }
            _ => Err(ApiError::new(ErrorCode::UserCancelled, "no address was picked")),
        }
    }

    /// Passes if the scope is granted, asking on first use; else `capability_denied`.
    async fn require(&self, context: &CallContext, scope: Scope) -> Result<(), ApiError> {
        let purpose = declared(context, scope)?;
        let shared = self.describe(scope);
        self.consent
            .require(context, ConsentRequest { scope: scope.as_str(), purpose: &purpose, shared: &shared })
            .await
    }

    fn describe(&self, scope: Scope) -> String {
        match scope {
            Scope::Profile => format!("name \"{}\", avatar {}", self.profile.display_name, self.profile.avatar_url),
            Scope::Phone => format!("phone number {}", self.profile.phone),
            Scope::Address => "one address you pick".into(),
        }
    }
}

fn declared(context: &CallContext, scope: Scope) -> Result<String, ApiError> {
    context.grant::<IdentityGrant>()?.scopes.get(&scope).cloned().ok_or_else(|| {
        ApiError::capability_denied(format!("scope `{scope}` is not declared in [capabilities.identity.scopes]"))
    })
}

impl Capability for Identity {
    fn name(&self) -> &'static str {
        miniapp_abi::identity::CAPABILITY
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: IdentityParams = DeclarationError::decode(params)?;
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        let scopes = declare_scopes(params.scopes, &known)?
            .into_iter()
            .filter_map(|(name, purpose)| Scope::parse(&name).map(|scope| (scope, purpose)))
            .collect();
        Ok(Arc::new(IdentityGrant { union_id: params.union_id, scopes }))
    }

    fn scopes(&self) -> Vec<ScopeInfo> {
        let scope = |name: Scope, summary: &str| ScopeInfo { name: name.as_str().to_string(), summary: summary.into() };
        vec![
            scope(Scope::Profile, "your display name and avatar"),
            scope(Scope::Phone, "your phone number"),
            scope(Scope::Address, "one shipping address you pick"),
        ]
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
