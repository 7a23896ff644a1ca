//! A hostile mini-program. Each tap of "Next attack" tries one thing a malicious
//! program would — pay a merchant it did not declare, forge an amount, open a
//! `javascript:` link and a userinfo-trick URL, overwrite the screen with a
//! terminal escape sequence, fill the disk past its quota, and finally loop
//! forever — and shows what the host answered. The host refuses each with a
//! reason, ends the looping program when its time is up, and keeps running.

use miniapp_sdk::link::{self, Target};
use miniapp_sdk::payment::{self, Order};
use miniapp_sdk::prelude::*;
use miniapp_sdk::view::{ButtonStyle, Key, Tone, View, button, heading, list, text};

const ATTACKS: &[&str] = &[
    "pay a merchant it never declared",
    "forge a negative amount",
    "forge an amount over its cap",
    "open a javascript: link",
    "open https://taobao.com@evil.example/ (userinfo trick)",
    "draw a terminal escape sequence over the screen",
    "write past its storage quota",
    "pass markup and escape sequences off as the host",
    "loop forever",
];

#[derive(Default)]
struct Hostile {
    results: Vec<(String, bool)>,
}

impl MiniApp for Hostile {
    fn on_launch(&mut self, _launch: LaunchContext) -> Result<()> {
        self.render()
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        if let Event::Tap { action, .. } = event
            && action == "attack"
        {
            let index = self.results.len();
            let outcome = attack(index);
            let refused = outcome.is_err() || index == MARKUP;
            let line = match outcome {
                // Markup is only text to the host: printing and drawing it is allowed,
                // and every front end shows it as the characters it is.
                Ok(what) if index == MARKUP => format!("{}. {} → shown as text: {what}", index + 1, ATTACKS[index]),
                Ok(what) => format!("{}. {} → NOT refused: {what}", index + 1, ATTACKS[index]),
                Err(error) => format!("{}. {} → refused: {error}", index + 1, ATTACKS[index]),
            };
            println!("{line}");
            self.results.push((line, refused));
        }
        self.render()
    }
}

/// The attack whose strings are allowed, and must be shown as text.
const MARKUP: usize = 7;

/// Tries attack number `index`; `Err` is the host's refusal.
fn attack(index: usize) -> Result<String> {
    match index {
        0 => payment::request(&Order::cny("1900000999", "EVIL000001", 100, "gift card")).map(|r| r.status.to_string()),
        1 => payment::request(&Order::cny("1900000109", "EVIL000002", -5000, "refund myself"))
            .map(|r| r.status.to_string()),
        2 => payment::request(&Order::cny("1900000109", "EVIL000003", 9_999_999, "everything"))
            .map(|r| r.status.to_string()),
        3 => open(Target::web("javascript:alert(document.cookie)")),
        4 => open(Target::web("https://taobao.com@evil.example/")),
        5 => view::render(&View::new("Pay here").push(text("\u{1b}[2J\u{1b}[HWeChat Pay: enter your PIN")))
            .map(|()| "drawn".to_string()),
        6 => {
            let chunk = "x".repeat(4000);
            for n in 0..100 {
                storage::set(&format!("junk-{n}"), &chunk)?;
            }
            Ok("wrote 400 KB".to_string())
        }
        MARKUP => {
            println!("<script>document.title='pwned'</script>\u{1b}[2J\u{1b}[H[host] 支付成功 Paid");
            eprintln!("<img src=x onerror=\"document.title='pwned'\">");
            Ok("<img src=x onerror=\"document.title='pwned'\"> <b>bold?</b>".to_string())
        }
        _ =>
        {
            #[allow(clippy::empty_loop)]
            loop {}
        }
    }
}

/// A link reply that is not opened counts as a refusal.
fn open(target: Target) -> Result<String> {
    let reply = link::open(target)?;
    if reply.is_opened() {
        Ok(reply.message)
    } else {
        Err(Error::new(ErrorCode::CapabilityDenied, format!("{}: {}", reply.outcome, reply.message)))
    }
}

impl Hostile {
    fn render(&self) -> Result<()> {
        let mut screen = View::new("Hostile program").push(heading("What a malicious mini-program tries"));
        let lines = self
            .results
            .iter()
            .map(|(line, refused)| text(line.clone()).tone(if *refused { Tone::Success } else { Tone::Danger }));
        screen = screen.push(list(lines));
        if let Some(next) = ATTACKS.get(self.results.len()) {
            screen = screen
                .push(text(format!("Next: {next}")).tone(Tone::Muted))
                .push(button("Next attack", "attack").key(Key::N).style(ButtonStyle::Danger));
        }
        view::render(&screen)
    }
}

miniapp_sdk::export_app!(Hostile);
