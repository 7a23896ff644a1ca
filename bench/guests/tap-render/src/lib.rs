//! The benchmark guest on the miniapp ABI: a tap is answered by rendering the
//! view [`tap_logic::answer`] makes, one `view.render` host call; a tap on
//! "open" opens a link (the link-decision benchmark).

use miniapp_sdk::prelude::*;

#[derive(Default)]
struct TapRender;

impl MiniApp for TapRender {
    fn on_launch(&mut self, _launch: LaunchContext) -> Result<()> {
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        // The link benchmark: a tap on "open" opens the URL in its payload.
        if let Event::Tap { action, payload } = &event
            && action == "open"
        {
            let url = payload["url"].as_str().unwrap_or_default().to_string();
            return link::open(link::Target::Web { url }).map(|_| ());
        }
        match tap_logic::answer(&event) {
            Some(answer) => view::render(&answer),
            None => Ok(()),
        }
    }
}

miniapp_sdk::export_app!(TapRender);
