//! Builds every Rust guest the integration tests run, once per test build (not once
//! per test): the sample programs and the test guests in `guests/`. Each is a
//! wasm32-wasip1 project of its own, built where its miniapp.toml expects it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest projects, relative to this crate.
const GUESTS: &[&str] = &["../sample-programs/hello", "guests/probe"];

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for shared in ["../guest-sdk/src", "../guest-sdk/Cargo.toml", "../abi/src", "../abi/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", here.join(shared).display());
    }
    ensure_wasm_target();
    for guest in GUESTS {
        let dir = here.join(guest);
        for input in ["src", "Cargo.toml", "Cargo.lock", "miniapp.toml"] {
            println!("cargo:rerun-if-changed={}", dir.join(input).display());
        }
        build(&dir);
    }
}

fn ensure_wasm_target() {
    match Command::new("rustup").args(["target", "add", "wasm32-wasip1"]).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("`rustup target add wasm32-wasip1` failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(error) => panic!("the tests build guests for wasm32-wasip1 and need rustup to add that target: {error}"),
    }
}

fn build(dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip1"])
        .current_dir(dir)
        // Settings meant for this build script's own compilation must not leak
        // into the guest's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_LLVM_COV_TARGET_DIR")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for {}: {e}", dir.display()));
    assert!(status.success(), "building the guest in {} failed", dir.display());
}
