//! Building a program before it runs: the manifest's `build` command, run in the
//! app directory, after making sure the Rust wasm target it needs is installed.

use anyhow::{Context, bail};
use miniapp_host::Manifest;
use std::path::Path;
use std::process::{Command, Stdio};

const WASM_TARGET: &str = "wasm32-wasip1";

/// Runs the manifest's build command, if it has one. The build tool decides what
/// is stale (cargo does nothing when nothing changed).
pub fn build(app_dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let Some(command) = &manifest.build else {
        return Ok(());
    };
    let (program, args) = command.split_first().context("the manifest's build command is empty")?;
    if program == "cargo" && args.iter().any(|arg| arg.contains(WASM_TARGET)) {
        ensure_wasm_target(app_dir)?;
    }
    eprintln!("building {} in {}: {}", manifest.id, app_dir.display(), command.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(app_dir)
        // The module path in miniapp.toml is relative to the app; a target directory
        // set for some other project must not move the build elsewhere.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot run the build command `{}`", command.join(" ")))?;
    if !status.success() {
        bail!("the build command `{}` failed ({status}) in {}", command.join(" "), app_dir.display());
    }
    Ok(())
}

/// Installs the wasm32-wasip1 target with rustup when it is missing, as wasm-pack does.
fn ensure_wasm_target(app_dir: &Path) -> anyhow::Result<()> {
    let listed = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(app_dir).output();
    let output = match listed {
        Ok(output) if output.status.success() => output,
        Ok(output) => bail!(
            "cannot list installed Rust targets (rustup said: {}); install the {WASM_TARGET} target yourself",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "building this program needs the {WASM_TARGET} Rust target, and rustup is not installed to add it: \
             install rustup from https://rustup.rs, or add the target to your Rust toolchain by hand"
        ),
        Err(error) => bail!("cannot run rustup: {error}"),
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
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status})");
    }
    Ok(())
}
