//! `miniapp settings`: the switches the user controls, such as links in group chats
//! and the Moments feed (off until turned on).

use super::{open_host, open_records};
use anyhow::bail;
use clap::{Args, Subcommand};
use miniapp_host::capabilities::link::LinkSettings;
use miniapp_host::consent::LOCAL_USER;
use miniapp_host::{HostConfig, Surface};
use std::process::ExitCode;

/// Arguments of `miniapp settings`.
#[derive(Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    what: SettingsCommand,
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Show, or turn on or off, opening and sharing links on a surface.
    Links(LinksArgs),
}

#[derive(Args)]
struct LinksArgs {
    /// The surface to show or change (only surfaces with an `opt_in` rule have a switch).
    #[arg(long, value_parser = super::run::parse_surface)]
    surface: Option<Surface>,

    /// Turn links on for the surface.
    #[arg(long, conflicts_with = "disable", requires = "surface")]
    enable: bool,

    /// Turn links off for the surface.
    #[arg(long, requires = "surface")]
    disable: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn settings(config: HostConfig, args: SettingsArgs) -> anyhow::Result<ExitCode> {
    let SettingsCommand::Links(links) = args.what;
    let link: LinkSettings = config.settings(miniapp_abi::link::CAPABILITY).map_err(anyhow::Error::msg)?;
    let rules = &link.surfaces;
    if links.enable || links.disable {
        let Some(surface) = links.surface else { bail!("--enable and --disable need --surface") };
        match rules.get(&surface) {
            Some(surface_rules) if surface_rules.has_switch() => {
                open_host(config.clone())?.user_settings().set_links_enabled(LOCAL_USER, surface, links.enable).await?
            }
            _ => bail!(
                "links on {surface} have no switch: none of its rules is opt_in (see `miniapp settings links --surface {surface}`)"
            ),
        }
    }
    // Listing reads only: it creates nothing in the data directory.
    let settings = open_records(&config)?.user_settings();
    let surfaces: Vec<Surface> = links.surface.map(|s| vec![s]).unwrap_or_else(|| Surface::ALL.to_vec());
    let mut listed = Vec::new();
    for surface in surfaces {
        let surface_rules = rules.get(&surface);
        let switch = match surface_rules {
            Some(r) if r.has_switch() => match &settings {
                Some(settings) => Some(settings.links_enabled(LOCAL_USER, surface).await?),
                None => Some(false),
            },
            _ => None,
        };
        listed.push((surface, surface_rules, switch));
    }
    if links.json {
        let json: Vec<serde_json::Value> = listed
            .iter()
            .map(|(surface, surface_rules, switch)| {
                let rules: serde_json::Map<String, serde_json::Value> = surface_rules
                    .map(|r| r.by_kind().iter().map(|(kind, rule)| (kind.to_string(), rule.as_str().into())).collect())
                    .unwrap_or_default();
                serde_json::json!({"surface": surface.as_str(), "switch": switch.map(|on| if on { "on" } else { "off" }), "rules": rules})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (surface, surface_rules, switch) in listed {
        let switch = match switch {
            Some(true) => "links switch on ",
            Some(false) => "links switch off",
            None => "no links switch ",
        };
        let rule = surface_rules
            .map(|r| r.by_kind().iter().map(|(kind, rule)| format!("{kind} {rule}")).collect::<Vec<_>>().join(", "));
        println!("{:<13} {switch}  rules: {}", surface.as_str(), rule.unwrap_or_else(|| "none (all denied)".into()));
    }
    Ok(ExitCode::SUCCESS)
}
