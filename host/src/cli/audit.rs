//! `miniapp audit`: the capability decisions the host recorded, and why.

use super::open_host;
use clap::Args;
use miniapp_host::HostConfig;
use std::process::ExitCode;

/// Arguments of `miniapp audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// Only decisions about this program id.
    #[arg(long)]
    program: Option<String>,

    /// How many of the most recent decisions to show.
    #[arg(long, default_value_t = 100)]
    limit: u32,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn audit(config: HostConfig, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let host = open_host(config)?;
    let decisions = host.audit().recent(args.program.as_deref(), args.limit)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decisions)?);
    } else if decisions.is_empty() {
        println!("no decisions recorded");
    } else {
        for d in decisions {
            let place = match (&d.target, &d.surface) {
                (Some(target), Some(surface)) => format!(" {target} on {surface}:"),
                (Some(target), None) => format!(" {target}:"),
                _ => String::new(),
            };
            println!(
                "{}  {:<24} {:<8} {:<6} {:<9}{place} {}",
                utc(d.at_ms),
                d.program_id,
                d.capability,
                d.action,
                d.outcome,
                d.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for milliseconds since the epoch.
fn utc(at_ms: i64) -> String {
    miniapp_host::calendar::format(at_ms.div_euclid(1000), 0)
}
