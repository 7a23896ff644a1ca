//! Script programs: the runtimes a host runs them with, and their sources — read
//! from an app directory or a package into one bundle the runtime is handed, and
//! hashed into the program's identity, so that a changed file is a new version.
//!
//! A script runtime is an ordinary guest module (the JavaScript one embeds
//! QuickJS) that also exports `miniapp_runtime_load`; it runs under every limit
//! and gate a compiled program does. It imports every capability's functions
//! because it does not know which its programs use: what a program may call is
//! its manifest's declarations, checked on every call.

use crate::manifest::Script;
use miniapp_abi::script::Sources;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Where a runtime's module comes from: read (and, for a runtime built from its
/// sources, built if stale) each time a program of it loads; the module cache
/// compiles each version once.
pub type ModuleLoader = Arc<dyn Fn() -> Result<Vec<u8>, String> + Send + Sync>;

/// A script runtime a host offers (`runtime = "js"`).
#[derive(Clone)]
pub struct ScriptRuntime {
    name: String,
    loader: ModuleLoader,
}

impl std::fmt::Debug for ScriptRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptRuntime").field("name", &self.name).finish_non_exhaustive()
    }
}

impl ScriptRuntime {
    /// The runtime `name`, whose module `loader` returns.
    pub fn new(name: impl Into<String>, loader: ModuleLoader) -> ScriptRuntime {
        ScriptRuntime { name: name.into(), loader }
    }

    /// The runtime `name` with its module in memory.
    pub fn from_bytes(name: impl Into<String>, module: Vec<u8>) -> ScriptRuntime {
        let module: Arc<[u8]> = Arc::from(module);
        ScriptRuntime::new(name, Arc::new(move || Ok(module.to_vec())))
    }

    /// The runtime `name` with its module in the file at `path`.
    pub fn from_file(name: impl Into<String>, path: impl Into<std::path::PathBuf>) -> ScriptRuntime {
        let path = path.into();
        ScriptRuntime::new(
            name,
            Arc::new(move || std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))),
        )
    }

    /// Its name, as manifests spell it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its module's bytes.
    pub fn module(&self) -> Result<Vec<u8>, String> {
        (self.loader)()
    }
}

/// A script program's sources, checked and encoded for the runtime.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The `miniapp_runtime_load` message: [`Sources`] as JSON.
    message: Arc<[u8]>,
    /// SHA-256 of the message, hex.
    hash: String,
}

impl Bundle {
    /// Checks and encodes `files` (name, bytes) as `script`'s sources: the main
    /// file and every page's `.js` present, each file UTF-8, the whole at most
    /// `max_bytes`.
    pub fn new(script: &Script, files: Vec<(String, Vec<u8>)>, max_bytes: u64) -> Result<Bundle, String> {
        let mut texts = BTreeMap::new();
        let mut total: u64 = 0;
        for (name, bytes) in files {
            total = total.saturating_add(bytes.len() as u64);
            if total > max_bytes {
                return Err(format!(
                    "the sources are more than {max_bytes} bytes (limits.module_bytes), reached at `{name}`"
                ));
            }
            let text = String::from_utf8(bytes).map_err(|_| format!("`{name}` is not UTF-8 text"))?;
            texts.insert(name, text);
        }
        let main = crate::manifest::entry_name(&script.main);
        if !texts.contains_key(&main) {
            return Err(format!("the main file `{main}` is missing"));
        }
        for page in &script.pages {
            let file = format!("{page}.js");
            if !texts.contains_key(&file) {
                return Err(format!("page `{page}` has no `{file}`"));
            }
        }
        let sources = Sources { main, pages: script.pages.clone(), files: texts };
        let message = serde_json::to_vec(&sources).map_err(|e| format!("cannot encode the sources: {e}"))?;
        let hash = hex::encode(Sha256::digest(&message));
        Ok(Bundle { message: Arc::from(message), hash })
    }

    /// The message the runtime's `miniapp_runtime_load` receives.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// SHA-256 of the sources as the runtime receives them, hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The program's code hash: its runtime module's and its sources' together,
    /// so that a new runtime or a changed file is a new version of the program.
    pub fn code_hash(&self, runtime_module_hash: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(b"miniapp script program\0");
        digest.update(runtime_module_hash.as_bytes());
        digest.update(b"\0");
        digest.update(self.hash.as_bytes());
        hex::encode(digest.finalize())
    }
}

/// A program's code hash: its module's, or for a script program its runtime
/// module's and its sources' together ([`Bundle::code_hash`]).
pub(crate) fn code_hash(bundle: Option<&Bundle>, module_hash: String) -> String {
    match bundle {
        Some(bundle) => bundle.code_hash(&module_hash),
        None => module_hash,
    }
}

/// The names of the files `script` consists of in `app_dir`, sorted: the main
/// file, each page's `.js` and (if present) `.wxml` and `.json`, `app.json` if
/// present, and everything under `sources`.
pub fn files_in_dir(app_dir: &Path, script: &Script) -> Result<Vec<std::path::PathBuf>, String> {
    let mut names = vec![script.main.clone()];
    let optional = |name: String, names: &mut Vec<std::path::PathBuf>| {
        if app_dir.join(&name).is_file() {
            names.push(name.into());
        }
    };
    optional("app.json".into(), &mut names);
    for page in &script.pages {
        names.push(format!("{page}.js").into());
        optional(format!("{page}.wxml"), &mut names);
        optional(format!("{page}.json"), &mut names);
    }
    for source in &script.sources {
        crate::manifest::collect_files(app_dir, source, &mut names)
            .map_err(|reason| format!("`{}`: {reason}", source.display()))?;
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Reads `script`'s files from `app_dir` (each inside it, links included).
pub fn read_dir(app_dir: &Path, script: &Script) -> Result<Vec<(String, Vec<u8>)>, String> {
    let root = crate::directory::AppDirectory::open(app_dir).map_err(|e| format!("{}: {e}", app_dir.display()))?;
    let mut files = Vec::new();
    for name in files_in_dir(app_dir, script)? {
        let mut file =
            root.open_file(&name).map_err(|e| format!("`{}` {}", name.display(), crate::directory::describe(&e)))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .map_err(|e| format!("cannot read `{}`: {e}", name.display()))?;
        files.push((crate::manifest::entry_name(&name), bytes));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script { runtime: "js".into(), main: "app.js".into(), pages: vec!["pages/index".into()], sources: Vec::new() }
    }

    fn file(name: &str, text: &str) -> (String, Vec<u8>) {
        (name.to_string(), text.as_bytes().to_vec())
    }

    #[test]
    fn a_changed_file_or_runtime_changes_the_code_hash() {
        let one = Bundle::new(&script(), vec![file("app.js", "App({})"), file("pages/index.js", "Page({})")], 1000);
        let two = Bundle::new(&script(), vec![file("app.js", "App({ })"), file("pages/index.js", "Page({})")], 1000);
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_ne!(one.code_hash("r1"), two.code_hash("r1"));
        assert_ne!(one.code_hash("r1"), one.code_hash("r2"));
        assert_eq!(one.code_hash("r1"), one.clone().code_hash("r1"));
    }

    #[test]
    fn missing_files_binary_files_and_oversize_sources_are_refused() {
        let missing = Bundle::new(&script(), vec![file("app.js", "")], 1000).unwrap_err();
        assert!(missing.contains("pages/index.js"), "{missing}");
        let no_main = Bundle::new(&script(), vec![file("pages/index.js", "")], 1000).unwrap_err();
        assert!(no_main.contains("app.js"), "{no_main}");
        let binary = vec![("app.js".to_string(), vec![0xff, 0xfe]), file("pages/index.js", "")];
        assert!(Bundle::new(&script(), binary, 1000).unwrap_err().contains("not UTF-8"));
        let big = vec![file("app.js", &"x".repeat(600)), file("pages/index.js", &"y".repeat(600))];
        assert!(Bundle::new(&script(), big, 1000).unwrap_err().contains("limits.module_bytes"));
    }
}
