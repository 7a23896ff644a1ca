//! `miniapp.toml`: a program's identity, module, build command, requested
//! capabilities and optional tighter limits — parsed and validated on load, with
//! errors that name the file and the field.
//!
//! Capability parameters are validated by the capability itself (see
//! [`crate::capability`]); this module only checks that they are tables.

use crate::config::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The manifest's file name inside an app directory.
pub const MANIFEST_FILE: &str = "miniapp.toml";

/// A validated `miniapp.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Stable program id, e.g. `com.example.hello`: lowercase letters, digits, `-`,
    /// `_`, in dot-separated segments, at most 128 bytes.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Semantic version, e.g. `1.2.0`.
    pub version: String,
    /// Who publishes the program.
    pub publisher: String,
    /// What runs: a module, or sources a script runtime of the host runs.
    pub code: Code,
    /// The command that builds the module, run in the app directory (`miniapp run`
    /// runs it; the embedding API never does).
    pub build: Option<Vec<String>>,
    /// Files and directories (relative, inside the app directory) that `miniapp
    /// pack` puts in the package beside the module: signed with it, installed with
    /// it. A guest has no file access; they are part of the program's identity.
    pub assets: Vec<PathBuf>,
    /// Requested capabilities and their parameters, by capability name.
    pub capabilities: BTreeMap<String, toml::Table>,
    /// Limits tighter than the host's.
    pub limits: ManifestLimits,
}

/// What a program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A WebAssembly module (`module = "…"`): its path, relative to the app
    /// directory and inside it.
    Module(PathBuf),
    /// Sources for one of the host's script runtimes (`runtime = "js"`).
    Script(Script),
}

/// A script program's sources, as its manifest names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The runtime that runs them (`js`).
    pub runtime: String,
    /// The entry file, run first (`app.js`).
    pub main: PathBuf,
    /// The pages, home first: each `<page>.js`, with an optional `<page>.wxml`
    /// template and `<page>.json` configuration beside it (`pages/index`).
    pub pages: Vec<String>,
    /// Further files and directories the program's code reads (modules it
    /// `require`s, data).
    pub sources: Vec<PathBuf>,
}

/// Limits a manifest may set, each at most the host's (a manifest only tightens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    /// See [`Limits::memory_bytes`].
    pub memory_bytes: Option<u64>,
    /// See [`Limits::table_elements`].
    pub table_elements: Option<u64>,
    /// See [`Limits::launch_time_ms`].
    pub launch_time_ms: Option<u64>,
    /// See [`Limits::callback_time_ms`].
    pub callback_time_ms: Option<u64>,
    /// See [`Limits::fuel_per_callback`].
    pub fuel_per_callback: Option<u64>,
    /// See [`Limits::host_calls_per_callback`].
    pub host_calls_per_callback: Option<u32>,
    /// See [`Limits::message_bytes`].
    pub message_bytes: Option<u32>,
    /// See [`Limits::output_bytes`].
    pub output_bytes: Option<u64>,
    /// See [`Limits::module_bytes`].
    pub module_bytes: Option<u64>,
    /// See [`Limits::module_functions`].
    pub module_functions: Option<u64>,
    /// See [`Limits::module_imports`].
    pub module_imports: Option<u64>,
}

/// A manifest problem, naming the file and (where there is one) the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// The field at fault, dotted (`capabilities.storage.quota_bytes`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field `{field}`: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    name: String,
    version: String,
    publisher: String,
    module: Option<String>,
    runtime: Option<String>,
    main: Option<String>,
    #[serde(default)]
    pages: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    build: Option<Vec<String>>,
    #[serde(default)]
    assets: Vec<String>,
    #[serde(default)]
    capabilities: BTreeMap<String, toml::Value>,
    #[serde(default)]
    limits: ManifestLimits,
}

impl Manifest {
    /// Reads and validates `<app_dir>/miniapp.toml`.
    pub fn from_dir(app_dir: &Path) -> Result<Manifest, ManifestError> {
        let path = app_dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Manifest::unreadable(app_dir, &path, &e))?;
        Manifest::parse(&text, &path)
    }

    /// The error for the manifest at `path`, in `app_dir`, that cannot be read.
    pub(crate) fn unreadable(app_dir: &Path, path: &Path, error: &std::io::Error) -> ManifestError {
        ManifestError {
            path: path.to_path_buf(),
            field: None,
            message: match error.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("no {MANIFEST_FILE} here (is {} an app directory?)", app_dir.display())
                }
                _ => format!("cannot read: {error}"),
            },
        }
    }

    /// Parses and validates manifest text; `path` is used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let error = |field: Option<&str>, message: String| ManifestError {
            path: path.to_path_buf(),
            field: field.map(str::to_string),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let field = e.span().and_then(|span| field_at(text, span.start));
            let place = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(" (line {line}, column {column})")
            });
            error(field.as_deref(), format!("{}{}", e.message().trim(), place.unwrap_or_default()))
        })?;

        check_id(&raw.id).map_err(|m| error(Some("id"), m))?;
        check_text(&raw.name, 64).map_err(|m| error(Some("name"), m))?;
        check_version(&raw.version).map_err(|m| error(Some("version"), m))?;
        check_text(&raw.publisher, 128).map_err(|m| error(Some("publisher"), m))?;
        let code = match (&raw.module, &raw.runtime) {
            (Some(module), None) => {
                for field in [
                    ("main", raw.main.is_some()),
                    ("pages", !raw.pages.is_empty()),
                    ("sources", !raw.sources.is_empty()),
                ] {
                    if field.1 {
                        return Err(error(
                            Some(field.0),
                            "belongs to a script program (`runtime = \"js\"`), not to one with a `module`".into(),
                        ));
                    }
                }
                Code::Module(check_relative_path(module).map_err(|m| error(Some("module"), m))?)
            }
            (None, Some(_)) => Code::Script(check_script(&raw).map_err(|(field, m)| error(Some(&field), m))?),
            (Some(_), Some(_)) => {
                return Err(error(
                    Some("runtime"),
                    "a program is a `module` or sources for a `runtime`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(error(
                    None,
                    "names no code: give `module = \"…wasm\"`, or `runtime = \"js\"` with `main` and `pages`".into(),
                ));
            }
        };
        if let Some(build) = &raw.build
            && (build.is_empty() || build.iter().any(|arg| arg.is_empty()))
        {
            return Err(error(
                Some("build"),
                "must be a non-empty list of non-empty strings, e.g. [\"cargo\", \"build\"]".into(),
            ));
        }
        let mut assets = Vec::new();
        for (index, asset) in raw.assets.iter().enumerate() {
            let path = check_relative_path(asset).map_err(|m| error(Some(&format!("assets[{index}]")), m))?;
            if path == Path::new(MANIFEST_FILE) || matches!(&code, Code::Module(module) if *module == path) {
                return Err(error(
                    Some(&format!("assets[{index}]")),
                    format!("`{asset}` is the manifest or the module, which every package holds already"),
                ));
            }
            assets.push(path);
        }
        let mut capabilities = BTreeMap::new();
        for (name, value) in raw.capabilities {
            let field = format!("capabilities.{name}");
            match value {
                toml::Value::Table(table) => {
                    capabilities.insert(name, table);
                }
                other => {
                    return Err(error(
                        Some(&field),
                        format!("must be a table ([{field}]), found a {}", other.type_str()),
                    ));
                }
            }
        }
        Ok(Manifest {
            id: raw.id,
            name: raw.name,
            version: raw.version,
            publisher: raw.publisher,
            code,
            build: raw.build,
            assets,
            capabilities,
            limits: raw.limits,
        })
    }
}

/// A script program's `runtime`, `main`, `pages` and `sources`, or the field at
/// fault and why.
fn check_script(raw: &RawManifest) -> Result<Script, (String, String)> {
    let runtime = raw.runtime.clone().unwrap_or_default();
    if runtime.is_empty()
        || runtime.len() > 32
        || !runtime.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err((
            "runtime".into(),
            format!("`{runtime}` is not a runtime name (lowercase letters and digits, e.g. \"js\")"),
        ));
    }
    let main = raw
        .main
        .as_deref()
        .ok_or(("main".to_string(), "a script program names its entry file, e.g. `main = \"app.js\"`".to_string()))?;
    let main = check_relative_path(main).map_err(|m| ("main".to_string(), m))?;
    if raw.pages.is_empty() {
        return Err((
            "pages".into(),
            "a script program lists its pages, home first, e.g. `pages = [\"pages/index\"]`".into(),
        ));
    }
    let mut pages = Vec::new();
    for (index, page) in raw.pages.iter().enumerate() {
        let field = format!("pages[{index}]");
        let valid = !page.is_empty()
            && page.len() <= 128
            && page.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !valid {
            return Err((
                field,
                format!(
                    "`{page}` is not a page path (segments of a-z 0-9 _ -, e.g. \"pages/index\", without an extension)"
                ),
            ));
        }
        if pages.contains(page) {
            return Err((field, format!("`{page}` is listed twice")));
        }
        pages.push(page.clone());
    }
    let mut sources = Vec::new();
    for (index, source) in raw.sources.iter().enumerate() {
        sources.push(check_relative_path(source).map_err(|m| (format!("sources[{index}]"), m))?);
    }
    Ok(Script { runtime, main, pages, sources })
}

impl Manifest {
    /// The module's path, for a program that is a module.
    pub fn module(&self) -> Option<&Path> {
        match &self.code {
            Code::Module(path) => Some(path),
            Code::Script(_) => None,
        }
    }

    /// The sources, for a script program.
    pub fn script(&self) -> Option<&Script> {
        match &self.code {
            Code::Script(script) => Some(script),
            Code::Module(_) => None,
        }
    }
}

/// A relative path as a package names it: its normal components joined by `/`.
pub fn entry_name(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `relative` (a file, or a directory walked in full), refusing
/// links that lead outside `app_dir`.
pub(crate) fn collect_files(app_dir: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let root = crate::directory::AppDirectory::open(app_dir).map_err(|e| e.to_string())?;
    let path = app_dir.join(relative);
    let resolved = root.resolve(relative).map_err(|e| crate::directory::describe(&e))?;
    if resolved.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| e.to_string())?
            .map(|entry| entry.map(|e| relative.join(e.file_name())).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            collect_files(app_dir, &child, out)?;
        }
    } else {
        out.push(relative.to_path_buf());
    }
    Ok(())
}

impl ManifestLimits {
    /// The host's limits tightened by this manifest. A value above the host's, or
    /// zero, is an error naming the field.
    pub fn apply(&self, host: &Limits, fuel_metered: bool) -> Result<Limits, (String, String)> {
        fn tighten<T: Copy + PartialOrd + fmt::Display + Default>(
            name: &str,
            asked: Option<T>,
            host: T,
        ) -> Result<T, (String, String)> {
            match asked {
                None => Ok(host),
                Some(value) if value == T::default() => {
                    Err((format!("limits.{name}"), "must be greater than 0".into()))
                }
                Some(value) if value > host => Err((
                    format!("limits.{name}"),
                    format!("{value} exceeds the host's limit of {host}; a manifest may only tighten limits"),
                )),
                Some(value) => Ok(value),
            }
        }
        let fuel_per_callback = match (self.fuel_per_callback, host.fuel_per_callback) {
            (None, host_fuel) => host_fuel,
            (Some(_), _) if !fuel_metered => {
                return Err((
                    "limits.fuel_per_callback".into(),
                    "this host does not meter fuel (engine.fuel = false)".into(),
                ));
            }
            (Some(asked), Some(host_fuel)) => Some(tighten("fuel_per_callback", Some(asked), host_fuel)?),
            (Some(asked), None) => Some(tighten("fuel_per_callback", Some(asked), u64::MAX)?),
        };
        Ok(Limits {
            memory_bytes: tighten("memory_bytes", self.memory_bytes, host.memory_bytes)?,
            table_elements: tighten("table_elements", self.table_elements, host.table_elements)?,
            launch_time_ms: tighten("launch_time_ms", self.launch_time_ms, host.launch_time_ms)?,
            callback_time_ms: tighten("callback_time_ms", self.callback_time_ms, host.callback_time_ms)?,
            fuel_per_callback,
            host_calls_per_callback: tighten(
                "host_calls_per_callback",
                self.host_calls_per_callback,
                host.host_calls_per_callback,
            )?,
            message_bytes: match self.message_bytes {
                Some(asked) if asked < crate::config::MIN_MESSAGE_BYTES => {
                    return Err((
                        "limits.message_bytes".into(),
                        format!(
                            "{asked} is below the minimum of {}; the host's own messages (an error reply, the launch context) must fit",
                            crate::config::MIN_MESSAGE_BYTES
                        ),
                    ));
                }
                asked => tighten("message_bytes", asked, host.message_bytes)?,
            },
            output_bytes: tighten("output_bytes", self.output_bytes, host.output_bytes)?,
            module_bytes: tighten("module_bytes", self.module_bytes, host.module_bytes)?,
            module_functions: tighten("module_functions", self.module_functions, host.module_functions)?,
            module_imports: tighten("module_imports", self.module_imports, host.module_imports)?,
        })
    }
}

/// The dotted key of the TOML line holding byte offset `offset`, for naming the
/// field in a parse error (the toml crate reports a span, not a key path).
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let mut table: Option<String> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
            table = Some(trimmed.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        }
        if offset < line_start + line.len() {
            let key = trimmed.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string());
            return match (table, key) {
                (Some(t), Some(k)) if !trimmed.starts_with('[') => Some(format!("{t}.{k}")),
                (None, Some(k)) => Some(k),
                (Some(t), _) => Some(t),
                (None, None) => None,
            };
        }
        line_start += line.len();
    }
    None
}

pub(crate) fn check_id(id: &str) -> Result<(), String> {
    let shape = "must be dot-separated segments of lowercase letters, digits, `-` and `_`, starting with a letter (e.g. `com.example.hello`)";
    if id.is_empty() || id.len() > 128 {
        return Err(format!("must be 1 to 128 bytes long, is {}", id.len()));
    }
    let mut segments = id.split('.');
    let first_ok = segments.next().and_then(|s| s.bytes().next()).is_some_and(|b| b.is_ascii_lowercase());
    let all_ok = id.split('.').all(|segment| {
        !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if first_ok && all_ok { Ok(()) } else { Err(format!("`{id}` {shape}")) }
}

fn check_text(text: &str, max_chars: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    // Shown on the host's screens (the payment sheet names the program).
    match crate::sanitize::first_unsafe(text) {
        Some(problem) => Err(format!("must not contain a {problem}")),
        None => Ok(()),
    }
}

fn check_version(version: &str) -> Result<(), String> {
    let message = || format!("`{version}` is not a semantic version like `1.2.0` or `1.2.0-beta.1`");
    let (core, suffix) = match version.find(['-', '+']) {
        Some(at) => (&version[..at], Some(&version[at + 1..])),
        None => (version, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'))
    };
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(message());
    }
    if let Some(suffix) = suffix {
        let ok = !suffix.is_empty()
            && suffix
                .split(['.', '+'])
                .all(|ident| !ident.is_empty() && ident.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !ok {
            return Err(message());
        }
    }
    Ok(())
}

/// A path inside the app directory: relative, no `..`, no root or drive prefix.
fn check_relative_path(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if path.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let candidate = PathBuf::from(path);
    for component in candidate.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("`{path}` leaves the app directory (`..` is not allowed)"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("`{path}` must be relative to the app directory"));
            }
        }
    }
    Ok(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "com.example.hello"
name = "Hello"
version = "0.1.0"
publisher = "Example Co."
module = "target/wasm32-wasip1/release/hello.wasm"
build = ["cargo", "build", "--release", "--target", "wasm32-wasip1"]

[capabilities.storage]
quota_bytes = 4096

[limits]
memory_bytes = 16777216
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("app/miniapp.toml"))
    }

    fn field_of(text: &str) -> Option<String> {
        parse(text).unwrap_err().field
    }

    #[test]
    fn parses_a_good_manifest() {
        let manifest = parse(GOOD).unwrap();
        assert_eq!(manifest.id, "com.example.hello");
        assert_eq!(manifest.capabilities["storage"]["quota_bytes"].as_integer(), Some(4096));
        assert_eq!(manifest.limits.memory_bytes, Some(16 << 20));
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        assert_eq!(field_of(&GOOD.replace("com.example.hello", "Com.Example")), Some("id".into()));
        assert_eq!(field_of(&GOOD.replace("com.example.hello", "com..x")), Some("id".into()));
        assert_eq!(field_of(&GOOD.replace("\"0.1.0\"", "\"1.0\"")), Some("version".into()));
        assert_eq!(field_of(&GOOD.replace("\"0.1.0\"", "\"01.0.0\"")), Some("version".into()));
        assert_eq!(field_of(&GOOD.replace("\"Hello\"", "\"  \"")), Some("name".into()));
        assert_eq!(field_of(&GOOD.replace("target/wasm32-wasip1", "../../etc")), Some("module".into()));
        assert_eq!(
            field_of(&GOOD.replace("target/wasm32-wasip1/release/hello.wasm", "/etc/passwd")),
            Some("module".into())
        );
        assert_eq!(field_of(&GOOD.replace("build = [\"cargo\", ", "build = [\"\", ")), Some("build".into()));
    }

    #[test]
    fn unknown_fields_are_rejected_and_named() {
        let err = parse(&format!("colour = \"red\"\n{GOOD}")).unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        let err = parse(&GOOD.replace("memory_bytes", "memory")).unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
        assert_eq!(err.field.as_deref(), Some("limits.memory"));
    }

    #[test]
    fn missing_fields_are_named() {
        let err = parse(&GOOD.replace("publisher = \"Example Co.\"\n", "")).unwrap_err();
        assert!(err.message.contains("publisher"), "{err}");
    }

    #[test]
    fn capability_must_be_a_table() {
        let text = GOOD.replace("[capabilities.storage]\nquota_bytes = 4096\n", "capabilities = { storage = 3 }\n");
        assert_eq!(field_of(&text), Some("capabilities.storage".into()));
    }

    #[test]
    fn limits_only_tighten() {
        let host = Limits::default();
        let tighter = ManifestLimits { memory_bytes: Some(1 << 20), ..Default::default() };
        assert_eq!(tighter.apply(&host, false).unwrap().memory_bytes, 1 << 20);
        let looser = ManifestLimits { memory_bytes: Some(1 << 40), ..Default::default() };
        let (field, message) = looser.apply(&host, false).unwrap_err();
        assert_eq!(field, "limits.memory_bytes");
        assert!(message.contains("only tighten"));
        let zero = ManifestLimits { message_bytes: Some(0), ..Default::default() };
        assert_eq!(zero.apply(&host, false).unwrap_err().0, "limits.message_bytes");
        let fuel = ManifestLimits { fuel_per_callback: Some(10), ..Default::default() };
        assert!(fuel.apply(&host, false).is_err());
        assert_eq!(fuel.apply(&host, true).unwrap().fuel_per_callback, Some(10));
    }

    #[test]
    fn semver_shapes() {
        for good in ["0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha.1", "1.0.0+build.5"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1.2.3-", "1.2.3-a..b", "1.02.3"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
