//! The `miniapp` command line. Each subcommand lives in its own module; this one
//! parses arguments, sets up the host and turns every error into one clear line.

mod audit;
mod build;
mod inspect;
mod ledger;
mod new;
mod permissions;
mod programs;
mod replay;
mod run;
mod serve;
mod settings;
mod test;

use anyhow::Context;
use clap::{Parser, Subcommand};
use miniapp_host::{Host, HostConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run, inspect and audit miniapp mini-programs.
#[derive(Parser)]
#[command(name = "miniapp", version, about, long_about = None)]
struct Cli {
    /// Where the host keeps its database and compiled modules
    /// [default: $MINIAPP_DATA_DIR, else the platform's data directory]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// A host configuration file (TOML); without it the built-in defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The PostgreSQL server that keeps the host's records (`postgres://user@host/db`)
    /// [default: the configuration's `[database] url`, else $MINIAPP_DATABASE_URL,
    /// else the embedded SQLite database in the data directory]
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a program from a template (rust, c, wat or js), ready to run and test.
    New(new::NewArgs),
    /// Load a program (an app directory, built if stale; a package file; or an
    /// installed id), launch it and show its output.
    Run(run::RunArgs),
    /// Run a recorded session (a transcript) again, in a fresh data directory, and
    /// report the first entry that differs (--against: another version of the program).
    Replay(replay::ReplayArgs),
    /// Run every script under a program's tests/ as a test case, each in a fresh data
    /// directory (exit code 0 when all pass; --format json or junit for CI).
    Test(test::TestArgs),
    /// Show a program's manifest, module, ABI version and imports by capability.
    Inspect(inspect::InspectArgs),
    /// List the host's recorded capability decisions.
    Audit(audit::AuditArgs),
    /// Show or change the user's settings (links per surface).
    Settings(settings::SettingsArgs),
    /// List or revoke what the user allowed programs to see.
    Permissions(permissions::PermissionsArgs),
    /// Read the payment ledger and verify receipts.
    Ledger(ledger::LedgerArgs),
    /// Make a publisher key pair (Ed25519); its fingerprint is the publisher's identity.
    Keygen(programs::KeygenArgs),
    /// Build a program if it is stale and write it as one signed package file.
    Pack(programs::PackArgs),
    /// Install a package: its id is bound to its publisher's key.
    Install(programs::InstallArgs),
    /// Remove an installed program (saying what happens to its data).
    Uninstall(programs::UninstallArgs),
    /// List installed programs, the configuration's pins and the development key.
    List(programs::ListArgs),
    /// Serve the host over HTTP and WebSocket: sessions for any front end (docs/server.md).
    Serve(serve::ServeArgs),
    /// Open a program in the web DevTools, rebuilding and relaunching it when its sources change.
    Dev(serve::DevArgs),
}

/// Parses the command line and runs it; every failure is one `error:` line.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // `println!` panics when stdout is a closed pipe (`miniapp … | head`): the
        // reader has all it wanted, so end quietly, as a command killed by SIGPIPE.
        let message = info.payload_as_str().unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        eprintln!("error: internal error in miniapp: {info}; please report it");
    }));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MINIAPP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(error) => {
            // One line, whatever the causes' own formatting.
            let text = format!("{error:#}");
            let line: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            // Errors can quote what a program sent (an id, a trap message).
            eprintln!("error: {}", miniapp_host::sanitize::line(&line.join(" ")));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = host_config(&cli)?;
    match cli.command {
        Command::New(args) => new::new(args),
        Command::Run(args) => run::run(config, args).await,
        Command::Test(args) => test::test(config, args).await,
        Command::Replay(args) => replay::replay(config, args).await,
        Command::Inspect(args) => inspect::inspect(config, args).await,
        Command::Audit(args) => audit::audit(config, args).await,
        Command::Settings(args) => settings::settings(config, args).await,
        Command::Permissions(args) => permissions::permissions(config, args).await,
        Command::Ledger(args) => ledger::ledger(config, args).await,
        Command::Keygen(args) => programs::keygen(args),
        Command::Pack(args) => programs::pack(config, args).await,
        Command::Install(args) => programs::install(config, args).await,
        Command::Uninstall(args) => programs::uninstall(config, args).await,
        Command::List(args) => programs::list(config, args).await,
        Command::Serve(args) => serve::serve(config, args).await,
        Command::Dev(args) => serve::dev(config, args).await,
    }
}

fn host_config(cli: &Cli) -> anyhow::Result<HostConfig> {
    let mut config = match &cli.config {
        Some(path) => HostConfig::from_file(path).map_err(anyhow::Error::msg)?,
        None => HostConfig::default(),
    };
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &cli.database {
        config.database.url = Some(url.clone());
    } else if config.database.url.is_none()
        && let Ok(url) = std::env::var(miniapp_host::store::DATABASE_URL_ENV)
        && !url.trim().is_empty()
    {
        config.database.url = Some(url);
    }
    Ok(config)
}

/// Where the host's records are, for messages: the data directory, or the
/// database server (without its password).
fn records_place(config: &HostConfig) -> String {
    match &config.database.url {
        Some(url) => format!("database {}", miniapp_host::store::redact_url(url)),
        None => format!("data directory {}", config.data_dir.display()),
    }
}

/// Opens the host's records for reading only (nothing is created), naming the
/// data directory if that fails.
fn open_records(config: &HostConfig) -> anyhow::Result<miniapp_host::records::ReadOnlyRecords> {
    let records = miniapp_host::records::ReadOnlyRecords::open(&config.database, &config.data_dir);
    // A server's error already names it.
    if config.database.url.is_some() {
        return Ok(records?);
    }
    records.with_context(|| format!("cannot read the host {}", records_place(config)))
}

/// Opens the host, naming the data directory if that fails.
fn open_host(config: HostConfig) -> anyhow::Result<Host> {
    let (place, on_server) = (records_place(&config), config.database.url.is_some());
    let host =
        miniapp_providers::install(Host::builder(config)).script_runtime(miniapp_server::build::js_runtime()).build();
    if on_server {
        return Ok(host?);
    }
    host.with_context(|| format!("cannot open the host {place}"))
}
