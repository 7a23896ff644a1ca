//! The capability core: what a capability is, what it gets from the host, and the
//! one path every host call takes. Capabilities (the built-in ones in
//! `crate::capabilities`, and any an embedder writes in its own crate) depend on
//! this module and the host services it names — never on the host, the app or the
//! session.
//!
//! A capability's whole life is one type implementing [`Capability`], made by an
//! [`Init`] function from the host's services and its own configuration section:
//! - **init**: [`InitContext`] gives the database, the audit log, the consent gate,
//!   the user's settings, the data directory and `[<name>]` of the host TOML;
//! - **declare**: checks the manifest's `[capabilities.<name>]` table and returns
//!   what the program is granted;
//! - **prepare**: makes the capability's state for one session (a page stack);
//! - **hooks**: [`Capability::on_launch`] before the launch callback, and
//!   [`Capability::follow_up`], the events the host delivers next (a `page` event
//!   after navigation) — so behaviour the ABI promises holds for every embedder;
//! - **functions**: its host functions, each served through `dispatch.rs`: count
//!   the call, check the reply slot, read the request through the boundary, check
//!   the gates, run the handler, deliver the reply.

mod consent;
mod dispatch;
pub mod program;
pub mod session;

pub use consent::{ConsentGate, ConsentRequest, ScopeInfo, declare_scopes, refused as consent_refused};
pub use program::{GrantState, ProgramIdentity, ProgramInfo};
pub use session::{
    CallObserver, CallState, Calling, CapabilityState, OncePerLaunch, SessionData, SessionView, UserAction,
};

use crate::audit::AuditLog;
use crate::config::HostConfig;
use crate::consent::grants::Grants;
use crate::error::HostError;
use crate::sandbox::Sandboxed;
use crate::settings::UserSettings;
use crate::store::Database;
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::{ApiError, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

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

/// What a capability keeps for one program, as `miniapp uninstall` states it
/// before asking whether to delete it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldData {
    /// Who keeps it: a capability's name, or `consent` / `audit` for the host's own.
    pub keeper: String,
    /// What it is, for the user: `12 keys, 3410 bytes`.
    pub description: String,
    /// Whether deleting the program's data deletes it; `false` for records that
    /// are kept whatever the user answers (payments, the audit log).
    pub deletable: bool,
}

/// The future of [`Capability::held`].
pub type HeldFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<HeldData>, crate::store::StoreError>> + Send + 'a>,
>;
/// The future of [`Capability::forget`].
pub type ForgetFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), crate::store::StoreError>> + Send + 'a>>;

/// A host API offered to programs.
pub trait Capability: AsAny + Send + Sync + 'static {
    /// The capability's name: lowercase letters and `_`. It names the manifest's
    /// `[capabilities.<name>]`, the import module `miniapp:<name>` and the host
    /// TOML's `[<name>]` section.
    fn name(&self) -> &'static str;

    /// Checks the manifest's `[capabilities.<name>]` table and returns what the
    /// program is granted by declaring it.
    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError>;

    /// Whether the program `identity` may have what declaring gave it — for
    /// grants the host binds to publishers (a merchant to the publisher the host
    /// registered it for). Asked at load, after [`Capability::declare`]; a refusal
    /// names the field and refuses the load.
    fn admit(&self, _identity: &ProgramIdentity, _grant: &Grant) -> Result<(), DeclarationError> {
        Ok(())
    }

    /// What it keeps for the program whose records are keyed `program_key`
    /// ([`ProgramIdentity::key`]), if anything.
    fn held<'a>(&'a self, _program_key: &'a str) -> HeldFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    /// Deletes what it keeps for `program_key` that [`Capability::held`] calls
    /// deletable (the user asked for it, uninstalling the program).
    fn forget<'a>(&'a self, _program_key: &'a str) -> ForgetFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// The capability's host functions.
    fn functions(self: Arc<Self>) -> Vec<HostFunction>;

    /// The consent scopes it may ask the user for (listed by `miniapp
    /// permissions`); scope names are unique across a host's capabilities.
    fn scopes(&self) -> Vec<ScopeInfo> {
        Vec::new()
    }

    /// Its state for one session of a program granted `grant`; handlers reach it
    /// with [`CallContext::data`].
    fn prepare(&self, _grant: &Grant) -> Option<SessionData> {
        None
    }

    /// Runs before the program's launch callback, with the launch context.
    fn on_launch(&self, _data: &SessionData, _context: &LaunchContext) {}

    /// The next event the host must deliver because of what the program just did
    /// (a `page` event after it navigated), if any. Asked after every callback,
    /// until no capability has one (or a bound of chained events is reached).
    fn follow_up(&self, _data: &SessionData) -> Option<Event> {
        None
    }
}

/// Lets the host reach a capability's own type (`Registry::capability`).
pub trait AsAny {
    /// The value as `Any`.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Makes a capability from the host's services: the one way capabilities are
/// installed, built-in or an embedder's (`HostBuilder::capability`).
pub type Init = Box<dyn FnOnce(&InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> + Send>;

/// What a capability is made from.
pub struct InitContext<'a> {
    /// The host's configuration (its limits, its plug-in sections).
    pub config: &'a HostConfig,
    /// The host's shared services.
    pub services: &'a HostServices,
}

impl InitContext<'_> {
    /// The capability's section `[name]` of the host TOML as `T` (defaults when
    /// absent); an unknown key is an error naming it.
    pub fn settings<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, HostError> {
        self.config.settings(name).map_err(HostError::Config)
    }

    /// A directory of the host's data directory for the capability's own files
    /// (keys, secrets).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.services.data_dir
    }
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

    /// A function served by `method` of `state` that reads its request's bytes
    /// itself (with [`request_text`]) — for a request too wide to decode into one
    /// type up front, such as a view; its reply encodes `Resp` as with
    /// [`HostFunction::json`].
    pub fn raw_method<S, Resp, F, Fut>(name: &'static str, state: &Arc<S>, method: F) -> HostFunction
    where
        S: Send + Sync + 'static,
        Resp: Serialize,
        F: Fn(Arc<S>, CallContext, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, ApiError>> + Send + 'static,
    {
        let state = state.clone();
        HostFunction {
            name,
            handler: Arc::new(move |context, bytes| {
                let reply = method(state.clone(), context, bytes);
                Box::pin(async move { encode_reply(&reply.await?) })
            }),
        }
    }

    /// The import name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Serves one call with `request` (the bytes a guest would send), as the
    /// dispatcher does after its checks: for testing a handler without a guest.
    pub fn call(&self, context: CallContext, request: Vec<u8>) -> HandlerFuture {
        (self.handler)(context, request)
    }
}

/// The JSON message decoder every host call's request goes through: UTF-8, then
/// JSON into `Req`, with errors naming the problem. An empty request means `{}`
/// (a call without arguments). serde_json's nesting limit (128) bounds recursion.
pub fn decode_request<Req: DeserializeOwned>(bytes: &[u8]) -> Result<Req, ApiError> {
    serde_json::from_str(request_text(bytes)?).map_err(|e| ApiError::invalid_argument(format!("bad request: {e}")))
}

/// A request's bytes as the JSON text to decode: UTF-8 (an error names the
/// offset of the first bad byte), and `{}` for an empty request.
pub fn request_text(bytes: &[u8]) -> Result<&str, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::invalid_argument(format!("request is not UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })?;
    Ok(if text.is_empty() { "{}" } else { text })
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
    capability: &'static str,
    program: Arc<ProgramInfo>,
    grant: Grant,
    session: SessionView,
}

impl CallContext {
    /// The context of a call to `capability` by `program` with `grant`, in
    /// `session` (the dispatcher builds these; so can a handler's test).
    pub fn new(capability: &'static str, program: Arc<ProgramInfo>, grant: Grant, session: SessionView) -> CallContext {
        CallContext { capability, program, grant, session }
    }

    /// This capability's state for the session, as made by
    /// [`Capability::prepare`].
    pub fn data<T: Any + Send + Sync>(&self) -> Result<Arc<T>, ApiError> {
        let state = self.session.states.iter().find(|state| state.capability.name() == self.capability);
        let data = state
            .map(|state| state.data.clone())
            .ok_or_else(|| ApiError::internal(format!("`{}` keeps no state for this session", self.capability)))?;
        data.downcast::<T>().map_err(|_| ApiError::internal("capability state has an unexpected type"))
    }

    /// The session the call comes from.
    pub fn session(&self) -> &SessionView {
        &self.session
    }

    /// The capability being called.
    pub fn capability(&self) -> &'static str {
        self.capability
    }

    /// The program, shared (to keep beyond the call).
    pub fn program_arc(&self) -> &Arc<ProgramInfo> {
        &self.program
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

/// What the host shares with its capabilities.
#[derive(Clone)]
pub struct HostServices {
    /// The host database.
    pub database: Database,
    /// The decision log.
    pub audit: AuditLog,
    /// The user's switches.
    pub user_settings: UserSettings,
    /// Remembered consent.
    pub grants: Grants,
    /// The one consent gate every capability asks through.
    pub consent: ConsentGate,
    /// The host's data directory.
    pub data_dir: PathBuf,
    /// The clock every time-dependent rule reads.
    pub clock: crate::clock::Clock,
}

impl HostServices {
    /// Opens every shared record in `database`, creating tables as needed; files
    /// live in `data_dir`; time is read from `clock`.
    pub fn open(
        database: Database,
        data_dir: &std::path::Path,
        clock: crate::clock::Clock,
    ) -> Result<HostServices, HostError> {
        let audit = AuditLog::new(database.clone())?;
        let grants = Grants::new(database.clone())?;
        Ok(HostServices {
            consent: ConsentGate::new(grants.clone(), audit.clone()),
            user_settings: UserSettings::new(database.clone())?,
            audit,
            grants,
            database,
            data_dir: data_dir.to_path_buf(),
            clock,
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

    /// The capability called `name` as its own type `T`, if it is one.
    pub fn capability<T: Capability>(&self, name: &str) -> Option<&T> {
        self.capabilities.get(name).and_then(|capability| capability.as_ref().as_any().downcast_ref::<T>())
    }

    /// Every capability's consent scopes, with the capability's name.
    pub fn scopes(&self) -> Vec<(&'static str, ScopeInfo)> {
        self.capabilities
            .values()
            .flat_map(|capability| capability.scopes().into_iter().map(|scope| (capability.name(), scope)))
            .collect()
    }

    /// Every capability, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Capability>> + '_ {
        self.capabilities.values()
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
    pub(crate) fn link<T: Sandboxed + Calling>(&self, linker: &mut wasmtime::Linker<T>) -> wasmtime::Result<()> {
        for (capability, function) in self.functions() {
            dispatch::link(linker, capability, function)?;
        }
        Ok(())
    }
}

/// JSONTestSuite's parsing cases (`tests/data/json-test-suite/test_parsing`),
/// each file's name and bytes, for the decoders' corpus tests.
#[cfg(test)]
pub(crate) fn json_test_suite() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/json-test-suite/test_parsing");
    let entries = std::fs::read_dir(&dir).expect("the corpus is in tests/data");
    entries
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            (name, bytes)
        })
        .collect()
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
    /// decodes is also fed to every request type (and, in the view capability's
    /// tests, to the view decoder).
    #[test]
    fn the_json_test_suite_through_the_message_decoder() {
        let mut seen = 0;
        for (name, bytes) in json_test_suite() {
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
