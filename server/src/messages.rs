//! What a session streams, in order, each message numbered (`seq`) and timed
//! (`t_ms` since the session started): views, output, host notices, host calls,
//! prompts and answers, callbacks, the end. A session keeps its messages so a
//! stream that connects late (or reconnects) gets everything from where it asks.
//!
//! Every program-supplied string here has passed the host's one sanitizer: views
//! were checked when the program rendered them (`decode`), output and notices
//! are escaped line by line, prompt fields and host-call messages on the way in.

use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::view::{Page, View};
use miniapp_host::capability::CallObserver;
use miniapp_host::consent::Prompt;
use miniapp_host::sanitize;
use miniapp_host::{CapturedOutput, SessionObserver};
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Host-call requests and replies longer than this are streamed by size only.
const MAX_STREAMED_MESSAGE: usize = 16 << 10;

/// One thing that happened in a session.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Message {
    /// The session was opened.
    Started { session: String, program: String, name: String, version: String, user: String },
    /// The program was launched (again, after a relaunch).
    Launched { context: LaunchContext, module_sha256: String },
    /// An event is delivered (the driver's, or one the host chains: `page`).
    Event { event: Event },
    /// A lifecycle callback finished.
    Callback { callback: String, result: String, micros: u64 },
    /// The program called the host.
    HostCall { capability: String, function: String, request: Value, status: String, reply: Value, micros: u64 },
    /// The screen changed: the page on top, its view, and the stack.
    View { page: Page, depth: u32, max_pages: u32, pages: Vec<Page>, view: Option<View> },
    /// Lines the program printed.
    Output { stream: &'static str, lines: Vec<String> },
    /// What the host did for the program.
    Notice { capability: String, message: String },
    /// The host asks the user; answer it with its `prompt` number.
    Prompt { prompt: u64, kind: &'static str, lines: Vec<String>, detail: Value, expected: String },
    /// A prompt was answered (or timed out, or its session closed: `none`).
    PromptAnswered { prompt: u64, answer: String },
    /// The host ended the program; the session takes no more events.
    Ended { reason: String },
    /// Watch mode rebuilt the program: `ok`, or the build's error (the last good
    /// module keeps running).
    Build { ok: bool, message: String },
    /// The session was closed; nothing follows.
    Closed {},
}

/// A message as sent: numbered and timed.
#[derive(Serialize)]
struct Envelope<'a> {
    seq: u64,
    t_ms: f64,
    #[serde(flatten)]
    message: &'a Message,
}

/// A session's messages, shared by its task (which writes) and its streams.
pub(crate) struct Log {
    inner: Mutex<LogInner>,
    latest: tokio::sync::watch::Sender<u64>,
    started: Instant,
    max_messages: usize,
    max_bytes: usize,
}

struct LogInner {
    /// The `seq` of `messages[0]`.
    first_seq: u64,
    messages: VecDeque<Arc<str>>,
    /// The bytes of `messages`.
    bytes: usize,
    closed: bool,
}

/// What a stream reads from a log.
pub(crate) struct Batch {
    /// The messages from the asked `seq` on, as JSON text.
    pub messages: Vec<Arc<str>>,
    /// The `seq` to ask for next.
    pub next: u64,
    /// How many asked-for messages were already dropped (the log keeps its caps).
    pub dropped: u64,
    /// Whether the session is closed (nothing will follow).
    pub closed: bool,
}

impl Log {
    /// A log keeping at most `max_messages` messages of at most `max_bytes` in
    /// all (the newest is always kept).
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Log {
        let inner = LogInner { first_seq: 0, messages: VecDeque::new(), bytes: 0, closed: false };
        let latest = tokio::sync::watch::channel(0).0;
        Log { inner: Mutex::new(inner), latest, started: Instant::now(), max_messages, max_bytes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `message`; returns its `seq`.
    pub(crate) fn push(&self, message: Message) -> u64 {
        let closing = matches!(message, Message::Closed {});
        let mut inner = self.lock();
        if inner.closed {
            return inner.first_seq + inner.messages.len() as u64;
        }
        let seq = inner.first_seq + inner.messages.len() as u64;
        let t_ms = (self.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let text = serde_json::to_string(&Envelope { seq, t_ms, message: &message })
            .unwrap_or_else(|e| format!("{{\"seq\":{seq},\"type\":\"unserializable\",\"message\":\"{e}\"}}"));
        inner.bytes += text.len();
        inner.messages.push_back(Arc::from(text));
        while inner.messages.len() > 1 && (inner.messages.len() > self.max_messages || inner.bytes > self.max_bytes) {
            if let Some(dropped) = inner.messages.pop_front() {
                inner.bytes -= dropped.len();
            }
            inner.first_seq += 1;
        }
        inner.closed = closing;
        drop(inner);
        self.latest.send_replace(seq + 1);
        seq
    }

    /// The messages from `from` on.
    pub(crate) fn since(&self, from: u64) -> Batch {
        let inner = self.lock();
        let end = inner.first_seq + inner.messages.len() as u64;
        let start = from.clamp(inner.first_seq, end);
        let skip = (start - inner.first_seq) as usize;
        Batch {
            messages: inner.messages.iter().skip(skip).cloned().collect(),
            next: end,
            dropped: start - from.min(start),
            closed: inner.closed,
        }
    }

    /// Wakes when a message is pushed.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

/// Streams what the session observes into its log.
pub(crate) struct Streamer {
    pub log: Arc<Log>,
}

impl CallObserver for Streamer {
    fn host_call(&self, capability: &str, function: &str, request: &[u8], status: i32, reply: &[u8], took: Duration) {
        self.log.push(Message::HostCall {
            capability: capability.to_string(),
            function: function.to_string(),
            request: shown_message(request),
            status: miniapp_host::transcript::status_name(status),
            reply: shown_message(reply),
            micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        });
    }
}

impl SessionObserver for Streamer {
    fn event(&self, event: &Event) {
        self.log.push(Message::Event { event: sanitized_event(event) });
    }

    fn callback(&self, callback: &str, outcome: &str, micros: u64) {
        self.log.push(Message::Callback { callback: callback.to_string(), result: sanitize::line(outcome), micros });
    }

    fn ended(&self, reason: &str) {
        self.log.push(Message::Ended { reason: sanitize::line(reason) });
    }
}

/// Pushes what the program printed, and the host's notices, line by line.
pub(crate) fn push_output(log: &Log, output: CapturedOutput) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        if !bytes.is_empty() {
            let lines = sanitize::output_lines(&String::from_utf8_lossy(bytes)).collect();
            log.push(Message::Output { stream, lines });
        }
    }
    for notice in output.notices {
        log.push(Message::Notice {
            capability: notice.capability.to_string(),
            message: sanitize::line(&notice.message),
        });
    }
}

/// A host call's request or reply as shown: JSON with every string sanitized,
/// else sanitized text; a large one by size.
fn shown_message(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if bytes.len() > MAX_STREAMED_MESSAGE {
        return serde_json::json!({ "omitted_bytes": bytes.len() });
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => sanitized(value),
        Err(_) => Value::String(sanitize::line(&String::from_utf8_lossy(bytes))),
    }
}

/// `value` with every string (and key) passed through the sanitizer.
pub(crate) fn sanitized(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(sanitize::line(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitized).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (sanitize::line(&k), sanitized(v))).collect()),
        other => other,
    }
}

fn sanitized_event(event: &Event) -> Event {
    match serde_json::to_value(event).map(sanitized).and_then(serde_json::from_value) {
        Ok(event) => event,
        Err(_) => event.clone(),
    }
}

/// A prompt as streamed: its lines as a person reads them, and each field
/// (sanitized, as the host shows it) for a front end that draws its own dialog.
pub(crate) fn prompt_message(id: u64, prompt: &Prompt) -> Message {
    Message::Prompt {
        prompt: id,
        kind: prompt.kind(),
        lines: prompt.lines(),
        detail: prompt.fields(),
        expected: prompt.expected(),
    }
}

/// An error and its causes as one line (a cause its message already quotes is
/// not repeated).
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: usize) -> Message {
        Message::Notice { capability: "test".into(), message: "x".repeat(n) }
    }

    #[test]
    fn the_log_keeps_its_caps_and_says_what_it_dropped() {
        let log = Log::new(3, 1 << 20);
        for _ in 0..5 {
            log.push(note(1));
        }
        let batch = log.since(0);
        assert_eq!((batch.messages.len(), batch.next, batch.dropped), (3, 5, 2));
        assert!(batch.messages[0].contains("\"seq\":2"));
        let batch = log.since(4);
        assert_eq!((batch.messages.len(), batch.dropped), (1, 0));

        let log = Log::new(100, 300);
        for _ in 0..4 {
            log.push(note(100));
        }
        let batch = log.since(0);
        assert_eq!(batch.messages.len(), 1, "only what fits in 300 bytes, and always the newest");
        assert_eq!(batch.dropped, 3);
        log.push(Message::Closed {});
        log.push(note(1));
        let batch = log.since(0);
        assert!(batch.closed && batch.messages.last().unwrap().contains("closed"), "nothing after closed");
    }
}
