//! Publisher keys, signed packages and installed programs through the real binary:
//! `keygen`, `pack`, `inspect`, `install`, `list`, `run ID`, `uninstall`, with the
//! hello sample (which counts its launches in storage, so kept data shows).

mod support;

use std::path::Path;
use std::process::Output;
use support::{miniapp, text};

fn ok(output: Output) -> String {
    assert!(output.status.success(), "stdout: {}\nstderr: {}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn failure(output: Output, needles: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "expected failure; stdout: {}", text(&output.stdout));
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.matches("error: ").count(), 1, "one error line: {stderr}");
    for needle in needles {
        assert!(last.contains(needle), "expected {needle:?} in {last}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    last
}

fn fingerprint(keygen_stdout: &str) -> String {
    let line = keygen_stdout.lines().find(|l| l.starts_with("fingerprint")).expect("a fingerprint line");
    line.split_whitespace().last().unwrap().to_string()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_signed_package_installs_runs_by_id_and_cannot_be_impersonated() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let key = files.path().join("publisher.key");
    let mine = fingerprint(&ok(miniapp(data.path(), &["keygen", "--out", path(&key)])));
    assert!(files.path().join("publisher.key.pub").exists());
    failure(miniapp(data.path(), &["keygen", "--out", path(&key)]), &["already exists"]);

    let package = files.path().join("hello.mpkg");
    let packed =
        ok(miniapp(data.path(), &["pack", "sample-programs/hello", "--key", path(&key), "--out", path(&package)]));
    assert!(packed.contains(&mine), "{packed}");

    let inspected = ok(miniapp(data.path(), &["inspect", path(&package)]));
    assert!(
        inspected.contains(&format!("publisher key {mine}")) && inspected.contains("signature verified"),
        "{inspected}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(miniapp(data.path(), &["inspect", path(&package), "--json"]))).unwrap();
    assert_eq!(json["publisher_key"]["fingerprint"], mine.as_str());

    let installed = ok(miniapp(data.path(), &["install", path(&package)]));
    assert!(installed.contains("installed com.example.hello") && installed.contains(&mine), "{installed}");
    let listed = ok(miniapp(data.path(), &["list"]));
    assert!(listed.contains("com.example.hello") && listed.contains(&mine), "{listed}");

    assert!(ok(miniapp(data.path(), &["run", "com.example.hello"])).contains("launched the first time"));
    assert!(ok(miniapp(data.path(), &["run", "com.example.hello"])).contains("launched 2 times"));

    // The sample's own directory runs under the development key: refused, saying why.
    failure(
        miniapp(data.path(), &["run", "sample-programs/hello", "--no-build"]),
        &["development key", &mine, "uninstall"],
    );

    // One changed byte in the module.
    let mut bytes = std::fs::read(&package).unwrap();
    let at = bytes.len() - 200;
    bytes[at] ^= 0x01;
    let tampered = files.path().join("tampered.mpkg");
    std::fs::write(&tampered, &bytes).unwrap();
    failure(miniapp(data.path(), &["install", path(&tampered)]), &["module", "changed after signing"]);

    // Another publisher's package of the same id.
    let other_key = files.path().join("other.key");
    let theirs = fingerprint(&ok(miniapp(data.path(), &["keygen", "--out", path(&other_key)])));
    let other = files.path().join("other.mpkg");
    ok(miniapp(
        data.path(),
        &["pack", "sample-programs/hello", "--key", path(&other_key), "--out", path(&other), "--no-build"],
    ));
    failure(miniapp(data.path(), &["install", path(&other)]), &[&mine, &theirs]);
    failure(miniapp(data.path(), &["run", path(&other)]), &[&mine, &theirs]);

    // Uninstalling says what happens to the data, and asks.
    failure(miniapp(data.path(), &["uninstall", "com.example.hello"]), &["--keep-data or --delete-data"]);
    let kept = ok(miniapp(data.path(), &["uninstall", "com.example.hello", "--keep-data"]));
    assert!(kept.contains("storage") && kept.contains("data was kept"), "{kept}");
    assert!(ok(miniapp(data.path(), &["list"])).contains("no programs installed"));
    failure(miniapp(data.path(), &["run", "com.example.hello"]), &["no program `com.example.hello` is installed"]);
    ok(miniapp(data.path(), &["install", path(&package)]));
    assert!(
        ok(miniapp(data.path(), &["run", "com.example.hello"])).contains("launched 3 times"),
        "kept data is found again"
    );
    let deleted = ok(miniapp(data.path(), &["uninstall", "com.example.hello", "--delete-data"]));
    assert!(deleted.contains("deleted"), "{deleted}");
    ok(miniapp(data.path(), &["install", path(&package)]));
    assert!(ok(miniapp(data.path(), &["run", "com.example.hello"])).contains("launched the first time"));
}

#[test]
fn a_directory_is_one_command_and_its_development_key_is_per_data_directory() {
    let data = tempfile::tempdir().unwrap();
    assert!(ok(miniapp(data.path(), &["run", "sample-programs/hello"])).contains("launched the first time"));
    assert!(ok(miniapp(data.path(), &["run", "sample-programs/hello", "--no-build"])).contains("launched 2 times"));
    let development = |dir: &Path| {
        let listed = ok(miniapp(dir, &["list", "--json"]));
        serde_json::from_str::<serde_json::Value>(&listed).unwrap()["development_key"].as_str().unwrap().to_string()
    };
    let elsewhere = tempfile::tempdir().unwrap();
    assert_ne!(development(data.path()), development(elsewhere.path()));
    assert_eq!(development(data.path()), development(data.path()));
    // Packed without a key: signed with that development key, so it is the same
    // program as the directory and finds its data.
    let package = elsewhere.path().join("dev.mpkg");
    let packed = ok(miniapp(data.path(), &["pack", "sample-programs/hello", "--no-build", "--out", path(&package)]));
    assert!(packed.contains("development key"), "{packed}");
    assert!(ok(miniapp(data.path(), &["run", path(&package)])).contains("launched 3 times"));
    failure(miniapp(data.path(), &["run", "no.such.program"]), &["no program `no.such.program` is installed"]);
    failure(
        miniapp(data.path(), &["run", "Not A Program!"]),
        &["is not an app directory, a package file or an installed program's id"],
    );
}
