//! `miniapp permissions`: what the user allowed each program to see, and taking it
//! back.

use super::{open_host, open_records};
use clap::{Args, Subcommand};
use miniapp_host::consent::LOCAL_USER;
use miniapp_host::{HostConfig, Manifest};
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `miniapp permissions`.
#[derive(Args)]
pub struct PermissionsArgs {
    #[command(subcommand)]
    what: PermissionsCommand,
}

#[derive(Subcommand)]
enum PermissionsCommand {
    /// List every remembered answer: program, scope, granted / denied / revoked.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the consent scopes this host's capabilities may ask for.
    Scopes {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a program's grants: one scope, or all of them.
    Revoke {
        /// The program: its id (the installed program, else the one its app
        /// directory runs as), `id@fingerprint` as `list` shows, or its app directory.
        app: String,
        /// The scope (`miniapp permissions scopes` lists them); all scopes when omitted.
        scope: Option<String>,
    },
}

pub async fn permissions(config: HostConfig, args: PermissionsArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        PermissionsCommand::List { json } => {
            let grants = match open_records(&config)?.grants() {
                Some(grants) => grants.list(LOCAL_USER).await?,
                None => Vec::new(),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&grants)?);
            } else if grants.is_empty() {
                println!("no permissions remembered");
            } else {
                for grant in grants {
                    let module = grant.module_hash.get(..12).unwrap_or(&grant.module_hash);
                    println!(
                        "{:<28} {:<8} {:<8} (module {module}…)",
                        grant.program_id,
                        grant.scope,
                        grant.decision.as_str()
                    );
                }
            }
        }
        PermissionsCommand::Scopes { json } => {
            let host = open_host(config)?;
            let scopes = host.registry().scopes();
            if json {
                let rows: Vec<serde_json::Value> = scopes
                    .iter()
                    .map(|(capability, scope)| {
                        serde_json::json!({"capability": capability, "scope": scope.name, "shares": scope.summary})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (capability, scope) in scopes {
                    println!("{capability:<12} {:<10} {}", scope.name, scope.summary);
                }
            }
        }
        PermissionsCommand::Revoke { app, scope } => {
            let host = open_host(config)?;
            let known: Vec<String> = host.registry().scopes().into_iter().map(|(_, scope)| scope.name).collect();
            if let Some(scope) = &scope
                && !known.contains(scope)
            {
                anyhow::bail!("unknown scope `{scope}`; expected one of: {}", known.join(", "));
            }
            let program = program_key(&host, &app).await?;
            let revoked = host.grants().revoke(LOCAL_USER, &program, scope.as_deref()).await?;
            if revoked.is_empty() {
                println!("{program} holds no granted {}", scope.as_deref().unwrap_or("scopes"));
            } else {
                println!("revoked {} from {program}", revoked.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The identity whose grants `app` means: an app directory's (signed with the
/// development key), an `id@fingerprint` as listed, or an id — the installed
/// program's, else the one a directory of that id runs as.
async fn program_key(host: &miniapp_host::Host, app: &str) -> anyhow::Result<String> {
    let dir = Path::new(app);
    if dir.join(miniapp_host::manifest::MANIFEST_FILE).is_file() {
        return Ok(host.development_identity(&Manifest::from_dir(dir)?.id).key().to_string());
    }
    if app.contains('@') {
        return Ok(app.to_string());
    }
    Ok(host.identity_of(app).await?.key().to_string())
}
