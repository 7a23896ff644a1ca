//! Link demo: on launch, opens and shares a handful of links and prints what the
//! host decided for each — try it from different surfaces:
//!
//! ```sh
//! miniapp run sample-programs/link-demo --surface chat
//! miniapp run sample-programs/link-demo --surface channels_ad --answer yes
//! miniapp settings links --surface moments --enable
//! ```
//!
//! A tap on `open-deals` asks to open the Taobao Deals mini-program, which needs a
//! gesture and the user's confirmation:
//! `--event '{"type":"tap","action":"open-deals"}' --answer yes`.

use miniapp_sdk::link::{self, Card, LinkReply, Target};
use miniapp_sdk::prelude::*;

#[derive(Default)]
struct LinkDemo;

fn report(what: &str, reply: Result<LinkReply>) {
    match reply {
        Ok(reply) if reply.is_opened() => println!("{what}: {:?} — {}", reply.outcome, reply.display),
        Ok(reply) => println!(
            "{what}: {:?}{} — {}",
            reply.outcome,
            reply.reason.map(|r| format!(" ({})", r.as_str())).unwrap_or_default(),
            reply.message
        ),
        Err(error) => println!("{what}: error {error}"),
    }
}

impl MiniApp for LinkDemo {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        println!("link demo on {}", launch.surface);
        report("open the deals page", link::open(Target::web("https://taobao.com/deals")));
        report("open the shop", link::open(Target::deep_link("taobao://shop/58")));
        report("open the live room", link::open(Target::deep_link("taobao://live/7")));
        report("open a disguised link", link::open(Target::web("https://taobao.com@evil.example/")));
        report("open a script", link::open(Target::web("javascript:alert(1)")));
        report("open Deals without a tap", link::open(Target::program("com.taobao.deals", "pages/index")));
        let card = Card {
            title: "Deal of the day: 29.90".into(),
            target: Target::web("https://taobao.com/deals/1042"),
            image: None,
        };
        report("share to a chat", link::share(card.clone(), Surface::Chat));
        report("share to Moments", link::share(card, Surface::Moments));
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        if let Event::Tap { action, .. } = event {
            if action == "open-deals" {
                report("open Deals after a tap", link::open(Target::program("com.taobao.deals", "pages/index")));
            }
        }
        Ok(())
    }
}

miniapp_sdk::export_app!(LinkDemo);
