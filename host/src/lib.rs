#![deny(missing_docs)]
//! # miniapp host
//!
//! A capability-gated WebAssembly sandbox for mini-programs. A [`Host`] loads
//! programs (a `miniapp.toml` manifest beside a core wasm module speaking the
//! miniapp ABI, see `docs/abi.md`), checks what they import against what they
//! declare, and runs each in its own sandbox with hard limits on memory, time,
//! stack, fuel, host calls, message size and output.
//!
//! ```no_run
//! use miniapp_host::{Host, HostConfig, LaunchContext, Surface};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let host = Host::new(HostConfig::with_data_dir("/tmp/miniapp-data"))?;
//! let app = host.load_app("sample-programs/hello").await?;
//! let mut session = app.start().await?;
//! session.launch(&LaunchContext::new(Surface::Direct)).await?;
//! print!("{}", session.take_output().stdout_text());
//! # Ok(()) }
//! ```
//!
//! The pieces, each in its own module (the README's Layout section says which
//! may use which; `tests/layering.rs` checks it):
//! - `manifest`: `miniapp.toml`; [`config`]: the host's configuration and limits;
//! - `engine`: the wasmtime engine and the compiled-module cache;
//! - `sandbox`: one program's confinement (WASI, limiter, budget, output) and the
//!   boundary, the only code that touches guest memory;
//! - [`clock`]: the host's clock, which every time-dependent payment rule reads;
//! - [`store`]: the storage interface and its SQLite backend; [`audit`]: the
//!   decision log; [`consent`]: the user the host asks;
//! - [`capability`]: the capability core (the plug-in trait, host services, the
//!   consent gate, the dispatch of host calls); [`capabilities`]: the built-ins;
//! - [`App`] and [`Session`]: a loaded program and a running one;
//! - [`testing`]: a test host and a call context without a guest.

pub mod app;
pub mod audit;
pub mod calendar;
pub mod capabilities;
pub mod capability;
pub mod clock;
pub mod config;
pub mod consent;
mod directory;
pub mod driver;
mod engine;
mod error;
mod host;
pub mod manifest;
pub mod package;
pub mod programs;
pub mod records;
mod sandbox;
pub mod sanitize;
pub mod script;
mod session;
pub mod settings;
pub mod store;
pub mod testing;
pub mod transcript;

pub use app::{App, ModuleAnalysis, Preinitialisation};
pub use capability::{ProgramIdentity, ProgramInfo};
pub use config::{EngineSettings, HostConfig, Limits};
pub use error::{HostError, LoadError, SessionError};
pub use host::{Host, HostBuilder};
pub use manifest::Manifest;
pub use miniapp_abi::identity::Scope as IdentityScope;
pub use miniapp_abi::lifecycle::{Event, LaunchContext, Surface};
pub use miniapp_abi::{ABI_VERSION, AbiVersion, ApiError, ErrorCode};
pub use sandbox::{CapturedOutput, Fault, LimitKind, Notice};
pub use session::{Session, SessionObserver};
