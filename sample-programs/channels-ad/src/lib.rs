//! A Channels ad for a Taobao shop: one card whose buttons deep-link into the
//! shop, its live room, a featured item (in the Taobao app or on the web), and the
//! Taobao Deals mini-program. Each tap shows what the host decided and why, so the
//! surface rules can be seen at work: run it with `--surface channels_ad`, then
//! from `moments` or `group` to compare.

use miniapp_sdk::link::{self, Target};
use miniapp_sdk::prelude::*;
use miniapp_sdk::view::{ButtonStyle, Key, Tone, View, badge, button, heading, image, price, row, text};

/// The advertised shop, its live room and its featured item.
const SHOP: u32 = 58;
const LIVE_ROOM: u32 = 7;
const ITEM: u32 = 1042;

#[derive(Default)]
struct Ad {
    surface: Option<Surface>,
    /// What the host decided for each button tapped, newest last.
    decisions: Vec<(String, bool)>,
}

impl MiniApp for Ad {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        self.surface = Some(launch.surface);
        self.render()
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        let Event::Tap { action, .. } = event else { return Ok(()) };
        let (what, target) = match action.as_str() {
            "shop" => ("进店 Shop", Target::deep_link(format!("taobao://shop/{SHOP}"))),
            "live" => ("看直播 Live room", Target::deep_link(format!("taobao://live/{LIVE_ROOM}"))),
            "item" => ("看商品 Item in Taobao", Target::deep_link(format!("taobao://item/{ITEM}"))),
            "web" => ("网页 Item on the web", Target::web(format!("https://item.taobao.com/item.htm?id={ITEM}"))),
            "deals" => (
                "淘宝特价 mini-program",
                Target::MiniProgram { id: "com.taobao.deals".into(), path: "pages/item".into(), extra_data: None },
            ),
            _ => return Ok(()),
        };
        let reply = link::open(target)?;
        println!("{what}: {} ({})", reply.outcome, reply.message);
        self.decisions.push((format!("{what}: {} — {}", reply.outcome, reply.message), reply.is_opened()));
        self.render()
    }
}

impl Ad {
    fn render(&self) -> Result<()> {
        let surface = self.surface.map_or("?".to_string(), |s| s.to_string());
        let mut card = View::new("广告 Sponsored · 景德镇陶瓷旗舰店")
            .push(image("https://img.alicdn.com/deals/1042.jpg", "手绘青花瓷茶具 Hand-painted tea set"))
            .push(heading("青花瓷茶具 今晚8点直播特价"))
            .push(row([price(12900).was(25900), badge("-50%").tone(Tone::Accent), badge("直播 Live")]))
            .push(text(format!("shown on {surface}")).tone(Tone::Muted))
            .push(row([
                button("进店 Visit shop", "shop").key(Key::S).style(ButtonStyle::Primary),
                button("看直播 Watch live", "live").key(Key::L),
            ]))
            .push(row([
                button("看商品 See item", "item").key(Key::I),
                button("网页 Web page", "web").key(Key::W),
                button("淘宝特价 Open Deals", "deals").key(Key::D),
            ]));
        for (decision, opened) in &self.decisions {
            card = card.push(text(decision.clone()).tone(if *opened { Tone::Success } else { Tone::Danger }));
        }
        view::render(&card)
    }
}

miniapp_sdk::export_app!(Ad);
