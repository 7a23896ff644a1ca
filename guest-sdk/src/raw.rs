//! Host calls by name, with the request and reply as JSON bytes: for runtimes
//! that host another language (the JavaScript runtime hands its programs' `wx.*`
//! calls through here), where the typed modules' Rust types do not reach.

use crate::host::{self, RawHostFn};
use crate::{Error, ErrorCode, Result};

/// Every import module the SDK knows, with its functions.
fn modules() -> [(&'static str, &'static [(&'static str, RawHostFn)]); 5] {
    [
        (miniapp_abi::storage::CAPABILITY, crate::storage::FUNCTIONS),
        (miniapp_abi::view::CAPABILITY, crate::view::FUNCTIONS),
        (miniapp_abi::link::CAPABILITY, crate::link::FUNCTIONS),
        (miniapp_abi::identity::CAPABILITY, crate::identity::FUNCTIONS),
        (miniapp_abi::payment::CAPABILITY, crate::payment::FUNCTIONS),
    ]
}

/// Calls `function` of capability `capability` (`"storage"`, `"set"`) with a
/// JSON request; the JSON reply (empty for none), or the host's error. A name the
/// SDK does not know is `unavailable`, without a host call.
pub fn call(capability: &str, function: &str, request: &[u8]) -> Result<Vec<u8>> {
    let found = modules()
        .into_iter()
        .find(|(name, _)| *name == capability)
        .and_then(|(_, functions)| functions.iter().find(|(name, _)| *name == function));
    match found {
        Some((_, raw)) => host::call(*raw, request),
        None => Err(Error::new(ErrorCode::Unavailable, format!("no host function `{capability}.{function}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_functions_are_unavailable_without_a_call() {
        let error = call("storage", "format_disk", b"{}").unwrap_err();
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(error.message.contains("storage.format_disk"));
    }

    #[test]
    fn every_capability_module_is_listed_once() {
        let names: Vec<&str> = modules().iter().map(|(name, _)| *name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
    }
}
