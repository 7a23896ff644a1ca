//! `miniapp serve` (the sessions API for any front end) and `miniapp dev
//! APP_DIR` (the same server with the web DevTools opened on one program, rebuilt
//! and relaunched when its sources change). Both print the access token and the
//! DevTools address, and run until interrupted.

use super::programs::Target;
use anyhow::Context;
use clap::Args;
use miniapp_host::{Host, HostConfig};
use miniapp_providers::ScenarioSwitch;
use miniapp_server::{Server, ServerConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The environment variable a token can be given in (kept out of `ps`).
const TOKEN_ENV: &str = "MINIAPP_SERVER_TOKEN";

/// Arguments both commands take.
#[derive(Args)]
pub struct ListenArgs {
    /// Where to listen; a port of 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:7788")]
    bind: SocketAddr,

    /// Allow listening on an address other than loopback (anyone who has the
    /// token can then run programs and pay).
    #[arg(long)]
    allow_remote: bool,

    /// The access token every request must carry [default: $MINIAPP_SERVER_TOKEN, else random].
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,

    /// Sessions open at once; one more is refused with `session_limit`.
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,
}

/// Arguments of `miniapp serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    listen: ListenArgs,

    /// A program to load at start: an app directory (built if stale), a package
    /// file or an installed id (repeatable). More can be loaded through the API.
    #[arg(long = "program", value_name = "PROGRAM")]
    programs: Vec<String>,

    /// Do not run the manifests' build commands.
    #[arg(long)]
    no_build: bool,

    /// Let `POST /api/programs` run a program's build command (`"build": true`):
    /// anyone with the token could then run commands on this machine.
    #[arg(long)]
    allow_builds: bool,
}

/// Arguments of `miniapp dev`.
#[derive(Args)]
pub struct DevArgs {
    /// The program's app directory (holding miniapp.toml).
    app_dir: PathBuf,

    #[command(flatten)]
    listen: ListenArgs,

    /// Do not rebuild and relaunch when the sources change.
    #[arg(long)]
    no_watch: bool,
}

impl ListenArgs {
    fn config(&self) -> anyhow::Result<ServerConfig> {
        let token = match &self.token {
            Some(token) => Some(token.clone()),
            None => std::env::var(TOKEN_ENV).ok().filter(|t| !t.trim().is_empty()),
        };
        if let Some(token) = &token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            anyhow::bail!("the token must be at least 16 printable ASCII characters without spaces");
        }
        Ok(ServerConfig {
            bind: self.bind,
            allow_remote: self.allow_remote,
            token,
            max_sessions: self.max_sessions,
            ..ServerConfig::default()
        })
    }
}

fn open_host(config: HostConfig, switch: &ScenarioSwitch) -> anyhow::Result<Host> {
    let place = super::records_place(&config);
    miniapp_providers::install_switched(Host::builder(config), switch)
        .script_runtime(miniapp_server::build::js_runtime())
        .build()
        .with_context(|| format!("cannot open the host {place}"))
}

fn announce(running: &miniapp_server::Running, what: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "miniapp {what}: listening on http://{}", running.addr());
    let _ = writeln!(out, "  token:    {}", running.token());
    let _ = writeln!(out, "  DevTools: {}", running.url());
    let _ = writeln!(out, "  API:      docs/server.md · stop with Ctrl-C");
    let _ = out.flush();
}

pub async fn serve(config: HostConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let switch = ScenarioSwitch::default();
    let host = open_host(config, &switch)?;
    let config = ServerConfig { allow_builds: args.allow_builds, ..args.listen.config()? };
    let server = Server::new(host.clone(), switch, config);
    for program in &args.programs {
        let app = Target::parse(program)?.load(&host, args.no_build).await?;
        server.add_program(app)?;
    }
    let running = server.bind().await?;
    announce(&running, "serve");
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn dev(config: HostConfig, args: DevArgs) -> anyhow::Result<ExitCode> {
    let switch = ScenarioSwitch::default();
    let host = open_host(config, &switch)?;
    let app = Target::Directory(args.app_dir.clone()).load(&host, false).await?;
    // The developer's own machine and program: building is the point.
    let config = ServerConfig { allow_builds: true, ..args.listen.config()? };
    let server = Server::new(host, switch, config);
    let id = server.add_program(app)?;
    server.set_dev_program(&id);
    let running = server.bind().await?;
    announce(&running, "dev");
    let watcher = (!args.no_watch).then(|| {
        println!("  watching {} for changes", args.app_dir.display());
        tokio::spawn(running.reloader().watch(args.app_dir.clone(), Duration::from_millis(500)))
    });
    running.wait().await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    Ok(ExitCode::SUCCESS)
}
