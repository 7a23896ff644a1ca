//! Replaying a recorded session: a transcript turned back into the script that
//! makes the same session — its launch, the person's or the script's steps in
//! order, and the answers the prompts were given — and the first entry where a
//! new run of it differs from the record.
//!
//! A scripted transcript holds its steps (answers included) as written. One
//! recorded at the terminal holds the person's actions as steps too, and its
//! prompts' answers are put back before the step that asked them. Entries are
//! compared without their timings (`t_ms`, `micros`) and with what providers
//! mint (long digit runs: transaction and refund ids, times; receipts) masked.

use super::script::Script;
use miniapp_abi::lifecycle::LaunchContext;
use serde_json::Value;

/// What a replay runs: the recorded launch and the script of everything after it.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The launch context, as recorded.
    pub launch: LaunchContext,
    /// The script (each step's `text` as it will run).
    pub script: Script,
}

/// The first entry where two transcripts differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Its position among the compared entries (0 is the first).
    pub index: usize,
    /// The recorded entry, as compared (`None`: the record ended before it).
    pub recorded: Option<Value>,
    /// The replayed entry, as compared (`None`: the replay ended before it).
    pub replayed: Option<Value>,
}

/// The replay of transcript `document` (as `miniapp run --transcript` writes it).
pub fn from_transcript(document: &Value) -> Result<Replay, String> {
    let entries = document.get("entries").and_then(Value::as_array).ok_or("the transcript has no `entries` list")?;
    let launch = entries
        .iter()
        .find(|e| e.get("kind").and_then(Value::as_str) == Some("launch"))
        .and_then(|e| e.get("context"))
        .ok_or("the transcript records no launch")?;
    let launch: LaunchContext =
        serde_json::from_value(launch.clone()).map_err(|e| format!("the recorded launch context is not one: {e}"))?;
    let scripted = document.get("script").is_some();
    // Each step with the answers its prompts were given, planned before it.
    let mut steps: Vec<(Vec<String>, String)> = Vec::new();
    let mut early_answers = Vec::new();
    for entry in entries {
        match entry.get("kind").and_then(Value::as_str) {
            Some("step") => {
                let step = entry.get("step").and_then(Value::as_str).ok_or("a `step` entry has no `step` text")?;
                steps.push((Vec::new(), step.to_string()));
            }
            Some("prompt") if !scripted => {
                let answer = entry.get("answer").and_then(Value::as_str).ok_or("a `prompt` entry has no `answer`")?;
                let line = match answer.strip_prefix("pick ") {
                    Some(number) => format!("answer {number}"),
                    None if answer == "none" => continue,
                    None => format!("answer {answer}"),
                };
                match steps.last_mut() {
                    Some((answers, _)) => answers.push(line),
                    None => early_answers.push(line),
                }
            }
            _ => {}
        }
    }
    if !early_answers.is_empty() {
        return Err("the launch asked the user; a replay cannot answer prompts before its first step".to_string());
    }
    let mut text = String::new();
    for (answers, step) in steps {
        for answer in answers {
            text.push_str(&answer);
            text.push('\n');
        }
        text.push_str(&step);
        text.push('\n');
    }
    let script = Script::parse(&text).map_err(|e| format!("the recorded steps do not make a script: {e}"))?;
    Ok(Replay { launch, script })
}

/// The first entry where `replayed` differs from `recorded`, if any.
pub fn first_difference(recorded: &Value, replayed: &Value) -> Option<Difference> {
    let (recorded, replayed) = (comparable(recorded), comparable(replayed));
    let longest = recorded.len().max(replayed.len());
    (0..longest).find_map(|index| {
        let (a, b) = (recorded.get(index), replayed.get(index));
        (a != b).then(|| Difference { index, recorded: a.cloned(), replayed: b.cloned() })
    })
}

/// The entries of `document` that say what the program did, as compared: the
/// steps themselves (the replay's input) and what was timed are left out.
fn comparable(document: &Value) -> Vec<Value> {
    let Some(entries) = document.get("entries").and_then(Value::as_array) else { return Vec::new() };
    entries
        .iter()
        .filter(|e| e.get("kind").and_then(Value::as_str) != Some("step"))
        .map(|entry| {
            let mut entry = entry.clone();
            if let Some(fields) = entry.as_object_mut() {
                fields.remove("t_ms");
                fields.remove("micros");
                // A line number in the replay's own script, not the record's.
                fields.remove("line");
            }
            mask(&mut entry);
            entry
        })
        .collect()
}

/// Masks what differs between two runs of the same session: receipts, and
/// digit runs of 12 or more (ids providers mint, times in milliseconds).
fn mask(value: &mut Value) {
    match value {
        Value::String(text) => *text = mask_digits(text),
        Value::Number(number) if number.as_i64().is_some_and(|n| n.unsigned_abs() >= 100_000_000_000) => {
            *value = Value::String("#".into())
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "receipt" {
                    *field = Value::String("#".into());
                } else {
                    mask(field);
                }
            }
        }
        _ => {}
    }
}

fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\u{0}')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 12 {
            out.push('#');
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\u{0}' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_terminal_session_becomes_a_script_with_its_answers_before_their_steps() {
        let document = json!({"entries": [
            {"kind": "launch", "context": {"surface": "chat", "path": "pages/item", "query": {"id": "1042"}}},
            {"kind": "step", "line": 1, "step": "tap cart.add {\"id\":1042}"},
            {"kind": "step", "line": 2, "step": "tap checkout"},
            {"kind": "prompt", "prompt": "payment", "text": "…", "answer": "pick 2"},
            {"kind": "step", "line": 3, "step": "back"},
            {"kind": "prompt", "prompt": "open_link", "text": "…", "answer": "none"},
        ]});
        let replay = from_transcript(&document).unwrap();
        let steps: Vec<&str> = replay.script.steps.iter().map(|step| step.text.as_str()).collect();
        assert_eq!(steps, ["tap cart.add {\"id\":1042}", "answer 2", "tap checkout", "back"]);
        assert_eq!(replay.launch.path, "pages/item");
    }

    #[test]
    fn a_persons_events_read_back_as_the_same_events() {
        use super::super::Driver;
        use super::super::script::Command;
        use miniapp_abi::lifecycle::Event;
        let events = [
            Event::Tap { action: "cart.add".into(), payload: json!({"id": 1042, "note": "a b \"c\""}) },
            Event::Tap { action: "home".into(), payload: Value::Null },
            Event::Tap { action: "odd action".into(), payload: Value::Null },
            Event::Input { field: "coupon".into(), value: "SPRING \"SALE\" #1".into() },
        ];
        for event in events {
            let step = Driver::step_of(&event);
            let script = Script::parse(&step).unwrap_or_else(|e| panic!("{step}: {e}"));
            let read = match &script.steps[0].command {
                Command::Tap { target: super::super::script::TapTarget::Word(action), payload } => {
                    Event::Tap { action: action.clone(), payload: payload.clone().unwrap_or(Value::Null) }
                }
                Command::Input { field, text } => Event::Input { field: field.clone(), value: text.clone() },
                Command::Event(event) => event.clone(),
                other => panic!("{step} read back as {other:?}"),
            };
            assert_eq!(read, event, "{step}");
        }
    }

    #[test]
    fn timings_and_minted_ids_are_not_differences_and_anything_else_is() {
        let one = json!({"entries": [
            {"kind": "host_call", "t_ms": 1.0, "micros": 5, "reply": {"transaction_id": "4200246813149006397007989180", "receipt": "abc"}},
            {"kind": "view", "t_ms": 2.0, "view": {"title": "交易号 Transaction 4200246813149006397007989180"}},
        ]});
        let two = json!({"entries": [
            {"kind": "host_call", "t_ms": 9.0, "micros": 7, "reply": {"transaction_id": "4200984182854089772026675257", "receipt": "xyz"}},
            {"kind": "view", "t_ms": 3.0, "view": {"title": "交易号 Transaction 4200984182854089772026675257"}},
        ]});
        assert_eq!(first_difference(&one, &two), None);
        let three = json!({"entries": [one["entries"][0].clone(), {"kind": "view", "view": {"title": "Failed"}}]});
        let difference = first_difference(&one, &three).unwrap();
        assert_eq!(difference.index, 1);
        let shorter = json!({"entries": [one["entries"][0].clone()]});
        assert_eq!(first_difference(&one, &shorter).unwrap().replayed, None);
    }
}
