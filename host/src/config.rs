//! Host configuration: which host this is, its resource limits, engine settings and
//! capability policy — with a built-in default so `miniapp run` needs no file.
//!
//! A platform engineer writes the same settings as TOML (`miniapp --config
//! host.toml`); every field is optional and unknown fields are rejected.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The host's own top-level fields; every other table is a plug-in's section.
const HOST_FIELDS: &[&str] =
    &["profile", "data_dir", "database", "limits", "engine", "disabled_capabilities", "trust", "clock"];

/// Environment variable naming the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "MINIAPP_DATA_DIR";

/// Everything a [`crate::Host`] needs to know about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// The host profile's name, shown to users (a WeChat-style host by default).
    pub profile: String,
    /// Where the host keeps its embedded database, installed packages and
    /// compiled-module cache.
    pub data_dir: PathBuf,
    /// Where the compiled-module cache is, if not `<data dir>/cache`: hosts with
    /// data directories of their own may share one (`miniapp test` gives each
    /// case a fresh data directory and the user's cache).
    pub module_cache_dir: Option<PathBuf>,
    /// Which database keeps the host's records: the embedded SQLite file in the
    /// data directory, or a PostgreSQL server shared by many hosts.
    pub database: DatabaseSettings,
    /// Resource limits every program runs under; a manifest may only tighten them.
    pub limits: Limits,
    /// How the WebAssembly engine is set up.
    pub engine: EngineSettings,
    /// Capabilities the host's policy turns off for every program.
    pub disabled_capabilities: BTreeSet<String>,
    /// Which publisher keys programs are bound to, beyond first use.
    pub trust: TrustSettings,
    /// How the host's clock runs (see [`crate::clock`]).
    pub clock: crate::clock::ClockSettings,
    /// The plug-ins' own sections, by name: every top-level table of the TOML that
    /// is not one of the fields above (`[wechat_pay]`, `[location]`, …). The plug-in
    /// of that name decodes its section and rejects unknown keys; a section no
    /// plug-in claims is refused when the host is built.
    #[serde(skip)]
    pub sections: BTreeMap<String, toml::Table>,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            profile: "wechat".to_string(),
            data_dir: default_data_dir(),
            module_cache_dir: None,
            database: DatabaseSettings::default(),
            limits: Limits::default(),
            engine: EngineSettings::default(),
            disabled_capabilities: BTreeSet::new(),
            trust: TrustSettings::default(),
            clock: crate::clock::ClockSettings::default(),
            sections: BTreeMap::new(),
        }
    }
}

/// `[trust]`: the host's pins of program ids to publisher keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustSettings {
    /// Program id → the fingerprint of the only publisher key that may be it
    /// (`[trust.programs] "com.taobao.deals" = "<fingerprint>"`). A pin beats
    /// trust on first use: no other key's package installs or runs under that id.
    pub programs: BTreeMap<String, String>,
}

impl HostConfig {
    /// Where the compiled-module cache is: `module_cache_dir`, else `<data dir>/cache`.
    pub fn module_cache_path(&self) -> PathBuf {
        self.module_cache_dir.clone().unwrap_or_else(|| self.data_dir.join("cache"))
    }

    /// The default configuration with its data in `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> HostConfig {
        HostConfig { data_dir: data_dir.into(), ..HostConfig::default() }
    }

    /// Parses a TOML host configuration. Missing fields take their defaults; a
    /// top-level table that is no field of the host's is a plug-in's section.
    pub fn from_toml(text: &str) -> Result<HostConfig, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut sections = BTreeMap::new();
        let names: Vec<String> = table.keys().filter(|k| !HOST_FIELDS.contains(&k.as_str())).cloned().collect();
        for name in names {
            match table.remove(&name) {
                Some(toml::Value::Table(section)) => {
                    sections.insert(name, section);
                }
                _ => return Err(format!("unknown field `{name}` (a plug-in's settings are a table, `[{name}]`)")),
            }
        }
        let mut config: HostConfig =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| e.to_string())?;
        config.sections = sections;
        config.clock.check()?;
        if config.limits.message_bytes < MIN_MESSAGE_BYTES {
            return Err(format!(
                "limits.message_bytes: {} is below the minimum of {MIN_MESSAGE_BYTES} (the host's own messages must fit)",
                config.limits.message_bytes
            ));
        }
        Ok(config)
    }

    /// The section of the plug-in called `name`, if the configuration has one.
    pub fn section(&self, name: &str) -> Option<&toml::Table> {
        self.sections.get(name)
    }

    /// The section of the plug-in called `name` decoded as `T` (its defaults when
    /// the configuration has none); an unknown key or a wrong value is an error
    /// naming the section and the key.
    pub fn settings<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> Result<T, String> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(section) => toml::Value::Table(section.clone())
                .try_into()
                .map_err(|e: toml::de::Error| format!("[{name}]: {}", e.message().trim())),
        }
    }

    /// Changes the section called `name` as typed settings `T`, keeping what
    /// `change` leaves alone.
    pub fn update_section<T>(&mut self, name: &str, change: impl FnOnce(&mut T)) -> Result<(), String>
    where
        T: serde::de::DeserializeOwned + Serialize + Default,
    {
        let mut settings: T = self.settings(name)?;
        change(&mut settings);
        self.set_section(name, &settings)
    }

    /// Sets the section of the plug-in called `name` from typed settings.
    pub fn set_section(&mut self, name: &str, settings: &impl Serialize) -> Result<(), String> {
        let section = toml::Table::try_from(settings).map_err(|e| format!("[{name}]: {e}"))?;
        self.sections.insert(name.to_string(), section);
        Ok(())
    }

    /// Reads a TOML host configuration file.
    pub fn from_file(path: &Path) -> Result<HostConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        HostConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The data directory when none is given: `$MINIAPP_DATA_DIR`, else the platform's
/// per-user data directory (`~/.local/share/miniapp` on Linux), else `.miniapp`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().map(|d| d.join("miniapp")).unwrap_or_else(|| PathBuf::from(".miniapp"))
}

/// Hard limits on one program. Exceeding one ends that program with an error naming
/// the limit and its value; other programs are unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest linear memory, in bytes (64 MiB).
    pub memory_bytes: u64,
    /// Most table elements (10,000).
    pub table_elements: u64,
    /// Running time for `miniapp_on_launch`, in milliseconds (5,000): the time the
    /// program's code runs plus the waits it chooses (a WASI sleep). Time it waits
    /// to be scheduled, and time the host spends serving its host calls (the user,
    /// a provider, the disk), does not count.
    pub launch_time_ms: u64,
    /// Running time for every other callback, in milliseconds (1,000), counted
    /// like `launch_time_ms`.
    pub callback_time_ms: u64,
    /// Fuel (roughly, wasm instructions) per callback; `None` runs without fuel.
    /// Setting it makes runs deterministic, at some cost in speed.
    pub fuel_per_callback: Option<u64>,
    /// Host calls per callback (10,000).
    pub host_calls_per_callback: u32,
    /// Largest message in either direction of a host call, in bytes (1 MiB).
    pub message_bytes: u32,
    /// Bytes of stdout plus stderr per callback (1 MiB).
    pub output_bytes: u64,
    /// Largest module, in bytes, as given (8 MiB): checked before compiling.
    pub module_bytes: u64,
    /// Most functions a module defines (20,000): checked before compiling.
    pub module_functions: u64,
    /// Most imports a module declares (1,000): checked before compiling.
    pub module_imports: u64,
}

/// The smallest `limits.message_bytes` a host or manifest may set: every message
/// the host itself builds — an error reply (its text is cut to fit), the launch
/// context without query parameters, an event — fits in it.
pub const MIN_MESSAGE_BYTES: u32 = 4096;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            table_elements: 10_000,
            launch_time_ms: 5_000,
            callback_time_ms: 1_000,
            fuel_per_callback: None,
            host_calls_per_callback: 10_000,
            message_bytes: 1 << 20,
            output_bytes: 1 << 20,
            module_bytes: 8 << 20,
            module_functions: 20_000,
            module_imports: 1_000,
        }
    }
}

impl Limits {
    /// The time budget of `miniapp_on_launch`.
    pub fn launch_time(&self) -> Duration {
        Duration::from_millis(self.launch_time_ms)
    }

    /// The time budget of every other callback.
    pub fn callback_time(&self) -> Duration {
        Duration::from_millis(self.callback_time_ms)
    }
}

/// Settings of the shared WebAssembly engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Use the pooling instance allocator (fast instantiation, memory reserved up front).
    pub pooling: bool,
    /// Programs that may be instantiated at once (the pool's size).
    pub max_live_programs: u32,
    /// Largest wasm stack, in bytes (512 KiB). Engine-wide: a manifest cannot change it.
    pub wasm_stack_bytes: usize,
    /// Period of the interruption clock, in milliseconds (5): the granularity of
    /// time limits and of yielding a busy guest's thread to others.
    pub epoch_tick_ms: u64,
    /// Keep compiled modules in `<data dir>/cache` so the next load skips compilation.
    pub module_cache: bool,
    /// Compiled modules kept in memory, the most recently used (256); a load of
    /// any other maps its compiled code from the cache directory again. 0 keeps
    /// none: each load maps from disk.
    pub modules_in_memory: usize,
    /// Count fuel, so `limits.fuel_per_callback` can apply.
    pub fuel: bool,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            pooling: true,
            max_live_programs: 1_000,
            wasm_stack_bytes: 512 << 10,
            epoch_tick_ms: 5,
            module_cache: true,
            modules_in_memory: 256,
            fuel: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_the_default() {
        let config = HostConfig::from_toml("data_dir = \"/tmp/x\"").unwrap();
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = HostConfig::from_toml("[limits]\nmemory = 5").unwrap_err();
        assert!(err.contains("memory"), "{err}");
    }
}

/// Environment variable naming the database when neither `--database` nor the
/// configuration does.
pub const DATABASE_URL_ENV: &str = "MINIAPP_DATABASE_URL";

/// `[database]`: without a `url`, the embedded SQLite database in the data
/// directory; with `url = "postgres://user:password@host:port/dbname"` (or a
/// key-value string `host=… dbname=…`, or a unix socket directory as the host,
/// `postgres://user@%2Frun%2Fpostgresql/dbname`), a PostgreSQL server shared
/// with any number of other hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// The PostgreSQL server, if the records are kept on one.
    pub url: Option<String>,
    /// Connections the host keeps open to the server at most.
    pub pool_size: usize,
}

impl Default for DatabaseSettings {
    fn default() -> DatabaseSettings {
        DatabaseSettings { url: None, pool_size: 16 }
    }
}

impl DatabaseSettings {
    /// The settings of a host on the database at `url`.
    pub fn at(url: impl Into<String>) -> DatabaseSettings {
        DatabaseSettings { url: Some(url.into()), ..DatabaseSettings::default() }
    }
}
