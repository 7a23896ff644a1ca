//! Builds the guests the harness runs, for wasm32-wasip1: the miniapp guest (the
//! floor runs the same module), the Extism guest, the pay-demo sample and the
//! tests' probe (the throughput figures), the Rust storefront and the
//! JavaScript runtime (the storefront figures).

use std::path::{Path, PathBuf};
use std::process::Command;

const GUESTS: &[&str] = &[
    "guests/tap-render",
    "guests/tap-render-extism",
    "../sample-programs/pay-demo",
    "../sample-programs/taobao-deals",
    "../tests/guests/probe",
    // The JavaScript runtime (its .cargo/config.toml sets the C toolchain's flags).
    "../runtimes/js",
];

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for shared in ["../guest-sdk", "../abi", "guests/tap-logic"] {
        println!("cargo:rerun-if-changed={}", here.join(shared).display());
    }
    for guest in GUESTS {
        let dir = here.join(guest);
        for input in ["src", "Cargo.toml", "miniapp.toml"] {
            println!("cargo:rerun-if-changed={}", dir.join(input).display());
        }
        build(&dir);
    }
}

fn build(dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        // Each guest's own target directory, whatever .cargo/config.toml above it says.
        .args(["build", "--release", "--target", "wasm32-wasip1", "--target-dir", "target"])
        .current_dir(dir)
        // This build script's own settings must not leak into the guest's build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for {}: {e}", dir.display()));
    assert!(
        status.success(),
        "building the guest in {} failed (is the wasm32-wasip1 target installed?)",
        dir.display()
    );
}
