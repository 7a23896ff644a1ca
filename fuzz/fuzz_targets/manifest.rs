//! The manifest parser: any text parses or is refused with a field-named error,
//! and accepted limits only ever tighten the host's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_host::{Limits, Manifest};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(manifest) = Manifest::parse(text, Path::new("miniapp.toml")) {
        let host = Limits::default();
        if let Ok(limits) = manifest.limits.apply(&host, false) {
            assert!(limits.memory_bytes <= host.memory_bytes);
            assert!(limits.callback_time_ms <= host.callback_time_ms);
            assert!(limits.message_bytes <= host.message_bytes);
        }
    }
});
