//! Installed programs and who may be which program: the binding of each program id
//! to one publisher key, by the host configuration's pins (`[trust.programs]`,
//! the embedder's equivalent of a platform issuing appids) or by the first package
//! installed under that id (trust on first use), and the host's development key,
//! which signs programs run from a directory.
//!
//! Tables (component `programs`):
//! - `installed_programs`: one row per installed id. Its `PRIMARY KEY (id)` is
//!   what makes an id belong to one publisher: two installs racing under other
//!   keys cannot both bind it, and an update is written only
//!   `WHERE publisher = excluded.publisher` (one statement, so no check-then-write
//!   gap).
//! - `host_keys`: the development key's fingerprint, written once, so that the
//!   migrations of other components can carry records made before programs had a
//!   verified identity over to `id@<development key>` in SQL.
//!
//! The package files live in `<data dir>/programs/<package sha256>.mpkg`, written
//! and synced before the row that names them, and verified again on every load.

use crate::capability::ProgramIdentity;
use crate::config::TrustSettings;
use crate::error::{HostError, LoadError};
use crate::package::{self, Fingerprint, PublisherKey, VerifiedPackage};
use crate::store::{Database, Row, StoreError, Transaction, params};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The development key's file in the data directory (32 secret bytes).
pub const DEVELOPMENT_KEY_FILE: &str = "development.key";

/// Where installed packages are kept, inside the data directory.
pub const PACKAGES_DIR: &str = "programs";

fn schema(development: &Fingerprint) -> [String; 2] {
    [
        "CREATE TABLE installed_programs (
            id TEXT NOT NULL PRIMARY KEY,
            publisher TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            package_hash TEXT NOT NULL,
            module_hash TEXT NOT NULL,
            installed_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS host_keys (name TEXT NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL);"
            .to_string(),
        // Applied once, when the table is made: the key records from before
        // identities were carried over to.
        format!("INSERT INTO host_keys (name, fingerprint) VALUES ('development', '{development}');"),
    ]
}

/// How an id came to be bound to its publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// The host configuration pins it (`[trust.programs]`).
    Pinned,
    /// The first package installed under the id was signed by it.
    FirstInstall,
}

/// An installed program, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledProgram {
    /// The program id.
    pub id: String,
    /// The publisher key it is bound to.
    pub publisher: String,
    /// The manifest's display name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// SHA-256 of the installed package file.
    pub package_hash: String,
    /// SHA-256 of its module.
    pub module_hash: String,
    /// When first installed, ms since the epoch.
    pub installed_at_ms: i64,
    /// When last installed or updated, ms since the epoch.
    pub updated_at_ms: i64,
}

impl InstalledProgram {
    fn from_row(row: &Row) -> Result<InstalledProgram, StoreError> {
        Ok(InstalledProgram {
            id: row.text(0)?,
            publisher: row.text(1)?,
            name: row.text(2)?,
            version: row.text(3)?,
            package_hash: row.text(4)?,
            module_hash: row.text(5)?,
            installed_at_ms: row.integer(6)?,
            updated_at_ms: row.integer(7)?,
        })
    }

    /// The verified identity it runs as.
    pub fn identity(&self, development: &Fingerprint) -> Result<ProgramIdentity, StoreError> {
        let publisher = Fingerprint::parse(&self.publisher).map_err(StoreError::Query)?;
        let is_development = &publisher == development;
        Ok(ProgramIdentity::new(&self.id, publisher, is_development))
    }
}

const COLUMNS: &str = "id, publisher, name, version, package_hash, module_hash, installed_at_ms, updated_at_ms";

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The program as now recorded.
    pub program: InstalledProgram,
    /// The version it replaced, if it was installed before.
    pub previous: Option<InstalledProgram>,
    /// How its id is bound to its publisher.
    pub binding: Binding,
}

/// The installed programs and the keys programs are bound to.
#[derive(Clone)]
pub struct Programs {
    database: Database,
    packages_dir: PathBuf,
    development: Arc<PublisherKey>,
    pins: Arc<BTreeMap<String, Fingerprint>>,
}

impl std::fmt::Debug for Programs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Programs").field("development", &self.development.fingerprint()).finish()
    }
}

/// How a program came to the host, for the refusal's advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An app directory, signed with the development key.
    Directory,
    /// A package file.
    Package,
    /// An installed program.
    Installed,
}

impl Programs {
    /// Opens the registry in `database`, the development key in `data_dir` (made
    /// on first use) and the configuration's pins (each checked).
    pub fn open(database: Database, data_dir: &Path, trust: &TrustSettings) -> Result<Programs, HostError> {
        let mut pins = BTreeMap::new();
        for (id, fingerprint) in &trust.programs {
            crate::manifest::check_id(id).map_err(|m| HostError::Config(format!("[trust.programs]: `{id}`: {m}")))?;
            let fingerprint = Fingerprint::parse(fingerprint)
                .map_err(|m| HostError::Config(format!("[trust.programs] \"{id}\": {m}")))?;
            pins.insert(id.clone(), fingerprint);
        }
        let seed = crate::store::secret::load_or_create(&database, data_dir, DEVELOPMENT_KEY_FILE)
            .map_err(|reason| StoreError::Open { path: data_dir.to_path_buf(), reason })?;
        let development = PublisherKey::from_seed(seed);
        let steps = schema(&development.fingerprint());
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        database.migrate("programs", &steps)?;
        Ok(Programs {
            database,
            packages_dir: data_dir.join(PACKAGES_DIR),
            development: Arc::new(development),
            pins: Arc::new(pins),
        })
    }

    /// The host's development key: it signs programs run from a directory and
    /// packages packed without a publisher key.
    pub fn development_key(&self) -> &PublisherKey {
        &self.development
    }

    /// The development key's fingerprint.
    pub fn development_fingerprint(&self) -> Fingerprint {
        self.development.fingerprint()
    }

    /// The identity a program `id` signed by `publisher` has here.
    pub fn identity(&self, id: &str, publisher: Fingerprint) -> ProgramIdentity {
        let development = publisher == self.development.fingerprint();
        ProgramIdentity::new(id, publisher, development)
    }

    /// The key the configuration pins `id` to, if any.
    pub fn pin(&self, id: &str) -> Option<&Fingerprint> {
        self.pins.get(id)
    }

    /// Whether `identity` may run here: refused when the configuration pins its id
    /// to another key, or when the id is installed under another key.
    pub async fn check(&self, identity: &ProgramIdentity, source: Source) -> Result<(), LoadError> {
        let installed = self.get(identity.id()).await.map_err(|e| host_error(identity.id(), e))?;
        self.check_against(identity, installed.as_ref(), source)
    }

    fn check_against(
        &self,
        identity: &ProgramIdentity,
        installed: Option<&InstalledProgram>,
        source: Source,
    ) -> Result<(), LoadError> {
        let (bound, binding) = match (self.pin(identity.id()), installed) {
            (Some(pin), _) => (pin.clone(), Binding::Pinned),
            (None, Some(installed)) => (
                Fingerprint::parse(&installed.publisher)
                    .map_err(|e| host_error(identity.id(), StoreError::Query(e)))?,
                Binding::FirstInstall,
            ),
            (None, None) => return Ok(()),
        };
        if &bound == identity.publisher() {
            return Ok(());
        }
        let id = identity.id();
        let how = match binding {
            Binding::Pinned => "the host configuration pins it ([trust.programs])".to_string(),
            Binding::FirstInstall => "it is installed here".to_string(),
        };
        let (signed, advice) = match source {
            Source::Directory => (
                format!("this directory runs signed with this host's development key {}", identity.publisher()),
                match binding {
                    Binding::Pinned => "a directory claiming a pinned id can never be that program; give the directory its own `id` in miniapp.toml, or run it with a host configuration that does not pin the id".to_string(),
                    Binding::FirstInstall => format!(
                        "a directory claiming an installed program's id can never use that program's data; give the directory its own `id` in miniapp.toml, use another --data-dir, or `miniapp uninstall {id}` first"
                    ),
                },
            ),
            Source::Package | Source::Installed => (
                format!("this package is signed by {}", identity.publisher()),
                match binding {
                    Binding::Pinned => "only a package signed by the pinned key can be this program".to_string(),
                    Binding::FirstInstall => format!(
                        "only its publisher can update it; `miniapp uninstall {id}` first to install another publisher's program under this id (the two never share data)"
                    ),
                },
            ),
        };
        Err(LoadError::PublisherMismatch {
            program: id.to_string(),
            message: format!("{id} belongs to publisher {bound} ({how}), but {signed}: refused; {advice}"),
        })
    }

    /// The installed program `id`, if any.
    pub async fn get(&self, id: &str) -> Result<Option<InstalledProgram>, StoreError> {
        let id = id.to_string();
        self.database
            .run(move |t: &mut dyn Transaction| {
                t.query_one(&format!("SELECT {COLUMNS} FROM installed_programs WHERE id = $1"), params![id])?
                    .map(|row| InstalledProgram::from_row(&row))
                    .transpose()
            })
            .await
    }

    /// Every installed program, by id.
    pub async fn list(&self) -> Result<Vec<InstalledProgram>, StoreError> {
        self.database
            .run(|t: &mut dyn Transaction| {
                t.query(&format!("SELECT {COLUMNS} FROM installed_programs ORDER BY id"), params![])?
                    .iter()
                    .map(InstalledProgram::from_row)
                    .collect()
            })
            .await
    }

    /// Installs the package `bytes` (verified as `package`): binds its id to its
    /// signer on first install (unless a pin says otherwise), or replaces the
    /// installed version when the same publisher signed it.
    pub async fn install(
        &self,
        bytes: &[u8],
        package: &VerifiedPackage,
        module_hash: &str,
    ) -> Result<Installed, LoadError> {
        let manifest = &package.contents.manifest;
        let identity = self.identity(&manifest.id, package.fingerprint());
        let id = manifest.id.clone();
        let previous = self.get(&id).await.map_err(|e| host_error(&id, e))?;
        self.check_against(&identity, previous.as_ref(), Source::Package)?;

        // The file first (synced), then the row naming it: a crash between leaves an
        // unreferenced file, never a row without its package.
        let path = self.package_path(&package.package_hash);
        write_package(&self.packages_dir, &path, bytes).map_err(|reason| host_error(&id, StoreError::Query(reason)))?;
        let now = crate::calendar::now_ms();
        let record = InstalledProgram {
            id: id.clone(),
            publisher: identity.publisher().to_string(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            package_hash: package.package_hash.clone(),
            module_hash: module_hash.to_string(),
            installed_at_ms: previous
                .as_ref()
                .filter(|p| p.publisher == identity.publisher().as_str())
                .map_or(now, |p| p.installed_at_ms),
            updated_at_ms: now,
        };
        let row = record.clone();
        // A pin beats an earlier first install: the pinned key's package replaces
        // the row (the other publisher's records stay keyed by its own identity,
        // out of reach). Without a pin, the row is only ever updated by its own
        // publisher.
        let pinned = self.pin(&id).is_some();
        let written = self
            .database
            .run(move |t: &mut dyn Transaction| {
                let sql = if pinned {
                    "INSERT INTO installed_programs (id, publisher, name, version, package_hash, module_hash, installed_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (id) DO UPDATE SET publisher = excluded.publisher, name = excluded.name,
                         version = excluded.version, package_hash = excluded.package_hash,
                         module_hash = excluded.module_hash, installed_at_ms = excluded.installed_at_ms,
                         updated_at_ms = excluded.updated_at_ms"
                } else {
                    "INSERT INTO installed_programs (id, publisher, name, version, package_hash, module_hash, installed_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version,
                         package_hash = excluded.package_hash, module_hash = excluded.module_hash,
                         updated_at_ms = excluded.updated_at_ms
                     WHERE installed_programs.publisher = excluded.publisher"
                };
                t.execute(
                    sql,
                    params![row.id, row.publisher, row.name, row.version, row.package_hash, row.module_hash, row.installed_at_ms, row.updated_at_ms],
                )
            })
            .await
            .map_err(|e| host_error(&id, e))?;
        if written != 1 {
            // Another publisher's install of this id committed between the check
            // and the write; the primary key kept it theirs.
            let now_bound = self.get(&id).await.map_err(|e| host_error(&id, e))?;
            self.check_against(&identity, now_bound.as_ref(), Source::Package)?;
            return Err(host_error(&id, StoreError::Query("the install lost a race with another install".into())));
        }
        if let Some(old) = &previous
            && old.package_hash != record.package_hash
        {
            // The old package is no longer named by any row.
            let _ = std::fs::remove_file(self.package_path(&old.package_hash));
        }
        let binding = if pinned { Binding::Pinned } else { Binding::FirstInstall };
        Ok(Installed { program: record, previous, binding })
    }

    /// Removes the installed program `id` (its row and package file); what it
    /// stored is left to the caller, who has asked the user.
    pub async fn uninstall(&self, id: &str) -> Result<Option<InstalledProgram>, StoreError> {
        let key = id.to_string();
        let removed = self
            .database
            .run(move |t: &mut dyn Transaction| {
                let row = t
                    .query_one(&format!("SELECT {COLUMNS} FROM installed_programs WHERE id = $1"), params![&key])?
                    .map(|row| InstalledProgram::from_row(&row))
                    .transpose()?;
                t.execute("DELETE FROM installed_programs WHERE id = $1", params![&key])?;
                Ok(row)
            })
            .await?;
        if let Some(program) = &removed {
            let _ = std::fs::remove_file(self.package_path(&program.package_hash));
        }
        Ok(removed)
    }

    /// The installed package of `program`, read and verified again (a file changed
    /// on disk since it was installed is refused).
    pub fn read_installed(&self, program: &InstalledProgram) -> Result<VerifiedPackage, LoadError> {
        let package = package::read_file(&self.package_path(&program.package_hash))?;
        if package.package_hash != program.package_hash || package.fingerprint().as_str() != program.publisher {
            return Err(LoadError::Package(package::PackageError::Malformed {
                source_name: self.package_path(&program.package_hash).display().to_string(),
                part: "file",
                reason: format!(
                    "is not the package installed as {} (changed on disk since it was installed)",
                    program.id
                ),
            }));
        }
        Ok(package)
    }

    fn package_path(&self, package_hash: &str) -> PathBuf {
        self.packages_dir.join(format!("{package_hash}.{}", package::EXTENSION))
    }
}

/// The migration step that carries `table`'s records from before programs had a
/// verified identity — keyed by the bare id in its `program_id` column — over to
/// `id@<development key>`: what those programs were, since they ran from
/// directories. A no-op on a table without such records.
#[macro_export]
macro_rules! carry_over_identities {
    ($table:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS host_keys (name TEXT NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL);
             UPDATE ",
            $table,
            " SET program_id = program_id || '@' ||
                 (SELECT fingerprint FROM host_keys WHERE name = 'development')
             WHERE program_id NOT LIKE '%@%';"
        )
    };
}

fn host_error(program: &str, error: StoreError) -> LoadError {
    LoadError::Host { program: program.to_string(), reason: error.to_string() }
}

fn write_package(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut temporary =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    std::io::Write::write_all(&mut temporary, bytes)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    temporary.persist(path).map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}
