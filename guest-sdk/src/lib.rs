//! # miniapp SDK
//!
//! Write miniapp mini-programs in safe Rust. Implement [`MiniApp`] for your
//! program's state, export it with [`export_app!`], and call the host through the
//! capability modules ([`storage`], [`view`], [`link`], [`identity`], [`payment`]). Every host call returns a
//! [`Result`] whose error carries one of the ABI's stable [`ErrorCode`]s.
//!
//! ```no_run
//! use miniapp_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! impl MiniApp for Counter {
//!     fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
//!         let launches: u64 = storage::get("launches")?.unwrap_or(0) + 1;
//!         storage::set("launches", &launches)?;
//!         println!("opened from {} for the {launches}th time", launch.surface);
//!         Ok(())
//!     }
//! }
//!
//! miniapp_sdk::export_app!(Counter);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip1` as a `cdylib`, and name
//! the module and the capabilities it uses in `miniapp.toml` (see the README).
//! Programs print with `println!`/`eprintln!`: the host captures and shows the
//! output with the program's id.

#![deny(missing_docs)]

mod host;
pub mod identity;
pub mod link;
pub mod payment;
pub mod raw;
pub mod storage;
pub mod view;

pub use miniapp_abi::lifecycle::{Event, LaunchContext, Surface};
pub use miniapp_abi::{ABI_VERSION, ApiError as Error, ErrorCode};
/// JSON values for payloads and storage, so a program needs no `serde_json`
/// dependency of its own for them.
pub use serde_json::{self, Value, json};

/// The result of a host call or a lifecycle callback.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What most programs need in one import.
pub mod prelude {
    pub use crate::{
        Error, ErrorCode, Event, LaunchContext, MiniApp, Result, Surface, identity, link, payment, storage, view,
    };
}

/// A mini-program's lifecycle, as the host drives it. Only `on_launch` is required.
///
/// One value of the implementing type lives for the whole session: the host creates
/// it with [`Default`] before the first callback. Returning an error from a callback
/// reports failure to the host (its code becomes the callback's status, its message
/// goes to stderr); the program keeps running.
pub trait MiniApp: Default + 'static {
    /// The program was opened: where from, which page, with which query.
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()>;

    /// The program came to the foreground.
    fn on_show(&mut self) -> Result<()> {
        Ok(())
    }

    /// The program went to the background.
    fn on_hide(&mut self) -> Result<()> {
        Ok(())
    }

    /// The user or the host did something: a tap, an input, a custom event.
    fn on_event(&mut self, event: Event) -> Result<()> {
        let _ = event;
        Ok(())
    }
}

/// Exports a [`MiniApp`] type as the program's lifecycle: writes the ABI version
/// marker, the allocator the host uses to hand over messages, and the callbacks.
/// Use it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_app {
    ($app:ty) => {
        const _: () = {
            /// The miniapp ABI version marker (1.0).
            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_abi_v1_1() {}

            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_alloc(size: i32) -> i32 {
                $crate::__private::alloc(size)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_on_launch(ptr: i32, len: i32) -> i32 {
                $crate::__private::on_launch::<$app>(ptr, len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_on_show() -> i32 {
                $crate::__private::on_show::<$app>()
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_on_hide() -> i32 {
                $crate::__private::on_hide::<$app>()
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn miniapp_on_event(ptr: i32, len: i32) -> i32 {
                $crate::__private::on_event::<$app>(ptr, len)
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::host::{alloc, on_event, on_hide, on_launch, on_show, take_buffer};
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_macro_exports_the_current_abi_marker() {
        // `export_app!` spells the marker out; keep it in step with the ABI crate.
        assert_eq!(crate::ABI_VERSION.marker_export(), "miniapp_abi_v1_1");
        assert!(include_str!("lib.rs").contains("fn miniapp_abi_v1_1()"));
    }
}
