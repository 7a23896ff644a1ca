//! Open and share links (capability `link`): https pages, other mini-programs and
//! platform deep links (`taobao://item/1042`, `taobao://shop/58`, `taobao://live/7`).
//!
//! The host decides, never the program: the target must be safe (https, no
//! credentials in the URL, no IP-address or look-alike host, …), declared in the
//! manifest, and allowed on the surface — some surfaces ask the user first, group
//! chats and Moments only allow links the user turned on, and opening another
//! mini-program needs a tap. The answer is a [`LinkReply`]: opened, confirmed by
//! the user, declined, or denied with a [`DenyReason`] and a message to show.
//!
//! ```toml
//! [capabilities.link]
//! domains = ["taobao.com"]          # https domains (and subdomains) it may open
//! platforms = ["taobao"]            # platforms whose deep links it may open
//! programs = ["com.taobao.deals"]   # mini-programs it may open
//! ```
//!
//! ```no_run
//! use miniapp_sdk::link::{self, Card, Target};
//! use miniapp_sdk::Surface;
//! # fn demo() -> miniapp_sdk::Result<()> {
//! let reply = link::open(Target::deep_link("taobao://live/7"))?;
//! if !reply.is_opened() {
//!     println!("not opened: {}", reply.message);
//! }
//! let card = Card { title: "Deal of the day".into(), target: Target::web("https://taobao.com/deal"), image: None };
//! link::share(card, Surface::Group)?;
//! # Ok(()) }
//! ```

use crate::host::{host_functions, request};
use crate::{Result, Surface};
use miniapp_abi::link::{OpenRequest, ShareRequest};

pub use miniapp_abi::link::{Card, DenyReason, LinkReply, Outcome, Target};

host_functions!("miniapp:link" {
    open => link_open,
    share => link_share,
});

/// Opens `target` from the surface the program runs on.
pub fn open(target: Target) -> Result<LinkReply> {
    request(link_open, &OpenRequest { target })
}

/// Shares `card` to `surface` (chat, group or moments).
pub fn share(card: Card, surface: Surface) -> Result<LinkReply> {
    request(link_share, &ShareRequest { card, surface })
}
