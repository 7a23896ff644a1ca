//! The host: one engine, one linker with every capability's host functions, the
//! database, the audit log and the module cache — shared by every program it loads.

use crate::app::{App, ModuleAnalysis, analyze};
use crate::audit::AuditLog;
use crate::capability::payment::provider::ProviderPlugin;
use crate::capability::{Capability, HostServices, Registry};
use crate::config::HostConfig;
use crate::consent::{Nobody, User};
use crate::engine::admission::Format;
use crate::engine::{ModuleCache, SharedEngine};
use crate::error::{HostError, LoadError};
use crate::manifest::{Manifest, ManifestError};
use crate::sandbox::SessionState;
use crate::settings::UserSettings;
use crate::store::Database;
use miniapp_abi::ApiError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Linker;

/// A host that loads and runs mini-programs; cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub config: HostConfig,
    pub engine: SharedEngine,
    pub linker: Linker<SessionState>,
    pub registry: Registry,
    pub services: HostServices,
    pub cache: ModuleCache,
    pub user: Arc<dyn User>,
}

/// Builds a [`Host`] with capabilities beyond the built-in ones.
pub struct HostBuilder {
    config: HostConfig,
    extra: Vec<Arc<dyn Capability>>,
    providers: Vec<Arc<dyn ProviderPlugin>>,
    user: Arc<dyn User>,
}

impl HostBuilder {
    /// Adds a capability (replacing a built-in one of the same name).
    pub fn capability(mut self, capability: Arc<dyn Capability>) -> HostBuilder {
        self.extra.push(capability);
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

    /// Opens the data directory and sets up the engine.
    pub fn build(self) -> Result<Host, HostError> {
        let config = self.config;
        for provider in &self.providers {
            let method = provider.method();
            let section = config.sections.get(method.as_str()).cloned().unwrap_or_default();
            provider.check_section(&section).map_err(|e| HostError::Config(format!("[{method}]: {e}")))?;
        }
        let services = HostServices::open(Database::open_in(&config.data_dir)?, &config.data_dir)?;
        let mut registry = Registry::builtin(&config, &services, &self.providers)?;
        for capability in self.extra {
            registry.add(capability);
        }
        // Every section of the configuration belongs to a plug-in of this host.
        for name in config.sections.keys() {
            let claimed = registry.get(name).is_some() || self.providers.iter().any(|p| p.method() == name.as_str());
            if !claimed {
                return Err(HostError::Config(format!(
                    "unknown section `[{name}]` in the host configuration: no capability or payment provider of this host is called `{name}`"
                )));
            }
        }
        let engine = SharedEngine::new(&config.engine, &config.limits).map_err(HostError::Engine)?;
        let mut linker = Linker::new(engine.engine());
        crate::sandbox::link_wasi(&mut linker).map_err(|e| HostError::Engine(format!("cannot link WASI: {e:#}")))?;
        registry.link(&mut linker).map_err(|e| HostError::Engine(format!("cannot link host functions: {e:#}")))?;
        let cache_dir = config.engine.module_cache.then(|| config.data_dir.join("cache"));
        Ok(Host {
            inner: Arc::new(HostInner {
                config,
                engine,
                linker,
                registry,
                services,
                cache: ModuleCache::new(cache_dir),
                user: self.user,
            }),
        })
    }
}

/// A program's manifest and module as read from its directory.
struct AppFiles {
    manifest: Manifest,
    dir: PathBuf,
    module_bytes: Vec<u8>,
    module_path: PathBuf,
}

impl Host {
    /// A host with the built-in capabilities.
    pub fn new(config: HostConfig) -> Result<Host, HostError> {
        Host::builder(config).build()
    }

    /// A builder, for adding capabilities.
    pub fn builder(config: HostConfig) -> HostBuilder {
        HostBuilder { config, extra: Vec::new(), providers: Vec::new(), user: Arc::new(Nobody) }
    }

    /// Loads the program in `app_dir` (its `miniapp.toml` and the module it names).
    /// Nothing is built: the module must exist.
    pub async fn load_app(&self, app_dir: impl AsRef<Path>) -> Result<App, LoadError> {
        let files = read_app_files(app_dir.as_ref())?;
        let source = files.module_path.display().to_string();
        let format = module_format(&files.module_path);
        App::load(self.inner.clone(), files.manifest, Some(files.dir), files.module_bytes, format, source).await
    }

    /// Loads a program from a manifest and module bytes (binary or text format)
    /// already in memory, e.g. from a platform's own program store.
    pub async fn load_app_from_parts(&self, manifest: Manifest, module_bytes: Vec<u8>) -> Result<App, LoadError> {
        let source = format!("module of {}", manifest.id);
        App::load(self.inner.clone(), manifest, None, module_bytes, Format::BinaryOrText, source).await
    }

    /// Analyses the program in `app_dir` without loading it: reports every problem
    /// instead of stopping at the first. Fails only if the manifest or module
    /// cannot be read or compiled.
    pub async fn analyze_app(
        &self,
        app_dir: impl AsRef<Path>,
    ) -> Result<(Manifest, usize, String, ModuleAnalysis), LoadError> {
        let files = read_app_files(app_dir.as_ref())?;
        let source = files.module_path.display().to_string();
        let size = files.module_bytes.len();
        let limits = self.inner.config.limits;
        let format = module_format(&files.module_path);
        let compiled =
            crate::app::compile(&self.inner, &files.manifest.id, files.module_bytes, format, &limits, &source).await?;
        let mut analysis = analyze(&compiled.module, &files.manifest, &self.inner.registry);
        // Everything `load_app` would refuse, not only what the module shows.
        let manifest_path = files.dir.join(crate::manifest::MANIFEST_FILE);
        if let Err((field, message)) = files.manifest.limits.apply(&limits, self.inner.config.engine.fuel) {
            analysis.problems.push(ManifestError { path: manifest_path.clone(), field: Some(field), message }.into());
        }
        for (name, params) in &files.manifest.capabilities {
            if let Err(problem) =
                crate::app::declare(&self.inner.registry, &files.manifest.id, name, params, &manifest_path)
            {
                analysis.problems.push(problem);
            }
        }
        if let Err(error) = self.inner.linker.instantiate_pre(&compiled.module) {
            analysis.problems.push(LoadError::UnknownImport {
                program: files.manifest.id.clone(),
                module: "?".into(),
                name: "?".into(),
                reason: crate::error::one_line(&format!("{error:#}")),
            });
        }
        Ok((files.manifest, size, compiled.hash, analysis))
    }

    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// The decision log.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.services.audit
    }

    /// The host database.
    pub fn database(&self) -> &Database {
        &self.inner.services.database
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
    pub fn payment_ledger(&self) -> &crate::capability::payment::ledger::Ledger {
        &self.inner.services.ledger
    }

    /// Settles the payments a previous run left with a provider (asking the
    /// provider); returns how many. Payments do this themselves on first use;
    /// tools that read the ledger call it first.
    pub async fn reconcile_payments(&self) -> Result<usize, ApiError> {
        match self.inner.services.payment.get() {
            Some(payment) => payment.reconcile().await,
            None => Ok(0),
        }
    }

    /// The signer of payment receipts (to verify them).
    pub fn payment_receipts(&self) -> &crate::capability::payment::receipt::ReceiptSigner {
        &self.inner.services.receipts
    }

    /// The capabilities this host offers.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }
}

/// How a module file may be written: text only in a `.wat` file.
fn module_format(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("wat") => Format::BinaryOrText,
        _ => Format::Binary,
    }
}

fn read_app_files(app_dir: &Path) -> Result<AppFiles, LoadError> {
    let manifest = Manifest::from_dir(app_dir)?;
    let manifest_path = app_dir.join(crate::manifest::MANIFEST_FILE);
    let module_path = app_dir.join(&manifest.module);
    let hint = match &manifest.build {
        Some(command) => format!(
            "; build it with `{}` in {}, or use `miniapp run`, which builds it",
            command.join(" "),
            app_dir.display()
        ),
        None => String::new(),
    };
    if !module_path.exists() {
        return Err(LoadError::ModuleMissing { path: module_path, hint });
    }
    // The manifest's path has no `..`, but a symlink could still lead outside.
    let dir = app_dir
        .canonicalize()
        .map_err(|e| LoadError::ModuleUnreadable { path: app_dir.to_path_buf(), reason: e.to_string() })?;
    let resolved = module_path
        .canonicalize()
        .map_err(|e| LoadError::ModuleUnreadable { path: module_path.clone(), reason: e.to_string() })?;
    if !resolved.starts_with(&dir) {
        return Err(ManifestError {
            path: manifest_path,
            field: Some("module".into()),
            message: format!(
                "`{}` resolves to {}, outside the app directory",
                manifest.module.display(),
                resolved.display()
            ),
        }
        .into());
    }
    let module_bytes = std::fs::read(&resolved)
        .map_err(|e| LoadError::ModuleUnreadable { path: module_path.clone(), reason: e.to_string() })?;
    Ok(AppFiles { manifest, dir, module_bytes, module_path })
}
