//! `miniapp settings`: the switches the user controls, such as links in group chats
//! and the Moments feed (off until turned on).

use super::open_host;
use anyhow::bail;
use clap::{Args, Subcommand};
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
    /// The surface to change (group or moments; chat is always on).
    #[arg(long, value_parser = super::run::parse_surface)]
    surface: Option<Surface>,

    /// Turn links on for the surface.
    #[arg(long, conflicts_with = "disable", requires = "surface")]
    enable: bool,

    /// Turn links off for the surface.
    #[arg(long, requires = "surface")]
    disable: bool,
}

pub fn settings(config: HostConfig, args: SettingsArgs) -> anyhow::Result<ExitCode> {
    let SettingsCommand::Links(links) = args.what;
    let host = open_host(config)?;
    let settings = host.user_settings();
    if links.enable || links.disable {
        let Some(surface) = links.surface else { bail!("--enable and --disable need --surface") };
        settings.set_links_enabled(LOCAL_USER, surface, links.enable)?;
    }
    let rules = &host.config().link.surfaces;
    let surfaces: Vec<Surface> = links.surface.map(|s| vec![s]).unwrap_or_else(|| Surface::ALL.to_vec());
    for surface in surfaces {
        let switch = if settings.links_enabled(LOCAL_USER, surface)? { "on" } else { "off" };
        let rule = rules.get(&surface).map(|r| {
            format!(
                "web {:?}, item {:?}, shop {:?}, live {:?}, mini-program {:?}",
                r.web, r.item, r.shop, r.live, r.mini_program
            )
        });
        println!(
            "{:<13} links switch {switch:<3}  rules: {}",
            surface.as_str(),
            rule.unwrap_or_else(|| "none (all denied)".into())
        );
    }
    Ok(ExitCode::SUCCESS)
}
