//! Publisher keys and installed programs: `miniapp keygen`, `pack`, `install`,
//! `uninstall` and `list`, and what `run` and `inspect` accept as a program (an app
//! directory, a package file or an installed id).

use super::{build, open_host};
use anyhow::{Context, bail};
use clap::Args;
use miniapp_host::package::{self, Contents, PublisherKey};
use miniapp_host::{App, Host, HostConfig, Manifest, Preinitialisation};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A program as named on the command line.
pub enum Target {
    /// An app directory: built if stale, run signed with the development key.
    Directory(PathBuf),
    /// A package file.
    Package(PathBuf),
    /// An installed program's id.
    Installed(String),
}

impl Target {
    /// What `text` names: an existing directory, an existing file, or else an id.
    pub fn parse(text: &str) -> anyhow::Result<Target> {
        let path = Path::new(text);
        if path.is_dir() {
            return Ok(Target::Directory(path.to_path_buf()));
        }
        if path.is_file() {
            return Ok(Target::Package(path.to_path_buf()));
        }
        // A name that is a path (it has a separator, or a package's extension) is
        // one, so that its own error (no miniapp.toml, no such package) is shown.
        if text.ends_with(&format!(".{}", package::EXTENSION)) {
            return Ok(Target::Package(path.to_path_buf()));
        }
        if text.contains(std::path::MAIN_SEPARATOR) || text.contains('/') {
            return Ok(Target::Directory(path.to_path_buf()));
        }
        let looks_like_id =
            !text.is_empty() && text.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_'));
        if looks_like_id {
            return Ok(Target::Installed(text.to_string()));
        }
        bail!("`{text}` is not an app directory, a package file or an installed program's id")
    }

    /// Builds (for a directory, unless `no_build`) and loads the program.
    pub async fn load(&self, host: &Host, no_build: bool) -> anyhow::Result<App> {
        let app = match self {
            Target::Directory(dir) => {
                if !no_build {
                    build::build(dir, &Manifest::from_dir(dir)?)?;
                }
                host.load_app(dir).await?
            }
            Target::Package(path) => host.load_package_file(path).await?,
            Target::Installed(id) => host.load_installed(id).await?,
        };
        // The reason may quote the program's own words (an exception's message).
        if let Some(Preinitialisation::NotPossible(reason)) = app.preinitialisation() {
            eprintln!(
                "note: {} is not pre-initialised, so each session evaluates its files at launch: {}",
                app.program().id,
                miniapp_host::sanitize::line_within(reason, 400)
            );
        }
        Ok(app)
    }
}

/// Arguments of `miniapp keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (PKCS#8 PEM, owner-only); the public key goes
    /// beside it with `.pub` appended. Never overwritten.
    #[arg(long, value_name = "FILE", default_value = "publisher.key")]
    out: PathBuf,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let key = PublisherKey::generate().map_err(anyhow::Error::msg)?;
    let public_path = PathBuf::from(format!("{}.pub", args.out.display()));
    if public_path.exists() {
        bail!("{} already exists; it is not overwritten (choose another --out)", public_path.display());
    }
    key.write(&args.out).map_err(anyhow::Error::msg)?;
    let public = key.public_key().to_pem().map_err(anyhow::Error::msg)?;
    std::fs::write(&public_path, public).with_context(|| format!("cannot write {}", public_path.display()))?;
    println!("publisher key  {} (secret: keep it safe; only it can sign updates of your programs)", args.out.display());
    println!("public key     {}", public_path.display());
    println!("fingerprint    {}", key.fingerprint());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `miniapp pack`.
#[derive(Args)]
pub struct PackArgs {
    /// The app directory (holding miniapp.toml).
    app_dir: PathBuf,

    /// The publisher key to sign with (from `miniapp keygen`); without it the
    /// package is signed with this host's development key.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,

    /// Where to write the package [default: ID-VERSION.mpkg in the current directory].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Do not run the manifest's build command first.
    #[arg(long)]
    no_build: bool,
}

pub async fn pack(config: HostConfig, args: PackArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::from_dir(&args.app_dir)?;
    if !args.no_build {
        build::build(&args.app_dir, &manifest)?;
    }
    let contents = Contents::from_dir(&args.app_dir)?;
    let (key, signer) = match &args.key {
        Some(path) => (PublisherKey::read(path).map_err(anyhow::Error::msg)?, "publisher key"),
        None => {
            let host = open_host(config)?;
            (host.programs().development_key().clone(), "this host's development key")
        }
    };
    let bytes = contents.sign(&key);
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.{}", manifest.id, manifest.version, package::EXTENSION)));
    write_atomically(&out, &bytes)?;
    println!(
        "packed {} {} ({} entries, {} bytes) signed by {signer} {} → {}",
        manifest.id,
        manifest.version,
        contents.entries.len(),
        bytes.len(),
        key.fingerprint(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Arguments of `miniapp install`.
#[derive(Args)]
pub struct InstallArgs {
    /// The package file (from `miniapp pack`).
    package: PathBuf,
}

pub async fn install(config: HostConfig, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let host = open_host(config)?;
    let (installed, _) = host.install_package(&args.package).await?;
    let program = &installed.program;
    let how = match installed.binding {
        miniapp_host::programs::Binding::Pinned => "the key the host configuration pins",
        miniapp_host::programs::Binding::FirstInstall => "its first installer's key",
    };
    match &installed.previous {
        None => println!(
            "installed {} {} — {} from publisher {} (the id is now bound to {how})",
            program.id,
            program.version,
            miniapp_host::sanitize::line(&program.name),
            program.publisher
        ),
        Some(old) if old.publisher != program.publisher => println!(
            "installed {} {} from publisher {}, the key the host configuration pins, in place of publisher {}'s {} (whose data stays apart, keyed by its own identity)",
            program.id, program.version, program.publisher, old.publisher, old.version
        ),
        Some(old) => println!(
            "updated {} {} → {} (same publisher {}); consent is asked again for the new module",
            program.id, old.version, program.version, program.publisher
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `miniapp uninstall`.
#[derive(Args)]
pub struct UninstallArgs {
    /// The installed program's id.
    id: String,

    /// Delete what it stored (storage, remembered consent) too.
    #[arg(long, conflicts_with = "keep_data")]
    delete_data: bool,

    /// Keep what it stored: reinstalling a package of the same publisher finds it again.
    #[arg(long)]
    keep_data: bool,
}

pub async fn uninstall(config: HostConfig, args: UninstallArgs) -> anyhow::Result<ExitCode> {
    let host = open_host(config)?;
    let program = host.installed(&args.id).await?;
    let identity = host.identity_of(&args.id).await?;
    let held = host.held_data(&identity).await?;
    // The name is the program's own text: shown through the sanitizer.
    println!(
        "{} {} — {} from publisher {}",
        program.id,
        program.version,
        miniapp_host::sanitize::line(&program.name),
        program.publisher
    );
    if held.is_empty() {
        println!("  it keeps no data here");
    }
    for data in &held {
        let fate = if data.deletable { "deleted if you ask" } else { "kept" };
        println!("  {:<9} {} — {fate}", data.keeper, data.description);
    }
    let deletable = held.iter().any(|d| d.deletable);
    let delete = match (args.delete_data, args.keep_data) {
        (true, _) => true,
        (_, true) => false,
        _ if !deletable => false,
        _ if std::io::stdin().is_terminal() => {
            print!("Delete its data too? Kept, it is found again if the same publisher's package is installed. [y/N] ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            matches!(line.trim(), "y" | "Y" | "yes")
        }
        _ => bail!("say what happens to the data of {}: --keep-data or --delete-data", args.id),
    };
    host.programs().uninstall(&args.id).await?;
    if delete {
        host.forget_data(&identity).await?;
        println!("uninstalled {}; its storage and remembered consent were deleted", args.id);
    } else if deletable {
        println!("uninstalled {}; its data was kept (keyed by {identity})", args.id);
    } else {
        println!("uninstalled {}", args.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `miniapp list`.
#[derive(Args)]
pub struct ListArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn list(config: HostConfig, args: ListArgs) -> anyhow::Result<ExitCode> {
    let pins = config.trust.programs.clone();
    let host = open_host(config)?;
    let programs = host.programs().list().await?;
    let development = host.programs().development_fingerprint();
    if args.json {
        let installed: Vec<_> = programs
            .iter()
            .map(|p| {
                json!({
                    "id": p.id, "name": p.name, "version": p.version, "publisher": p.publisher,
                    "pinned": pins.contains_key(&p.id), "package_sha256": p.package_hash,
                    "module_sha256": p.module_hash, "installed_at_ms": p.installed_at_ms, "updated_at_ms": p.updated_at_ms,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"installed": installed, "pins": pins, "development_key": development.as_str()})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if programs.is_empty() {
        println!("no programs installed (`miniapp install PKG` installs one)");
    }
    for p in &programs {
        let binding = if pins.contains_key(&p.id) { "pinned" } else { "first install" };
        println!(
            "{:<28} {:<10} {:<24} publisher {} ({binding})",
            p.id,
            p.version,
            miniapp_host::sanitize::line_within(&p.name, 24),
            p.publisher
        );
    }
    for (id, fingerprint) in &pins {
        if !programs.iter().any(|p| &p.id == id) {
            println!("{id:<28} {:<10} {:<24} publisher {fingerprint} (pinned)", "-", "not installed");
        }
    }
    println!("development key {development} (programs run from a directory)");
    Ok(ExitCode::SUCCESS)
}
