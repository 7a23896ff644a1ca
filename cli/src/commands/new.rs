//! `miniapp new`: a working program from a template — Rust on the guest SDK, C on
//! `miniapp.h` (copied into the project), the WebAssembly text format, or
//! JavaScript — with a demo script, a test script and a `.gitignore`, which
//! `miniapp run` and `miniapp test` pass on at once.
//!
//! A Rust program depends on the guest SDK by path: the `guest-sdk` of the miniapp
//! source tree this binary was built from, or the one `--sdk` names (cargo fetches
//! the SDK's own dependencies from crates.io as for any crate).

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `miniapp new`.
#[derive(Args)]
pub struct NewArgs {
    /// The directory to create; its last part names the program (`com.example.<name>`).
    path: PathBuf,
    /// The language of the program.
    #[arg(long, value_enum, default_value = "rust")]
    template: Template,
    /// The guest SDK a Rust program depends on: a `guest-sdk` directory, or the miniapp
    /// source tree holding one [default: the source tree this miniapp was built from]
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
    /// The publisher the manifest names.
    #[arg(long, default_value = "Example Co.")]
    publisher: String,
}

/// The templates.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Template {
    /// Rust on the miniapp guest SDK (built with cargo for wasm32-wasip1).
    Rust,
    /// The WebAssembly text format, written to docs/abi.md (no build step).
    Wat,
    /// JavaScript the WeChat way: App, Page, WXML, wx (docs/javascript.md).
    Js,
    /// C on miniapp.h (built with clang for wasm32-wasi).
    C,
}

/// One template's files: where each goes, and its text.
type Files = &'static [(&'static str, &'static str)];

const RUST: Files = &[
    ("miniapp.toml", include_str!("../../templates/rust/miniapp.toml")),
    ("Cargo.toml", include_str!("../../templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("../../templates/rust/src/lib.rs")),
    ("demo.script", include_str!("../../templates/rust/demo.script")),
    ("tests/counter.script", include_str!("../../templates/rust/tests/counter.script")),
    (".gitignore", include_str!("../../templates/rust/gitignore")),
];

const WAT: Files = &[
    ("miniapp.toml", include_str!("../../templates/wat/miniapp.toml")),
    ("app.wat", include_str!("../../templates/wat/app.wat")),
    ("demo.script", include_str!("../../templates/wat/demo.script")),
    ("tests/tap.script", include_str!("../../templates/wat/tests/tap.script")),
    (".gitignore", include_str!("../../templates/wat/gitignore")),
];

const JS: Files = &[
    ("miniapp.toml", include_str!("../../templates/js/miniapp.toml")),
    ("app.js", include_str!("../../templates/js/app.js")),
    ("pages/index.js", include_str!("../../templates/js/pages/index.js")),
    ("pages/index.wxml", include_str!("../../templates/js/pages/index.wxml")),
    ("pages/index.json", include_str!("../../templates/js/pages/index.json")),
    ("demo.script", include_str!("../../templates/js/demo.script")),
    ("tests/counter.script", include_str!("../../templates/js/tests/counter.script")),
    (".gitignore", include_str!("../../templates/js/gitignore")),
];

const C: Files = &[
    ("miniapp.toml", include_str!("../../templates/c/miniapp.toml")),
    ("app.c", include_str!("../../templates/c/app.c")),
    ("miniapp.h", include_str!("../../../guest-sdk-c/miniapp.h")),
    ("demo.script", include_str!("../../templates/c/demo.script")),
    ("tests/counter.script", include_str!("../../templates/c/tests/counter.script")),
    (".gitignore", include_str!("../../templates/c/gitignore")),
];

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = program_name(&args.path)?;
    if args.path.exists() && std::fs::read_dir(&args.path).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; nothing was written", args.path.display());
    }
    let publisher = toml::Value::String(args.publisher.clone()).to_string();
    let mut replacements = vec![
        ("\"__PUBLISHER__\"", publisher),
        ("__NAME__", name.clone()),
        ("__ID__", format!("com.example.{name}")),
        ("__CRATE__", name.replace('-', "_")),
    ];
    let files = match args.template {
        Template::Rust => {
            let sdk = sdk_dir(args.sdk.as_deref())?;
            replacements.insert(0, ("\"__SDK__\"", toml::Value::String(sdk.display().to_string()).to_string()));
            RUST
        }
        Template::Wat => WAT,
        Template::Js => JS,
        Template::C => C,
    };
    for (relative, template) in files {
        let text = replacements.iter().fold(template.to_string(), |text, (from, to)| text.replace(from, to));
        let path = args.path.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let dir = args.path.display();
    println!("created {dir}: com.example.{name}, {} files", files.len());
    for (relative, _) in files {
        println!("  {relative}");
    }
    println!("next:   miniapp run {dir}        (builds it if needed, and opens it)");
    println!("        miniapp test {dir}       (runs every script under tests/)");
    Ok(ExitCode::SUCCESS)
}

/// The program's name: the directory's last part, 1 to 40 of `a-z 0-9 -`,
/// starting with a letter (it goes into the id, the crate and file names).
fn program_name(path: &Path) -> anyhow::Result<String> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        bail!("`{}` does not end in a directory name for the program", path.display());
    };
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        bail!(
            "`{name}` cannot name a program: use 1 to 40 of a-z, 0-9 and `-`, starting with a letter \
             (it becomes the id com.example.<name>)"
        );
    }
    Ok(name.to_string())
}

/// The guest SDK's directory: `given` (the SDK itself or a source tree holding
/// it), else the one beside this binary's sources.
fn sdk_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    let candidates: Vec<PathBuf> = match given {
        Some(dir) => vec![dir.to_path_buf(), dir.join("guest-sdk")],
        None => vec![built_from.clone()],
    };
    for candidate in &candidates {
        let manifest = candidate.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("name = \"miniapp-sdk\"")) {
            return candidate.canonicalize().with_context(|| format!("cannot resolve {}", candidate.display()));
        }
    }
    match given {
        Some(dir) => bail!("{} is not the miniapp guest SDK nor a source tree holding one (guest-sdk/)", dir.display()),
        None => bail!(
            "the guest SDK is not at {} (this miniapp was built from sources since moved): \
             pass --sdk <miniapp source tree>",
            built_from.display()
        ),
    }
}
