//! __NAME__: a page with a counter kept in storage.

use miniapp_sdk::prelude::*;
use miniapp_sdk::view::{ButtonStyle, Key, View, button, heading, row, text};

#[derive(Default)]
struct App;

impl MiniApp for App {
    fn on_launch(&mut self, _launch: LaunchContext) -> Result<()> {
        render()
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        if let Event::Tap { action, .. } = &event {
            match action.as_str() {
                "count.add" => {
                    let count: u64 = storage::get("count")?.unwrap_or(0);
                    storage::set("count", &(count + 1))?;
                }
                "count.reset" => {
                    storage::remove("count")?;
                }
                _ => {}
            }
        }
        render()
    }
}

fn render() -> Result<()> {
    let count: u64 = storage::get("count")?.unwrap_or(0);
    let screen = View::new("__NAME__")
        .push(heading("Hello from __NAME__"))
        .push(text(format!("count: {count}")))
        .push(row([
            button("+1", "count.add").key(Key::A).style(ButtonStyle::Primary),
            button("reset", "count.reset").key(Key::R),
        ]));
    view::render(&screen)
}

miniapp_sdk::export_app!(App);
