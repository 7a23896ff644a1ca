//! `miniapp test`: every script under a program's `tests/` is a test case, run in
//! a fresh data directory of its own (its storage, ledger, consent and settings
//! start empty), several at once, each to its first failed step. The report is
//! for a person (`pretty`), a program (`json`) or a CI system (`junit`); the exit
//! code is 0 when every case passed.
//!
//! A case's providers and answers are set by its script before the step that
//! needs them (`pay`, `answer`, `links`, `advance`), so what runs at launch is
//! already scripted. Compiled modules and snapshots come from the user's module
//! cache, shared by the cases.

use super::{build, open_host};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use miniapp_host::driver::Driver;
use miniapp_host::driver::script::{self, Script, ScriptUser};
use miniapp_host::{CapturedOutput, HostConfig, LaunchContext, Manifest, Surface};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `miniapp test`.
#[derive(Args)]
pub struct TestArgs {
    /// The program's app directory.
    #[arg(default_value = ".")]
    app_dir: PathBuf,
    /// Run only the cases whose name contains this.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// How to report: pretty (for a person), json (one document), junit (XML for CI systems).
    #[arg(long, value_enum, default_value = "pretty")]
    format: Format,
    /// How many cases run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Do not run the manifest's build command first.
    #[arg(long)]
    no_build: bool,
}

/// Report formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Pretty,
    Json,
    Junit,
}

/// One case's result.
struct Case {
    /// `tests/<name>.script`, as `<name>`.
    name: String,
    elapsed: Duration,
    failure: Option<Failure>,
    /// What the program printed and the host noticed, in order.
    output: String,
}

/// Why a case failed: the script line (0 before the first step) and what was wrong,
/// with the screen when a step was about what it shows.
struct Failure {
    line: usize,
    message: String,
}

pub async fn test(config: HostConfig, args: TestArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::from_dir(&args.app_dir)?;
    let cases = scripts(&args.app_dir, args.filter.as_deref())?;
    if !args.no_build {
        build::build(&args.app_dir, &manifest)?;
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs));
    let shared_cache = config.module_cache_path();
    let mut running = Vec::new();
    for (name, path) in cases {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let (mut config, app_dir, limit) = (config.clone(), args.app_dir.clone(), limit.clone());
        config.module_cache_dir = Some(shared_cache.clone());
        // A case runs one program at a time: a small instance pool per host.
        config.engine.max_live_programs = config.engine.max_live_programs.min(4);
        running.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            run_case(config, &app_dir, name, &text).await
        }));
    }
    let mut results = Vec::new();
    for task in running {
        results.push(task.await.context("a test case's task failed")?);
    }
    let failed = results.iter().filter(|case| case.failure.is_some()).count();
    let program = manifest.id.clone();
    match args.format {
        Format::Pretty => pretty(&program, &results, failed),
        Format::Json => println!("{}", serde_json::to_string_pretty(&as_json(&program, &results, failed))?),
        Format::Junit => print!("{}", junit(&program, &results, failed)),
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The cases: `tests/*.script` in `app_dir`, by name, those containing `filter`.
fn scripts(app_dir: &Path, filter: Option<&str>) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let dir = app_dir.join("tests");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("{} has no tests/ directory: put scripts (docs/scripts.md) in tests/*.script", app_dir.display())
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut cases = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".script")) else {
            continue;
        };
        if filter.is_none_or(|filter| name.contains(filter)) {
            cases.push((name.to_string(), path.clone()));
        }
    }
    cases.sort();
    if cases.is_empty() {
        match filter {
            Some(filter) => bail!("no test script in {} has `{filter}` in its name", dir.display()),
            None => bail!("{} holds no *.script files", dir.display()),
        }
    }
    Ok(cases)
}

async fn run_case(mut config: HostConfig, app_dir: &Path, name: String, text: &str) -> Case {
    let started = Instant::now();
    let mut output = String::new();
    let data = tempfile::tempdir();
    let failure = match data {
        Ok(data) => {
            config.data_dir = data.path().to_path_buf();
            drive(config, app_dir, text, &mut output).await.err()
        }
        Err(error) => Some(Failure { line: 0, message: format!("cannot make a data directory: {error}") }),
    };
    Case { name, elapsed: started.elapsed(), failure, output }
}

/// Loads the program on a host of its own, launches it and runs the script.
async fn drive(config: HostConfig, app_dir: &Path, text: &str, output: &mut String) -> Result<(), Failure> {
    let before = |message: String| Failure { line: 0, message };
    let script = Script::parse(text).map_err(|e| Failure { line: e.line, message: e.message })?;
    let host = open_host(config).map_err(|e| before(format!("{e:#}")))?;
    let app = host.load_app(app_dir).await.map_err(|e| before(e.to_string()))?;
    let user = ScriptUser::new();
    let session = app.start_with_user(user.clone()).await.map_err(|e| before(e.to_string()))?;
    let mut driver = Driver::new(session, None);
    let launched = driver.launch(&LaunchContext::new(Surface::Direct)).await;
    collect(output, driver.take_output());
    launched.map_err(|e| before(format!("the launch failed: {e}")))?;
    let result =
        script::run(&script, &mut driver, &user, &host, None, |driver, _| collect(output, driver.take_output())).await;
    collect(output, driver.take_output());
    result.map_err(|e| Failure { line: e.line, message: e.message })
}

/// Appends what a callback printed, each line as the terminal shows it.
fn collect(into: &mut String, output: CapturedOutput) {
    for line in miniapp_host::sanitize::output_lines(&output.stdout_text()) {
        into.push_str(&format!("{line}\n"));
    }
    for line in miniapp_host::sanitize::output_lines(&output.stderr_text()) {
        into.push_str(&format!("stderr: {line}\n"));
    }
    for notice in &output.notices {
        into.push_str(&format!("[host] {}: {}\n", notice.capability, miniapp_host::sanitize::line(&notice.message)));
    }
}

fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e4).round() / 10.0
}

fn pretty(program: &str, results: &[Case], failed: usize) {
    println!("testing {program}: {} case(s)", results.len());
    for case in results {
        match &case.failure {
            None => println!("  ok      tests/{}.script ({} ms)", case.name, millis(case.elapsed)),
            Some(_) => println!("  FAILED  tests/{}.script ({} ms)", case.name, millis(case.elapsed)),
        }
    }
    for case in results {
        let Some(failure) = &case.failure else { continue };
        println!();
        // The message can quote the program (its screen, an exception's words).
        let mut message = miniapp_host::sanitize::output_lines(&failure.message);
        println!("tests/{}.script line {}: {}", case.name, failure.line, message.next().unwrap_or_default());
        for line in message {
            println!("{line}");
        }
        if !case.output.is_empty() {
            println!("its output:");
            for line in case.output.lines() {
                println!("  {line}");
            }
        }
    }
    println!();
    println!("tests: {} passed, {failed} failed", results.len() - failed);
}

fn as_json(program: &str, results: &[Case], failed: usize) -> serde_json::Value {
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|case| {
            let mut entry = json!({
                "name": case.name,
                "script": format!("tests/{}.script", case.name),
                "passed": case.failure.is_none(),
                "millis": millis(case.elapsed),
                "output": case.output,
            });
            if let Some(failure) = &case.failure {
                entry["line"] = json!(failure.line);
                entry["message"] = json!(failure.message);
            }
            entry
        })
        .collect();
    json!({"program": program, "passed": results.len() - failed, "failed": failed, "cases": cases})
}

/// JUnit XML, as CI systems read it: one `testcase` per script.
fn junit(program: &str, results: &[Case], failed: usize) -> String {
    let seconds = |elapsed: Duration| format!("{:.3}", elapsed.as_secs_f64());
    let total: Duration = results.iter().map(|case| case.elapsed).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites tests=\"{}\" failures=\"{failed}\" time=\"{}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{}\">\n",
        results.len(),
        seconds(total),
        xml_text(program),
        results.len(),
        seconds(total)
    ));
    for case in results {
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"tests/{}.script\" time=\"{}\">\n",
            xml_text(program),
            xml_text(&case.name),
            xml_text(&case.name),
            seconds(case.elapsed)
        ));
        if let Some(failure) = &case.failure {
            let first = failure.message.lines().next().unwrap_or_default();
            xml.push_str(&format!(
                "      <failure message=\"line {}: {}\">{}</failure>\n",
                failure.line,
                xml_text(first),
                xml_text(&format!("line {}: {}", failure.line, failure.message))
            ));
        }
        if !case.output.is_empty() {
            xml.push_str(&format!("      <system-out>{}</system-out>\n", xml_text(&case.output)));
        }
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// `text` escaped for XML text and attributes; characters XML 1.0 cannot hold
/// at all (most controls) are written as `\u{…}`.
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_escapes_markup_and_characters_xml_cannot_hold() {
        assert_eq!(xml_text("a<b & \"c\"\u{1b}[2J"), "a&lt;b &amp; &quot;c&quot;\\u{1b}[2J");
    }
}
