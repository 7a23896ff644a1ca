//! Capabilities: the host APIs a program may use, each a plug-in.
//!
//! A capability is a type implementing [`Capability`]: it has a name (used in the
//! manifest's `[capabilities.<name>]` table and the import module
//! `miniapp:<name>`), checks the parameters a manifest declares for it, and lists
//! its host functions. [`Registry::builtin`] is the one place built-in
//! capabilities are registered; an embedder adds its own with
//! [`crate::HostBuilder::capability`].
//!
//! Every host function has the same wasm signature and goes through the same
//! dispatch (see `dispatch.rs`): count the call, check the reply slot, read the
//! request through the boundary, check the gates, run the handler, deliver the
//! reply. A handler only sees decoded requests and returns values or [`ApiError`]s.

mod dispatch;
pub mod identity;
pub mod link;
pub mod payment;
pub mod storage;
pub mod view;

use crate::audit::AuditLog;
use crate::config::HostConfig;
use crate::consent::User;
use crate::consent::grants::Grants;
use crate::sandbox::{OncePerLaunch, OutputCapture, SessionSlots, SessionState, UserAction};
use crate::settings::UserSettings;
use crate::store::{Database, StoreError};
use miniapp_abi::lifecycle::Surface;
use miniapp_abi::{ApiError, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::app::ProgramInfo;

/// What a capability keeps for one program once its declaration is accepted (its
/// parsed manifest parameters). Handlers get it back with [`CallContext::grant`].
pub type Grant = Arc<dyn Any + Send + Sync>;

/// A problem with a capability's manifest parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationError {
    /// The field, relative to `[capabilities.<name>]` (`quota_bytes`), or empty
    /// for the table as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl DeclarationError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> DeclarationError {
        DeclarationError { field: field.into(), message: message.into() }
    }

    /// Decodes a parameter table into `T` (which should deny unknown fields),
    /// naming the field a TOML error points at.
    pub fn decode<T: DeserializeOwned>(params: &toml::Table) -> Result<T, DeclarationError> {
        toml::Value::Table(params.clone()).try_into::<T>().map_err(|e| {
            let message = e.message().trim().to_string();
            let field = message
                .split('`')
                .nth(1)
                .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
                .unwrap_or_default()
                .to_string();
            DeclarationError { field, message }
        })
    }
}

/// A host API offered to programs.
pub trait Capability: Send + Sync + 'static {
    /// The capability's name: lowercase letters and `_`.
    fn name(&self) -> &'static str;

    /// Checks the manifest's `[capabilities.<name>]` table and returns what the
    /// program is granted by declaring it.
    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError>;

    /// The capability's host functions.
    fn functions(self: Arc<Self>) -> Vec<HostFunction>;
}

/// The boxed future a host function handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send>>;

type Handler = Arc<dyn Fn(CallContext, Vec<u8>) -> HandlerFuture + Send + Sync>;

/// One host function: its import name and its handler.
#[derive(Clone)]
pub struct HostFunction {
    name: &'static str,
    handler: Handler,
}

impl HostFunction {
    /// A function whose request decodes as `Req` and whose reply encodes `Resp`.
    /// An empty request decodes as `{}`; a `null` reply is delivered as no bytes.
    pub fn json<Req, Resp, F, Fut>(name: &'static str, handler: F) -> HostFunction
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: Fn(CallContext, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, ApiError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        HostFunction {
            name,
            handler: Arc::new(move |context, bytes| match decode_request::<Req>(&bytes) {
                Ok(request) => {
                    let reply = handler(context, request);
                    Box::pin(async move { encode_reply(&reply.await?) })
                }
                Err(error) => Box::pin(std::future::ready(Err(error))),
            }),
        }
    }

    /// A function served by `method` of the shared capability state `state`,
    /// e.g. `HostFunction::method("get", &self, Storage::get)`.
    pub fn method<S, Req, Resp, F, Fut>(name: &'static str, state: &Arc<S>, method: F) -> HostFunction
    where
        S: Send + Sync + 'static,
        Req: DeserializeOwned,
        Resp: Serialize,
        F: Fn(Arc<S>, CallContext, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, ApiError>> + Send + 'static,
    {
        let state = state.clone();
        HostFunction::json(name, move |context, request| method(state.clone(), context, request))
    }

    /// The import name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The JSON message decoder every host call's request goes through: UTF-8, then
/// JSON into `Req`, with errors naming the problem. An empty request means `{}`
/// (a call without arguments). serde_json's nesting limit (128) bounds recursion.
pub fn decode_request<Req: DeserializeOwned>(bytes: &[u8]) -> Result<Req, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::invalid_argument(format!("request is not UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })?;
    let text = if text.is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|e| ApiError::invalid_argument(format!("bad request: {e}")))
}

fn encode_reply<Resp: Serialize>(reply: &Resp) -> Result<Vec<u8>, ApiError> {
    let bytes = serde_json::to_vec(reply).map_err(|e| ApiError::internal(format!("cannot encode reply: {e}")))?;
    Ok(if bytes == b"null" { Vec::new() } else { bytes })
}

/// The request of a host function that takes no arguments: `{}` or empty.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// What a handler knows about the call it is serving.
#[derive(Clone)]
pub struct CallContext {
    program: Arc<ProgramInfo>,
    grant: Grant,
    session: SessionView,
}

/// The session a host call comes from.
#[derive(Clone)]
pub struct SessionView {
    /// The person using the program; the host asks them, never the guest.
    pub user: Arc<dyn User>,
    /// The surface the program was launched on.
    pub surface: Surface,
    /// Whether the program is handling a tap right now.
    pub gesture: bool,
    /// The user action the running callback handles, which one payment sheet may use.
    pub action: UserAction,
    /// Where to report what the host did for the program.
    pub output: OutputCapture,
    /// Things the session may do at most once per launch.
    pub once: OncePerLaunch,
    /// What capabilities keep for this session.
    pub slots: SessionSlots,
}

impl CallContext {
    /// The session the call comes from.
    pub fn session(&self) -> &SessionView {
        &self.session
    }

    /// The calling program.
    pub fn program(&self) -> &ProgramInfo {
        &self.program
    }

    /// What the program was granted by declaring this capability.
    pub fn grant<G: Any + Send + Sync>(&self) -> Result<&G, ApiError> {
        self.grant
            .downcast_ref::<G>()
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "capability grant has an unexpected type"))
    }
}

/// What the host shares with its capabilities: the database and the records kept
/// in it.
#[derive(Debug, Clone)]
pub struct HostServices {
    /// The host database.
    pub database: Database,
    /// The decision log.
    pub audit: AuditLog,
    /// The user's switches.
    pub user_settings: UserSettings,
    /// Remembered consent.
    pub grants: Grants,
    /// The payment ledger.
    pub ledger: payment::ledger::Ledger,
    /// The payment receipt signer.
    pub receipts: Arc<payment::receipt::ReceiptSigner>,
    /// The payment capability, once registered (for reconciliation by tools).
    pub payment: Arc<std::sync::OnceLock<Arc<payment::Payment>>>,
}

impl HostServices {
    /// Opens every record in `database`, creating tables as needed; keys live in
    /// `data_dir`.
    pub fn open(database: Database, data_dir: &std::path::Path) -> Result<HostServices, StoreError> {
        let receipts = payment::receipt::ReceiptSigner::open(data_dir)
            .map_err(|reason| StoreError::Open { path: data_dir.to_path_buf(), reason })?;
        Ok(HostServices {
            audit: AuditLog::new(database.clone())?,
            user_settings: UserSettings::new(database.clone())?,
            grants: Grants::new(database.clone())?,
            ledger: payment::ledger::Ledger::new(database.clone())?,
            receipts: Arc::new(receipts),
            payment: Arc::default(),
            database,
        })
    }
}

/// The capabilities a host offers.
#[derive(Clone, Default)]
pub struct Registry {
    capabilities: BTreeMap<&'static str, Arc<dyn Capability>>,
    function_names: BTreeMap<&'static str, Vec<&'static str>>,
}

impl Registry {
    /// The built-in capabilities. This is the one place they are registered.
    pub fn builtin(
        config: &HostConfig,
        services: &HostServices,
        providers: &[Arc<dyn payment::provider::ProviderPlugin>],
    ) -> Result<Registry, StoreError> {
        let mut registry = Registry::default();
        registry.add(Arc::new(storage::Storage::new(config.storage, services.database.clone())?));
        let link = link::Link::new(config.link.clone(), services.user_settings.clone(), services.audit.clone());
        registry.add(Arc::new(link));
        let identity = identity::Identity::new(
            &config.data_dir,
            services.grants.clone(),
            config.user.clone(),
            services.audit.clone(),
        )
        .map_err(|reason| StoreError::Open { path: config.data_dir.clone(), reason })?;
        registry.add(Arc::new(identity));
        let payment = payment::Payment::new(
            config.payment.clone(),
            services,
            config.data_dir.clone(),
            providers,
            &config.sections,
        )
        .map_err(|reason| StoreError::Open { path: config.data_dir.clone(), reason })?;
        let payment = Arc::new(payment);
        let _ = services.payment.set(payment.clone());
        registry.add(payment);
        registry.add(Arc::new(view::Views::new(config.view)));
        Ok(registry)
    }

    /// Adds (or replaces) a capability.
    pub fn add(&mut self, capability: Arc<dyn Capability>) {
        let names = capability.clone().functions().iter().map(HostFunction::name).collect();
        self.function_names.insert(capability.name(), names);
        self.capabilities.insert(capability.name(), capability);
    }

    /// Whether `capability` has a host function called `function`.
    pub fn has_function(&self, capability: &str, function: &str) -> bool {
        self.function_names.get(capability).is_some_and(|names| names.contains(&function))
    }

    /// The capability called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Capability>> {
        self.capabilities.get(name)
    }

    /// The names of all capabilities.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.capabilities.keys().copied()
    }

    /// The host functions of every capability, with the capability's name.
    pub(crate) fn functions(&self) -> Vec<(&'static str, HostFunction)> {
        self.capabilities
            .values()
            .flat_map(|capability| {
                let name = capability.name();
                capability.clone().functions().into_iter().map(move |f| (name, f))
            })
            .collect()
    }

    /// Defines every host function in `linker`.
    pub(crate) fn link(&self, linker: &mut wasmtime::Linker<SessionState>) -> wasmtime::Result<()> {
        for (capability, function) in self.functions() {
            dispatch::link(linker, capability, function)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        quota_bytes: u64,
    }

    #[test]
    fn requests_decode_with_named_problems() {
        let err = decode_request::<Params>(b"\xff\xfe").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("not UTF-8"), "{err}");
        let err = decode_request::<Params>(b"{\"quota_bytes\":").unwrap_err();
        assert!(err.message.contains("bad request"), "{err}");
        let err = decode_request::<Params>(b"{\"quota_bytes\":1,\"x\":2}").unwrap_err();
        assert!(err.message.contains("unknown field `x`"), "{err}");
        assert!(decode_request::<BTreeMap<String, u8>>(b"").unwrap().is_empty());
    }

    /// JSONTestSuite's parsing cases through the message decoder: `y_` accepted,
    /// `n_` refused with `invalid_argument`, `i_` either way — never a panic. What
    /// decodes is also fed to every request type and the view decoder.
    #[test]
    fn the_json_test_suite_through_the_message_decoder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/json-test-suite/test_parsing");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("the corpus is in tests/data") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let decoded = decode_request::<serde_json::Value>(&bytes);
            match &decoded {
                Ok(_) if name.starts_with("n_") && !bytes.is_empty() => panic!("{name} was accepted"),
                Err(error) if name.starts_with("y_") => panic!("{name} was refused: {error}"),
                Err(error) => assert_eq!(error.code, ErrorCode::InvalidArgument, "{name}"),
                Ok(_) => {}
            }
            let _ = decode_request::<miniapp_abi::payment::PaymentRequest>(&bytes);
            let _ = decode_request::<miniapp_abi::link::OpenRequest>(&bytes);
            let _ = decode_request::<miniapp_abi::link::ShareRequest>(&bytes);
            let _ = decode_request::<miniapp_abi::storage::SetRequest>(&bytes);
            let _ = decode_request::<miniapp_abi::view::PageRequest>(&bytes);
            if let Ok(value) = decoded {
                let _ = view::decode::decode_view(&value, &crate::config::ViewSettings::default());
            }
            seen += 1;
        }
        // The empty document (`n_structure_no_data.json`) is the one `n_` case the
        // ABI accepts: an empty request is a call without arguments.
        assert_eq!(seen, 318);
    }

    #[test]
    fn null_replies_are_empty() {
        assert_eq!(encode_reply(&()).unwrap(), b"");
        assert_eq!(encode_reply(&serde_json::json!({"a": 1})).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn declaration_errors_name_the_field() {
        let mut table = toml::Table::new();
        table.insert("quota".into(), toml::Value::Integer(1));
        let err = DeclarationError::decode::<Params>(&table).unwrap_err();
        assert_eq!(err.field, "quota");
    }
}
