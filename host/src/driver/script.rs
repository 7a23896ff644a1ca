//! Scripts: a whole session without a person — taps, text input, answers to the
//! host's prompts (consent, link confirmations, the payment sheet), waits and
//! checks — one step a line. The format is documented in `docs/scripts.md`.
//!
//! ```text
//! tap "Tea set"                  # a button, by its label
//! tap cart.add                   # by its action id (or its key, or its label)
//! tap item.open {"id": "1042"}   # several buttons share an action: pick by payload
//! input coupon SPRING            # type into an input
//! pay wechat_pay                 # the next payment sheet: pay with WeChat Pay
//! answer yes                     # the next prompt of any kind
//! expect "Paid"                  # the view shows this text
//! advance 25h                    # the host's clock moves on (providers' schedules, refunds)
//! ```

use super::Driver;
use crate::capabilities::view::reading::{self, ControlKind};
use crate::consent::{Answer, AnswerFuture, LOCAL_USER, Prompt, User};
use crate::error::SessionError;
use crate::transcript::{Record, Transcript};
use miniapp_abi::lifecycle::{Event, Surface};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest `wait` a script may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Longest `advance` a script may ask for: past a year's refund window.
const MAX_ADVANCE: Duration = Duration::from_secs(400 * 86_400);

/// A parsed script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One line of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The line number, from 1.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
    /// What to do.
    pub command: Command,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Tap a button.
    Tap {
        /// Which button.
        target: TapTarget,
        /// Only buttons whose payload has these values.
        payload: Option<Value>,
    },
    /// Type into an input.
    Input {
        /// The input's field name.
        field: String,
        /// The text.
        text: String,
    },
    /// Answer the next prompt of any kind.
    Answer(Answer),
    /// Answer the next payment sheet: a method's id or name, or `None` to cancel.
    Pay(Option<String>),
    /// Check the screen or the session.
    Expect(Expectation),
    /// The host's back button.
    Back,
    /// Ask for a fresh view.
    Refresh,
    /// Bring the program to the foreground.
    Show,
    /// Send it to the background.
    Hide,
    /// Wait (for a delayed notification, say).
    Wait(Duration),
    /// Move the host's clock on (see [`crate::clock`]).
    Advance(Duration),
    /// Deliver a raw event.
    Event(Event),
    /// The payment providers answer the orders started from now on this way
    /// (a simulator's scenario: `insufficient_funds`, `timeout`, …; `default`).
    Scenario(String),
    /// The user turns links on a surface on or off in the host's settings.
    Links {
        /// The surface.
        surface: Surface,
        /// On or off.
        enabled: bool,
    },
}

/// How a `tap` names its button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapTarget {
    /// By its number on screen.
    Number(usize),
    /// A bare word: an action id, else a key, else a label.
    Word(String),
    /// A quoted label: exactly, else as part of the label.
    Label(String),
}

/// What `expect` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The view on screen shows this text.
    Text(String),
    /// The view on screen does not show this text.
    NoText(String),
    /// The page on top has this path.
    Page(String),
    /// The host ended the program, for a reason containing this text (any, if empty).
    Ended(String),
    /// The program's storage holds this JSON value under this key (`None`: no entry).
    Storage {
        /// The key.
        key: String,
        /// The value, or `None` for "not stored".
        value: Option<Value>,
    },
    /// The host's ledger has this program's order in this state (`paid`, `cancelled`, …).
    Order {
        /// The program's order number (`out_trade_no`).
        out_trade_no: String,
        /// The state's stable name.
        state: String,
    },
    /// The last reply of a host function (its JSON, or the error object) contains this text.
    Reply {
        /// `capability.function`, e.g. `payment.request`.
        function: String,
        /// The text.
        text: String,
    },
    /// One of the host's audit records about this program contains this text.
    Audit(String),
}

/// A script that does not parse or a step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {message}")]
pub struct ScriptError {
    /// The line number.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl Script {
    /// Parses a script. Errors name the line.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut steps = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let words = split(raw).map_err(|message| ScriptError { line, message })?;
            let Some((verb, args)) = words.split_first() else { continue };
            let command = parse_command(verb, args).map_err(|message| ScriptError { line, message })?;
            steps.push(Step { line, text: raw.trim().to_string(), command });
        }
        Ok(Script { steps })
    }

    /// How many answers to the host's prompts the script gives.
    pub fn answers(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.command, Command::Answer(_) | Command::Pay(_))).count()
    }
}

/// One word of a line: bare, quoted, or a JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Word {
    Bare(String),
    Quoted(String),
    Json(Value),
}

impl Word {
    fn text(&self) -> String {
        match self {
            Word::Bare(text) | Word::Quoted(text) => text.clone(),
            Word::Json(value) => value.to_string(),
        }
    }
}

/// Splits a line into words: `"quoted strings"` (JSON escapes), `{…}`/`[…]` JSON
/// values, bare words; `#` starts a comment (but `#3` is a button number).
fn split(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('#') && !rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        if rest.starts_with('"') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            match stream.next() {
                Some(Ok(text)) => {
                    words.push(Word::Quoted(text));
                    rest = rest[stream.byte_offset()..].trim_start();
                }
                _ => return Err(format!("unterminated or malformed string: {rest}")),
            }
        } else if rest.starts_with('{') || rest.starts_with('[') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => {
                    words.push(Word::Json(value));
                    rest = rest[stream.byte_offset()..].trim_start();
                }
                Some(Err(error)) => return Err(format!("bad JSON: {error}")),
                None => return Err("bad JSON".to_string()),
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(Word::Bare(rest[..end].to_string()));
            rest = rest[end..].trim_start();
        }
    }
    Ok(words)
}

fn parse_command(verb: &Word, args: &[Word]) -> Result<Command, String> {
    let Word::Bare(verb) = verb else { return Err(format!("a step starts with a command, not {}", verb.text())) };
    let arity = |min: usize, max: usize, usage: &str| {
        if args.len() < min || args.len() > max { Err(format!("usage: {usage}")) } else { Ok(()) }
    };
    match verb.as_str() {
        "tap" => {
            arity(1, 2, "tap <number | action | key | \"label\"> [{payload}]")?;
            let target = match &args[0] {
                Word::Quoted(label) => TapTarget::Label(label.clone()),
                Word::Bare(word) => match word.trim_start_matches('#').parse::<usize>() {
                    Ok(number) => TapTarget::Number(number),
                    Err(_) => TapTarget::Word(word.clone()),
                },
                Word::Json(_) => return Err("tap needs a button before the payload".to_string()),
            };
            let payload = match args.get(1) {
                None => None,
                Some(Word::Json(value)) => Some(value.clone()),
                Some(other) => return Err(format!("expected a JSON payload after the button, found {}", other.text())),
            };
            Ok(Command::Tap { target, payload })
        }
        "input" => {
            if args.is_empty() {
                return Err("usage: input <field> <text…>".to_string());
            }
            let text: Vec<String> = args[1..].iter().map(Word::text).collect();
            Ok(Command::Input { field: args[0].text(), text: text.join(" ") })
        }
        "scenario" => {
            arity(1, 1, "scenario <name> | default")?;
            Ok(Command::Scenario(args[0].text()))
        }
        "answer" => {
            arity(1, 1, "answer yes | no | <number>")?;
            let answer = Answer::parse(&args[0].text())
                .ok_or_else(|| format!("`{}` is not an answer; expected yes, no or a number", args[0].text()))?;
            Ok(Command::Answer(answer))
        }
        "pay" => {
            arity(1, 1, "pay <method> | cancel")?;
            let method = args[0].text();
            Ok(Command::Pay(if method == "cancel" { None } else { Some(method) }))
        }
        "expect" => {
            let usage = "expect \"text\" | expect no \"text\" | expect page <path> | expect ended [\"reason\"] | \
                         expect storage <key> <json>|none | expect order <out_trade_no> <state> | \
                         expect reply <capability.function> \"text\" | expect audit \"text\"";
            match args {
                [Word::Quoted(text)] => Ok(Command::Expect(Expectation::Text(text.clone()))),
                [Word::Bare(no), Word::Quoted(text)] if no == "no" => {
                    Ok(Command::Expect(Expectation::NoText(text.clone())))
                }
                [Word::Bare(page), path] if page == "page" => Ok(Command::Expect(Expectation::Page(path.text()))),
                [Word::Bare(ended)] if ended == "ended" => Ok(Command::Expect(Expectation::Ended(String::new()))),
                [Word::Bare(ended), reason] if ended == "ended" => {
                    Ok(Command::Expect(Expectation::Ended(reason.text())))
                }
                [Word::Bare(storage), key, value] if storage == "storage" => {
                    let value = match value {
                        Word::Bare(none) if none == "none" => None,
                        Word::Json(value) => Some(value.clone()),
                        Word::Quoted(text) => Some(Value::String(text.clone())),
                        Word::Bare(text) => Some(serde_json::from_str(text).map_err(|_| {
                            format!("`{text}` is not a JSON value (quote a string: \"{text}\"), nor `none`")
                        })?),
                    };
                    Ok(Command::Expect(Expectation::Storage { key: key.text(), value }))
                }
                [Word::Bare(order), number, state] if order == "order" => {
                    let state = state.text();
                    if crate::capabilities::payment::ledger::State::parse(&state).is_none() {
                        return Err(format!(
                            "`{state}` is not an order state (paid, cancelled, failed, pending, closed, …)"
                        ));
                    }
                    Ok(Command::Expect(Expectation::Order { out_trade_no: number.text(), state }))
                }
                [Word::Bare(reply), function, text] if reply == "reply" => {
                    Ok(Command::Expect(Expectation::Reply { function: function.text(), text: text.text() }))
                }
                [Word::Bare(audit), text] if audit == "audit" => Ok(Command::Expect(Expectation::Audit(text.text()))),
                _ => Err(format!("usage: {usage}")),
            }
        }
        "back" | "refresh" | "show" | "hide" => {
            arity(0, 0, verb)?;
            Ok(match verb.as_str() {
                "back" => Command::Back,
                "refresh" => Command::Refresh,
                "show" => Command::Show,
                _ => Command::Hide,
            })
        }
        "wait" => {
            arity(1, 1, "wait <milliseconds>ms | <seconds>s")?;
            let text = args[0].text();
            let duration =
                parse_duration(&text).ok_or_else(|| format!("`{text}` is not a duration such as 500ms or 2s"))?;
            if duration > MAX_WAIT {
                return Err(format!("`{text}` is longer than the longest wait, {}s", MAX_WAIT.as_secs()));
            }
            Ok(Command::Wait(duration))
        }
        "advance" => {
            arity(1, 1, "advance <n>ms | <n>s | <n>m | <n>h | <n>d")?;
            let text = args[0].text();
            let duration =
                parse_span(&text).ok_or_else(|| format!("`{text}` is not a span such as 90s, 5m, 25h or 366d"))?;
            if duration > MAX_ADVANCE {
                return Err(format!(
                    "`{text}` is longer than the longest advance, {} days",
                    MAX_ADVANCE.as_secs() / 86_400
                ));
            }
            Ok(Command::Advance(duration))
        }
        "event" => {
            arity(1, 1, "event {json}")?;
            let Word::Json(value) = &args[0] else { return Err("usage: event {json}".to_string()) };
            match serde_json::from_value::<Event>(value.clone()) {
                Ok(Event::Unknown) | Err(_) => Err(format!("{value} is not an event (tap, input, custom, page)")),
                Ok(event) => Ok(Command::Event(event)),
            }
        }
        "links" => {
            arity(2, 2, "links <surface> on | off")?;
            let surface =
                Surface::parse(&args[0].text()).ok_or_else(|| format!("unknown surface `{}`", args[0].text()))?;
            let enabled = match args[1].text().as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("`{other}` is neither on nor off")),
            };
            Ok(Command::Links { surface, enabled })
        }
        other => Err(format!(
            "unknown command `{other}`; expected tap, input, answer, pay, expect, back, refresh, show, hide, wait, advance, event or links"
        )),
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(Duration::from_millis);
    }
    let seconds = text.strip_suffix('s')?.parse::<f64>().ok()?;
    (seconds.is_finite() && (0.0..=3600.0).contains(&seconds)).then(|| Duration::from_secs_f64(seconds))
}

/// A span of clock time: a whole or decimal number of ms, s, m, h or d.
fn parse_span(text: &str) -> Option<Duration> {
    let (number, unit) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0)]
        .into_iter()
        .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, unit)))?;
    let seconds = number.parse::<f64>().ok()? * unit;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::try_from_secs_f64(seconds).ok()).flatten()
}

/// Finds the button a tap means on `controls`: the action and payload to send.
pub fn find_button(
    controls: &[reading::Control],
    target: &TapTarget,
    payload: Option<&Value>,
) -> Result<(String, Value), String> {
    let buttons: Vec<&reading::Control> =
        controls.iter().filter(|c| matches!(c.kind, ControlKind::Button { .. })).collect();
    let describe = |list: &[&reading::Control]| -> String {
        let names: Vec<String> = list
            .iter()
            .map(|c| match &c.kind {
                ControlKind::Button { label, action, payload, .. } if payload.is_null() => {
                    format!("[{}] {label} ({action})", c.number)
                }
                ControlKind::Button { label, action, payload, .. } => {
                    format!("[{}] {label} ({action} {payload})", c.number)
                }
                ControlKind::Input { field, .. } => format!("[{}] input {field}", c.number),
            })
            .collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    let matches_by = |test: &dyn Fn(&ControlKind) -> bool| -> Vec<&reading::Control> {
        buttons.iter().copied().filter(|c| test(&c.kind)).collect()
    };
    let label_of = |kind: &ControlKind| match kind {
        ControlKind::Button { label, .. } => label.clone(),
        ControlKind::Input { label, .. } => label.clone(),
    };
    let mut found = match target {
        TapTarget::Number(number) => match controls.iter().find(|c| c.number == *number) {
            Some(control) if matches!(control.kind, ControlKind::Button { .. }) => vec![control],
            Some(_) => return Err(format!("[{number}] is an input, not a button")),
            None => return Err(format!("there is no control [{number}]; buttons: {}", describe(&buttons))),
        },
        TapTarget::Word(word) => {
            let by_action = matches_by(&|k| matches!(k, ControlKind::Button { action, .. } if action == word));
            let by_key = matches_by(&|k| matches!(k, ControlKind::Button { key: Some(key), .. } if key == word));
            let by_label = matches_by(&|k| label_of(k) == *word);
            [by_action, by_key, by_label].into_iter().find(|found| !found.is_empty()).unwrap_or_default()
        }
        TapTarget::Label(label) => {
            let exact = matches_by(&|k| label_of(k) == *label);
            if exact.is_empty() { matches_by(&|k| label_of(k).contains(label.as_str())) } else { exact }
        }
    };
    if let Some(wanted) = payload {
        found.retain(|c| matches!(&c.kind, ControlKind::Button { payload, .. } if payload_matches(payload, wanted)));
    }
    let name = match target {
        TapTarget::Number(n) => format!("[{n}]"),
        TapTarget::Word(w) => format!("`{w}`"),
        TapTarget::Label(l) => format!("\"{l}\""),
    };
    match found.as_slice() {
        [] => Err(format!("no button {name} on this page; buttons: {}", describe(&buttons))),
        [control] => match &control.kind {
            ControlKind::Button { disabled: true, label, .. } => Err(format!("button \"{label}\" is disabled")),
            ControlKind::Button { action, payload, .. } => Ok((action.clone(), payload.clone())),
            ControlKind::Input { .. } => Err(format!("{name} is an input")),
        },
        several => Err(format!(
            "{name} matches {} buttons: {}; add a payload or tap by number",
            several.len(),
            describe(several)
        )),
    }
}

/// Whether `payload` has every value of `wanted` (for objects), or equals it.
fn payload_matches(payload: &Value, wanted: &Value) -> bool {
    match (payload, wanted) {
        (Value::Object(have), Value::Object(want)) => want.iter().all(|(k, v)| have.get(k) == Some(v)),
        _ => payload == wanted,
    }
}

/// The user of a scripted session: answers prompts with the script's `answer`
/// and `pay` steps, in order. A prompt with no answer left is declined; an answer
/// that does not fit the prompt (a `pay` step meeting a link confirmation) is a
/// script error.
#[derive(Debug, Default)]
pub struct ScriptUser {
    planned: Mutex<VecDeque<(usize, Command)>>,
    errors: Mutex<Vec<ScriptError>>,
}

impl ScriptUser {
    /// A user with nothing planned yet.
    pub fn new() -> Arc<ScriptUser> {
        Arc::new(ScriptUser::default())
    }

    fn plan(&self, line: usize, command: Command) {
        self.planned.lock().unwrap_or_else(|p| p.into_inner()).push_back((line, command));
    }

    fn take_errors(&self) -> Vec<ScriptError> {
        std::mem::take(&mut *self.errors.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn unused(&self) -> Vec<usize> {
        self.planned.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(line, _)| *line).collect()
    }

    fn answer(&self, prompt: &Prompt) -> Answer {
        let Some((line, planned)) = self.planned.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
            return Answer::NoAnswer;
        };
        let fail = |message: String| {
            self.errors.lock().unwrap_or_else(|p| p.into_inner()).push(ScriptError { line, message });
            Answer::NoAnswer
        };
        match (planned, prompt) {
            (Command::Answer(answer), _) => answer,
            (Command::Pay(None), Prompt::Payment { .. }) => Answer::No,
            (Command::Pay(Some(method)), Prompt::Payment { methods, method_ids, .. }) => {
                let wanted = method.to_lowercase();
                let position = method_ids
                    .iter()
                    .position(|id| id.to_lowercase() == wanted)
                    .or_else(|| methods.iter().position(|name| name.to_lowercase() == wanted));
                match position {
                    Some(index) => Answer::Pick(index + 1),
                    None => fail(format!("the payment sheet offers {}, not `{method}`", method_ids.join(", "))),
                }
            }
            (_, prompt) => fail(format!(
                "a `{}` prompt came (\"{}\") but the next scripted answer is for a payment sheet",
                prompt.kind(),
                prompt.text()
            )),
        }
    }
}

impl User for ScriptUser {
    fn id(&self) -> &str {
        LOCAL_USER
    }

    fn ask<'a>(&'a self, prompt: &'a Prompt) -> AnswerFuture<'a> {
        Box::pin(std::future::ready(self.answer(prompt)))
    }
}

/// Runs `script` on `driver` (already launched), answering prompts through `user`
/// and flipping switches in `settings`. `after_step` runs after every step (to
/// show the screen and the output). Stops at the first failed step.
pub async fn run(
    script: &Script,
    driver: &mut Driver,
    user: &ScriptUser,
    host: &crate::Host,
    transcript: Option<&Transcript>,
    mut after_step: impl FnMut(&mut Driver, &Step),
) -> Result<(), ScriptError> {
    if script.steps.iter().any(|step| matches!(step.command, Command::Expect(Expectation::Reply { .. }))) {
        driver.keep_replies();
    }
    for step in &script.steps {
        if let Some(transcript) = transcript {
            transcript.record(Record::Step { line: step.line, step: step.text.clone() });
        }
        let result = run_step(step, driver, user, host).await;
        let result = result.and_then(|()| match user.take_errors().into_iter().next() {
            Some(error) => Err(error.message),
            None => Ok(()),
        });
        after_step(driver, step);
        if let Err(message) = result {
            if let Some(transcript) = transcript {
                transcript.record(Record::StepFailed { line: step.line, reason: message.clone() });
            }
            return Err(ScriptError { line: step.line, message });
        }
    }
    let unused = user.unused();
    if let Some(line) = unused.first() {
        return Err(ScriptError {
            line: *line,
            message: format!("{} scripted answer(s) were never asked for", unused.len()),
        });
    }
    Ok(())
}

async fn run_step(step: &Step, driver: &mut Driver, user: &ScriptUser, host: &crate::Host) -> Result<(), String> {
    let (settings, clock) = (host.user_settings(), host.clock());
    if let Some(ended) = driver.ended()
        && !matches!(step.command, Command::Expect(Expectation::Ended(_)) | Command::Wait(_) | Command::Advance(_))
    {
        return Err(format!("the program has ended: {ended}"));
    }
    let delivered = match &step.command {
        Command::Tap { target, payload } => {
            let view = driver.top().and_then(|(top, _, _)| top.view).ok_or("there is no view on screen to tap")?;
            let (action, payload) = find_button(&reading::controls(&view), target, payload.as_ref())?;
            driver.event(&Event::Tap { action, payload }).await
        }
        Command::Input { field, text } => {
            let view = driver.top().and_then(|(top, _, _)| top.view).ok_or("there is no view on screen")?;
            let known = reading::controls(&view)
                .iter()
                .any(|c| matches!(&c.kind, ControlKind::Input { field: f, .. } if f == field));
            if !known {
                return Err(format!("there is no input `{field}` on this page"));
            }
            driver.event(&Event::Input { field: field.clone(), value: text.clone() }).await
        }
        Command::Answer(_) | Command::Pay(_) => {
            user.plan(step.line, step.command.clone());
            Ok(())
        }
        Command::Expect(expectation) => return check(expectation, driver, host).await,
        Command::Back => match driver.back().await {
            Ok(true) => Ok(()),
            Ok(false) => return Err("already on the first page".to_string()),
            Err(error) => Err(error),
        },
        Command::Refresh => driver.refresh().await,
        Command::Show => driver.show().await,
        Command::Hide => driver.hide().await,
        Command::Wait(duration) => {
            tokio::time::sleep(*duration).await;
            Ok(())
        }
        Command::Advance(span) => {
            clock.advance(*span);
            // Let what woke (a retry, a refund settling) take its first step.
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            Ok(())
        }
        Command::Event(event) => driver.event(event).await,
        Command::Scenario(name) => {
            let control = host.scenario_control().ok_or("this host's payment providers have no scenarios")?;
            return control.set(name);
        }
        Command::Links { surface, enabled } => {
            return settings.set_links_enabled(LOCAL_USER, *surface, *enabled).await.map_err(|e| e.to_string());
        }
    };
    // A failure the program reported is shown with its output and the session goes
    // on; an ended program is caught by the next step (`expect ended`, or it fails).
    let _: Result<(), SessionError> = delivered;
    Ok(())
}

async fn check(expectation: &Expectation, driver: &mut Driver, host: &crate::Host) -> Result<(), String> {
    let screen_text = || driver.top().and_then(|(top, _, _)| top.view).map(|view| reading::text_of(&view));
    match expectation {
        Expectation::Text(text) => match screen_text() {
            Some(shown) if shown.contains(text.as_str()) => Ok(()),
            Some(shown) => Err(format!("the screen does not show \"{text}\"; it shows:\n{shown}")),
            None => Err(format!("expected \"{text}\" but there is no view on screen")),
        },
        Expectation::NoText(text) => match screen_text() {
            Some(shown) if shown.contains(text.as_str()) => Err(format!("the screen shows \"{text}\"")),
            _ => Ok(()),
        },
        Expectation::Page(path) => match driver.top() {
            Some((top, _, _)) if top.page.path == *path => Ok(()),
            Some((top, _, _)) => Err(format!("the page on top is `{}`, not `{path}`", top.page.path)),
            None => Err("the program has no pages".to_string()),
        },
        Expectation::Ended(reason) => match driver.ended() {
            Some(ended) if ended.to_string().contains(reason.as_str()) => Ok(()),
            Some(ended) => Err(format!("the program ended, but for another reason: {ended}")),
            None => Err("the program is still running".to_string()),
        },
        Expectation::Storage { key, value } => {
            let program = driver.session().program().key().to_string();
            let stored = crate::capabilities::storage::stored_value(host.database(), &program, key)
                .await
                .map_err(|e| format!("cannot read the program's storage: {e}"))?;
            match (value, stored) {
                (None, None) => Ok(()),
                (None, Some(stored)) => Err(format!("storage holds `{key}` = {stored}")),
                (Some(value), Some(stored)) if *value == stored => Ok(()),
                (Some(value), Some(stored)) => Err(format!("storage holds `{key}` = {stored}, not {value}")),
                (Some(value), None) => Err(format!("storage has no `{key}` (expected {value})")),
            }
        }
        Expectation::Order { out_trade_no, state } => {
            let program = driver.session().program().key().to_string();
            let orders = host.payment_ledger().list().await.map_err(|e| format!("cannot read the ledger: {e}"))?;
            let order = orders.iter().find(|o| o.program_id == program && o.out_trade_no == *out_trade_no);
            match order {
                Some(order) if order.state.as_str() == state => Ok(()),
                Some(order) => Err(format!("order {out_trade_no} is {}, not {state}", order.state.as_str())),
                None => Err(format!("the ledger has no order {out_trade_no} of this program")),
            }
        }
        Expectation::Reply { function, text } => match driver.last_host_call(function) {
            Some(call) if call.reply.contains(text.as_str()) => Ok(()),
            Some(call) => Err(format!(
                "the last {function} (status {}) replied {}, without \"{text}\"",
                call.status,
                crate::sanitize::line_within(&call.reply, 300)
            )),
            None => Err(format!("the program has not called {function}")),
        },
        Expectation::Audit(text) => {
            let program = driver.session().program().key().to_string();
            let decisions = host
                .audit()
                .recent(Some(&program), 200)
                .await
                .map_err(|e| format!("cannot read the audit log: {e}"))?;
            let lines: Vec<String> = decisions
                .iter()
                .map(|d| {
                    let target = d.target.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                    format!("{}.{} {}{target}: {}", d.capability, d.action, d.outcome.as_str(), d.reason)
                })
                .collect();
            if lines.iter().any(|line| line.contains(text.as_str())) {
                Ok(())
            } else {
                Err(format!(
                    "no audit record about this program contains \"{text}\"; the latest: {}",
                    lines.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::view::reading::Control;
    use serde_json::json;

    #[test]
    fn the_expectations_tests_need_parse() {
        let script = Script::parse(
            "expect storage cart {\"lines\": []}\nexpect storage count 2\nexpect storage name \"Li\"\n\
             expect storage gone none\nexpect order TD00000001 paid\nexpect reply payment.request \"paid\"\n\
             expect audit \"link.open\"\n",
        )
        .unwrap();
        let expected = [
            Expectation::Storage { key: "cart".into(), value: Some(serde_json::json!({"lines": []})) },
            Expectation::Storage { key: "count".into(), value: Some(serde_json::json!(2)) },
            Expectation::Storage { key: "name".into(), value: Some(serde_json::json!("Li")) },
            Expectation::Storage { key: "gone".into(), value: None },
            Expectation::Order { out_trade_no: "TD00000001".into(), state: "paid".into() },
            Expectation::Reply { function: "payment.request".into(), text: "paid".into() },
            Expectation::Audit("link.open".into()),
        ];
        for (step, expected) in script.steps.iter().zip(expected) {
            assert_eq!(step.command, Command::Expect(expected));
        }
        let bad_state = Script::parse("expect order TD1 shipped\n").unwrap_err();
        assert!(bad_state.message.contains("not an order state"), "{bad_state}");
        let bad_value = Script::parse("expect storage k hello\n").unwrap_err();
        assert!(bad_value.message.contains("quote a string"), "{bad_value}");
    }

    #[test]
    fn scripts_parse_with_line_numbers() {
        let script = Script::parse(
            "# demo\n\ntap \"加入购物车\"\ntap item.open {\"id\": \"1042\"}\ntap #3\ninput coupon SPRING SALE\n\
             pay wechat_pay\npay cancel\nanswer 2\nexpect \"Paid\"\nexpect no \"Error\"\nexpect page pages/cart\n\
             expect ended \"callback time\"\nwait 250ms\nwait 1.5s\nlinks moments on\nevent {\"type\":\"custom\",\"name\":\"x\"}\nback # close\n\
             advance 25h\nadvance 1.5d\nadvance 90s\nadvance 5m\n",
        )
        .unwrap();
        assert_eq!(script.steps.len(), 20);
        assert_eq!(script.steps[16].command, Command::Advance(Duration::from_secs(25 * 3600)));
        assert_eq!(script.steps[17].command, Command::Advance(Duration::from_secs(36 * 3600)));
        assert_eq!(script.steps[18].command, Command::Advance(Duration::from_secs(90)));
        assert_eq!(script.steps[19].command, Command::Advance(Duration::from_secs(300)));
        assert_eq!(script.steps[0].line, 3);
        assert_eq!(
            script.steps[0].command,
            Command::Tap { target: TapTarget::Label("加入购物车".into()), payload: None }
        );
        assert_eq!(
            script.steps[1].command,
            Command::Tap { target: TapTarget::Word("item.open".into()), payload: Some(json!({"id": "1042"})) }
        );
        assert_eq!(script.steps[2].command, Command::Tap { target: TapTarget::Number(3), payload: None });
        assert_eq!(script.steps[3].command, Command::Input { field: "coupon".into(), text: "SPRING SALE".into() });
        assert_eq!(script.steps[5].command, Command::Pay(None));
        assert_eq!(script.steps[12].command, Command::Wait(Duration::from_millis(1500)));
        assert_eq!(script.steps[15].command, Command::Back);
        assert_eq!(script.answers(), 3);
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line, message) in [
            ("tap", 1, "usage: tap"),
            ("\njump 3", 2, "unknown command `jump`"),
            ("tap \"unterminated", 1, "unterminated"),
            ("answer maybe", 1, "not an answer"),
            ("wait forever", 1, "not a duration"),
            ("wait 3600s", 1, "longest wait"),
            ("advance soon", 1, "not a span"),
            ("advance 500d", 1, "longest advance"),
            ("advance -1h", 1, "not a span"),
            ("links space on", 1, "unknown surface"),
            ("event {\"type\":\"swipe\"}", 1, "not an event"),
        ] {
            let err = Script::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    fn button(number: usize, label: &str, action: &str, payload: Value, key: Option<&str>) -> Control {
        Control {
            number,
            kind: ControlKind::Button {
                label: label.into(),
                action: action.into(),
                payload,
                key: key.map(str::to_string),
                disabled: false,
            },
        }
    }

    #[test]
    fn taps_find_one_button_or_explain() {
        let controls = vec![
            button(1, "Tea set", "item.open", json!({"id": "1"}), None),
            button(2, "Rice cooker", "item.open", json!({"id": "2"}), None),
            button(3, "Cart (2)", "cart.open", Value::Null, Some("c")),
        ];
        let find = |target: TapTarget, payload: Option<Value>| find_button(&controls, &target, payload.as_ref());
        assert_eq!(find(TapTarget::Word("cart.open".into()), None).unwrap().0, "cart.open");
        assert_eq!(find(TapTarget::Word("c".into()), None).unwrap().0, "cart.open");
        assert_eq!(find(TapTarget::Label("Cart".into()), None).unwrap().0, "cart.open");
        assert_eq!(find(TapTarget::Number(2), None).unwrap().1, json!({"id": "2"}));
        assert_eq!(find(TapTarget::Word("item.open".into()), Some(json!({"id": "2"}))).unwrap().1, json!({"id": "2"}));
        let err = find(TapTarget::Word("item.open".into()), None).unwrap_err();
        assert!(err.contains("matches 2 buttons"), "{err}");
        let err = find(TapTarget::Word("checkout".into()), None).unwrap_err();
        assert!(err.contains("no button `checkout`") && err.contains("[3] Cart (2) (cart.open)"), "{err}");
        assert!(find(TapTarget::Number(9), None).is_err());
    }

    #[tokio::test]
    async fn planned_answers_must_fit_their_prompt() {
        let user = ScriptUser::new();
        user.plan(4, Command::Pay(Some("alipay".into())));
        let sheet = Prompt::Payment {
            program: "p".into(),
            payee: "shop".into(),
            merchant_id: "1".into(),
            amount: "¥1.00".into(),
            description: "d".into(),
            methods: vec!["WeChat Pay".into(), "Alipay".into()],
            method_ids: vec!["wechat_pay".into(), "alipay".into()],
        };
        assert_eq!(user.ask(&sheet).await, Answer::Pick(2));
        assert_eq!(user.ask(&sheet).await, Answer::NoAnswer);
        user.plan(7, Command::Pay(None));
        let link =
            Prompt::OpenLink { program: "p".into(), target: "https://a.example/".into(), surface: Surface::Chat };
        assert_eq!(user.ask(&link).await, Answer::NoAnswer);
        let errors = user.take_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 7);
    }
}
