//! `miniapp replay`: runs a recorded session again — the same launch, steps and
//! prompt answers — in a fresh data directory, against the program it recorded
//! or another version of it (`--against`), and reports the first entry that
//! differs (timings and provider-minted ids aside). A bug report becomes a run
//! anyone can repeat; a new version can be checked against an old session.

use super::open_host;
use super::programs::Target;
use anyhow::{Context, bail};
use clap::Args;
use miniapp_host::HostConfig;
use miniapp_host::driver::Driver;
use miniapp_host::driver::replay::{self, Difference};
use miniapp_host::driver::script::{self, ScriptUser};
use miniapp_host::transcript::{RecordingUser, Transcript};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `miniapp replay`.
#[derive(Args)]
pub struct ReplayArgs {
    /// The transcript (`miniapp run … --transcript FILE`).
    transcript: PathBuf,
    /// Run it against this program (an app directory, package or installed id)
    /// instead of the one it recorded.
    #[arg(long, value_name = "PROGRAM")]
    against: Option<String>,
    /// Write the replay's own transcript to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Do not run the manifest's build command first.
    #[arg(long)]
    no_build: bool,
}

pub async fn replay(mut config: HostConfig, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.transcript)
        .with_context(|| format!("cannot read {}", args.transcript.display()))?;
    let recorded: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a transcript (JSON)", args.transcript.display()))?;
    let plan = replay::from_transcript(&recorded)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", args.transcript.display()))?;
    let target = match (&args.against, recorded.get("target").and_then(Value::as_str)) {
        (Some(against), _) => against.clone(),
        (None, Some(target)) => target.to_string(),
        (None, None) => bail!("the transcript does not say where its program is: pass --against PROGRAM"),
    };

    // A fresh data directory, as a recording made from one started; compiled
    // modules come from the user's cache.
    let data = tempfile::tempdir().context("cannot make a data directory")?;
    config.module_cache_dir = Some(config.module_cache_path());
    config.data_dir = data.path().to_path_buf();
    let host = open_host(config)?;
    let app = Target::parse(&target)?.load(&host, args.no_build).await?;
    let transcript = Transcript::new();
    let user = ScriptUser::new();
    let recording = Arc::new(RecordingUser::new(user.clone(), transcript.clone()));
    let mut driver = Driver::new(app.start_with_user(recording).await?, Some(transcript.clone()));
    // Output and views are recorded when they are taken, after each step, as `run` does.
    let settle = |driver: &mut Driver| {
        driver.take_output();
        driver.view_changed();
    };
    let launched = driver.launch(&plan.launch).await;
    settle(&mut driver);
    let ran = match launched {
        Ok(()) => script::run(&plan.script, &mut driver, &user, &host, Some(&transcript), |d, _| settle(d)).await,
        Err(_) => Ok(()),
    };
    settle(&mut driver);
    let surface = plan.launch.surface;
    let mut header = miniapp_host::transcript::header(&app, surface);
    header.insert("target".into(), target.clone().into());
    header.insert("replay_of".into(), args.transcript.display().to_string().into());
    let replayed = transcript.to_json(header);
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&replayed)?;
        std::fs::write(out, text + "\n").with_context(|| format!("cannot write {}", out.display()))?;
    }

    let program = app.program().id.clone();
    let steps = plan.script.steps.len();
    let recorded_hash = recorded.get("module_sha256").and_then(Value::as_str).unwrap_or("");
    if recorded_hash != app.program().module_hash {
        println!(
            "note: {program}'s code is not the recorded version's (sha256 {} then, {} now)",
            miniapp_host::sanitize::line_within(recorded_hash, 80),
            app.program().module_hash
        );
    }
    match replay::first_difference(&recorded, &replayed) {
        None => {
            println!(
                "replayed {steps} steps of {program}: the same session, entry for entry (timings and provider ids aside)"
            );
            if let Err(error) = ran {
                // The record failed at the same step, the same way.
                println!("(as recorded, it stops at {error})");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(difference) => {
            report(&difference);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn report(difference: &Difference) {
    let show = |entry: &Option<Value>| match entry {
        Some(entry) => miniapp_host::sanitize::line_within(&entry.to_string(), 2_000),
        None => "(nothing: it ended here)".to_string(),
    };
    println!("the replay differs at entry {}:", difference.index + 1);
    println!("  recorded: {}", show(&difference.recorded));
    println!("  replayed: {}", show(&difference.replayed));
}
