#![deny(missing_docs)]
//! The miniapp ABI, shared by the host and the guest SDK.
//!
//! This crate owns everything both sides of the boundary must agree on: the ABI
//! version and its export marker, the names of guest exports and host import
//! modules, the stable error codes, and the JSON message types of every host call
//! and lifecycle callback. `docs/abi.md` is the language-neutral description of the
//! same contract; this crate is its Rust rendering.
//!
//! It has no platform code and compiles for both the host and `wasm32-wasip1`.

/// Defines an enum whose values have stable snake_case names — the same in JSON, in
/// manifests, on the command line and in the host's database — with `ALL`,
/// `as_str`, `parse`, `Display` and a `FromStr` whose error, [`UnknownName`], says
/// that a text names no value (never a default).
#[macro_export]
macro_rules! stable_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; <[&str]>::len(&[$($text),+])] = [$($name::$variant),+];

            /// The stable name of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The value with this stable name.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownName;

            fn from_str(text: &str) -> Result<$name, $crate::UnknownName> {
                $name::parse(text).ok_or_else(|| $crate::UnknownName::new(stringify!($name), text))
            }
        }
    };
}

/// A text that names no value of a [`stable_names!`] type: a value written by a
/// newer version, or a damaged one. Never read as some default value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// The type, e.g. `State`.
    pub kind: &'static str,
    /// The text (its first 64 characters).
    pub text: String,
}

impl UnknownName {
    /// `text` names no `kind`.
    pub fn new(kind: &'static str, text: &str) -> UnknownName {
        UnknownName { kind, text: text.chars().take(64).collect() }
    }
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a known {} value", self.text, self.kind)
    }
}

impl std::error::Error for UnknownName {}

pub mod error;
pub mod identity;
pub mod lifecycle;
pub mod link;
pub mod payment;
pub mod script;
pub mod storage;
pub mod view;

pub use error::{ApiError, ErrorCode};

/// A version of the ABI. Minor versions only add (new host functions, new optional
/// fields, new optional guest exports); anything else bumps the major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion {
    /// Incompatible changes bump this; a host rejects a guest of another major.
    pub major: u32,
    /// Additive changes bump this; a host accepts guests up to its own minor.
    pub minor: u32,
}

impl AbiVersion {
    /// The export name a guest of this version carries, e.g. `miniapp_abi_v1_0`.
    pub fn marker_export(self) -> String {
        format!("{VERSION_MARKER_PREFIX}{}_{}", self.major, self.minor)
    }

    /// Parses an export name such as `miniapp_abi_v1_0`. Returns `None` for names
    /// that do not start with [`VERSION_MARKER_PREFIX`]; `Some(Err(..))` for names
    /// that do but are not a well-formed version.
    pub fn from_marker_export(name: &str) -> Option<Result<AbiVersion, String>> {
        let rest = name.strip_prefix(VERSION_MARKER_PREFIX)?;
        let parsed = rest.split_once('_').and_then(|(major, minor)| {
            let major = parse_decimal(major)?;
            let minor = parse_decimal(minor)?;
            Some(AbiVersion { major, minor })
        });
        Some(parsed.ok_or_else(|| {
            format!("malformed ABI version marker `{name}` (expected `{VERSION_MARKER_PREFIX}<major>_<minor>`)")
        }))
    }
}

fn parse_decimal(text: &str) -> Option<u32> {
    // One spelling per version: no sign, no leading zero (`v01_0` is not `v1_0`).
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The ABI version this crate describes.
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 1 };

/// Prefix of the version marker export: `miniapp_abi_v<major>_<minor>`.
pub const VERSION_MARKER_PREFIX: &str = "miniapp_abi_v";

/// Guest export: `(size: i32) -> i32`. Allocates `size` bytes the host fills with a
/// message; ownership of the buffer passes to the guest.
pub const EXPORT_ALLOC: &str = "miniapp_alloc";
/// Guest export: `(ptr: i32, len: i32) -> i32`. Required. Receives a
/// [`lifecycle::LaunchContext`].
pub const EXPORT_ON_LAUNCH: &str = "miniapp_on_launch";
/// Guest export: `() -> i32`. Optional. The program came to the foreground.
pub const EXPORT_ON_SHOW: &str = "miniapp_on_show";
/// Guest export: `() -> i32`. Optional. The program went to the background.
pub const EXPORT_ON_HIDE: &str = "miniapp_on_hide";
/// Guest export: `(ptr: i32, len: i32) -> i32`. Optional. Receives a
/// [`lifecycle::Event`].
pub const EXPORT_ON_EVENT: &str = "miniapp_on_event";
/// Guest export: the WASI reactor initialiser, called once after instantiation if
/// present.
pub const EXPORT_INITIALIZE: &str = "_initialize";
/// Guest export: `(ptr: i32, len: i32) -> i32`. A script runtime's only: receives
/// the program's [`script::Sources`] once, after instantiation and before the
/// launch (docs/abi.md §4.6).
pub const EXPORT_RUNTIME_LOAD: &str = "miniapp_runtime_load";
/// Guest export: the linear memory all messages live in.
pub const EXPORT_MEMORY: &str = "memory";

/// Host import modules are named `miniapp:<capability>`.
pub const IMPORT_MODULE_PREFIX: &str = "miniapp:";
/// The WASI preview 1 import module, sandboxed by the host.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The import module name of a capability, e.g. `miniapp:storage`.
pub fn import_module(capability: &str) -> String {
    format!("{IMPORT_MODULE_PREFIX}{capability}")
}

/// Status returned by a host function or a lifecycle callback when all went well.
pub const STATUS_OK: i32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let name = ABI_VERSION.marker_export();
        assert_eq!(name, "miniapp_abi_v1_1");
        assert_eq!(AbiVersion::from_marker_export(&name), Some(Ok(ABI_VERSION)));
    }

    #[test]
    fn marker_parsing_rejects_malformed_versions() {
        assert_eq!(AbiVersion::from_marker_export("miniapp_alloc"), None);
        for bad in [
            "miniapp_abi_v1",
            "miniapp_abi_v01_0",
            "miniapp_abi_v1_00",
            "miniapp_abi_v1_",
            "miniapp_abi_v_0",
            "miniapp_abi_vx_1",
            "miniapp_abi_v1_0_0",
            "miniapp_abi_v99999999999_0",
        ] {
            assert!(matches!(AbiVersion::from_marker_export(bad), Some(Err(_))), "{bad}");
        }
        assert_eq!(AbiVersion::from_marker_export("miniapp_abi_v2_7"), Some(Ok(AbiVersion { major: 2, minor: 7 })));
    }
}
