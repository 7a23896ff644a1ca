//! A session's record: every event delivered, every host call with its decision
//! and timing, every prompt with its answer, every view shown and everything the
//! program printed, in order, as JSON. Two runs of one script can be compared, and a
//! test can assert on what happened rather than on how it was printed.

use crate::capability::CallObserver;
use crate::consent::{Answer, AnswerFuture, Prompt, User};
use crate::sandbox::CapturedOutput;
use crate::session::SessionObserver;
use miniapp_abi::ErrorCode;
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::view::{Page, View};
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests and replies longer than this are recorded by size only.
const MAX_RECORDED_MESSAGE: usize = 64 << 10;

/// A shared, append-only record of one session.
#[derive(Clone)]
pub struct Transcript {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    started: Instant,
    entries: Vec<Entry>,
}

/// One thing that happened, with when (milliseconds since the record began).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Milliseconds since the session's record began.
    pub t_ms: f64,
    /// What happened.
    #[serde(flatten)]
    pub record: Record,
}

/// What a transcript records.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The program was launched.
    Launch {
        /// How it was launched.
        context: LaunchContext,
    },
    /// An event was delivered.
    Event {
        /// The event.
        event: Event,
    },
    /// The program was shown or hidden.
    Lifecycle {
        /// `show` or `hide`.
        callback: String,
    },
    /// A lifecycle callback finished.
    Callback {
        /// The guest export that ran.
        callback: String,
        /// `ok`, or why it failed.
        result: String,
        /// How long it took, host calls included.
        micros: u64,
    },
    /// The program called the host.
    HostCall {
        /// The capability.
        capability: String,
        /// The host function.
        function: String,
        /// The request, as JSON where it is JSON.
        request: Value,
        /// `ok` or the error code's name.
        status: String,
        /// The reply: the result, or the error with its message.
        reply: Value,
        /// How long the host took, waiting on the user included.
        micros: u64,
    },
    /// The host asked the user.
    Prompt {
        /// What kind of question (`payment`, `open_link`, `share`, `consent`, `choose_address`).
        prompt: String,
        /// The question as shown.
        text: String,
        /// The answer: `yes`, `no`, `pick N` or `none`.
        answer: String,
    },
    /// A view was shown.
    View {
        /// The page it belongs to.
        page: Page,
        /// Pages on the stack.
        depth: u32,
        /// The view.
        view: View,
    },
    /// The program printed, or the host acted on its behalf.
    Output {
        /// What it wrote to stdout.
        stdout: String,
        /// What it wrote to stderr.
        stderr: String,
        /// What the host did for it, `capability: message`.
        notices: Vec<String>,
    },
    /// The host ended the program.
    Ended {
        /// Why.
        reason: String,
    },
    /// A script step ran.
    Step {
        /// The script's line number.
        line: usize,
        /// The step as written.
        step: String,
    },
    /// A script step failed.
    StepFailed {
        /// The script's line number.
        line: usize,
        /// Why.
        reason: String,
    },
}

impl Default for Transcript {
    fn default() -> Transcript {
        Transcript::new()
    }
}

impl Transcript {
    /// An empty record starting now.
    pub fn new() -> Transcript {
        Transcript { inner: Arc::new(Mutex::new(Inner { started: Instant::now(), entries: Vec::new() })) }
    }

    /// Appends `record`.
    pub fn record(&self, record: Record) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let t_ms = inner.started.elapsed().as_secs_f64() * 1000.0;
        inner.entries.push(Entry { t_ms: (t_ms * 1000.0).round() / 1000.0, record });
    }

    fn record_host_call(
        &self,
        capability: &str,
        function: &str,
        request: &[u8],
        status: i32,
        reply: &[u8],
        took: Duration,
    ) {
        self.record(Record::HostCall {
            capability: capability.to_string(),
            function: function.to_string(),
            request: message_value(request),
            status: status_name(status),
            reply: message_value(reply),
            micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        });
    }

    /// Records what a program printed, if anything.
    pub fn output(&self, output: &CapturedOutput) {
        if output.is_empty() {
            return;
        }
        self.record(Record::Output {
            stdout: crate::sanitize::output_text(&output.stdout_text()),
            stderr: crate::sanitize::output_text(&output.stderr_text()),
            notices: output
                .notices
                .iter()
                .map(|n| format!("{}: {}", n.capability, crate::sanitize::line(&n.message)))
                .collect(),
        });
    }

    /// Everything recorded so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries.clone()
    }

    /// The record as one JSON document, with `header` fields (program, module hash…)
    /// in front of the entries.
    pub fn to_json(&self, header: serde_json::Map<String, Value>) -> Value {
        let mut document = header;
        let entries = serde_json::to_value(self.entries()).unwrap_or(Value::Null);
        document.insert("entries".into(), entries);
        Value::Object(document)
    }
}

/// A host call's status as records show it: `ok`, the error code's name, or the
/// number when it is no known code.
pub fn status_name(status: i32) -> String {
    if status == 0 {
        return "ok".to_string();
    }
    ErrorCode::from_number(status).map_or_else(|| status.to_string(), |c| c.as_str().to_string())
}

/// The fields a transcript file starts with: the program, its publisher key,
/// name, version, module hash, ABI version and the surface it was opened from.
pub fn header(app: &crate::App, surface: miniapp_abi::lifecycle::Surface) -> serde_json::Map<String, Value> {
    let program = app.program();
    let mut header = serde_json::Map::new();
    header.insert("program".into(), program.id.clone().into());
    header.insert("publisher_key".into(), program.identity.publisher().as_str().into());
    header.insert("name".into(), program.name.clone().into());
    header.insert("version".into(), program.version.clone().into());
    header.insert("module_sha256".into(), program.module_hash.clone().into());
    header.insert("abi".into(), app.abi_version().to_string().into());
    header.insert("surface".into(), surface.as_str().into());
    header
}

fn message_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if bytes.len() > MAX_RECORDED_MESSAGE {
        return serde_json::json!({ "omitted_bytes": bytes.len() });
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl CallObserver for Transcript {
    fn host_call(&self, capability: &str, function: &str, request: &[u8], status: i32, reply: &[u8], took: Duration) {
        self.record_host_call(capability, function, request, status, reply, took);
    }
}

impl SessionObserver for Transcript {
    fn event(&self, event: &Event) {
        self.record(Record::Event { event: event.clone() });
    }

    fn callback(&self, callback: &str, outcome: &str, micros: u64) {
        self.record(Record::Callback { callback: callback.to_string(), result: outcome.to_string(), micros });
    }

    fn ended(&self, reason: &str) {
        self.record(Record::Ended { reason: reason.to_string() });
    }
}

/// A [`User`] whose every prompt and answer goes into a transcript.
pub struct RecordingUser {
    inner: Arc<dyn User>,
    transcript: Transcript,
}

impl RecordingUser {
    /// Records what `inner` is asked and answers into `transcript`.
    pub fn new(inner: Arc<dyn User>, transcript: Transcript) -> RecordingUser {
        RecordingUser { inner, transcript }
    }
}

impl User for RecordingUser {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a> {
        Box::pin(async move {
            let answer = self.inner.ask(prompt).await;
            self.transcript.record(Record::Prompt {
                prompt: prompt.kind().to_string(),
                text: prompt.text(),
                answer: answer_name(answer),
            });
            answer
        })
    }
}

fn answer_name(answer: Answer) -> String {
    match answer {
        Answer::Yes => "yes".into(),
        Answer::No => "no".into(),
        Answer::Pick(n) => format!("pick {n}"),
        Answer::NoAnswer => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_calls_record_json_or_text() {
        let transcript = Transcript::new();
        transcript.host_call("storage", "get", br#"{"key":"cart"}"#, 0, b"", Duration::from_micros(7));
        transcript.host_call("link", "open", b"\xff", 1, b"{\"code\":\"invalid_argument\"}", Duration::ZERO);
        let json = serde_json::to_value(transcript.entries()).unwrap();
        assert_eq!(json[0]["kind"], "host_call");
        assert_eq!(json[0]["request"]["key"], "cart");
        assert_eq!(json[0]["reply"], Value::Null);
        assert_eq!(json[0]["status"], "ok");
        assert_eq!(json[1]["request"], "\u{fffd}");
        assert_eq!(json[1]["status"], ErrorCode::from_number(1).unwrap().as_str());
    }
}
