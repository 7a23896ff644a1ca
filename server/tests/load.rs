//! The server under load: 1,000 sessions of the real storefront open at once
//! on one server, each driven over its own WebSocket on loopback (open, see the
//! first view, open an item, add it to the cart, go back, close). Bounded in
//! count: every session must end correctly with every message in order and
//! nothing lost. The round trips' p50/p99 are printed as a benchmark figure —
//! no assertion depends on the machine's speed.

use futures_util::{SinkExt, StreamExt};
use miniapp_host::{Host, HostConfig};
use miniapp_providers::ScenarioSwitch;
use miniapp_server::{Server, ServerConfig};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const SESSIONS: usize = 1_000;

fn storefront() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-programs/taobao-deals");
    let manifest = miniapp_host::Manifest::from_dir(&dir).unwrap();
    miniapp_server::build::build(&dir, &manifest, miniapp_server::build::Output::Capture)
        .unwrap_or_else(|e| panic!("{e}\n{}", e.output()));
    dir
}

/// What one session saw.
struct Run {
    round_trips: Vec<Duration>,
    messages: Vec<Value>,
}

async fn drive(base: Arc<String>, token: Arc<String>, http: reqwest::Client) -> Run {
    let opened: Value = http
        .post(format!("http://{base}/api/sessions"))
        .bearer_auth(token.as_str())
        .json(&json!({"program": "com.taobao.deals"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = opened["session"].as_str().unwrap_or_else(|| panic!("not opened: {opened}")).to_string();
    let url = format!("ws://{base}/api/sessions/{session}/stream?from=0&token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut messages = Vec::new();
    let mut round_trips = Vec::new();
    read_until(&mut socket, &mut messages, |m| m["type"] == "view").await;
    let commands = [
        json!({"type": "event", "event": {"type": "tap", "action": "item.open", "payload": {"id": 1042}}}),
        json!({"type": "event", "event": {"type": "tap", "action": "cart.add", "payload": {"id": 1042}}}),
        json!({"type": "back"}),
    ];
    for (n, mut command) in commands.into_iter().enumerate() {
        command["id"] = json!(n);
        let sent = Instant::now();
        socket.send(Message::Text(command.to_string().into())).await.unwrap();
        read_until(&mut socket, &mut messages, |m| m["type"] == "reply" && m["id"] == n).await;
        round_trips.push(sent.elapsed());
    }
    let closed =
        http.delete(format!("http://{base}/api/sessions/{session}")).bearer_auth(token.as_str()).send().await.unwrap();
    assert_eq!(closed.status(), 200);
    read_until(&mut socket, &mut messages, |m| m["type"] == "closed").await;
    Run { round_trips, messages }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads messages into `messages` until one is `done`.
async fn read_until(socket: &mut Socket, messages: &mut Vec<Value>, done: impl Fn(&Value) -> bool) {
    loop {
        let frame = socket.next().await.expect("the stream stays open").expect("a frame");
        let Message::Text(text) = frame else { continue };
        let message: Value = serde_json::from_str(&text).unwrap();
        let stop = done(&message);
        messages.push(message);
        if stop {
            return;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sessions_over_websockets_all_end_correctly() {
    let app = storefront();
    let data = tempfile::tempdir().unwrap();
    let switch = ScenarioSwitch::default();
    let host = miniapp_providers::install_switched(Host::builder(HostConfig::with_data_dir(data.path())), &switch)
        .build()
        .unwrap();
    let config = ServerConfig { max_sessions: SESSIONS, ..ServerConfig::default() };
    let server = Server::new(host.clone(), switch, config);
    server.add_program(host.load_app(&app).await.unwrap()).unwrap();
    let running = server.bind().await.unwrap();
    let base = Arc::new(running.addr().to_string());
    let token = Arc::new(running.token().to_string());
    let http = reqwest::Client::new();

    let started = Instant::now();
    let tasks: Vec<_> = (0..SESSIONS).map(|_| tokio::spawn(drive(base.clone(), token.clone(), http.clone()))).collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.expect("a session's driver finished"));
    }
    let took = started.elapsed();

    for run in &runs {
        // Every message, numbered without a gap, from `started` to `closed`.
        let seqs: Vec<u64> = run.messages.iter().filter_map(|m| m["seq"].as_u64()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        let first = &run.messages[0];
        assert_eq!(first["type"], "started");
        assert_eq!(run.messages.last().unwrap()["type"], "closed");
        assert!(!run.messages.iter().any(|m| m["type"] == "ended" || m["type"] == "dropped"), "a session failed");
        let replies: Vec<&Value> = run.messages.iter().filter(|m| m["type"] == "reply").collect();
        assert_eq!(replies.len(), 3);
        assert!(replies.iter().all(|r| r["result"]["ok"] == true), "{replies:?}");
        let views: Vec<&Value> = run.messages.iter().filter(|m| m["type"] == "view").collect();
        let pages: Vec<&str> = views.iter().map(|v| v["page"]["path"].as_str().unwrap()).collect();
        assert_eq!(pages.first(), Some(&""));
        assert!(pages.contains(&"pages/item"), "{pages:?}");
        assert_eq!(pages.last(), Some(&""), "back on the first page");
    }
    let mut round_trips: Vec<Duration> = runs.iter().flat_map(|r| r.round_trips.iter().copied()).collect();
    round_trips.sort();
    println!(
        "{SESSIONS} concurrent sessions over WebSockets: {} round trips, p50 {:.2} ms, p99 {:.2} ms; all done in {:.2} s",
        round_trips.len(),
        percentile(&round_trips, 0.50).as_secs_f64() * 1e3,
        percentile(&round_trips, 0.99).as_secs_f64() * 1e3,
        took.as_secs_f64()
    );
    running.stop().await;
}
