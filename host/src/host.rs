//! The host: one engine, one linker with every capability's host functions, the
//! database, the audit log and the module cache — shared by every program it loads.

use crate::app::{App, LoadCode, ModuleAnalysis, ModuleSource, Runtime, analyze};
use crate::audit::AuditLog;
use crate::capabilities::payment::Payment;
use crate::capabilities::payment::ledger::Ledger;
use crate::capabilities::payment::provider::{ProviderPlugin, ScenarioControl};
use crate::capabilities::payment::receipt::ReceiptSigner;
use crate::capability::{Capability, HostServices, Init, InitContext, Registry};
use crate::capability::{HeldData, ProgramIdentity};
use crate::config::HostConfig;
use crate::consent::{Nobody, User};
use crate::directory::{AppDirectory, AppFile, OpenError};
use crate::engine::admission::Format;
use crate::engine::{FileStamp, KnownByStamp, ModuleCache, SharedEngine};
use crate::error::{HostError, LoadError};
use crate::manifest::{Code, Manifest, ManifestError, Script};
use crate::package::VerifiedPackage;
use crate::programs::{Installed, InstalledProgram, Programs, Source};
use crate::script::{Bundle, ScriptRuntime};
use crate::settings::UserSettings;
use crate::store::{Database, StoreError};
use miniapp_abi::ApiError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Linker;

/// A host that loads and runs mini-programs; cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    runtime: Arc<Runtime>,
    manifests: KnownManifests,
    services: HostServices,
    programs: Programs,
    ledger: Ledger,
    receipts: Arc<ReceiptSigner>,
    scenarios: Option<Arc<dyn ScenarioControl>>,
}

/// Manifests kept before the memory is emptied and filled again.
const KNOWN_MANIFESTS: usize = 4096;

/// The app directories' manifests this host has read, by path, with the stamp of
/// the file each was read from (see [`KnownByStamp`]): an unchanged
/// `miniapp.toml` is neither read nor parsed again, and a changed one always is.
struct KnownManifests {
    memory: KnownByStamp<Manifest>,
}

impl KnownManifests {
    fn new() -> KnownManifests {
        KnownManifests { memory: KnownByStamp::new(KNOWN_MANIFESTS) }
    }

    /// The manifest of `app_dir`, validated.
    fn read(&self, app_dir: &Path) -> Result<Manifest, ManifestError> {
        let path = app_dir.join(crate::manifest::MANIFEST_FILE);
        let unreadable = |e: std::io::Error| Manifest::unreadable(app_dir, &path, &e);
        // The stamp and the text come through one descriptor.
        let mut file = std::fs::File::open(&path).map_err(unreadable)?;
        let stamp = FileStamp::of(&file.metadata().map_err(unreadable)?);
        if let Some(stamp) = &stamp
            && let Some((kept, manifest)) = self.memory.get(&path)
            && kept == *stamp
        {
            return Ok(manifest);
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(unreadable)?;
        let manifest = Manifest::parse(&text, &path)?;
        match &stamp {
            Some(stamp) => {
                self.memory.remember(&path, stamp, manifest.clone());
            }
            None => self.memory.forget(&path),
        }
        Ok(manifest)
    }
}

/// Builds a [`Host`] with capabilities and payment providers beyond the built-in ones.
pub struct HostBuilder {
    config: HostConfig,
    extra: Vec<Init>,
    providers: Vec<Arc<dyn ProviderPlugin>>,
    scripts: BTreeMap<String, ScriptRuntime>,
    user: Arc<dyn User>,
    scenarios: Option<Arc<dyn ScenarioControl>>,
}

impl HostBuilder {
    /// Lets scripts switch the providers' behaviour (`scenario NAME`): the
    /// simulators' control; the last one given is used.
    pub fn scenario_control(mut self, control: Arc<dyn ScenarioControl>) -> HostBuilder {
        self.scenarios = Some(control);
        self
    }

    /// Adds a script runtime: programs whose manifest says `runtime = "<name>"`
    /// run on it (one of the same name is replaced).
    pub fn script_runtime(mut self, runtime: ScriptRuntime) -> HostBuilder {
        self.scripts.insert(runtime.name().to_string(), runtime);
        self
    }

    /// Adds a capability, made by `init` from the host's services when the host is
    /// built — the path the built-in ones take (one of the same name is replaced).
    pub fn capability<F>(mut self, init: F) -> HostBuilder
    where
        F: FnOnce(&InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> + Send + 'static,
    {
        self.extra.push(Box::new(init));
        self
    }

    /// Adds a payment provider: its method appears on the payment sheet (beside
    /// the others, for merchants that accept it) and its payments land in the
    /// ledger. A provider of the same method replaces the earlier one.
    pub fn payment_provider(mut self, provider: Arc<dyn ProviderPlugin>) -> HostBuilder {
        let method = provider.method();
        self.providers.retain(|p| p.method() != method);
        self.providers.push(provider);
        self
    }

    /// Sets who the host asks when a program needs the user (default: [`Nobody`],
    /// which declines every prompt).
    pub fn user(mut self, user: Arc<dyn User>) -> HostBuilder {
        self.user = user;
        self
    }

    /// Opens the data directory, makes every capability and sets up the engine.
    pub fn build(self) -> Result<Host, HostError> {
        let config = self.config;
        let database = Database::connect(&config.database, &config.data_dir)?;
        // Before the other components migrate: their migrations carry records from
        // before verified identities over to the development key it records.
        let programs = Programs::open(database.clone(), &config.data_dir, &config.trust)?;
        let clock = crate::clock::Clock::new(&config.clock);
        let services = HostServices::open(database.clone(), &config.data_dir, clock)?;
        let mut registry = Registry::default();
        let context = InitContext { config: &config, services: &services };
        let provider_methods: Vec<String> = self.providers.iter().map(|p| p.method().to_string()).collect();
        // The built-in capabilities first: an embedder's of the same name replaces one.
        for init in crate::capabilities::builtin(self.providers).into_iter().chain(self.extra) {
            registry.add(init(&context)?);
        }
        check_plugins(&config, &registry, &provider_methods)?;
        // The payment capability's own ledger and signer, unless an embedder
        // replaced it: opened once, not again for the host's accessors.
        let (ledger, receipts) = match registry.capability::<Payment>(miniapp_abi::payment::CAPABILITY) {
            Some(payment) => (payment.ledger().clone(), payment.receipts().clone()),
            None => {
                let receipts = ReceiptSigner::open(&database, &config.data_dir)
                    .map_err(|reason| StoreError::Open { path: config.data_dir.clone(), reason })?;
                (Ledger::new(database)?.with_clock(services.clock.clone()), Arc::new(receipts))
            }
        };
        let engine = SharedEngine::new(&config.engine, &config.limits).map_err(HostError::Engine)?;
        let mut linker = Linker::new(engine.engine());
        crate::sandbox::link_wasi(&mut linker).map_err(|e| HostError::Engine(format!("cannot link WASI: {e:#}")))?;
        registry.link(&mut linker).map_err(|e| HostError::Engine(format!("cannot link host functions: {e:#}")))?;
        let cache_dir = config.engine.module_cache.then(|| config.module_cache_path());
        let cache = ModuleCache::new(cache_dir, config.engine.modules_in_memory);
        let runtime = Runtime {
            audit: services.audit.clone(),
            config,
            engine,
            linker,
            registry,
            cache,
            scripts: self.scripts,
            user: self.user,
        };
        let scenarios = self.scenarios;
        Ok(Host {
            inner: Arc::new(HostInner {
                runtime: Arc::new(runtime),
                manifests: KnownManifests::new(),
                services,
                programs,
                ledger,
                receipts,
                scenarios,
            }),
        })
    }
}

/// Every configuration section belongs to a plug-in of this host, and no two
/// capabilities name the same consent scope.
fn check_plugins(config: &HostConfig, registry: &Registry, provider_methods: &[String]) -> Result<(), HostError> {
    for name in config.sections.keys() {
        if registry.get(name).is_none() && !provider_methods.contains(name) {
            return Err(HostError::Config(format!(
                "unknown section `[{name}]` in the host configuration: no capability or payment provider of this host is called `{name}`"
            )));
        }
    }
    let mut owners: BTreeMap<String, &str> = BTreeMap::new();
    for (capability, scope) in registry.scopes() {
        if let Some(other) = owners.insert(scope.name.clone(), capability) {
            return Err(HostError::Config(format!(
                "capabilities `{other}` and `{capability}` both name the consent scope `{}`",
                scope.name
            )));
        }
    }
    Ok(())
}

/// A program's manifest and module as read from its directory.
struct AppFiles {
    manifest: Manifest,
    dir: PathBuf,
    code: LoadCode,
}

impl Host {
    /// A host with the built-in capabilities.
    pub fn new(config: HostConfig) -> Result<Host, HostError> {
        Host::builder(config).build()
    }

    /// A builder, for adding capabilities.
    pub fn builder(config: HostConfig) -> HostBuilder {
        HostBuilder {
            config,
            extra: Vec::new(),
            providers: Vec::new(),
            scripts: BTreeMap::new(),
            user: Arc::new(Nobody),
            scenarios: None,
        }
    }

    /// What lets scripts switch the providers' behaviour, if the host has it.
    pub fn scenario_control(&self) -> Option<&Arc<dyn ScenarioControl>> {
        self.inner.scenarios.as_ref()
    }

    /// Loads the program in `app_dir` (its `miniapp.toml` and the module it names),
    /// signed with this host's development key: it is `id@<development key>`, and is
    /// refused if its id is pinned or installed under another key. Nothing is
    /// built: the module must exist.
    pub async fn load_app(&self, app_dir: impl AsRef<Path>) -> Result<App, LoadError> {
        let files = self.read_app_files(app_dir.as_ref())?;
        let identity = self.development_identity(&files.manifest.id);
        let admission = self.admit(&identity, Source::Directory);
        App::load(self.runtime(), files.manifest, Some(files.dir), files.code, &identity, admission).await
    }

    /// Loads a program from a manifest and module bytes (binary or text format)
    /// already in memory, signed with this host's development key as a directory
    /// is. A platform's own program store hands the host packages instead
    /// ([`Host::load_package`]), which carry their publisher's signature.
    pub async fn load_app_from_parts(&self, manifest: Manifest, module_bytes: Vec<u8>) -> Result<App, LoadError> {
        if manifest.script().is_some() {
            return Err(LoadError::ScriptInvalid {
                program: manifest.id.clone(),
                reason: "a script program loads from its directory or package, not from a module's bytes".into(),
            });
        }
        let identity = self.development_identity(&manifest.id);
        let admission = self.admit(&identity, Source::Directory);
        let source_name = format!("module of {}", manifest.id);
        let module = ModuleSource::bytes(module_bytes);
        let code = LoadCode { module, format: Format::BinaryOrText, source_name, bundle: None };
        App::load(self.runtime(), manifest, None, code, &identity, admission).await
    }

    /// Loads a verified package as the program its signer publishes, without
    /// installing it; refused if its id is pinned or installed under another key.
    pub async fn load_package(&self, package: &VerifiedPackage) -> Result<App, LoadError> {
        self.load_verified(package, Source::Package).await
    }

    /// Reads, verifies and loads the package file at `path` (see [`Host::load_package`]).
    pub async fn load_package_file(&self, path: impl AsRef<Path>) -> Result<App, LoadError> {
        let package = crate::package::read_file(path.as_ref())?;
        self.load_package(&package).await
    }

    /// Loads the installed program `id` (its package verified again).
    pub async fn load_installed(&self, id: &str) -> Result<App, LoadError> {
        let program = self.installed(id).await?;
        let package = self.inner.programs.read_installed(&program)?;
        self.load_verified(&package, Source::Installed).await
    }

    /// Installs the package file at `path`: verifies it, checks that its module
    /// loads here, and binds its id to its signer (first install) or replaces the
    /// installed version (same signer, or the key the configuration pins). A
    /// package of another key for an installed id is refused, naming both keys.
    pub async fn install_package(&self, path: impl AsRef<Path>) -> Result<(Installed, App), LoadError> {
        let path = path.as_ref();
        let bytes = crate::package::read_bytes(path)?;
        let package = crate::package::verify(&bytes, &path.display().to_string())?;
        let app = self.load_verified(&package, Source::Package).await?;
        let installed = self.inner.programs.install(&bytes, &package, &app.program().module_hash).await?;
        Ok((installed, app))
    }

    /// The installed program `id`.
    pub async fn installed(&self, id: &str) -> Result<InstalledProgram, LoadError> {
        self.inner
            .programs
            .get(id)
            .await
            .map_err(|e| LoadError::Host { program: id.to_string(), reason: e.to_string() })?
            .ok_or_else(|| LoadError::NotInstalled { program: id.to_string() })
    }

    /// The installed programs and the keys ids are bound to.
    pub fn programs(&self) -> &Programs {
        &self.inner.programs
    }

    /// The identity a program `id` has when run from a directory here.
    pub fn development_identity(&self, id: &str) -> ProgramIdentity {
        self.inner.programs.identity(id, self.inner.programs.development_fingerprint())
    }

    /// The identity whose records `miniapp` commands about program `id` mean: the
    /// installed program's, else the development one's (what a directory runs as).
    pub async fn identity_of(&self, id: &str) -> Result<ProgramIdentity, LoadError> {
        let installed = self
            .inner
            .programs
            .get(id)
            .await
            .map_err(|e| LoadError::Host { program: id.to_string(), reason: e.to_string() })?;
        match installed {
            Some(program) => program
                .identity(&self.inner.programs.development_fingerprint())
                .map_err(|e| LoadError::Host { program: id.to_string(), reason: e.to_string() }),
            None => Ok(self.development_identity(id)),
        }
    }

    async fn load_verified(&self, package: &VerifiedPackage, source: Source) -> Result<App, LoadError> {
        let manifest = package.contents.manifest.clone();
        let identity = self.inner.programs.identity(&manifest.id, package.fingerprint());
        let admission = self.admit(&identity, source);
        let code = match self.package_code(package) {
            Ok(code) => code,
            // An identity refused here is the first thing to say.
            Err(error) => {
                admission.await?;
                return Err(error);
            }
        };
        App::load(self.runtime(), manifest, None, code, &identity, admission).await
    }

    /// Refuses (and audits the refusal of) an identity whose id is bound to
    /// another key here. [`App::load`] awaits it beside the module's compilation
    /// and says its refusal first.
    async fn admit(&self, identity: &ProgramIdentity, source: Source) -> Result<(), LoadError> {
        let refusal = match self.inner.programs.check(identity, source).await {
            Ok(()) => return Ok(()),
            Err(refusal) => refusal,
        };
        if let LoadError::PublisherMismatch { .. } = &refusal {
            let reason = crate::sanitize::line_within(&refusal.to_string(), 500);
            let record = crate::audit::DecisionRecord {
                program_id: identity.key(),
                capability: "publisher_key",
                action: "load",
                outcome: crate::audit::Outcome::Denied,
                reason: &reason,
                target: None,
                surface: None,
            };
            if let Err(audit_error) = self.inner.services.audit.record_decision(&record).await {
                tracing::warn!("cannot audit a refused identity: {audit_error}");
            }
        }
        Err(refusal)
    }

    /// What the host keeps for the program `identity`: each capability's records,
    /// its remembered consent, its audit entries — marked deletable or kept.
    pub async fn held_data(&self, identity: &ProgramIdentity) -> Result<Vec<HeldData>, StoreError> {
        let key = identity.key();
        let mut held = Vec::new();
        for capability in self.inner.runtime.registry.all() {
            if let Some(data) = capability.held(key).await? {
                held.push(data);
            }
        }
        let grants = self.inner.services.grants.count_for_program(key).await?;
        let decisions = self.inner.services.audit.count_for_program(key).await?;
        let host_records = [
            (grants, "consent", format!("{grants} remembered consent answers"), true),
            (decisions, "audit", format!("{decisions} audit log entries (the audit log is never edited)"), false),
        ];
        for (count, keeper, description, deletable) in host_records {
            if count > 0 {
                held.push(HeldData { keeper: keeper.into(), description, deletable });
            }
        }
        Ok(held)
    }

    /// Deletes what [`Host::held_data`] marks deletable for `identity`.
    pub async fn forget_data(&self, identity: &ProgramIdentity) -> Result<(), StoreError> {
        let key = identity.key();
        for capability in self.inner.runtime.registry.all() {
            capability.forget(key).await?;
        }
        self.inner.services.grants.forget_program(key).await
    }

    fn read_app_files(&self, app_dir: &Path) -> Result<AppFiles, LoadError> {
        let manifest = self.inner.manifests.read(app_dir)?;
        let directory = AppDirectory::open(app_dir)
            .map_err(|e| LoadError::ModuleUnreadable { path: app_dir.to_path_buf(), reason: e.to_string() })?;
        let dir = directory.path().to_path_buf();
        let code = match &manifest.code {
            Code::Module(module) => read_module(&self.inner.runtime.cache, app_dir, &directory, &manifest, module)?,
            Code::Script(script) => {
                let files = crate::script::read_dir(app_dir, script)
                    .map_err(|reason| LoadError::ScriptInvalid { program: manifest.id.clone(), reason })?;
                self.script_code(&manifest, script, files)?
            }
        };
        Ok(AppFiles { manifest, dir, code })
    }

    fn package_code(&self, package: &VerifiedPackage) -> Result<LoadCode, LoadError> {
        let manifest = &package.contents.manifest;
        match &manifest.code {
            Code::Module(module) => {
                let module_name = crate::package::entry_name(module);
                Ok(LoadCode {
                    module: ModuleSource::bytes(package.module().to_vec()),
                    format: module_format(Path::new(&module_name)),
                    source_name: format!("{}:{module_name}", manifest.id),
                    bundle: None,
                })
            }
            Code::Script(script) => self.script_code(manifest, script, package.contents.sources()),
        }
    }

    /// A script program's code: its runtime's module, and its sources checked
    /// and bundled for that runtime.
    fn script_code(
        &self,
        manifest: &Manifest,
        script: &Script,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<LoadCode, LoadError> {
        let runtime = &self.inner.runtime;
        let Some(script_runtime) = runtime.scripts.get(&script.runtime) else {
            let offered = runtime.scripts.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(LoadError::UnknownRuntime {
                program: manifest.id.clone(),
                runtime: script.runtime.clone(),
                offered: if offered.is_empty() { "none".into() } else { offered },
            });
        };
        let max_bytes = manifest
            .limits
            .module_bytes
            .unwrap_or(runtime.config.limits.module_bytes)
            .min(runtime.config.limits.module_bytes);
        let bundle = Bundle::new(script, files, max_bytes)
            .map_err(|reason| LoadError::ScriptInvalid { program: manifest.id.clone(), reason })?;
        let bytes = script_runtime.module().map_err(|reason| LoadError::Host {
            program: manifest.id.clone(),
            reason: format!("the `{}` runtime's module: {reason}", script.runtime),
        })?;
        let source_name = format!("the `{}` runtime", script.runtime);
        Ok(LoadCode { module: ModuleSource::bytes(bytes), format: Format::Binary, source_name, bundle: Some(bundle) })
    }

    fn runtime(&self) -> Arc<Runtime> {
        self.inner.runtime.clone()
    }

    /// Analyses the program in `app_dir` without loading it: reports every problem
    /// instead of stopping at the first. Fails only if the manifest or module
    /// cannot be read or compiled.
    pub async fn analyze_app(
        &self,
        app_dir: impl AsRef<Path>,
    ) -> Result<(Manifest, usize, String, ModuleAnalysis), LoadError> {
        let files = self.read_app_files(app_dir.as_ref())?;
        let identity = self.development_identity(&files.manifest.id);
        let manifest_path = files.dir.join(crate::manifest::MANIFEST_FILE);
        self.analyze_parts(files.manifest, files.code, &manifest_path, (&identity, Source::Directory)).await
    }

    /// Analyses a verified package's program as [`Host::analyze_app`] does a
    /// directory's, as the program its signer publishes.
    pub async fn analyze_package(
        &self,
        package: &VerifiedPackage,
    ) -> Result<(Manifest, usize, String, ModuleAnalysis), LoadError> {
        let manifest = package.contents.manifest.clone();
        let identity = self.inner.programs.identity(&manifest.id, package.fingerprint());
        let manifest_path = PathBuf::from(format!("{}:{}", manifest.id, crate::manifest::MANIFEST_FILE));
        let code = self.package_code(package)?;
        self.analyze_parts(manifest, code, &manifest_path, (&identity, Source::Package)).await
    }

    async fn analyze_parts(
        &self,
        manifest: Manifest,
        code: LoadCode,
        manifest_path: &Path,
        (identity, kind): (&ProgramIdentity, Source),
    ) -> Result<(Manifest, usize, String, ModuleAnalysis), LoadError> {
        let size = code.module.size();
        let limits = self.inner.runtime.config.limits;
        let compiled = crate::app::compile(
            &self.inner.runtime,
            &manifest.id,
            code.module,
            code.format,
            &limits,
            &code.source_name,
        )
        .await?;
        let mut analysis = analyze(&compiled.module, &manifest, &self.inner.runtime.registry);
        let hash = crate::script::code_hash(code.bundle.as_ref(), compiled.hash.clone());
        // Everything a load would refuse, not only what the module shows.
        if let Err((field, message)) = manifest.limits.apply(&limits, self.inner.runtime.config.engine.fuel) {
            analysis
                .problems
                .push(ManifestError { path: manifest_path.to_path_buf(), field: Some(field), message }.into());
        }
        for (name, params) in &manifest.capabilities {
            if let Err(problem) =
                crate::app::declare(&self.inner.runtime.registry, identity, name, params, manifest_path)
            {
                analysis.problems.push(problem);
            }
        }
        if let Err(problem) = self.inner.programs.check(identity, kind).await {
            analysis.problems.push(problem);
        }
        if let Err(error) = self.inner.runtime.linker.instantiate_pre(&compiled.module) {
            analysis.problems.push(LoadError::UnknownImport {
                program: manifest.id.clone(),
                module: "?".into(),
                name: "?".into(),
                reason: crate::error::one_line(&format!("{error:#}")),
            });
        }
        Ok((manifest, size, hash, analysis))
    }

    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.inner.runtime.config
    }

    /// The decision log.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.services.audit
    }

    /// The host database.
    pub fn database(&self) -> &Database {
        &self.inner.services.database
    }

    /// The host's clock, which every time-dependent payment rule reads (a
    /// script's `advance` moves it).
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.inner.services.clock
    }

    /// The user's settings (link switches per surface, …).
    pub fn user_settings(&self) -> &UserSettings {
        &self.inner.services.user_settings
    }

    /// Remembered consent, per user, program and scope.
    pub fn grants(&self) -> &crate::consent::grants::Grants {
        &self.inner.services.grants
    }

    /// The payment ledger.
    pub fn payment_ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Settles the payments a previous run left with a provider (asking the
    /// provider); returns how many. Payments do this themselves on first use;
    /// tools that read the ledger call it first.
    pub async fn reconcile_payments(&self) -> Result<usize, ApiError> {
        match self.inner.runtime.registry.capability::<Payment>(miniapp_abi::payment::CAPABILITY) {
            Some(payment) => payment.reconcile().await,
            None => Ok(0),
        }
    }

    /// The signer of payment receipts (to verify them).
    pub fn payment_receipts(&self) -> &ReceiptSigner {
        &self.inner.receipts
    }

    /// The capabilities this host offers.
    pub fn registry(&self) -> &Registry {
        &self.inner.runtime.registry
    }
}

/// How a module file may be written: text only in a `.wat` file.
fn module_format(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("wat") => Format::BinaryOrText,
        _ => Format::Binary,
    }
}

/// Reads the module of the app in `app_dir` (`dir`: the same, canonical), unless
/// `cache` knows the file unchanged since it last hashed it.
fn read_module(
    cache: &crate::engine::ModuleCache,
    app_dir: &Path,
    directory: &AppDirectory,
    manifest: &Manifest,
    module: &Path,
) -> Result<LoadCode, LoadError> {
    let manifest_path = app_dir.join(crate::manifest::MANIFEST_FILE);
    let module_path = app_dir.join(module);
    let hint = match &manifest.build {
        Some(command) => format!(
            "; build it with `{}` in {}, or use `miniapp run`, which builds it",
            command.join(" "),
            app_dir.display()
        ),
        None => String::new(),
    };
    // The manifest's path has no `..`, but a symlink could still lead outside:
    // the directory opens it only if it resolves inside.
    let unreadable = |reason: String| LoadError::ModuleUnreadable { path: module_path.clone(), reason };
    let mut file = match directory.open_file(module) {
        Ok(file) => file,
        Err(OpenError::Missing) => return Err(LoadError::ModuleMissing { path: module_path, hint }),
        Err(outside @ OpenError::Outside(_)) => {
            let message = format!("`{}` {}", module.display(), crate::directory::describe(&outside));
            return Err(ManifestError { path: manifest_path, field: Some("module".into()), message }.into());
        }
        Err(OpenError::Io(e)) => return Err(unreadable(e.to_string())),
    };
    // The stamp and the bytes come through one descriptor: what is remembered is
    // what was read.
    let stamp = crate::engine::FileStamp::of(&file.metadata().map_err(|e| unreadable(e.to_string()))?);
    let app_file = AppFile { dir: directory.path().to_path_buf(), relative: module.to_path_buf() };
    let key = app_file.path();
    let module = match stamp.as_ref().and_then(|stamp| cache.files().known(&key, stamp).map(|k| (stamp, k))) {
        Some((stamp, known)) => ModuleSource::Known { file: app_file, size: stamp.size(), known },
        None => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| unreadable(e.to_string()))?;
            let file = stamp.map(|stamp| (key, stamp));
            ModuleSource::Bytes { bytes: Arc::new(bytes), file }
        }
    };
    let format = module_format(&module_path);
    Ok(LoadCode { module, format, source_name: module_path.display().to_string(), bundle: None })
}
