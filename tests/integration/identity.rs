//! Identity and consent through a real guest: per-program ids, consent-gated
//! scopes remembered per module, revocation, and the once-per-launch re-ask rule.

use crate::common::{self, launched, probe_op};
use common::Backend;
use miniapp_host::consent::{Answer, Prompt};
use miniapp_host::{Host, Manifest, Session};
use serde_json::{Value, json};
use std::path::Path;

common::on_each_backend!(
    user_ids_differ_per_program_and_last_across_runs,
    union_id_needs_its_declaration,
    a_denied_scope_returns_no_data_and_is_not_asked_again,
    a_grant_is_remembered_for_its_module_and_a_new_module_asks_again,
    a_revoked_grant_stops_working_at_once,
    authorize_asks_again_at_most_once_per_launch,
    the_user_picks_one_address_and_the_program_gets_only_that,
    undeclared_scopes_are_denied_and_unknown_ones_refused_at_load
);

async fn op(session: &mut Session, name: &str) -> Value {
    probe_op(session, name, json!({})).await
}

fn probe_manifest(id: &str, publisher: &str) -> Manifest {
    let text = format!(
        "id = \"{id}\"\nname = \"Probe\"\nversion = \"1.0.0\"\npublisher = \"{publisher}\"\nmodule = \"m.wasm\"\n\
         [capabilities.storage]\n{}\n{}\n{}",
        common::PROBE_LINKS,
        common::PROBE_IDENTITY,
        common::PROBE_PAYMENT
    );
    Manifest::parse(&text, Path::new("miniapp.toml")).unwrap()
}

/// The probe module with a custom section appended: same behaviour, new module hash.
fn probe_new_version() -> Vec<u8> {
    let mut bytes = common::probe_module();
    bytes.extend_from_slice(&[0, 8, 7]);
    bytes.extend_from_slice(b"version");
    bytes
}

async fn user_ids_differ_per_program_and_last_across_runs(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let ids = |host: Host| async move {
        let mut out = Vec::new();
        for (id, publisher) in [("test.shop-a", "Acme"), ("test.shop-b", "Acme"), ("test.other", "Other Co")] {
            let app = host.load_app_from_parts(probe_manifest(id, publisher), common::probe_module()).await.unwrap();
            let (mut session, _) = launched(&app, vec![]).await;
            out.push((
                op(&mut session, "user_id").await["ok"].clone(),
                op(&mut session, "union_id").await["ok"].clone(),
            ));
        }
        out
    };
    let first = ids(common::host_on(&backend, &data, |_| {})).await;
    assert_ne!(first[0].0, first[1].0, "programs get different ids");
    assert_ne!(first[0].0, first[2].0);
    assert_eq!(first[0].1, first[1].1, "same publisher, same union id");
    // A publisher's name proves nothing: all three run from parts, under this
    // host's development key, so they are one publisher (program_identity.rs
    // shows other keys getting other union ids).
    assert_eq!(first[0].1, first[2].1, "one key, one union id, whatever the name");
    assert!(first[0].0.as_str().unwrap().starts_with("u_"));
    let second = ids(common::host_on(&backend, &data, |_| {})).await;
    assert_eq!(first, second, "ids last across hosts on the same data directory");
}

async fn union_id_needs_its_declaration(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.no-union", "[capabilities.identity]\n").await;
    let (mut session, _) = launched(&app, vec![]).await;
    assert_eq!(op(&mut session, "union_id").await["error"]["code"], "capability_denied");
    assert!(op(&mut session, "user_id").await["ok"].is_string());
}

async fn a_denied_scope_returns_no_data_and_is_not_asked_again(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.deny", "").await;
    let (mut session, user) = launched(&app, vec![Answer::No, Answer::Yes]).await;
    let reply = op(&mut session, "phone").await;
    assert_eq!(reply["error"]["code"], "capability_denied", "{reply}");
    assert!(reply.get("ok").is_none());
    let reply = op(&mut session, "phone").await;
    assert_eq!(reply["error"]["code"], "capability_denied");
    assert_eq!(user.prompts().len(), 1, "no nagging");
    match &user.prompts()[0] {
        Prompt::Consent { scope, purpose, shared, .. } => {
            assert_eq!(scope.as_str(), "phone");
            assert_eq!(purpose, "Call you");
            assert!(shared.contains("+8613800138000"), "{shared}");
        }
        other => panic!("{other:?}"),
    }
}

async fn a_grant_is_remembered_for_its_module_and_a_new_module_asks_again(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.remember", "").await;
    let (mut session, user) = launched(&app, vec![Answer::Yes]).await;
    assert_eq!(op(&mut session, "profile").await["ok"]["display_name"], "李雷 Li Lei");
    assert_eq!(user.prompts().len(), 1);

    let (mut again, user) = launched(&app, vec![]).await;
    assert_eq!(op(&mut again, "profile").await["ok"]["display_name"], "李雷 Li Lei");
    assert!(user.prompts().is_empty(), "remembered");

    let mut manifest = common::manifest("test.remember", "");
    manifest.capabilities = app.manifest().capabilities.clone();
    let new_version = host.load_app_from_parts(manifest, probe_new_version()).await.unwrap();
    assert_ne!(new_version.program().module_hash, app.program().module_hash);
    let (mut session, user) = launched(&new_version, vec![]).await;
    assert_eq!(op(&mut session, "profile").await["error"]["code"], "capability_denied");
    assert_eq!(user.prompts().len(), 1, "a new module asks again");
}

async fn a_revoked_grant_stops_working_at_once(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.revoke", "").await;
    let (mut session, user) = launched(&app, vec![Answer::Yes]).await;
    assert!(op(&mut session, "phone").await["ok"].is_string());
    assert_eq!(host.grants().revoke("local", app.program().key(), Some("phone")).await.unwrap(), ["phone"]);
    let reply = op(&mut session, "phone").await;
    assert_eq!(reply["error"]["code"], "capability_denied", "{reply}");
    assert_eq!(user.prompts().len(), 1, "no prompt after a revocation");
    let events: Vec<String> =
        host.grants().history("local", app.program().key()).await.unwrap().into_iter().map(|e| e.2).collect();
    assert_eq!(events, ["granted", "used", "revoked"]);
}

async fn authorize_asks_again_at_most_once_per_launch(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.reask", "").await;
    let (mut session, user) = launched(&app, vec![Answer::No, Answer::Yes]).await;
    assert_eq!(op(&mut session, "phone").await["error"]["code"], "capability_denied");
    let reply = probe_op(&mut session, "authorize", json!({"scope": "phone"})).await;
    assert_eq!(reply["ok"], json!(false), "already asked in this launch");
    assert_eq!(user.prompts().len(), 1);

    let (mut next_launch, user) = launched(&app, vec![Answer::Yes]).await;
    assert_eq!(probe_op(&mut next_launch, "authorize", json!({"scope": "phone"})).await["ok"], json!(true));
    assert!(op(&mut next_launch, "phone").await["ok"].is_string());
    assert_eq!(probe_op(&mut next_launch, "authorize", json!({"scope": "phone"})).await["ok"], json!(true));
    assert_eq!(user.prompts().len(), 1);
}

async fn the_user_picks_one_address_and_the_program_gets_only_that(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.address", "").await;
    let (mut session, user) = launched(&app, vec![Answer::Pick(2), Answer::No]).await;
    let reply = op(&mut session, "address").await;
    assert_eq!(reply["ok"]["recipient"], "韩梅梅", "{reply}");
    assert!(reply["ok"].get("addresses").is_none());
    match &user.prompts()[0] {
        Prompt::ChooseAddress { options, purpose, .. } => {
            assert_eq!(options.len(), 2);
            assert_eq!(purpose, "Deliver your order");
        }
        other => panic!("{other:?}"),
    }
    // Refusing the picker is remembered as a refusal.
    assert_eq!(op(&mut session, "address").await["error"]["code"], "capability_denied");
}

async fn undeclared_scopes_are_denied_and_unknown_ones_refused_at_load(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let only_profile = "[capabilities.identity]\n[capabilities.identity.scopes]\nprofile = \"Show your name\"\n";
    let app = common::probe(&host, "test.narrow", only_profile).await;
    let (mut session, user) = launched(&app, vec![Answer::Yes]).await;
    let reply = op(&mut session, "phone").await;
    assert_eq!(reply["error"]["code"], "capability_denied");
    assert!(reply["error"]["message"].as_str().unwrap().contains("not declared"), "{reply}");
    assert!(user.prompts().is_empty());

    let email = "[capabilities.identity]\n[capabilities.identity.scopes]\nemail = \"Spam you\"\n";
    let manifest = common::manifest(
        "test.email",
        &format!("[capabilities.storage]\n{}\n{}\n{email}", common::PROBE_LINKS, common::PROBE_PAYMENT),
    );
    let error = host.load_app_from_parts(manifest, common::probe_module()).await.err().unwrap();
    assert!(error.to_string().contains("capabilities.identity.scopes.email"), "{error}");
}
