//! Building a program before it runs, at the terminal: the manifest's build
//! command with its output on stderr (`miniapp_server::build` runs it).

use miniapp_host::Manifest;
use miniapp_server::build::Output;
use std::path::Path;

/// Runs the manifest's build command, if it has one.
pub fn build(app_dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    Ok(miniapp_server::build::build(app_dir, manifest, Output::Inherit)?)
}
