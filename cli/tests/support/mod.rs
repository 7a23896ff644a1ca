//! What the tests of the real `miniapp` binary share: where the repository is,
//! how to run the binary on a data directory, and reading its output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (samples and test guests are found from here).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `miniapp ARGS --data-dir DATA` from the repository root, with backtraces
/// on (so a panic would show) and colour off.
pub fn miniapp(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_miniapp"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .current_dir(repo())
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .output()
        .expect("the miniapp binary runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
