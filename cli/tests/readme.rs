//! The README's "Writing a mini-program in Rust" works as written: its three files
//! are taken from the README, the SDK path pointed at this repository, and the
//! program built and run by the real `miniapp` binary.

mod support;

use support::{miniapp, repo, text};

/// The fenced block that follows the first line of `readme` containing `label`.
fn block_after<'a>(readme: &'a str, label: &str) -> &'a str {
    let start = readme.find(label).unwrap_or_else(|| panic!("README has no {label}"));
    let rest = &readme[start..];
    let open = rest.find("```").expect("a fenced block follows");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("a fence line") + 1..];
    &body[..body.find("```").expect("the block ends")]
}

#[test]
fn the_readmes_rust_program_builds_and_runs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = &readme[readme.find("## Writing a mini-program in Rust").expect("the section")..];
    let app = tempfile::tempdir().unwrap();
    let sdk = repo().join("guest-sdk").canonicalize().unwrap();
    let cargo = block_after(section, "`Cargo.toml`:");
    assert!(cargo.contains("/path/to/miniapp/guest-sdk"), "{cargo}");
    let cargo = cargo.replace("/path/to/miniapp/guest-sdk", &sdk.display().to_string());
    std::fs::write(app.path().join("Cargo.toml"), cargo).unwrap();
    std::fs::write(app.path().join("miniapp.toml"), block_after(section, "`miniapp.toml` — who the program is"))
        .unwrap();
    std::fs::create_dir(app.path().join("src")).unwrap();
    std::fs::write(app.path().join("src/lib.rs"), block_after(section, "`src/lib.rs`:")).unwrap();

    let data = tempfile::tempdir().unwrap();
    let dir = app.path().display().to_string();
    let first = miniapp(data.path(), &["run", &dir, "--event", r#"{"type":"tap","action":"hello"}"#]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("[com.example.my-app] visit 1, opened from direct"), "{stdout}");
    assert!(stdout.contains("[com.example.my-app] tapped hello"), "{stdout}");
    let second = miniapp(data.path(), &["run", &dir, "--no-build"]);
    assert!(text(&second.stdout).contains("visit 2"), "{}", text(&second.stdout));
}
