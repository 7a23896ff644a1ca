//! The view decoder and the terminal renderer: any JSON decodes or is refused with
//! a path; an accepted view round-trips, and draws within the width with no
//! escape sequence when colour is off.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_abi::view::Page;
use miniapp_cli::terminal;
use miniapp_host::capabilities::view::{ViewSettings, decode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let settings = ViewSettings::default();
    match decode::decode_view(text, &settings) {
        Ok(view) => {
            let again = decode::decode_view(&serde_json::to_string(&view).unwrap(), &settings).unwrap();
            assert_eq!(again, view);
            let page = Page { path: String::new(), query: Default::default() };
            let width = 24 + data.len() % 100;
            let drawn = terminal::draw(&view, &page, 1, 10, terminal::Style::plain(width));
            for line in &drawn.lines {
                assert!(terminal::width_of(line) <= width, "{line}");
                assert!(!line.contains('\u{1b}'));
            }
        }
        Err(error) => assert!(!error.path.is_empty()),
    }
});
