//! `miniapp run`: build if stale, load, launch, deliver any events given on the
//! command line, and show the program's output prefixed with its id.

use super::{build, open_host};
use anyhow::bail;
use clap::Args;
use miniapp_host::capability::payment::provider::Scenario;
use miniapp_host::consent::{Answer, TerminalUser};
use miniapp_host::{CapturedOutput, Event, HostConfig, LaunchContext, Manifest, Session, Surface};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `miniapp run`.
#[derive(Args)]
pub struct RunArgs {
    /// The app directory (holding miniapp.toml).
    app_dir: PathBuf,

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

    /// An answer to the next prompt the host shows (yes or no; repeatable). Without
    /// answers the host asks at the terminal, or declines when there is none.
    #[arg(long = "answer", value_name = "yes|no", value_parser = parse_answer)]
    answers: Vec<Answer>,

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
    Answer::parse(text).ok_or_else(|| format!("`{text}` is not an answer; expected yes or no"))
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
        config.payment.scenario = scenario;
    }
    let manifest = Manifest::from_dir(&args.app_dir)?;
    if !args.no_build {
        build::build(&args.app_dir, &manifest)?;
    }
    let host = open_host(config)?;
    let app = host.load_app(&args.app_dir).await?;
    let user = Arc::new(TerminalUser::new(args.answers));
    let program = app.program().id.clone();
    let mut session = app.start_with_user(user).await?;

    let mut context = LaunchContext::new(args.surface);
    context.path = args.path;
    context.query = args.query.into_iter().collect();
    let launched = session.launch(&context).await;
    show(&program, session.take_output());
    launched?;

    for event in &args.events {
        let handled = session.event(event).await;
        show(&program, session.take_output());
        handled?;
    }
    if !args.events.is_empty() && !session.handles_events() {
        bail!("{program} does not export miniapp_on_event, so the events given were not delivered");
    }
    finish(&mut session);
    Ok(ExitCode::SUCCESS)
}

fn finish(session: &mut Session) {
    let program = session.app().program().id.clone();
    show(&program, session.take_output());
}

/// Prints a program's output line by line, prefixed with its id.
fn show(program: &str, output: CapturedOutput) {
    fn print_lines(mut sink: impl Write, program: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            // A closed pipe is not worth failing over; the program already ran.
            let _ = writeln!(sink, "[{program}] {line}");
        }
    }
    print_lines(std::io::stdout().lock(), program, &output.stdout);
    print_lines(std::io::stderr().lock(), program, &output.stderr);
    for notice in &output.notices {
        println!("[host] {}: {}", notice.capability, notice.message);
    }
}
