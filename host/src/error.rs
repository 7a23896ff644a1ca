//! The host library's error types, each with a stable code.

use crate::manifest::ManifestError;
use crate::sandbox::Fault;
use crate::store::StoreError;
use miniapp_abi::AbiVersion;
use std::path::PathBuf;

/// Why a host could not be created.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine could not be created.
    #[error("{0}")]
    Engine(String),
    /// The configuration is wrong: a section no plug-in claims, or one its plug-in
    /// refuses.
    #[error("{0}")]
    Config(String),
}

impl HostError {
    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::Store(error) => error.code(),
            HostError::Engine(_) => "engine_failed",
            HostError::Config(_) => "config_invalid",
        }
    }
}

/// Why a program could not be loaded. Each names the file, field, import or export
/// at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `miniapp.toml` is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The module file does not exist.
    #[error("{path}: module not found{hint}")]
    ModuleMissing {
        /// Where it was looked for.
        path: PathBuf,
        /// How to build it, if the manifest says.
        hint: String,
    },
    /// The module file could not be read.
    #[error("{path}: cannot read the module: {reason}")]
    ModuleUnreadable {
        /// The module file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The module is not valid WebAssembly (or WAT).
    #[error("{source_name}: not a valid WebAssembly module: {reason}")]
    ModuleInvalid {
        /// The module's file or name.
        source_name: String,
        /// What the validator said.
        reason: String,
    },
    /// The module is over a module limit (`limits.module_bytes`, …); it was not
    /// compiled.
    #[error("{source_name}: {reason}")]
    ModuleTooLarge {
        /// The module's file or name.
        source_name: String,
        /// Which limit, with the count and the limit's value.
        reason: String,
    },
    /// The module imports a capability the manifest does not declare.
    #[error(
        "{program}: the module imports `{module}.{function}` from capability `{capability}`, but miniapp.toml does not declare [capabilities.{capability}]"
    )]
    UndeclaredCapability {
        /// The program id.
        program: String,
        /// The capability.
        capability: String,
        /// The import module.
        module: String,
        /// The imported function.
        function: String,
    },
    /// The manifest or the module names a capability this host does not offer.
    #[error("{program}: unknown capability `{capability}` ({place}); this host offers: {offered}")]
    UnknownCapability {
        /// The program id.
        program: String,
        /// The capability asked for.
        capability: String,
        /// Where it was named (a manifest field or an import).
        place: String,
        /// What the host offers.
        offered: String,
    },
    /// The module imports something the host does not provide.
    #[error("{program}: the module imports `{module}.{name}`, which this host does not provide ({reason})")]
    UnknownImport {
        /// The program id.
        program: String,
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Why it is not provided.
        reason: String,
    },
    /// The module carries no ABI version marker.
    #[error(
        "{program}: the module exports no ABI version marker (`{expected}`); build it with miniapp-sdk or export the marker as docs/abi.md says"
    )]
    AbiVersionMissing {
        /// The program id.
        program: String,
        /// The marker this host expects.
        expected: String,
    },
    /// The module speaks an ABI version this host does not.
    #[error("{program}: the module speaks miniapp ABI {found}; this host speaks {supported} (same major, minor up to {})", supported.minor)]
    AbiVersionUnsupported {
        /// The program id.
        program: String,
        /// The module's version.
        found: AbiVersion,
        /// The host's version.
        supported: AbiVersion,
    },
    /// The ABI marker is malformed or there are several.
    #[error("{program}: {reason}")]
    AbiMarkerInvalid {
        /// The program id.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("{program}: export `{name}` {problem}")]
    ExportInvalid {
        /// The program id.
        program: String,
        /// The export.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The package is not one its publisher signed, or not a package at all.
    #[error(transparent)]
    Package(#[from] crate::package::PackageError),
    /// The program id belongs to another publisher key here (pinned by the
    /// configuration, or installed first): the message names both keys.
    #[error("{message}")]
    PublisherMismatch {
        /// The program id.
        program: String,
        /// Both fingerprints, why the id is bound, and how to proceed.
        message: String,
    },
    /// A script program's sources cannot be gathered: a file missing, unreadable,
    /// not UTF-8, or more than the program may hold.
    #[error("{program}: {reason}")]
    ScriptInvalid {
        /// The program id.
        program: String,
        /// What is wrong, naming the file.
        reason: String,
    },
    /// A script program names a runtime this host does not have.
    #[error("{program}: this host has no `{runtime}` runtime (`runtime` in miniapp.toml; it has: {offered})")]
    UnknownRuntime {
        /// The program id.
        program: String,
        /// The runtime asked for.
        runtime: String,
        /// The runtimes the host has, comma-separated, or `none`.
        offered: String,
    },
    /// No program of that id is installed.
    #[error(
        "no program `{program}` is installed here (`miniapp list` shows what is; `miniapp install PKG` installs one)"
    )]
    NotInstalled {
        /// The id asked for.
        program: String,
    },
    /// The host failed while loading (cache, database).
    #[error("host error while loading {program}: {reason}")]
    Host {
        /// The program id.
        program: String,
        /// What failed.
        reason: String,
    },
}

impl LoadError {
    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Manifest(_) => "manifest_invalid",
            LoadError::ModuleMissing { .. } => "module_missing",
            LoadError::ModuleUnreadable { .. } => "module_unreadable",
            LoadError::ModuleInvalid { .. } => "module_invalid",
            LoadError::ModuleTooLarge { .. } => "limit_exceeded",
            LoadError::UndeclaredCapability { .. } => "undeclared_capability",
            LoadError::UnknownCapability { .. } => "unknown_capability",
            LoadError::UnknownImport { .. } => "unknown_import",
            LoadError::AbiVersionMissing { .. } => "abi_version_missing",
            LoadError::AbiVersionUnsupported { .. } => "abi_version_unsupported",
            LoadError::AbiMarkerInvalid { .. } => "abi_marker_invalid",
            LoadError::ExportInvalid { .. } => "export_invalid",
            LoadError::Package(error) => error.code(),
            LoadError::PublisherMismatch { .. } => "publisher_mismatch",
            LoadError::ScriptInvalid { .. } => "script_invalid",
            LoadError::UnknownRuntime { .. } => "unknown_runtime",
            LoadError::NotInstalled { .. } => "not_installed",
            LoadError::Host { .. } => "host_error",
        }
    }
}

/// Why a callback did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The guest broke a limit or the ABI and was ended.
    #[error("{program} was ended in {callback}: it {fault}")]
    Ended {
        /// The program id.
        program: String,
        /// The callback that was running.
        callback: &'static str,
        /// Why.
        fault: Fault,
    },
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access) and was ended.
    #[error("{program} trapped in {callback}: {message}")]
    Trapped {
        /// The program id.
        program: String,
        /// The callback that was running.
        callback: &'static str,
        /// The trap.
        message: String,
    },
    /// The callback returned a non-zero status; the program keeps running.
    #[error("{program} reported failure from {callback} (status {status}{})", code_suffix(*status))]
    CallbackFailed {
        /// The program id.
        program: String,
        /// The callback.
        callback: &'static str,
        /// The status it returned.
        status: i32,
    },
    /// The session already ended; start a new one.
    #[error("{program} has already ended: {reason}")]
    AlreadyEnded {
        /// The program id.
        program: String,
        /// Why it ended.
        reason: String,
    },
    /// The host cannot start another program now.
    #[error("cannot start {program}: {reason}")]
    Capacity {
        /// The program id.
        program: String,
        /// Why.
        reason: String,
    },
    /// The host itself failed.
    #[error("host error while running {program}: {reason}")]
    Host {
        /// The program id.
        program: String,
        /// What failed.
        reason: String,
    },
}

fn code_suffix(status: i32) -> String {
    miniapp_abi::ErrorCode::from_number(status).map(|code| format!(", {code}")).unwrap_or_default()
}

impl SessionError {
    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Ended { fault: Fault::Limit { .. }, .. } => "limit_exceeded",
            SessionError::Ended { fault: Fault::Abi(_), .. } => "abi_violation",
            SessionError::Ended { fault: Fault::HostCallBeforeLaunch, .. } => "host_call_before_launch",
            SessionError::Trapped { .. } => "guest_trapped",
            SessionError::CallbackFailed { .. } => "callback_failed",
            SessionError::AlreadyEnded { .. } => "session_ended",
            SessionError::Capacity { .. } => "host_capacity",
            SessionError::Host { .. } => "host_error",
        }
    }

    /// Whether the program was ended by this error (every kind but
    /// [`SessionError::CallbackFailed`]).
    pub fn ends_program(&self) -> bool {
        !matches!(self, SessionError::CallbackFailed { .. })
    }
}

/// Folds a multi-line message (a WAT parse error with its source excerpt) into one
/// line, so every error the CLI prints stays one line.
pub(crate) fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}
