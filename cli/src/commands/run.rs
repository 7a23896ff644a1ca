//! `miniapp run`: build if stale, load, launch, and then either deliver the events
//! given on the command line, run a script (`--script`), or — for a program that
//! shows views — let the person at the terminal use it. Output is shown prefixed
//! with the program's id; views are drawn; `--transcript` records the session.

use super::open_host;
use super::programs::Target;
use crate::prompt::TerminalUser;
use crate::terminal::{self, Style};
use anyhow::{Context, bail};
use clap::Args;
use miniapp_host::capabilities::view::reading::{self, ControlKind};
use miniapp_host::consent::{Answer, User, answer_word};
use miniapp_host::driver::Driver;
use miniapp_host::driver::script::{self, Script, ScriptUser, TapTarget};
use miniapp_host::sanitize;
use miniapp_host::transcript::{RecordingUser, Transcript};
use miniapp_host::{App, CapturedOutput, Event, HostConfig, LaunchContext, Surface};
use miniapp_providers::{Scenario, SimulatorSettings};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `miniapp run`.
#[derive(Args)]
pub struct RunArgs {
    /// The program: an app directory (holding miniapp.toml; built if stale and
    /// signed with this host's development key), a package file, or an installed id.
    program: String,

    /// Where the program is opened: direct, chat, group, moments, channels_ad, mini_program.
    #[arg(long, default_value = "direct", value_parser = parse_surface)]
    surface: Surface,

    /// The page path to open.
    #[arg(long, default_value = "")]
    path: String,

    /// A launch query parameter, KEY=VALUE (repeatable).
    #[arg(long = "query", value_name = "KEY=VALUE", value_parser = parse_query)]
    query: Vec<(String, String)>,

    /// An event to deliver after launch, as JSON, e.g. '{"type":"tap","action":"buy"}' (repeatable).
    #[arg(long = "event", value_name = "JSON", value_parser = parse_event)]
    events: Vec<Event>,

    /// An answer to the next prompt the host shows, used in order (repeatable):
    /// `yes` or `no` for a confirmation or consent, `N` for the N-th choice (a
    /// payment method on the payment sheet, an address), `no` to cancel the sheet.
    /// An answer that does not fit its prompt is reported and the next one is
    /// taken. Without answers the host asks at the terminal, or declines when there
    /// is none; answers left over at the end are an error.
    #[arg(long = "answer", value_name = "yes|no|N", value_parser = parse_answer)]
    answers: Vec<Answer>,

    /// Drive the session with a script (see docs/scripts.md) instead of a person.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["answers", "events"])]
    script: Option<PathBuf>,

    /// Write a JSON record of the session (events, host calls with their decisions
    /// and timings, prompts, views, output) to FILE.
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,

    /// The referrer: the id of the mini-program that opened this one.
    #[arg(long, value_name = "PROGRAM_ID")]
    referrer: Option<String>,

    /// How the simulated payment providers behave: success, user_cancel,
    /// insufficient_funds, timeout, duplicate_notifications, out_of_order,
    /// forged_notification, stale_notification, amount_mismatch.
    #[arg(long, value_name = "SCENARIO", value_parser = parse_scenario)]
    payment_scenario: Option<Scenario>,

    /// Do not run the manifest's build command first.
    #[arg(long)]
    no_build: bool,
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    Scenario::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown scenario `{text}`; expected one of: {}", known.join(", "))
    })
}

fn parse_answer(text: &str) -> Result<Answer, String> {
    Answer::parse(text).ok_or_else(|| format!("`{text}` is not an answer; expected yes, no or a choice's number"))
}

pub(super) fn parse_surface(text: &str) -> Result<Surface, String> {
    Surface::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Surface::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown surface `{text}`; expected one of: {}", known.join(", "))
    })
}

fn parse_query(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if key.is_empty() {
        return Err(format!("`{text}` has an empty key"));
    }
    Ok((key.to_string(), value.to_string()))
}

fn parse_event(text: &str) -> Result<Event, String> {
    match serde_json::from_str::<Event>(text) {
        Ok(Event::Unknown) => Err(format!("`{text}`: unknown event type; expected tap, input or custom")),
        Ok(event) => Ok(event),
        Err(error) => Err(format!("`{text}` is not an event: {error}")),
    }
}

pub async fn run(mut config: HostConfig, args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(scenario) = args.payment_scenario {
        // The simulators' other settings from the configuration stay as they are.
        SimulatorSettings::update(&mut config, |settings| settings.scenario = scenario).map_err(anyhow::Error::msg)?;
    }
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(Script::parse(&text).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    let target = Target::parse(&args.program)?;
    let host = open_host(config)?;
    let app = target.load(&host, args.no_build).await?;
    // What a script program's files printed at their top level, when its snapshot was made now.
    if let Some(miniapp_host::Preinitialisation::Snapshot { output }) = app.preinitialisation() {
        show(&app.program().id, output.clone());
    }

    let transcript = args.transcript.as_ref().map(|_| Transcript::new());
    let script_user = ScriptUser::new();
    let terminal_user = Arc::new(TerminalUser::new(args.answers.clone()));
    let person: Arc<dyn User> = match script {
        Some(_) => script_user.clone(),
        None => terminal_user.clone(),
    };
    let user: Arc<dyn User> = match &transcript {
        Some(transcript) => Arc::new(RecordingUser::new(person, transcript.clone())),
        None => person,
    };
    let mut driver = Driver::new(app.start_with_user(user).await?, transcript.clone());
    let mut console =
        Console { program: app.program().id.clone(), style: Style::for_stdout(), hints: false, reported_end: false };

    let scripted = script.as_ref().map(|script| (script, script_user.as_ref(), transcript.as_ref()));
    let outcome = drive(&mut driver, &mut console, &args, scripted, &host).await;
    if let (Some(path), Some(transcript)) = (&args.transcript, &transcript) {
        write_transcript(path, transcript, &app, &args)?;
    }
    let unused = terminal_user.unused_answers();
    if outcome.is_ok() && !unused.is_empty() {
        let words: Vec<String> = unused.into_iter().map(answer_word).collect();
        bail!("{} --answer value(s) were never asked for: {}", words.len(), words.join(", "));
    }
    outcome
}

async fn drive(
    driver: &mut Driver,
    console: &mut Console,
    args: &RunArgs,
    script: Option<(&Script, &ScriptUser, Option<&Transcript>)>,
    host: &miniapp_host::Host,
) -> anyhow::Result<ExitCode> {
    let mut context = LaunchContext::new(args.surface);
    context.path = args.path.clone();
    context.query = args.query.iter().cloned().collect();
    context.referrer = args.referrer.clone();
    let launched = driver.launch(&context).await;
    console.present(driver);
    // A program that fails its launch did not start, whatever it reported.
    launched?;

    if let Some((script, script_user, transcript)) = script {
        let result = script::run(script, driver, script_user, host, transcript, |driver, step| {
            println!("[script] {}: {}", step.line, step.text);
            console.present(driver);
        })
        .await;
        return match result {
            Ok(()) => {
                console.present(driver);
                println!("[script] finished: {} steps", script.steps.len());
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Err(error.into()),
        };
    }

    for event in &args.events {
        driver.record_step(&Driver::step_of(event));
        let handled = driver.event(event).await;
        console.present(driver);
        handled?;
    }
    if !args.events.is_empty() && !driver.session().handles_events() {
        bail!("{} does not export miniapp_on_event, so the events given were not delivered", console.program);
    }
    if args.events.is_empty() && driver.has_screen() {
        interact(driver, console).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The terminal: shows the program's output and its views.
struct Console {
    program: String,
    style: Style,
    /// Whether to print the keys a person can use under each view.
    hints: bool,
    /// Whether the end of the program was already reported.
    reported_end: bool,
}

impl Console {
    /// Shows what happened since last time: output, notices, and the view if it changed.
    fn present(&mut self, driver: &mut Driver) {
        show(&self.program, driver.take_output());
        if driver.view_changed()
            && let Some((top, depth, max)) = driver.top()
            && let Some(view) = &top.view
        {
            let drawn = terminal::draw(view, &top.page, depth, max, self.style);
            let mut out = std::io::stdout().lock();
            for line in drawn.lines {
                let _ = writeln!(out, "{line}");
            }
            if self.hints {
                let hint = "tap: a number or key · fill an input: its number, then the text · back · refresh · quit";
                for line in terminal::wrap_text("", hint, self.style.width) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        if let Some(ended) = driver.ended()
            && !self.reported_end
        {
            self.reported_end = true;
            println!("[host] {}. The host is still running.", sanitize::line(&ended.to_string()));
        }
    }
}

/// The person at the terminal uses the program until they quit or input ends.
async fn interact(driver: &mut Driver, console: &mut Console) -> anyhow::Result<()> {
    let person = std::io::stdin().is_terminal();
    console.hints = person;
    if person {
        println!("tap: a number or key · fill an input: its number, then the text · back · refresh · quit");
    }
    while driver.ended().is_none() {
        if person {
            print!("› ");
            let _ = std::io::stdout().flush();
        }
        let Some(line) = read_line().await else { break };
        let line = line.trim();
        let words: Vec<&str> = line.splitn(2, ' ').collect();
        let result = match words.as_slice() {
            [""] => continue,
            ["quit" | "exit"] => break,
            ["help" | "?"] => {
                println!("a number or a key taps that button; a number then text fills that input");
                println!("back (or <) closes the page · refresh redraws it · hide / show · quit");
                continue;
            }
            ["back" | "<"] => match record(driver, "back").back().await {
                Ok(false) => {
                    println!("[host] already on the first page");
                    Ok(())
                }
                other => other.map(|_| ()),
            },
            ["refresh"] => record(driver, "refresh").refresh().await,
            ["hide"] => record(driver, "hide").hide().await,
            ["show"] => record(driver, "show").show().await,
            [target, rest @ ..] => {
                let controls = driver.top().and_then(|(top, _, _)| top.view).map(|v| reading::controls(&v));
                let controls = controls.unwrap_or_default();
                match choose(&controls, target, rest.first().copied()).await {
                    Ok(event) => {
                        driver.record_step(&Driver::step_of(&event));
                        driver.event(&event).await
                    }
                    Err(message) => {
                        println!("[host] {message}");
                        continue;
                    }
                }
            }
            [] => continue,
        };
        console.present(driver);
        if let Err(error) = result
            && error.ends_program()
        {
            return Err(error.into());
        }
    }
    Ok(())
}

/// Records `step` (a person's action) in the transcript, for a replay.
fn record<'a>(driver: &'a mut Driver, step: &str) -> &'a mut Driver {
    driver.record_step(step);
    driver
}

/// The event a person's line means: a button by number, key or action, or text
/// for an input by number.
async fn choose(controls: &[reading::Control], target: &str, text: Option<&str>) -> Result<Event, String> {
    if let Ok(number) = target.parse::<usize>()
        && let Some(control) = controls.iter().find(|c| c.number == number)
        && let ControlKind::Input { field, label } = &control.kind
    {
        let value = match text {
            Some(text) => text.to_string(),
            None => {
                print!("{}: ", if label.is_empty() { field } else { label });
                let _ = std::io::stdout().flush();
                read_line().await.unwrap_or_default().trim_end_matches(['\r', '\n']).to_string()
            }
        };
        return Ok(Event::Input { field: field.clone(), value });
    }
    let target = match target.parse::<usize>() {
        Ok(number) => TapTarget::Number(number),
        Err(_) => TapTarget::Word(target.to_string()),
    };
    let (action, payload) = script::find_button(controls, &target, None)?;
    Ok(Event::Tap { action, payload })
}

async fn read_line() -> Option<String> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    })
    .await
    .ok()
    .flatten()
}

fn write_transcript(path: &PathBuf, transcript: &Transcript, app: &App, args: &RunArgs) -> anyhow::Result<()> {
    let mut header = miniapp_host::transcript::header(app, args.surface);
    // Where the program came from, for `miniapp replay`.
    header.insert("target".into(), args.program.clone().into());
    if let Some(script) = &args.script {
        header.insert("script".into(), script.display().to_string().into());
    }
    let document = transcript.to_json(header);
    let text = serde_json::to_string_pretty(&document)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write the transcript to {}", path.display()))
}

/// Prints a program's output line by line, prefixed with its id and made safe to
/// show, so that no line of it can rewrite or pass for one of the host's.
fn show(program: &str, output: CapturedOutput) {
    fn print_lines(mut sink: impl Write, program: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for line in sanitize::output_lines(&text) {
            // A closed pipe is not worth failing over; the program already ran.
            let _ = writeln!(sink, "[{program}] {line}");
        }
    }
    print_lines(std::io::stdout().lock(), program, &output.stdout);
    print_lines(std::io::stderr().lock(), program, &output.stderr);
    for notice in &output.notices {
        println!("[host] {}: {}", notice.capability, sanitize::line(&notice.message));
    }
}
