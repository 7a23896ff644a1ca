//! Building a program before it runs: the manifest's `build` command, run in the
//! app directory, after making sure the Rust wasm target it needs is installed.
//! The build tool decides what is stale (cargo does nothing when nothing changed).

use miniapp_host::Manifest;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WASM_TARGET: &str = "wasm32-wasip1";

/// Where the build's own output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// To this process's stderr, as it runs (a terminal).
    Inherit,
    /// Kept, and returned in the error if the build fails (a web page shows it).
    Capture,
}

/// Why a build did not produce a module.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `build = []` in the manifest.
    #[error("the manifest's build command is empty")]
    Empty,
    /// The command could not be started.
    #[error("cannot run the build command `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error("the build command `{command}` failed ({status}) in {}", dir.display())]
    Failed {
        /// The command.
        command: String,
        /// How it exited.
        status: std::process::ExitStatus,
        /// Where it ran.
        dir: PathBuf,
        /// What it printed, when captured.
        output: String,
    },
    /// The wasm target is missing and cannot be added.
    #[error("{0}")]
    Target(String),
}

impl BuildError {
    /// What the build printed, when it was captured and failed.
    pub fn output(&self) -> &str {
        match self {
            BuildError::Failed { output, .. } => output,
            _ => "",
        }
    }
}

/// Runs the manifest's build command in `app_dir`, if it has one.
pub fn build(app_dir: &Path, manifest: &Manifest, output: Output) -> Result<(), BuildError> {
    let Some(command) = &manifest.build else {
        return Ok(());
    };
    let (program, args) = command.split_first().ok_or(BuildError::Empty)?;
    if program == "cargo" && args.iter().any(|arg| arg.contains(WASM_TARGET)) {
        ensure_wasm_target(app_dir)?;
    }
    let shown = command.join(" ");
    if output == Output::Inherit {
        eprintln!("building {} in {}: {shown}", manifest.id, app_dir.display());
    }
    let mut child = Command::new(program);
    child
        .args(args)
        .current_dir(app_dir)
        // The module path in miniapp.toml is relative to the app; a target directory
        // set for some other project must not move the build elsewhere.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null());
    let (status, printed) = match output {
        Output::Inherit => {
            let status = child
                .stdout(Stdio::from(std::io::stderr()))
                .status()
                .map_err(|source| BuildError::Spawn { command: shown.clone(), source })?;
            (status, String::new())
        }
        Output::Capture => {
            let done = child.output().map_err(|source| BuildError::Spawn { command: shown.clone(), source })?;
            let mut printed = String::from_utf8_lossy(&done.stdout).into_owned();
            printed.push_str(&String::from_utf8_lossy(&done.stderr));
            (done.status, printed)
        }
    };
    if !status.success() {
        return Err(BuildError::Failed { command: shown, status, dir: app_dir.to_path_buf(), output: printed });
    }
    Ok(())
}

/// Installs the wasm32-wasip1 target with rustup when it is missing, as wasm-pack does.
fn ensure_wasm_target(app_dir: &Path) -> Result<(), BuildError> {
    let listed = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(app_dir).output();
    let output = match listed {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            return Err(BuildError::Target(format!(
                "cannot list installed Rust targets (rustup said: {}); install the {WASM_TARGET} target yourself",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(BuildError::Target(format!(
                "building this program needs the {WASM_TARGET} Rust target, and rustup is not installed to add it: \
                 install rustup from https://rustup.rs, or add the target to your Rust toolchain by hand"
            )));
        }
        Err(error) => return Err(BuildError::Target(format!("cannot run rustup: {error}"))),
    };
    if String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("installing the {WASM_TARGET} Rust target (rustup target add {WASM_TARGET})");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(app_dir)
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| BuildError::Target(format!("cannot run rustup: {e}")))?;
    if !status.success() {
        return Err(BuildError::Target(format!("`rustup target add {WASM_TARGET}` failed ({status})")));
    }
    Ok(())
}

/// The environment variable naming a built JavaScript runtime module to use
/// instead of building the one in this repository.
pub const JS_RUNTIME_ENV: &str = "MINIAPP_JS_RUNTIME";

/// The JavaScript runtime's sources in the repository this tool was built from.
const JS_RUNTIME_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtimes/js");

/// The module the runtime's build writes, relative to its directory.
const JS_RUNTIME_MODULE: &str = "target/wasm32-wasip1/release/miniapp_js_runtime.wasm";

/// The `js` script runtime: the module `$MINIAPP_JS_RUNTIME` names, or else the
/// one built from `runtimes/js` of this repository — built (if stale) the first
/// time a JavaScript program loads, once per process, as `miniapp run` builds a
/// program.
pub fn js_runtime() -> miniapp_host::script::ScriptRuntime {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let loader = move || {
        let path = match std::env::var_os(JS_RUNTIME_ENV) {
            Some(path) => PathBuf::from(path),
            None => BUILT.get_or_init(build_js_runtime).clone()?,
        };
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    miniapp_host::script::ScriptRuntime::new("js", std::sync::Arc::new(loader))
}

fn build_js_runtime() -> Result<PathBuf, String> {
    let dir = Path::new(JS_RUNTIME_DIR);
    if !dir.join("Cargo.toml").is_file() {
        return Err(format!(
            "the JavaScript runtime's sources are not at {} (this miniapp was moved from its repository): \
             set {JS_RUNTIME_ENV} to a built miniapp_js_runtime.wasm",
            dir.display()
        ));
    }
    ensure_wasm_target(dir).map_err(|e| e.to_string())?;
    if !dir.join(JS_RUNTIME_MODULE).is_file() {
        eprintln!("building the JavaScript runtime in {} (once; QuickJS takes a minute)", dir.display());
    }
    // Its .cargo/config.toml points QuickJS's C build at the distribution's clang
    // and wasi-libc; cargo reads it from the working directory.
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", WASM_TARGET])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| format!("cannot run cargo to build the JavaScript runtime in {}: {e}", dir.display()))?;
    if !status.success() {
        return Err(format!(
            "building the JavaScript runtime in {} failed ({status}); it needs clang, lld, wasi-libc and \
             libclang-rt-14-dev-wasm32 (Debian), or set {JS_RUNTIME_ENV} to a built module",
            dir.display()
        ));
    }
    Ok(dir.join(JS_RUNTIME_MODULE))
}
