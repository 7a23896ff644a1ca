//! Program identity from every side, with the real probe guest: a program is its id
//! *and* the key that signed it. Same id under another key is refused or kept
//! apart; a publisher's name proves nothing; a package changed after signing is
//! refused naming the part; updates by the bound key keep data; pins beat first
//! use; directories run under a per-data-directory development key; merchants
//! are bound to publishers.

use crate::common::{self, launched, probe_op};
use miniapp_host::consent::{Answer, Prompt};
use miniapp_host::manifest::MANIFEST_FILE;
use miniapp_host::package::{self, Contents, Entry, PublisherKey, Role};
use miniapp_host::{App, Host, LoadError, Manifest};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const ID: &str = "com.taobao.deals";

fn key(seed: u8) -> PublisherKey {
    PublisherKey::from_seed([seed; 32])
}

/// A merchant this host does not know: declaring it loads anywhere (a payment to
/// it is refused at the request), so tests that are not about merchants can pay no one.
const NO_MERCHANT: &str = "[capabilities.payment]\nmerchants = [\"0000000000\"]\n";

/// The probe's manifest text for `id`, published under the name `publisher`;
/// `payment` declares the payment capability.
fn manifest_text(id: &str, publisher: &str, version: &str, payment: &str) -> String {
    let payment = if payment.is_empty() { NO_MERCHANT } else { payment };
    format!(
        "id = \"{id}\"\nname = \"Probe\"\nversion = \"{version}\"\npublisher = \"{publisher}\"\nmodule = \"probe.wasm\"\n\
         [capabilities.storage]\n{}\n{}\n{payment}\n",
        common::PROBE_LINKS,
        common::PROBE_IDENTITY,
    )
}

/// The probe packed and signed by `signer`; `module` replaces the probe's bytes.
fn package_bytes(signer: &PublisherKey, text: &str, module: Vec<u8>) -> Vec<u8> {
    let manifest = Manifest::parse(text, Path::new(MANIFEST_FILE)).expect("test manifest is valid");
    let entries = vec![
        Entry { name: MANIFEST_FILE.into(), role: Role::Manifest, bytes: text.as_bytes().to_vec() },
        Entry { name: "probe.wasm".into(), role: Role::Module, bytes: module },
    ];
    Contents { manifest, entries }.sign(signer)
}

fn probe_package(signer: &PublisherKey, id: &str, publisher: &str) -> Vec<u8> {
    package_bytes(signer, &manifest_text(id, publisher, "1.0.0", ""), common::probe_module())
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn load(host: &Host, bytes: &[u8]) -> Result<App, LoadError> {
    host.load_package(&package::verify(bytes, "test.mpkg")?).await
}

async fn op(app: &App, name: &str, data: Value) -> Value {
    let (mut session, _) = launched(app, vec![]).await;
    probe_op(&mut session, name, data).await
}

fn refusal(result: Result<App, LoadError>) -> LoadError {
    match result {
        Ok(app) => panic!("{} loaded", app.program().key()),
        Err(error) => error,
    }
}

#[tokio::test]
async fn another_key_under_an_installed_id_is_refused_and_never_reads_its_storage() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (taobao, spoofer) = (key(1), key(2));
    let genuine = write(&files, "genuine.mpkg", &probe_package(&taobao, ID, "Taobao"));
    let (installed, app) = host.install_package(&genuine).await.unwrap();
    assert_eq!(installed.program.publisher, taobao.fingerprint().as_str());
    op(&app, "set", json!({"key": "cart", "value": "order 4200000001"})).await;

    // A package of the same id and publisher name, signed by another key.
    let forged = write(&files, "forged.mpkg", &probe_package(&spoofer, ID, "Taobao"));
    let error = host.install_package(&forged).await.unwrap_err();
    assert_eq!(error.code(), "publisher_mismatch");
    let message = error.to_string();
    assert!(
        message.contains(taobao.fingerprint().as_str()) && message.contains(spoofer.fingerprint().as_str()),
        "{message}"
    );
    assert_eq!(refusal(host.load_package_file(&forged).await).code(), "publisher_mismatch");

    // A hand-written directory (the development key) claiming the id.
    let manifest = Manifest::parse(&manifest_text(ID, "Taobao", "1.0.0", ""), Path::new(MANIFEST_FILE)).unwrap();
    let error = refusal(host.load_app_from_parts(manifest, common::probe_module()).await);
    assert_eq!(error.code(), "publisher_mismatch");
    assert!(
        error.to_string().contains("development key")
            && error.to_string().contains("can never use that program's data"),
        "{error}"
    );

    // Each refusal is in the audit log, under the identity that was refused.
    let decisions = host.audit().recent(Some(ID), 50).await.unwrap();
    let refused: Vec<_> = decisions.iter().filter(|d| d.capability == "publisher_key").collect();
    assert_eq!(refused.len(), 3, "{decisions:?}");
    assert!(refused.iter().all(|d| !d.program_id.ends_with(taobao.fingerprint().as_str())));

    // The installed program still has its cart.
    let app = host.load_installed(ID).await.unwrap();
    assert_eq!(op(&app, "get", json!({"key": "cart"})).await["ok"], "order 4200000001");
}

#[tokio::test]
async fn records_are_keyed_by_identity_even_where_nothing_binds_the_id() {
    // Nothing installed, nothing pinned: both packages may run, but as two programs.
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let first = load(&host, &probe_package(&key(1), ID, "Taobao")).await.unwrap();
    let second = load(&host, &probe_package(&key(2), ID, "Taobao")).await.unwrap();
    assert_ne!(first.program().key(), second.program().key());
    op(&first, "set", json!({"key": "cart", "value": "secret"})).await;
    assert_eq!(op(&second, "get", json!({"key": "cart"})).await["ok"], Value::Null);
    assert_eq!(op(&second, "keys", json!({})).await["ok"], json!([]));
    assert_ne!(op(&first, "user_id", json!({})).await["ok"], op(&second, "user_id", json!({})).await["ok"]);
}

#[tokio::test]
async fn a_publisher_name_proves_nothing_the_key_decides_the_union_id() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let union = |bytes: Vec<u8>| {
        let host = host.clone();
        async move { op(&load(&host, &bytes).await.unwrap(), "union_id", json!({})).await["ok"].clone() }
    };
    let taobao_a = union(probe_package(&key(1), "com.taobao.a", "Taobao")).await;
    let taobao_b = union(probe_package(&key(1), "com.taobao.b", "Taobao")).await;
    let impostor = union(probe_package(&key(2), "com.impostor", "Taobao")).await;
    let renamed = union(probe_package(&key(1), "com.taobao.c", "Someone Else")).await;
    assert!(taobao_a.is_string());
    assert_eq!(taobao_a, taobao_b, "one key, one union id");
    assert_eq!(taobao_a, renamed, "the display name does not matter");
    assert_ne!(taobao_a, impostor, "the same name under another key is another publisher");
}

#[tokio::test]
async fn a_package_changed_after_signing_is_refused_naming_the_part() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let bytes = probe_package(&key(1), ID, "Taobao");
    let index_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let signature_at = 20 + index_len + 4;
    let manifest_at = signature_at + 64;
    let module_at = bytes.len() - common::probe_module().len();
    for (at, part) in
        [(manifest_at + 3, "manifest"), (module_at + 100, "module"), (signature_at + 10, "signature"), (30, "index")]
    {
        let mut changed = bytes.clone();
        changed[at] ^= 0x20;
        let path = write(&files, "changed.mpkg", &changed);
        let error = host.install_package(&path).await.unwrap_err();
        let LoadError::Package(package_error) = &error else { panic!("byte {at}: {error}") };
        assert_eq!(package_error.part(), part, "byte {at}: {error}");
        assert!(error.to_string().contains(part), "{error}");
    }
    assert!(host.programs().list().await.unwrap().is_empty(), "nothing was installed");
}

#[tokio::test]
async fn an_update_by_the_bound_key_keeps_data_and_asks_consent_again() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let publisher = key(1);
    let v1 = write(&files, "v1.mpkg", &probe_package(&publisher, ID, "Taobao"));
    let (_, app) = host.install_package(&v1).await.unwrap();
    let (mut session, user) = launched(&app, vec![Answer::Yes]).await;
    probe_op(&mut session, "set", json!({"key": "cart", "value": 3})).await;
    assert!(probe_op(&mut session, "profile", json!({})).await["ok"].is_object());
    assert!(user.remaining().is_empty(), "the first use asked");
    let (mut session, user) = launched(&app, vec![]).await;
    assert!(probe_op(&mut session, "profile", json!({})).await["ok"].is_object(), "remembered");
    drop((session, user));

    // Version 2: another module (a custom section), the same key.
    let mut module = common::probe_module();
    module.extend_from_slice(&[0, 8, 7]);
    module.extend_from_slice(b"version");
    let v2 = write(&files, "v2.mpkg", &package_bytes(&publisher, &manifest_text(ID, "Taobao", "2.0.0", ""), module));
    let (installed, app) = host.install_package(&v2).await.unwrap();
    assert_eq!(installed.previous.unwrap().version, "1.0.0");
    assert_eq!(installed.program.version, "2.0.0");
    let (mut session, user) = launched(&app, vec![Answer::Yes]).await;
    assert_eq!(probe_op(&mut session, "get", json!({"key": "cart"})).await["ok"], 3, "data kept");
    assert!(probe_op(&mut session, "profile", json!({})).await["ok"].is_object());
    assert!(user.remaining().is_empty(), "the new module was asked again");
    let asked: Vec<_> = user.prompts().into_iter().filter(|p| matches!(p, Prompt::Consent { .. })).collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(host.load_installed(ID).await.unwrap().program().version, "2.0.0");
}

#[tokio::test]
async fn a_pin_in_the_configuration_beats_first_use() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (pinned, other) = (key(1), key(2));
    let pin = pinned.fingerprint().to_string();
    let host = common::host_with(&data, |config| {
        config.trust.programs.insert(ID.into(), pin.clone());
    });
    // The first install, by a key the pin does not name: refused.
    let first = write(&files, "other.mpkg", &probe_package(&other, ID, "Taobao"));
    let error = host.install_package(&first).await.unwrap_err();
    assert!(
        error.to_string().contains("pins it") && error.to_string().contains(other.fingerprint().as_str()),
        "{error}"
    );
    let right = write(&files, "pinned.mpkg", &probe_package(&pinned, ID, "Taobao"));
    host.install_package(&right).await.unwrap();

    // A pin added after another key installed first wins too, and the first
    // publisher's data stays out of the pinned program's reach.
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (_, app) = host.install_package(&first).await.unwrap();
    op(&app, "set", json!({"key": "cart", "value": "theirs"})).await;
    drop(host);
    let host = common::host_with(&data, |config| {
        config.trust.programs.insert(ID.into(), pin.clone());
    });
    assert_eq!(refusal(host.load_installed(ID).await).code(), "publisher_mismatch");
    let (installed, app) = host.install_package(&right).await.unwrap();
    assert_eq!(installed.previous.unwrap().publisher, other.fingerprint().as_str());
    assert_eq!(op(&app, "get", json!({"key": "cart"})).await["ok"], Value::Null);
}

#[tokio::test]
async fn a_bad_pin_is_refused_when_the_host_starts() {
    let data = tempfile::tempdir().unwrap();
    let mut config = miniapp_host::HostConfig::with_data_dir(data.path());
    config.trust.programs.insert(ID.into(), "not-a-fingerprint".into());
    let error = Host::new(config).err().expect("refused");
    assert_eq!(error.code(), "config_invalid");
    assert!(error.to_string().contains("[trust.programs]"), "{error}");
}

#[tokio::test]
async fn directories_run_under_the_data_directorys_own_development_key() {
    let app_dir = common::repo().join("sample-programs/hello");
    let data = tempfile::tempdir().unwrap();
    let first = common::host(&data).load_app(&app_dir).await.unwrap();
    let again = common::host(&data).load_app(&app_dir).await.unwrap();
    assert!(first.program().identity.is_development());
    assert_eq!(first.program().key(), again.program().key(), "the same data directory, the same key");
    let elsewhere = tempfile::tempdir().unwrap();
    let other = common::host(&elsewhere).load_app(&app_dir).await.unwrap();
    assert_ne!(first.program().key(), other.program().key(), "another data directory has another key");
    assert_eq!(first.program().id, other.program().id);
}

#[tokio::test]
async fn a_program_may_charge_only_its_publishers_merchants() {
    let data = tempfile::tempdir().unwrap();
    let (shop, stranger) = (key(1), key(2));
    let bound = shop.fingerprint().to_string();
    let host = common::host_with(&data, |config| {
        config
            .update_section("payment", |settings: &mut miniapp_host::capabilities::payment::PaymentSettings| {
                let merchant = settings.merchants.get_mut("1900000109").unwrap();
                merchant.publishers = vec![bound.clone()];
            })
            .unwrap();
    });
    let declaring = |signer: &PublisherKey| {
        package_bytes(signer, &manifest_text(ID, "Taobao", "1.0.0", common::PROBE_PAYMENT), common::probe_module())
    };
    let error = refusal(load(&host, &declaring(&stranger)).await);
    assert_eq!(error.code(), "manifest_invalid");
    assert!(
        error.to_string().contains("merchant `1900000109`")
            && error.to_string().contains("capabilities.payment.merchants"),
        "{error}"
    );
    load(&host, &declaring(&shop)).await.expect("its own publisher's merchant");
    // A directory runs under the development key, which this merchant is not bound to.
    let manifest = Manifest::parse(
        &manifest_text("test.local", "Taobao", "1.0.0", common::PROBE_PAYMENT),
        Path::new(MANIFEST_FILE),
    )
    .unwrap();
    let error = refusal(host.load_app_from_parts(manifest, common::probe_module()).await);
    assert!(error.to_string().contains("development key"), "{error}");
}

#[tokio::test]
async fn records_from_before_identities_carry_over_to_the_development_key() {
    use miniapp_host::store::{Database, Transaction, params};
    // A data directory as the previous version left it: storage at its first
    // schema version, a row keyed by the bare program id.
    let data = tempfile::tempdir().unwrap();
    let database = Database::open_in(data.path()).unwrap();
    database
        .migrate(
            "storage",
            &["CREATE TABLE storage_entries (program_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
               size INTEGER NOT NULL, PRIMARY KEY (program_id, key)) WITHOUT ROWID;"],
        )
        .unwrap();
    database
        .run(|t: &mut dyn Transaction| {
            t.execute(
                "INSERT INTO storage_entries (program_id, key, value, size) VALUES ($1, $2, $3, $4)",
                params!["test.old", "cart", "\"kept\"", 6],
            )
        })
        .await
        .unwrap();
    drop(database);

    let host = common::host(&data);
    let app = common::probe(&host, "test.old", "").await;
    assert!(app.program().identity.is_development());
    assert_eq!(op(&app, "get", json!({"key": "cart"})).await["ok"], "kept", "the directory finds its data");
    // Another key's program of that id does not.
    let other = load(&host, &probe_package(&key(5), "test.old", "Old")).await.unwrap();
    assert_eq!(op(&other, "get", json!({"key": "cart"})).await["ok"], Value::Null);
}
