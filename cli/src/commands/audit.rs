//! `miniapp audit`: the capability decisions the host recorded, and why.

use super::open_records;
use clap::Args;
use miniapp_host::HostConfig;
use miniapp_host::audit::{AuditFilter, Outcome};
use miniapp_host::sanitize;
use std::process::ExitCode;

/// Arguments of `miniapp audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// Only decisions about this program: an id (each identity of that id) or one `id@fingerprint`.
    #[arg(long)]
    program: Option<String>,

    /// Only decisions about this capability (`module` for refused modules).
    #[arg(long)]
    capability: Option<String>,

    /// Only this decision: allowed, denied, confirmed or declined.
    #[arg(long, value_parser = parse_outcome)]
    decision: Option<Outcome>,

    /// How many of the most recent decisions to show.
    #[arg(long, default_value_t = 100)]
    limit: u32,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn audit(config: HostConfig, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let records = open_records(&config)?;
    let filter = AuditFilter { program_id: args.program, capability: args.capability, outcome: args.decision };
    let decisions = match records.audit() {
        Some(audit) => audit.query(&filter, args.limit).await?,
        None => Vec::new(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decisions)?);
    } else if decisions.is_empty() {
        println!("no decisions recorded");
    } else {
        for d in decisions {
            // Targets and reasons quote what programs sent: shown through the sanitizer.
            let place = match (&d.target, &d.surface) {
                (Some(target), Some(surface)) => format!(" {} on {surface}:", sanitize::line(target)),
                (Some(target), None) => format!(" {}:", sanitize::line(target)),
                _ => String::new(),
            };
            println!(
                "{}  {:<24} {:<8} {:<6} {:<9}{place} {}",
                utc(d.at_ms),
                d.program_id,
                d.capability,
                d.action,
                d.outcome.as_str(),
                sanitize::line(&d.reason)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_outcome(text: &str) -> Result<Outcome, String> {
    text.parse().map_err(|_| {
        let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        format!("unknown decision `{text}`; expected one of: {}", known.join(", "))
    })
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for milliseconds since the epoch.
fn utc(at_ms: i64) -> String {
    miniapp_host::calendar::format(at_ms.div_euclid(1000), 0)
}
