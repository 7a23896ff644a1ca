// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

//! The real `miniapp serve` / `miniapp dev` process for tests, and clients of
//! its API: HTTP (reqwest) and a session's WebSocket (tokio-tungstenite).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

/// A running server process; killed when dropped.
pub struct Served {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The access token it printed.
    pub token: String,
    /// The DevTools address it printed.
    pub url: String,
}

impl Served {
    /// Runs `miniapp ARGS --data-dir DATA --bind 127.0.0.1:0` and waits for the
    /// lines that say where it listens.
    pub fn start(data: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_miniapp"))
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .current_dir(super::repo())
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the miniapp binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut addr, mut token, mut url) = (String::new(), String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.trim().to_string();
            } else if let Some(rest) = line.trim().strip_prefix("token:") {
                token = rest.trim().to_string();
            } else if let Some(rest) = line.trim().strip_prefix("DevTools:") {
                url = rest.trim().to_string();
                break;
            }
        }
        if url.is_empty() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("the server did not start: {stderr}");
        }
        // Keep draining its output so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
            }
        });
        Served { child, addr, token, url }
    }

    /// A client carrying the token.
    pub fn api(&self) -> Api {
        self.api_with(Some(&self.token))
    }

    /// A client with `token` (or none). Each request has a connection of its
    /// own: a reused idle connection can be closed by either side just as a
    /// request is sent on it, which would fail a test for the transport's sake.
    pub fn api_with(&self, token: Option<&str>) -> Api {
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        Api { http, base: format!("http://{}", self.addr), token: token.map(String::from) }
    }

    /// Connects to session `session`'s stream from its first message.
    pub async fn stream(&self, session: &str) -> Stream {
        let url = format!("ws://{}/api/sessions/{session}/stream?from=0&token={}", self.addr, self.token);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("the stream opens");
        Stream { socket, seen: Vec::new(), next_id: 0 }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client of the API.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// Sends `method path` with `body` (raw text), returning the status and the JSON answer.
    pub async fn send(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, value)
    }

    /// `GET path` of a page: the status, the `Content-Security-Policy` header and the text.
    pub async fn page(&self, path: &str) -> (u16, String, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let policy = response
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, policy, response.text().await.unwrap())
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, &[]).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(&body.to_string()), &[]).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PUT", path, Some(&body.to_string()), &[]).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, None, &[]).await
    }

    /// Opens a session of `program`, launched with `launch`; returns its id.
    pub async fn open(&self, program: &str, launch: Value) -> String {
        let (status, session) = self.post("/api/sessions", json!({ "program": program, "launch": launch })).await;
        assert_eq!(status, 201, "{session}");
        session["session"].as_str().unwrap().to_string()
    }
}

/// A session's WebSocket, remembering every message it read.
pub struct Stream {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// Every session message read so far (not the replies).
    pub seen: Vec<Value>,
    next_id: u64,
}

impl Stream {
    /// Sends a command; returns its id (its reply carries it).
    pub async fn send(&mut self, mut command: Value) -> u64 {
        self.next_id += 1;
        command["id"] = json!(self.next_id);
        self.socket.send(Message::Text(command.to_string().into())).await.unwrap();
        self.next_id
    }

    /// Reads until a message `matches`; returns it. Panics if the stream ends first.
    pub async fn until(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.socket.next().await.expect("the stream is open").expect("a frame");
            let Message::Text(text) = frame else { continue };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] != "reply" {
                self.seen.push(message.clone());
            }
            if matches(&message) {
                return message;
            }
            assert_ne!(
                message["type"], "closed",
                "the session closed before the awaited message; seen: {:?}",
                self.seen
            );
        }
    }

    /// Sends a command and waits for its reply.
    pub async fn call(&mut self, command: Value) -> Value {
        let id = self.send(command).await;
        self.until(|m| m["type"] == "reply" && m["id"] == id).await
    }

    /// Taps `action` and waits for the reply.
    pub async fn tap(&mut self, action: &str, payload: Value) -> Value {
        self.call(json!({ "type": "event", "event": { "type": "tap", "action": action, "payload": payload } })).await
    }

    /// The last view message seen.
    pub fn view(&self) -> &Value {
        self.seen.iter().rev().find(|m| m["type"] == "view").expect("a view was shown")
    }

    /// The texts of the last view, joined.
    pub fn view_text(&self) -> String {
        self.view()["view"].to_string()
    }
}
