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
    let seconds = at_ms.div_euclid(1000);
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", time / 3600, time % 3600 / 60, time % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_795_264_108_503), "2026-11-21 12:28:28");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00");
    }
}
