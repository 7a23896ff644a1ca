//! A loaded program: its validated manifest, its compiled and checked module, its
//! grants and its effective limits — ready to start sessions from.

mod analysis;
mod preinit;

pub use analysis::{ModuleAnalysis, WASI_GROUP, analyze};

/// Whether a script program's sessions start from a pre-initialised snapshot
/// (the runtime with the program's files already evaluated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preinitialisation {
    /// They do. `output` is what the files printed at their top level when the
    /// snapshot was made by this load (empty when it came from the cache).
    Snapshot {
        /// What the load printed.
        output: crate::sandbox::CapturedOutput,
    },
    /// They load the sources at launch, because of this (the files call the host
    /// at their top level, say).
    NotPossible(String),
}

use crate::audit::{AuditLog, Outcome};
use crate::capability::{Capability, Grant, GrantState, ProgramIdentity, ProgramInfo, Registry};
use crate::config::{HostConfig, Limits};
use crate::consent::User;
use crate::engine::admission::{self, Format};
use crate::engine::{FileStamp, KnownFile, ModuleCache, SharedEngine};
use crate::error::{LoadError, SessionError};
use crate::manifest::{Manifest, ManifestError};
use crate::session::{ExportIndices, Session, SessionSpec, SessionState};
use miniapp_abi::AbiVersion;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::InstancePre;
use wasmtime::Linker;

/// What loading and starting programs needs from the host: made once by the
/// host, shared by every program it loads.
pub(crate) struct Runtime {
    pub config: HostConfig,
    pub engine: SharedEngine,
    pub linker: Linker<SessionState>,
    pub registry: Registry,
    pub audit: AuditLog,
    pub cache: ModuleCache,
    /// The script runtimes, by name.
    pub scripts: BTreeMap<String, crate::script::ScriptRuntime>,
    pub user: Arc<dyn User>,
}

/// What a load compiles, and for a script program the sources its runtime is
/// handed.
pub(crate) struct LoadCode {
    pub module: ModuleSource,
    pub format: Format,
    /// Names the module in errors.
    pub source_name: String,
    pub bundle: Option<crate::script::Bundle>,
}

/// Where a load's module comes from.
pub(crate) enum ModuleSource {
    /// Bytes in hand. `file`: the file they were just read from and its stamp, for
    /// the module cache to remember it by.
    Bytes { bytes: Arc<Vec<u8>>, file: Option<(PathBuf, FileStamp)> },
    /// A file the module cache knows unchanged since it hashed it: not read.
    Known { file: crate::directory::AppFile, size: u64, known: KnownFile },
}

impl ModuleSource {
    /// Bytes in hand, from no file.
    pub(crate) fn bytes(bytes: Vec<u8>) -> ModuleSource {
        ModuleSource::Bytes { bytes: Arc::new(bytes), file: None }
    }

    /// The module's size in bytes, as given.
    pub(crate) fn size(&self) -> usize {
        match self {
            ModuleSource::Bytes { bytes, .. } => bytes.len(),
            ModuleSource::Known { size, .. } => usize::try_from(*size).unwrap_or(usize::MAX),
        }
    }
}

/// What declaring capability `name` with `params` grants, or the problem: a
/// capability this host does not offer, or parameters it refuses (naming the field).
pub(crate) fn declare(
    registry: &crate::capability::Registry,
    identity: &ProgramIdentity,
    name: &str,
    params: &toml::Table,
    manifest_path: &Path,
) -> Result<Grant, LoadError> {
    let Some(capability) = registry.get(name) else {
        return Err(LoadError::UnknownCapability {
            program: identity.id().to_string(),
            capability: name.to_string(),
            place: format!("field `capabilities.{name}` of miniapp.toml"),
            offered: registry.names().collect::<Vec<_>>().join(", "),
        });
    };
    let refused = |e: crate::capability::DeclarationError| {
        LoadError::from(ManifestError {
            path: manifest_path.to_path_buf(),
            field: Some(match e.field.as_str() {
                "" => format!("capabilities.{name}"),
                field => format!("capabilities.{name}.{field}"),
            }),
            message: e.message,
        })
    };
    let grant = capability.declare(params).map_err(refused)?;
    capability.admit(identity, &grant).map_err(refused)?;
    Ok(grant)
}

/// The load error for admission's `refusal` of the module `source_name` names.
fn refused(source_name: &str, refusal: admission::Refusal) -> LoadError {
    let source_name = source_name.to_string();
    match refusal {
        admission::Refusal::Limit { .. } => LoadError::ModuleTooLarge { source_name, reason: refusal.to_string() },
        admission::Refusal::NotWasm(reason) => LoadError::ModuleInvalid { source_name, reason },
    }
}

/// The largest module whose compiled code a load maps on the async thread.
const MAPPED_INLINE_BYTES: u64 = 1 << 20;

/// Admits the module under `limits` (size, functions, imports: before any code is
/// compiled) and compiles it, or takes it from the module cache, off the async
/// workers so that a large module never stalls other programs' callbacks. A file
/// the cache knows unchanged is admitted by its remembered shape and not read.
pub(crate) async fn compile(
    host: &Arc<Runtime>,
    program_id: &str,
    module: ModuleSource,
    format: Format,
    limits: &Limits,
    source_name: &str,
) -> Result<crate::engine::CompiledModule, LoadError> {
    // A small module the cache knows unchanged is only mapped from its compiled
    // file (no compilation, no hashing): cheaper here than a trip to a blocking
    // thread and back.
    let mut looked_up = false;
    if let ModuleSource::Known { size, known, .. } = &module
        && *size <= MAPPED_INLINE_BYTES
    {
        admission::admit_shape(*size, &known.shape, limits).map_err(|refusal| refused(source_name, refusal))?;
        if let Some(module) = host.cache.kept(host.engine.engine(), &known.hash) {
            return Ok(crate::engine::CompiledModule { module, hash: known.hash.clone() });
        }
        looked_up = true;
    }
    let (host, limits, source) = (host.clone(), *limits, source_name.to_string());
    tokio::task::spawn_blocking(move || {
        let refused = |refusal| refused(&source, refusal);
        let engine = host.engine.engine();
        let (bytes, file) = match module {
            ModuleSource::Known { file, size, known } => {
                // Admitted and looked up above already when small: not twice.
                if !looked_up {
                    admission::admit_shape(size, &known.shape, &limits).map_err(refused)?;
                    if let Some(module) = host.cache.kept(engine, &known.hash) {
                        return Ok(crate::engine::CompiledModule { module, hash: known.hash });
                    }
                }
                // Its compiled code has left the cache: read and compile it again.
                let unreadable = |reason: String| LoadError::ModuleUnreadable { path: file.path(), reason };
                let mut opened = file.open().map_err(|e| unreadable(crate::directory::describe(&e)))?;
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut opened, &mut bytes).map_err(|e| unreadable(e.to_string()))?;
                (Arc::new(bytes), None)
            }
            ModuleSource::Bytes { bytes, file } => (bytes, file),
        };
        let (binary, shape) = admission::admit(&bytes, format, &limits).map_err(refused)?;
        let compiled = host.cache.load(engine, &binary).map_err(|e| {
            let reason = crate::error::one_line(&format!("{e:#}"));
            // The instance allocator's own refusal (an instance's state larger than
            // one pool slot) is a limit of this host, not an invalid module.
            if reason.contains("pooling allocator") || reason.contains("instance allocation for this module") {
                let reason = format!(
                    "the module needs more per-instance room than this host's instance pool gives one program \
                     (engine.pooling; a smaller module, or a host with `engine.pooling = false`, fits): {reason}"
                );
                LoadError::ModuleTooLarge { source_name: source.clone(), reason }
            } else {
                LoadError::ModuleInvalid { source_name: source.clone(), reason }
            }
        })?;
        if let Some((path, stamp)) = file {
            host.cache.files().remember(&path, &stamp, &KnownFile { hash: compiled.hash.clone(), shape });
        }
        Ok(compiled)
    })
    .await
    .map_err(|e| LoadError::Host { program: program_id.to_string(), reason: e.to_string() })?
}

/// Why a load failed: the identity gate refused it (and audited that itself), or
/// a later check did (the load gate's refusal, audited by [`App::load`]).
enum LoadFailure {
    Admission(LoadError),
    Load(LoadError),
}

impl From<LoadError> for LoadFailure {
    fn from(error: LoadError) -> LoadFailure {
        LoadFailure::Load(error)
    }
}

impl From<ManifestError> for LoadFailure {
    fn from(error: ManifestError) -> LoadFailure {
        LoadFailure::Load(error.into())
    }
}

/// A program loaded into a [`crate::Host`]; cheap to clone. Start a [`Session`] to
/// run it.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("program", &self.inner.program.key())
            .field("version", &self.inner.program.version)
            .field("module_sha256", &self.inner.program.module_hash)
            .finish_non_exhaustive()
    }
}

struct AppInner {
    host: Arc<Runtime>,
    dir: Option<PathBuf>,
    manifest: Manifest,
    program: Arc<ProgramInfo>,
    limits: Limits,
    abi_version: AbiVersion,
    module_size: usize,
    analysis: ModuleAnalysis,
    pre: InstancePre<SessionState>,
    exports: ExportIndices,
    /// The capabilities the program is granted, with their grants: what each
    /// session prepares state from.
    capabilities: Vec<(Arc<dyn Capability>, Grant)>,
    /// A script program's sources, for its runtime.
    bundle: Option<crate::script::Bundle>,
    /// For a script program: whether its sessions start from a snapshot.
    preinit: Option<Preinitialisation>,
}

impl App {
    /// Loads a program from a manifest and module bytes; a refusal is recorded in the audit log like every other
    /// gate decision (the load gate: module, manifest and declarations).
    ///
    /// `admission` is the identity gate's answer (the id is not bound to another
    /// key here): it is awaited beside the compilation, and its refusal, which it
    /// audits itself, comes before any other.
    pub(crate) async fn load(
        host: Arc<Runtime>,
        manifest: Manifest,
        dir: Option<PathBuf>,
        code: LoadCode,
        identity: &ProgramIdentity,
        admission: impl std::future::Future<Output = Result<(), LoadError>>,
    ) -> Result<App, LoadError> {
        let program_key = identity.key().to_string();
        let audit = host.audit.clone();
        let loaded = App::load_checked(host, manifest, dir, code, identity.clone(), admission).await;
        if let Err(error) = &loaded
            && let LoadFailure::Load(error) = error
            && !matches!(error, LoadError::Host { .. })
        {
            let capability = match error {
                LoadError::UndeclaredCapability { capability, .. }
                | LoadError::UnknownCapability { capability, .. } => capability.as_str(),
                _ => "module",
            };
            let reason = crate::sanitize::line_within(&error.to_string(), 500);
            let record = crate::audit::DecisionRecord {
                program_id: &program_key,
                capability,
                action: "load",
                outcome: Outcome::Denied,
                reason: &reason,
                target: None,
                surface: None,
            };
            // The refusal stands whether or not its record could be written.
            if let Err(audit_error) = audit.record_decision(&record).await {
                tracing::warn!("cannot audit a refused load: {audit_error}");
            }
        }
        loaded.map_err(|(LoadFailure::Admission(error) | LoadFailure::Load(error))| error)
    }

    async fn load_checked(
        host: Arc<Runtime>,
        manifest: Manifest,
        dir: Option<PathBuf>,
        code: LoadCode,
        identity: ProgramIdentity,
        admission: impl std::future::Future<Output = Result<(), LoadError>>,
    ) -> Result<App, LoadFailure> {
        let LoadCode { module, format, source_name, bundle } = code;
        let program_id = manifest.id.clone();
        let module_size = module.size();
        // Shared: a script program's runtime is also instrumented for its snapshot.
        let runtime_bytes = match &module {
            ModuleSource::Bytes { bytes, .. } => Some(bytes.clone()),
            ModuleSource::Known { .. } => None,
        };
        let manifest_path = || dir.as_deref().unwrap_or(Path::new(".")).join(crate::manifest::MANIFEST_FILE);
        let limits = manifest
            .limits
            .apply(&host.config.limits, host.config.engine.fuel)
            .map_err(|(field, message)| ManifestError { path: manifest_path(), field: Some(field), message })?;
        // The identity gate, the audit log's last record of this program's grants
        // and the compilation wait on different threads: all three at once.
        let capability_names: Vec<String> = manifest.capabilities.keys().cloned().collect();
        let (admitted, recorded, compiled) = tokio::join!(
            admission,
            host.audit.last_load_decisions(identity.key(), capability_names),
            compile(&host, &program_id, module, format, &limits, &source_name)
        );
        admitted.map_err(LoadFailure::Admission)?;
        let compiled = compiled?;

        let mut analysis = analyze(&compiled.module, &manifest, &host.registry);
        if !analysis.problems.is_empty() {
            return Err(analysis.problems.remove(0).into());
        }
        let abi_version = analysis.parsed_version.ok_or_else(|| LoadError::Host {
            program: program_id.clone(),
            reason: "ABI version missing after a clean analysis".into(),
        })?;

        let mut grants = BTreeMap::new();
        let mut capabilities = Vec::new();
        let mut load_decisions = Vec::new();
        for (name, params) in &manifest.capabilities {
            let grant = declare(&host.registry, &identity, name, params, &manifest_path())?;
            let (state, outcome, reason) = if host.config.disabled_capabilities.contains(name) {
                let reason = format!("the host's policy disables `{name}`");
                (GrantState::Denied(reason.clone()), Outcome::Denied, reason)
            } else {
                if let Some(capability) = host.registry.get(name) {
                    capabilities.push((capability.clone(), grant.clone()));
                }
                (GrantState::Granted(grant), Outcome::Allowed, "declared in miniapp.toml".to_string())
            };
            load_decisions.push((name.clone(), outcome, reason));
            grants.insert(name.clone(), state);
        }
        let unchanged = recorded.as_ref().is_ok_and(|recorded| {
            recorded.len() == load_decisions.len()
                && recorded.iter().zip(&load_decisions).all(|(last, (_, outcome, reason))| {
                    last.as_ref().is_some_and(|(o, r)| o == outcome.as_str() && r == reason)
                })
        });
        // Grants are recorded when they change; the write checks again in its
        // own transaction, so the read above only spares the unchanged case.
        if !unchanged {
            host.audit
                .record_load(identity.key(), &load_decisions)
                .await
                .map_err(|e| LoadError::Host { program: program_id.clone(), reason: e.to_string() })?;
        }

        // A script program's version is its runtime's and its sources' together.
        let code_hash = crate::script::code_hash(bundle.as_ref(), compiled.hash);
        let program = Arc::new(ProgramInfo::new(
            manifest.id.clone(),
            manifest.name.clone(),
            manifest.version.clone(),
            manifest.publisher.clone(),
            identity,
            code_hash,
            grants,
        ));
        // A script program's sessions start from its snapshot when it has one.
        let (module, preinit) = match (&bundle, &runtime_bytes) {
            (Some(_), None) => {
                return Err(LoadError::Host {
                    program: program_id,
                    reason: "a script runtime's module must be read, not taken as known".into(),
                }
                .into());
            }
            (Some(bundle), Some(runtime)) => {
                let plan =
                    preinit::Plan { program: program.clone(), limits, capabilities: &capabilities, runtime, bundle };
                match preinit::snapshot(&host, plan).await {
                    Ok((snapshot, output)) => (snapshot, Some(Preinitialisation::Snapshot { output })),
                    Err(reason) => {
                        tracing::info!(program = %program_id, %reason, "not pre-initialised");
                        (compiled.module.clone(), Some(Preinitialisation::NotPossible(reason)))
                    }
                }
            }
            (None, _) => (compiled.module.clone(), None),
        };
        let pre = host.linker.instantiate_pre(&module).map_err(|e| LoadError::UnknownImport {
            program: program_id.clone(),
            module: "?".into(),
            name: "?".into(),
            reason: crate::error::one_line(&format!("{e:#}")),
        })?;
        let exports = ExportIndices::of(&module).ok_or_else(|| LoadError::Host {
            program: program_id.clone(),
            reason: "required exports vanished after a clean analysis".into(),
        })?;
        Ok(App {
            inner: Arc::new(AppInner {
                host,
                dir,
                manifest,
                program,
                limits,
                abi_version,
                module_size,
                analysis,
                pre,
                exports,
                capabilities,
                bundle,
                preinit,
            }),
        })
    }

    /// Instantiates the program in a fresh sandbox (running its WASI initialiser, if
    /// any). Call [`Session::launch`] next.
    pub async fn start(&self) -> Result<Session, SessionError> {
        self.start_with_user(self.inner.host.user.clone()).await
    }

    /// Like [`App::start`], with `user` answering this session's prompts instead of
    /// the host's default user.
    pub async fn start_with_user(&self, user: Arc<dyn User>) -> Result<Session, SessionError> {
        let host = &self.inner.host;
        Session::start(SessionSpec {
            program: self.inner.program.clone(),
            limits: self.inner.limits,
            wasm_stack_bytes: host.config.engine.wasm_stack_bytes,
            user,
            capabilities: &self.inner.capabilities,
            pre: &self.inner.pre,
            exports: &self.inner.exports,
            engine: host.engine.engine(),
            // A snapshot has its sources loaded already.
            script: match self.inner.preinit {
                Some(Preinitialisation::Snapshot { .. }) => None,
                _ => self.inner.bundle.as_ref().map(|bundle| bundle.message()),
            },
        })
        .await
    }

    /// What capability `name` granted this program (the storage quota, say), if
    /// it was granted and its grant is a `T`.
    pub fn grant<T: std::any::Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let (_, grant) = self.inner.capabilities.iter().find(|(capability, _)| capability.name() == name)?;
        grant.clone().downcast::<T>().ok()
    }

    /// The configuration of the host this program is loaded in.
    pub fn host_config(&self) -> &crate::config::HostConfig {
        &self.inner.host.config
    }

    /// The program's identity and grants.
    pub fn program(&self) -> &Arc<ProgramInfo> {
        &self.inner.program
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The app directory, if loaded from one.
    pub fn dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// The effective limits: the host's, tightened by the manifest.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The ABI version the module speaks.
    pub fn abi_version(&self) -> AbiVersion {
        self.inner.abi_version
    }

    /// The module's imports and exports as analysed at load.
    pub fn analysis(&self) -> &ModuleAnalysis {
        &self.inner.analysis
    }

    /// A script program's sources as its runtime receives them (`None` for a
    /// program that is a module).
    pub fn script_sources(&self) -> Option<&crate::script::Bundle> {
        self.inner.bundle.as_ref()
    }

    /// For a script program, whether its sessions start from a pre-initialised
    /// snapshot, or why not (`None` for a program that is a module).
    pub fn preinitialisation(&self) -> Option<&Preinitialisation> {
        self.inner.preinit.as_ref()
    }

    /// The module's size in bytes (a script program's: its runtime's).
    pub fn module_size(&self) -> usize {
        self.inner.module_size
    }
}
