//! `miniapp inspect`: what a program is, what its module imports by capability,
//! and what declared and imported capabilities disagree on.

use super::programs::Target;
use super::{build, open_host};
use clap::Args;
use miniapp_host::{HostConfig, Manifest};
use serde_json::json;
use std::process::ExitCode;

/// Arguments of `miniapp inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The program: an app directory (holding miniapp.toml), a package file, or an
    /// installed id.
    program: String,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Do not run the manifest's build command first.
    #[arg(long)]
    no_build: bool,
}

pub async fn inspect(config: HostConfig, args: InspectArgs) -> anyhow::Result<ExitCode> {
    match report(config, &args).await {
        // A script reading `--json` gets JSON whatever went wrong: the problem that
        // stopped the inspection, with its stable code.
        Err(error) if args.json => {
            let code = error.downcast_ref::<miniapp_host::LoadError>().map_or("inspect_failed", |e| e.code());
            let message: Vec<String> = format!("{error:#}").lines().map(|l| l.trim().to_string()).collect();
            let problems = json!([{"code": code, "message": message.join(" ")}]);
            println!("{}", serde_json::to_string_pretty(&json!({"problems": problems}))?);
            Ok(ExitCode::FAILURE)
        }
        result => result,
    }
}

async fn report(config: HostConfig, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let host = open_host(config)?;
    // Who the program is: the signer of a package, or this host's development key.
    let (analysed, package) = match Target::parse(&args.program)? {
        Target::Directory(dir) => {
            if !args.no_build {
                build::build(&dir, &Manifest::from_dir(&dir)?)?;
            }
            (host.analyze_app(&dir).await?, None)
        }
        Target::Package(path) => {
            let package = miniapp_host::package::read_file(&path).map_err(miniapp_host::LoadError::from)?;
            (host.analyze_package(&package).await?, Some(package))
        }
        Target::Installed(id) => {
            let installed = host.installed(&id).await?;
            let package = host.programs().read_installed(&installed)?;
            (host.analyze_package(&package).await?, Some(package))
        }
    };
    let (manifest, size, hash, analysis) = analysed;
    let fingerprint = match &package {
        Some(package) => package.fingerprint(),
        None => host.programs().development_fingerprint(),
    };
    let signed_by = match &package {
        Some(_) if fingerprint == host.programs().development_fingerprint() => "this host's development key",
        Some(_) => "publisher key",
        None => "this host's development key (an app directory)",
    };
    let entries: Vec<serde_json::Value> = package
        .iter()
        .flat_map(|p| p.contents.entries.iter())
        .map(|e| json!({"name": e.name, "role": format!("{:?}", e.role).to_lowercase(), "size": e.bytes.len()}))
        .collect();
    let declared: Vec<&str> = manifest.capabilities.keys().map(String::as_str).collect();
    let imported: Vec<&str> = analysis.imported_capabilities.iter().map(String::as_str).collect();
    // A script runtime imports every capability; what a script program uses is
    // its declarations, checked per call.
    let declared_unused: Vec<&str> = match manifest.script() {
        Some(_) => Vec::new(),
        None => declared.iter().copied().filter(|c| !imported.contains(c)).collect(),
    };
    let clean = analysis.problems.is_empty();

    if args.json {
        let report = json!({
            "id": manifest.id,
            "name": manifest.name,
            "version": manifest.version,
            "publisher": manifest.publisher,
            "publisher_key": { "fingerprint": fingerprint.as_str(), "signed_by": signed_by },
            "package": package.as_ref().map(|p| json!({"sha256": p.package_hash, "entries": entries})),
            "module": { "path": manifest.module(), "size": size, "sha256": hash },
            "script": manifest.script().map(|s| json!({"runtime": s.runtime, "main": s.main, "pages": s.pages, "sources": s.sources})),
            "abi_version": analysis.abi_version,
            "capabilities": {
                "declared": declared,
                "imported": imported,
                "declared_but_not_imported": declared_unused,
            },
            "imports": analysis.imports,
            "problems": analysis.problems.iter().map(|p| json!({"code": p.code(), "message": p.to_string()})).collect::<Vec<_>>(),
            "manifest_limits": {
                "memory_bytes": manifest.limits.memory_bytes,
                "table_elements": manifest.limits.table_elements,
                "launch_time_ms": manifest.limits.launch_time_ms,
                "callback_time_ms": manifest.limits.callback_time_ms,
                "fuel_per_callback": manifest.limits.fuel_per_callback,
                "host_calls_per_callback": manifest.limits.host_calls_per_callback,
                "message_bytes": manifest.limits.message_bytes,
                "output_bytes": manifest.limits.output_bytes,
                "module_bytes": manifest.limits.module_bytes,
                "module_functions": manifest.limits.module_functions,
                "module_imports": manifest.limits.module_imports,
            },
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        // Name and publisher are the program's own text: shown through the sanitizer.
        println!(
            "{} {} — {} ({})",
            manifest.id,
            manifest.version,
            miniapp_host::sanitize::line(&manifest.name),
            miniapp_host::sanitize::line(&manifest.publisher)
        );
        println!("publisher key {fingerprint} ({signed_by})");
        if let Some(package) = &package {
            println!("package       sha256 {}, signature verified, {} entries", package.package_hash, entries.len());
            for entry in &package.contents.entries {
                println!(
                    "  {:<12}{} ({} bytes)",
                    format!("{:?}", entry.role).to_lowercase(),
                    miniapp_host::sanitize::line(&entry.name),
                    entry.bytes.len()
                );
            }
        }
        match manifest.script() {
            Some(script) => println!(
                "script        {} runtime ({size} bytes), main {}, pages {} (code sha256 {hash})",
                script.runtime,
                script.main.display(),
                script.pages.join(", ")
            ),
            None => println!(
                "module        {} ({size} bytes, sha256 {hash})",
                manifest.module().unwrap_or(std::path::Path::new("")).display()
            ),
        }
        println!("ABI version   {}", analysis.abi_version.as_deref().unwrap_or("none"));
        println!("declared      {}", list(&declared));
        println!("imported      {}", list(&imported));
        if !declared_unused.is_empty() {
            println!("unused        {} (declared but never imported)", list(&declared_unused));
        }
        println!("imports");
        for (group, names) in &analysis.imports {
            println!("  {group:<12}{}", names.join(", "));
        }
        if clean {
            println!("problems      none");
        } else {
            println!("problems");
            for problem in &analysis.problems {
                println!("  [{}] {problem}", problem.code());
            }
        }
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn list(items: &[&str]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}
