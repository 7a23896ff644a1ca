//! `miniapp serve` as a platform drives it: the real binary on loopback, its
//! HTTP API and a session's WebSocket, with the real storefront and hostile
//! programs. Refusals are JSON with stable codes; prompts are answered through
//! the API; one session's end never touches another.

#[path = "support/served.rs"]
mod served;
mod support;

use serde_json::{Value, json};
use served::Served;
use support::{miniapp, repo, text};

const STOREFRONT: &str = "com.taobao.deals";

fn serve(data: &std::path::Path, extra: &[&str]) -> Served {
    let mut args = vec!["serve", "--program", "sample-programs/taobao-deals"];
    args.extend_from_slice(extra);
    Served::start(data, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_needs_the_token_and_every_bad_one_gets_a_json_error() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &[]);
    let api = server.api();

    for token in [None, Some("wrong-token-0123456789")] {
        let (status, body) = server.api_with(token).get("/api").await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    }
    let (status, info) = api.get("/api").await;
    assert_eq!(status, 200);
    assert_eq!(info["programs"], 1);

    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("POST", "/api/sessions", Some("{not json"), 422, "invalid_json"),
        ("POST", "/api/sessions", Some(r#"{"program": 7}"#), 422, "bad_request"),
        ("POST", "/api/sessions", Some(r#"{"program": "no.such"}"#), 404, "unknown_program"),
        (
            "POST",
            "/api/sessions",
            Some(r#"{"program": "com.taobao.deals", "launch": {"surface": "tv"}}"#),
            422,
            "bad_request",
        ),
        ("POST", "/api/sessions", Some(r#"{"program": "com.taobao.deals", "colour": 1}"#), 422, "bad_request"),
        ("POST", "/api/sessions/s999/events", Some(r#"{"type": "tap", "action": "x"}"#), 404, "unknown_session"),
        ("GET", "/api/sessions/s1/stream", None, 422, "bad_request"),
        ("DELETE", "/api", None, 404, "no_route"),
        ("GET", "/api/nothing/here", None, 404, "no_route"),
        ("POST", "/api/programs", Some(r#"{"dir": "/nonexistent/app"}"#), 422, "load_failed"),
        ("POST", "/api/programs", Some(r#"{}"#), 422, "bad_request"),
        ("POST", "/api/programs", Some(r#"{"dir": "sample-programs/hello", "build": true}"#), 422, "bad_request"),
        ("PUT", "/api/payment-scenario", Some(r#"{"scenario": "lucky"}"#), 422, "bad_request"),
        ("PUT", "/api/settings/links/direct", Some(r#"{"enabled": true}"#), 422, "bad_request"),
        ("GET", "/api/sessions/s1/messages?from=soon", None, 400, "bad_request"),
        ("GET", "/api/audit?limit=-1", None, 400, "bad_request"),
    ];
    let session = api.open(STOREFRONT, json!({})).await;
    assert_eq!(session, "s1");
    for (method, path, body, status, code) in cases {
        let (got, answer) = api.send(method, path, *body, &[]).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (*status, Some(*code)), "{method} {path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.contains('\n'), "{message}");
    }
    // A page event is the host's to send; an unknown prompt is named.
    let (status, answer) =
        api.post("/api/sessions/s1/events", json!({"type": "page", "reason": "refresh", "path": ""})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("bad_request")), "{answer}");
    let (status, answer) = api.post("/api/sessions/s1/prompts/7", json!({"answer": "yes"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("unknown_prompt")), "{answer}");
    // Another site's page cannot use the server, even with a browser's cookie.
    let (status, answer) = api.send("GET", "/api", None, &[("origin", "https://evil.example")]).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("origin_refused")), "{answer}");

    // The page is served under a strict policy: its own script and style only.
    let (status, policy, html) = api.page("/").await;
    assert_eq!(status, 200);
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
    assert!(html.contains("<script src=\"devtools.js\" defer></script>") && !html.contains("onclick"), "{html}");

    // A built program loads again, replacing itself.
    let (status, loaded) = api.post("/api/programs", json!({"dir": "sample-programs/taobao-deals"})).await;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["id"], STOREFRONT);
    let (_, listed) = api.get("/api/programs").await;
    assert_eq!(listed["programs"].as_array().unwrap().len(), 1, "loading it again replaces it");

    // After all that, the server and the session are fine.
    let (status, described) = api.get("/api/sessions/s1").await;
    assert_eq!(status, 200);
    assert_eq!(described["ended"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_driven_over_its_websocket_and_its_prompts_answered_through_the_api() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &[]);
    let api = server.api();
    let session =
        api.open(STOREFRONT, json!({ "surface": "chat", "path": "pages/item", "query": {"id": "1042"} })).await;
    let mut stream = server.stream(&session).await;
    stream.until(|m| m["type"] == "view").await;
    assert!(stream.view_text().contains("景德镇手绘青花瓷茶具套装"), "{}", stream.view_text());
    assert_eq!(stream.view()["page"]["path"], "pages/item");

    assert_eq!(stream.tap("cart.add", json!({"id": 1042})).await["result"]["ok"], true);
    assert!(stream.view_text().contains("已加入购物车"));
    stream.tap("cart.open", Value::Null).await;
    assert_eq!(stream.view()["depth"], 2);

    // Checkout asks the host's payment sheet; the driver answers it by number.
    let checkout = stream.send(json!({"type": "event", "event": {"type": "tap", "action": "checkout"}})).await;
    let prompt = stream.until(|m| m["type"] == "prompt").await;
    assert_eq!(prompt["kind"], "payment");
    assert_eq!(prompt["detail"]["amount"], "¥129.00");
    let methods = prompt["detail"]["method_ids"].as_array().unwrap();
    let wechat = methods.iter().position(|m| m == "wechat_pay").unwrap() + 1;
    // An answer that does not fit is refused and the prompt keeps waiting.
    let refused = stream.call(json!({"type": "answer", "prompt": prompt["prompt"], "answer": "yes"})).await;
    assert_eq!(refused["error"]["code"], "answer_does_not_fit", "{refused}");
    let path = format!("/api/sessions/{session}/prompts/{}", prompt["prompt"]);
    let (status, answered) = api.post(&path, json!({"answer": wechat.to_string()})).await;
    assert_eq!(status, 200, "{answered}");
    stream.until(|m| m["type"] == "reply" && m["id"] == checkout).await;
    // A reply comes after everything its command caused.
    assert_eq!(stream.view()["page"]["path"], "pages/result");
    assert!(stream.view_text().contains("支付成功"), "{}", stream.view_text());

    // Every host call was streamed with its request, reply, status and timing.
    let request = stream.seen.iter().find(|m| m["type"] == "host_call" && m["function"] == "request").unwrap();
    assert_eq!(request["capability"], "payment");
    assert_eq!(request["status"], "ok");
    assert_eq!(request["reply"]["status"], "paid");
    assert!(request["micros"].as_u64().is_some());
    // Messages are numbered without a gap.
    let seqs: Vec<u64> = stream.seen.iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());

    // The ledger route and `miniapp ledger list --json` agree.
    let (_, ledger) = api.get(&format!("/api/ledger?program={STOREFRONT}")).await;
    let orders = ledger["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0]["state"].as_str(), orders[0]["amount"].as_i64()), (Some("paid"), Some(12900)));

    // The transcript is the session's record.
    let (status, transcript) = api.get(&format!("/api/sessions/{session}/transcript")).await;
    assert_eq!(status, 200);
    assert_eq!(transcript["program"], STOREFRONT);
    let kinds: Vec<&str> =
        transcript["entries"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"prompt") && kinds.contains(&"host_call") && kinds.contains(&"view"), "{kinds:?}");

    // Closing ends the stream with `closed`.
    let (status, _) = api.delete(&format!("/api/sessions/{session}")).await;
    assert_eq!(status, 200);
    stream.until(|m| m["type"] == "closed").await;
    drop(server);
    let listed = miniapp(data.path(), &["ledger", "list", "--json"]);
    let listed: Value = serde_json::from_str(&text(&listed.stdout)).unwrap();
    assert_eq!(listed[0]["out_trade_no"], orders[0]["out_trade_no"]);
    assert_eq!(listed[0]["state"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_limited_and_one_ending_leaves_the_others_alone() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &["--program", "sample-programs/hostile", "--max-sessions", "2"]);
    let api = server.api();
    let storefront = api.open(STOREFRONT, json!({})).await;
    let hostile = api.open("com.example.hostile", json!({})).await;
    let (status, refused) = api.post("/api/sessions", json!({"program": STOREFRONT})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (429, Some("session_limit")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("2 sessions"), "{refused}");

    // The hostile program runs every attack; its last one loops and is ended.
    let mut stream = server.stream(&hostile).await;
    let mut ended = None;
    for _ in 0..20 {
        let reply = stream.tap("attack", Value::Null).await;
        if reply["error"]["code"] == "session_ended" {
            ended = Some(reply);
            break;
        }
    }
    let ended = ended.expect("the loop is ended by the host");
    assert!(ended["error"]["message"].as_str().unwrap().contains("limits.callback_time_ms"), "{ended}");
    let output: Vec<&Value> = stream.seen.iter().filter(|m| m["type"] == "output").collect();
    let printed = serde_json::to_string(&output).unwrap();
    assert!(
        printed.contains("<script>document.title='pwned'</script>"),
        "markup reaches the stream as text: {printed}"
    );
    assert!(!printed.contains('\u{1b}'), "escape sequences are escaped: {printed}");
    assert!(printed.contains("\\\\u{1b}[2J"), "{printed}");
    let (_, described) = api.get(&format!("/api/sessions/{hostile}")).await;
    assert!(described["ended"].as_str().unwrap().contains("limits.callback_time_ms"));

    // The storefront did not notice.
    let (status, reply) =
        api.post(&format!("/api/sessions/{storefront}/events"), json!({"type": "tap", "action": "cart.open"})).await;
    assert_eq!((status, &reply["ok"]), (200, &json!(true)), "{reply}");

    // A slot frees when a session closes.
    api.delete(&format!("/api/sessions/{hostile}")).await;
    let (status, _) = api.post("/api/sessions", json!({"program": STOREFRONT})).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panels_read_and_change_the_hosts_records() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), &[]);
    let api = server.api();
    let session = api.open(STOREFRONT, json!({})).await;
    let mut stream = server.stream(&session).await;
    stream.until(|m| m["type"] == "view").await;
    stream.tap("item.open", json!({"id": 1042})).await;
    stream.tap("cart.add", json!({"id": 1042})).await;

    // Storage: what the program stored, within its quota; edit and delete.
    let storage = format!("/api/programs/{STOREFRONT}/storage");
    let (_, listed) = api.get(&storage).await;
    assert!(listed["entries"].as_array().unwrap().iter().any(|e| e["key"] == "cart"), "{listed}");
    assert!(listed["quota_bytes"].as_u64().unwrap() > 0);
    let (status, _) = api.put(&format!("{storage}/note"), json!({"n": 1})).await;
    assert_eq!(status, 200);
    let (_, listed) = api.get(&storage).await;
    let note = listed["entries"].as_array().unwrap().iter().find(|e| e["key"] == "note").unwrap().clone();
    assert_eq!(note["value"], json!({"n": 1}));
    let big = "x".repeat(3 << 19);
    let (status, refused) = api.put(&format!("{storage}/big"), json!(big)).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("quota_exceeded"), "{refused}");
    let huge = "x".repeat(3 << 20);
    let (status, refused) = api.put(&format!("{storage}/huge"), json!(huge)).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("body_too_large")), "{refused}");
    let (_, removed) = api.delete(&format!("{storage}/note")).await;
    assert_eq!(removed["removed"], true);

    // Link switches: Moments is off, then on; a surface without a switch is refused.
    let (_, settings) = api.get("/api/settings").await;
    let moments = settings["links"].as_array().unwrap().iter().find(|l| l["surface"] == "moments").unwrap().clone();
    assert_eq!(moments["switch"], false);
    stream.tap("share.moments", json!({"id": 1042})).await;
    assert!(stream.view_text().contains("Share to moments: denied"), "{}", stream.view_text());
    let (status, _) = api.put("/api/settings/links/moments", json!({"enabled": true})).await;
    assert_eq!(status, 200);
    let share = stream
        .send(json!({"type": "event", "event": {"type": "tap", "action": "share.moments", "payload": {"id": 1042}}}))
        .await;
    let next = stream.until(|m| m["type"] == "prompt" || (m["type"] == "reply" && m["id"] == share)).await;
    if next["type"] == "prompt" {
        let path = format!("/api/sessions/{session}/prompts/{}", next["prompt"]);
        api.post(&path, json!({"answer": "yes"})).await;
        stream.until(|m| m["type"] == "reply" && m["id"] == share).await;
    }
    assert!(stream.view_text().contains("Share to moments: opened"), "{}", stream.view_text());

    // Audit: the decisions about this program, the denied share among them.
    let (_, audit) = api.get(&format!("/api/audit?program={STOREFRONT}")).await;
    let decisions = audit["decisions"].as_array().unwrap();
    assert!(decisions.iter().any(|d| d["capability"] == "link" && d["outcome"] == "denied"), "{audit}");

    // The payment scenario for the next order: the payer cancels.
    let (_, set) = api.put("/api/payment-scenario", json!({"scenario": "user_cancel"})).await;
    assert_eq!(set["scenario"], "user_cancel");
    stream.tap("cart.open", Value::Null).await;
    let checkout = stream.send(json!({"type": "event", "event": {"type": "tap", "action": "checkout"}})).await;
    let prompt = stream.until(|m| m["type"] == "prompt" && m["kind"] == "payment").await;
    stream.call(json!({"type": "answer", "prompt": prompt["prompt"], "answer": "1"})).await;
    stream.until(|m| m["type"] == "reply" && m["id"] == checkout).await;
    let (_, ledger) = api.get("/api/ledger").await;
    assert_eq!(ledger["orders"][0]["state"], "cancelled", "{ledger}");
    api.put("/api/payment-scenario", json!({"scenario": null})).await;

    // Permissions: none remembered yet for this user; revoking nothing is fine.
    let (status, permissions) = api.get("/api/permissions").await;
    assert_eq!(status, 200);
    assert!(permissions["grants"].is_array());
    let (status, _) = api.delete(&format!("/api/permissions/{STOREFRONT}/all")).await;
    assert_eq!(status, 200);
    let _ = repo();
}

/// A program whose build copies `src/app.wat` to the module it runs, and fails
/// while a file `broken` exists, as a compiler would on a syntax error.
fn watched_app(dir: &std::path::Path, version: &str) {
    let build = r#"["sh", "-c", "if [ -e broken ]; then echo 'error: expected `)` at src/app.wat:3' >&2; exit 1; fi; cp src/app.wat app.wat"]"#;
    watched_app_built_by(dir, version, build);
}

fn watched_app_built_by(dir: &std::path::Path, version: &str, build: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("miniapp.toml"),
        format!(
            r#"id = "test.watched"
name = "Watched"
version = "1.0.0"
publisher = "tests"
module = "app.wat"
build = {build}

[capabilities.storage]
"#
        ),
    )
    .unwrap();
    write_source(dir, version);
}

fn write_source(dir: &std::path::Path, version: &str) {
    let wat = support::wat_guest(
        r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#,
        &format!(r#"(data (i32.const 256) "{version}\n")"#),
        &format!(
            "(i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const {}))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72)))
    (i32.const 0)",
            version.len() + 1
        ),
    );
    std::fs::write(dir.join("src/app.wat"), wat).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_rebuilds_and_relaunches_on_change_and_keeps_the_last_good_module() {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    watched_app(app.path(), "version one");
    let dir = app.path().to_str().unwrap();
    let server = Served::start(data.path(), &["dev", dir]);
    let api = server.api();
    let (_, info) = api.get("/api").await;
    assert_eq!(info["dev_program"], "test.watched");
    let session = api.open("test.watched", json!({})).await;
    let mut stream = server.stream(&session).await;
    let first = stream.until(|m| m["type"] == "output").await;
    assert_eq!(first["lines"], json!(["version one"]));
    let launched = stream.seen.iter().find(|m| m["type"] == "launched").unwrap()["module_sha256"].clone();
    let (status, _) = api.put("/api/programs/test.watched/storage/kept", json!("across rebuilds")).await;
    assert_eq!(status, 200);

    // A change rebuilds and relaunches in place.
    write_source(app.path(), "version two, changed");
    stream.until(|m| m["type"] == "build" && m["ok"] == true).await;
    let relaunched = stream.until(|m| m["type"] == "launched").await;
    assert_ne!(relaunched["module_sha256"], launched);
    let output = stream.until(|m| m["type"] == "output").await;
    assert_eq!(output["lines"], json!(["version two, changed"]));
    let (_, storage) = api.get("/api/programs/test.watched/storage").await;
    assert_eq!(storage["entries"][0]["value"], "across rebuilds", "{storage}");

    // A failed build is shown, and the last good module keeps running.
    std::fs::write(app.path().join("broken"), "").unwrap();
    let failed = stream.until(|m| m["type"] == "build").await;
    assert_eq!(failed["ok"], false);
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("failed") && message.contains("expected `)` at src/app.wat:3"), "{message}");
    let (_, info) = api.get("/api").await;
    assert!(info["build_error"].as_str().unwrap().contains("src/app.wat:3"), "{info}");
    let (_, described) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(described["module_sha256"], relaunched["module_sha256"]);
    assert_eq!(described["ended"], Value::Null);
    let relaunch = stream.call(json!({"type": "relaunch"})).await;
    assert_eq!(relaunch["result"]["ok"], true, "{relaunch}");
    let (_, described) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(described["module_sha256"], relaunched["module_sha256"]);

    // Fixed again: the error clears.
    // (The source first: any build after the fix sees the new one.)
    write_source(app.path(), "version three");
    std::fs::remove_file(app.path().join("broken")).unwrap();
    stream.until(|m| m["type"] == "build" && m["ok"] == true).await;
    let output = stream.until(|m| m["type"] == "output").await;
    assert_eq!(output["lines"], json!(["version three"]));
    let (_, info) = api.get("/api").await;
    assert_eq!(info["build_error"], Value::Null);
}

/// How long a watch test waits before calling a hang a failure: never a budget
/// for the work, which is a `cp`.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_saved_while_a_build_runs_is_built_next() {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    // The build copies the source; while `.hold` exists it then stays running
    // (saying so in `.building`) until the test says `.go`. Hidden files are not
    // sources: the watcher ignores them.
    let build = r#"["sh", "-c", "cp src/app.wat app.wat; if [ -e .hold ]; then touch .building; while [ ! -e .go ]; do sleep 0.05; done; rm -f .hold .go .building; fi"]"#;
    watched_app_built_by(app.path(), "version one", build);
    let server = Served::start(data.path(), &["dev", app.path().to_str().unwrap()]);
    let api = server.api();
    let session = api.open("test.watched", json!({})).await;
    let mut stream = server.stream(&session).await;
    assert_eq!(stream.until(|m| m["type"] == "output").await["lines"], json!(["version one"]));

    std::fs::write(app.path().join(".hold"), "").unwrap();
    write_source(app.path(), "version two");
    let building = app.path().join(".building");
    let started = std::time::Instant::now();
    // Only a guard against hanging: the build holds until told.
    while !building.exists() {
        assert!(started.elapsed() < HANG_GUARD, "the change was never built");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Saved while that build runs: the next build takes it.
    write_source(app.path(), "version three, saved during a build");
    std::fs::write(app.path().join(".go"), "").unwrap();
    let last = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let output = stream.until(|m| m["type"] == "output").await;
            if output["lines"] == json!(["version three, saved during a build"]) {
                return output;
            }
        }
    })
    .await;
    assert!(last.is_ok(), "the change saved during a build was never built; seen: {:?}", stream.seen);
}
