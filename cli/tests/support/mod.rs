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

/// A minimal guest in WAT speaking ABI 1.0: `imports`, one page of memory with
/// `data`, a bump allocator, and `miniapp_on_launch` running `launch` (which
/// leaves its status on the stack).
#[allow(dead_code)] // Not every test binary sharing this module writes guests.
pub fn wat_guest(imports: &str, data: &str, launch: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  {data}
  (func (export "miniapp_abi_v1_0"))
  (global $heap (mut i32) (i32.const 4096))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $ptr))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    {launch}))"#
    )
}

/// Whether Debian's C toolchain for wasm32-wasi is here (clang and wasi-libc: C
/// guests and the JavaScript runtime need it). Without it a test says it was
/// skipped, except under `CI`, where it must be there.
#[allow(dead_code)] // Not every test binary sharing this module builds C.
pub fn c_toolchain() -> bool {
    let clang = Command::new("clang").arg("--version").output().is_ok_and(|o| o.status.success());
    let present = clang && Path::new("/usr/include/wasm32-wasi").is_dir();
    assert!(
        present || std::env::var_os("CI").is_none(),
        "CI needs clang, lld, wasi-libc and libclang-rt-14-dev-wasm32"
    );
    if !present {
        eprintln!(
            "skipped: install clang, lld, wasi-libc and libclang-rt-14-dev-wasm32 (C guests, the JavaScript runtime)"
        );
    }
    present
}
