//! The benchmark guest on Extism: the same event, the same logic
//! ([`tap_logic::answer`]) and one host call carrying the same view bytes.

use extism_pdk::*;
use miniapp_abi::lifecycle::Event;

#[host_fn]
extern "ExtismHost" {
    fn render(view: Vec<u8>);
}

/// Launch: nothing to do, as in the miniapp guest.
#[plugin_fn]
pub fn on_launch(_context: Vec<u8>) -> FnResult<()> {
    Ok(())
}

/// An event: decode it, answer a tap by rendering its view.
#[plugin_fn]
pub fn on_event(input: Vec<u8>) -> FnResult<()> {
    let event: Event = serde_json::from_slice(&input)?;
    if let Some(answer) = tap_logic::answer(&event) {
        // As on miniapp, an accepted view has an empty reply.
        unsafe { render(serde_json::to_vec(&answer)?)? };
    }
    Ok(())
}
