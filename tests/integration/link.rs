//! The link capability through a real guest: every surface and switch, the
//! gesture and confirmation rules, declarations, safety, audit and neutrality.

use crate::common::{self, probe_op};
use miniapp_host::consent::{Answer, Prompt, ScriptedUser};
use miniapp_host::{Event, Host, LaunchContext, Session, Surface};
use serde_json::{Value, json};
use std::sync::Arc;

async fn session_on(host: &Host, surface: Surface, answers: Vec<Answer>) -> (Session, Arc<ScriptedUser>) {
    let user = ScriptedUser::new(answers);
    let app = common::probe(host, "test.linker", "").await;
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&LaunchContext::new(surface)).await.unwrap();
    session.take_output();
    (session, user)
}

async fn open(session: &mut Session, target: Value) -> Value {
    probe_op(session, "open", target).await["ok"].clone()
}

async fn tap_open(session: &mut Session, target: Value) -> Value {
    session.event(&Event::Tap { action: "open".into(), payload: target }).await.unwrap();
    let text = session.take_output().stdout_text();
    serde_json::from_str::<Value>(text.lines().last().unwrap()).unwrap()["ok"].clone()
}

fn web(url: &str) -> Value {
    json!({"kind": "web", "url": url})
}

fn deep(url: &str) -> Value {
    json!({"kind": "deep_link", "url": url})
}

fn program(id: &str) -> Value {
    json!({"kind": "mini_program", "id": id, "path": "pages/index"})
}

#[tokio::test]
async fn chat_opens_declared_web_links_and_deep_links() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, user) = session_on(&host, Surface::Chat, vec![]).await;
    let reply = open(&mut session, web("https://item.taobao.com/item.htm?id=1042")).await;
    assert_eq!(reply["outcome"], "opened", "{reply}");
    assert_eq!(reply["display"], "https://item.taobao.com/item.htm?id=1042");
    assert_eq!(open(&mut session, deep("taobao://live/7")).await["outcome"], "opened");
    assert!(user.prompts().is_empty());
}

#[tokio::test]
async fn safety_rejections_are_named() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, _) = session_on(&host, Surface::Chat, vec![]).await;
    let cases = [
        (web("javascript:alert(1)"), "scheme_not_allowed"),
        (web("java\tscript:alert(1)"), "control_characters"),
        (web("https://taobao.com@evil.example/"), "userinfo"),
        (web("http://0xffffffff/"), "scheme_not_allowed"),
        (web("https://0xffffffff/"), "ip_address_host"),
        (web("https://192.0x00A80001/"), "ip_address_host"),
        (web("https://tаobao.com/"), "homograph"),
        (web("not a url"), "control_characters"),
        (web("https://shop.example/"), "not_declared"),
        (deep("weibo://item/1"), "unknown_platform"),
        (program("com.unknown.app"), "not_declared"),
    ];
    for (target, reason) in cases {
        let reply = open(&mut session, target.clone()).await;
        assert_eq!(reply["outcome"], "denied", "{target}: {reply}");
        assert_eq!(reply["reason"], reason, "{target}: {reply}");
        assert!(reply["message"].as_str().unwrap().starts_with("not opened"), "{reply}");
    }
}

#[tokio::test]
async fn group_and_moments_need_the_users_switch() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    for surface in [Surface::Group, Surface::Moments] {
        let (mut session, _) = session_on(&host, surface, vec![]).await;
        let reply = open(&mut session, web("https://taobao.com/")).await;
        assert_eq!(reply["reason"], "surface_disabled", "{reply}");
        assert!(reply["message"].as_str().unwrap().contains(&format!("link.surfaces.{surface}.web")));
        host.user_settings().set_links_enabled("local", surface, true).await.unwrap();
        assert_eq!(open(&mut session, web("https://taobao.com/")).await["outcome"], "opened");
        host.user_settings().set_links_enabled("local", surface, false).await.unwrap();
        assert_eq!(open(&mut session, web("https://taobao.com/")).await["outcome"], "denied");
    }
}

#[tokio::test]
async fn sharing_follows_the_destination_surface() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, _) = session_on(&host, Surface::Direct, vec![]).await;
    let card = json!({"title": "Deal of the day", "target": web("https://taobao.com/deal/1")});
    let to = |surface: &str| json!({"card": card, "surface": surface});
    assert_eq!(probe_op(&mut session, "share", to("chat")).await["ok"]["outcome"], "opened");
    assert_eq!(probe_op(&mut session, "share", to("moments")).await["ok"]["reason"], "surface_disabled");
    host.user_settings().set_links_enabled("local", Surface::Moments, true).await.unwrap();
    session.event(&common::custom("share", to("moments"))).await.unwrap();
    let output = session.take_output();
    assert!(output.notices.iter().any(|n| n.message == "shared https://taobao.com/deal/1 to moments"), "{output:?}");
    let reply = probe_op(&mut session, "share", to("channels_ad")).await;
    assert_eq!(reply["error"]["code"], "invalid_argument", "{reply}");
}

#[tokio::test]
async fn channels_ads_open_shops_and_live_rooms_and_ask_for_the_rest() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, user) = session_on(&host, Surface::ChannelsAd, vec![Answer::Yes, Answer::No]).await;
    assert_eq!(open(&mut session, deep("taobao://shop/58")).await["outcome"], "opened");
    assert_eq!(open(&mut session, deep("taobao://live/7")).await["outcome"], "opened");
    assert_eq!(open(&mut session, deep("taobao://item/1042")).await["outcome"], "confirmed");
    assert_eq!(open(&mut session, web("https://taobao.com/")).await["outcome"], "declined");
    let prompts = user.prompts();
    assert_eq!(
        prompts[0],
        Prompt::OpenLink {
            program: "Test (test.linker)".into(),
            target: "taobao://item/1042".into(),
            surface: Surface::ChannelsAd
        }
    );
}

#[tokio::test]
async fn opening_a_program_needs_a_tap_and_a_confirmation() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, user) = session_on(&host, Surface::Chat, vec![Answer::Yes, Answer::No]).await;
    let reply = open(&mut session, program("com.taobao.deals")).await;
    assert_eq!(reply["reason"], "gesture_required", "{reply}");
    assert!(user.prompts().is_empty(), "no prompt without a gesture");
    assert_eq!(tap_open(&mut session, program("com.taobao.deals")).await["outcome"], "confirmed");
    assert_eq!(tap_open(&mut session, program("com.taobao.deals")).await["outcome"], "declined");
    // Nobody left to answer: declined, never opened.
    assert_eq!(tap_open(&mut session, program("com.taobao.deals")).await["outcome"], "declined");
}

#[tokio::test]
async fn every_decision_is_audited_with_target_and_surface() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let (mut session, _) = session_on(&host, Surface::Group, vec![]).await;
    open(&mut session, web("https://taobao.com/")).await;
    open(&mut session, web("javascript:alert(1)")).await;
    let decisions = host.audit().recent(Some("test.linker"), 10).await.unwrap();
    let links: Vec<_> = decisions.iter().filter(|d| d.capability == "link" && d.action != "load").collect();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].outcome.as_str(), "denied");
    assert_eq!(links[0].surface.as_deref(), Some("group"));
    assert_eq!(links[0].target.as_deref(), Some("https://taobao.com/"));
    assert!(links[0].reason.starts_with("surface_disabled"), "{}", links[0].reason);
    assert!(links[1].reason.starts_with("scheme_not_allowed"));
}

#[tokio::test]
async fn undeclared_link_import_and_bad_declarations_are_load_errors() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let only_storage = common::manifest(
        "test.no-links",
        &format!("[capabilities.storage]\n{}\n{}", common::PROBE_IDENTITY, common::PROBE_PAYMENT),
    );
    let error = host.load_app_from_parts(only_storage, common::probe_module()).await.err().unwrap();
    assert_eq!(error.code(), "undeclared_capability");
    assert!(error.to_string().contains("[capabilities.link]"));
    for (declaration, field) in [
        ("domains = [\"https://taobao.com\"]", "capabilities.link.domains"),
        ("domains = [\"10.0.0.1\"]", "capabilities.link.domains"),
        ("platforms = [\"weibo\"]", "capabilities.link.platforms"),
        ("urls = []", "capabilities.link.urls"),
    ] {
        let manifest = common::manifest(
            "test.bad-links",
            &format!(
                "[capabilities.storage]\n{}\n{}\n[capabilities.link]\n{declaration}\n",
                common::PROBE_IDENTITY,
                common::PROBE_PAYMENT
            ),
        );
        let error = host.load_app_from_parts(manifest, common::probe_module()).await.err().unwrap();
        assert!(error.to_string().contains(field), "{declaration}: {error}");
    }
}

/// Swapping which platform owns every target changes no decision.
#[tokio::test]
async fn decisions_do_not_depend_on_who_owns_the_target() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    host.user_settings().set_links_enabled("local", Surface::Moments, true).await.unwrap();
    let targets = [
        web("https://taobao.com/"),
        web("https://item.taobao.com/x"),
        web("https://taobao.com@evil.example/"),
        deep("taobao://item/1"),
        deep("taobao://shop/2"),
        deep("taobao://live/3"),
        deep("taobao://cart/4"),
        program("com.taobao.deals"),
    ];
    let swap = |v: &Value| serde_json::from_str::<Value>(&v.to_string().replace("taobao", "jd")).unwrap();
    for surface in Surface::ALL {
        let answers = vec![Answer::Yes; 32];
        let (mut a, _) = session_on(&host, surface, answers.clone()).await;
        let (mut b, _) = session_on(&host, surface, answers).await;
        for target in &targets {
            let original = open(&mut a, target.clone()).await;
            let swapped = open(&mut b, swap(target)).await;
            assert_eq!(original["outcome"], swapped["outcome"], "{surface} {target}");
            assert_eq!(original["reason"], swapped["reason"], "{surface} {target}");
        }
    }
}
