//! Module files and the module cache: a directory's module is read and hashed
//! again only when its file changed; a changed file — the same size, rewritten
//! in place right after the host remembered it — always runs its new code, on the
//! same host and on a new one over the same cache.

use crate::common;
use miniapp_host::{Host, SessionError};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// A module whose launch answers `status`: the same size for every one digit.
fn module(status: u8) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32) (i32.const {status})))
"#
    )
}

/// Launches the app in `dir` on `host`: the status its launch answered.
async fn launch_status(host: &Host, dir: &Path) -> (i32, String) {
    let app = host.load_app(dir).await.unwrap();
    let hash = app.program().module_hash.clone();
    let mut session = app.start().await.unwrap();
    match session.launch(&common::direct()).await {
        Ok(()) => (0, hash),
        Err(SessionError::CallbackFailed { status, .. }) => (status, hash),
        Err(other) => panic!("launch: {other}"),
    }
}

#[tokio::test]
async fn a_rewritten_module_file_never_runs_its_old_code() {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    std::fs::write(
        app.path().join("miniapp.toml"),
        "id = \"com.example.files\"\nname = \"Files\"\nversion = \"0.1.0\"\npublisher = \"tests\"\nmodule = \"app.wat\"\n",
    )
    .unwrap();
    let wat = app.path().join("app.wat");
    std::fs::write(&wat, module(1)).unwrap();
    let host = common::host(&data);
    let (status, first_hash) = launch_status(&host, app.path()).await;
    assert_eq!(status, 1);

    // Once the file's times are settled in the past, the host remembers its hash
    // and a load reads nothing; the answer is the same.
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(launch_status(&host, app.path()).await, (1, first_hash.clone()));
    let remembered = std::fs::read_dir(data.path().join("cache/files")).map_or(0, Iterator::count);
    assert_eq!(remembered, 1, "the settled file is remembered");
    assert_eq!(launch_status(&host, app.path()).await, (1, first_hash.clone()));

    // Rewritten in place with the same size and its modification time put back:
    // the change time still moved, so the new code runs, here and on a new host.
    let modified = std::fs::metadata(&wat).unwrap().modified().unwrap();
    std::fs::write(&wat, module(2)).unwrap();
    std::fs::File::options().write(true).open(&wat).unwrap().set_modified(modified).unwrap();
    let (status, second_hash) = launch_status(&host, app.path()).await;
    assert_eq!(status, 2);
    assert_ne!(second_hash, first_hash);
    drop(host);
    assert_eq!(launch_status(&common::host(&data), app.path()).await, (2, second_hash.clone()));

    // Settled again, and then replaced by another file (a new inode): the same.
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(launch_status(&common::host(&data), app.path()).await, (2, second_hash.clone()));
    let replacement = app.path().join("app.wat.new");
    std::fs::write(&replacement, module(3)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&replacement)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    std::fs::rename(&replacement, &wat).unwrap();
    assert_eq!(launch_status(&common::host(&data), app.path()).await.0, 3);
}

#[tokio::test]
async fn a_rewritten_manifest_is_read_again() {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    let manifest = app.path().join("miniapp.toml");
    let text = |name: &str| {
        format!(
            "id = \"com.example.manifests\"\nname = \"{name}\"\nversion = \"0.1.0\"\npublisher = \"tests\"\n\
             module = \"app.wat\"\n"
        )
    };
    std::fs::write(&manifest, text("First")).unwrap();
    std::fs::write(app.path().join("app.wat"), module(0)).unwrap();
    let host = common::host(&data);
    let name = |app: &miniapp_host::App| app.program().name.clone();
    assert_eq!(name(&host.load_app(app.path()).await.unwrap()), "First");

    // Settled: the host remembers the manifest, and answers the same from memory.
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(name(&host.load_app(app.path()).await.unwrap()), "First");
    assert_eq!(name(&host.load_app(app.path()).await.unwrap()), "First");

    // Rewritten in place, the same size, its modification time put back: the
    // change time moved, so the new text is read.
    let modified = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    std::fs::write(&manifest, text("Other")).unwrap();
    std::fs::File::options().write(true).open(&manifest).unwrap().set_modified(modified).unwrap();
    assert_eq!(name(&host.load_app(app.path()).await.unwrap()), "Other");

    // Made invalid: refused at once, naming the file, though a good one was known.
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(name(&host.load_app(app.path()).await.unwrap()), "Other");
    std::fs::write(&manifest, "id = 7\n").unwrap();
    let error = host.load_app(app.path()).await.unwrap_err().to_string();
    assert!(error.contains("miniapp.toml"), "{error}");
}

/// A module path that leads outside the app directory through a symlink is
/// refused, naming where it leads; one whose links stay inside (an absolute link
/// back into the directory, a directory reached through a link) loads. Swapping
/// the link after a load is seen at the next load.
#[cfg(unix)]
#[tokio::test]
async fn a_module_linked_outside_the_app_directory_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("app");
    std::fs::create_dir_all(app.join("build")).unwrap();
    std::fs::write(
        app.join("miniapp.toml"),
        "id = \"com.example.links\"\nname = \"Links\"\nversion = \"0.1.0\"\npublisher = \"tests\"\nmodule = \"build/app.wat\"\n",
    )
    .unwrap();
    std::fs::write(app.join("real.wat"), module(3)).unwrap();
    std::fs::write(root.path().join("outside.wat"), module(4)).unwrap();
    let link = app.join("build/app.wat");
    std::os::unix::fs::symlink(app.join("real.wat"), &link).unwrap();
    let host = common::host(&data);
    assert_eq!(launch_status(&host, &app).await.0, 3, "an absolute link back inside loads");
    std::os::unix::fs::symlink(&app, root.path().join("alias")).unwrap();
    assert_eq!(launch_status(&host, &root.path().join("alias")).await.0, 3, "a directory reached through a link");

    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../../outside.wat", &link).unwrap();
    let Err(refused) = host.load_app(&app).await else { panic!("a module outside the directory is refused") };
    let refused = refused.to_string();
    let outside = root.path().canonicalize().unwrap().join("outside.wat");
    assert!(refused.contains("outside the app directory"), "{refused}");
    assert!(refused.contains(&outside.display().to_string()), "{refused}");
    assert!(!refused.contains('\n'), "one line: {refused}");
}
