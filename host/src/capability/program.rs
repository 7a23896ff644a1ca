//! Who a program is, as the host verified it at load, and what its gates decided:
//! what every capability keys its records by.

use super::Grant;
use crate::package::Fingerprint;
use miniapp_abi::ApiError;
use std::collections::BTreeMap;

/// A program's verified identity: the id its manifest gives, and the publisher key
/// that signed it — a package's signer, or the host's development key for a
/// program run from a directory. The id alone proves nothing; the pair does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProgramIdentity {
    id: String,
    publisher: Fingerprint,
    development: bool,
    key: String,
}

impl ProgramIdentity {
    /// The identity of `id` signed by the key `publisher`; `development` when that
    /// key is the host's development key.
    pub fn new(id: &str, publisher: Fingerprint, development: bool) -> ProgramIdentity {
        ProgramIdentity { key: format!("{id}@{publisher}"), id: id.to_string(), publisher, development }
    }

    /// The manifest's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The fingerprint of the key that signed the program.
    pub fn publisher(&self) -> &Fingerprint {
        &self.publisher
    }

    /// Whether the signer is this host's development key (a program run from a
    /// directory, or packed without a publisher key).
    pub fn is_development(&self) -> bool {
        self.development
    }

    /// `id@fingerprint`: what every record of the program is keyed by (storage,
    /// consent, orders, audit, user ids). Program ids have no `@`, so two
    /// identities never share a key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Display for ProgramIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)
    }
}

/// Who a program is and what its gates decided at load.
#[derive(Debug)]
pub struct ProgramInfo {
    /// The manifest's id (shown to users; records are keyed by
    /// [`ProgramInfo::key`]).
    pub id: String,
    /// The manifest's display name.
    pub name: String,
    /// The manifest's version.
    pub version: String,
    /// The manifest's publisher: a display name, which proves nothing.
    pub publisher: String,
    /// Who the program verifiably is.
    pub identity: ProgramIdentity,
    /// SHA-256 of the module's bytes, hex.
    pub module_hash: String,
    grants: BTreeMap<String, GrantState>,
}

/// A declared capability: granted (with what declaring it gave) or denied by the
/// host's policy (with why).
pub enum GrantState {
    /// Declared and allowed.
    Granted(Grant),
    /// Declared, and turned off by the host's policy.
    Denied(String),
}

impl std::fmt::Debug for GrantState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GrantState::Granted(_) => f.write_str("Granted"),
            GrantState::Denied(reason) => write!(f, "Denied({reason:?})"),
        }
    }
}

impl ProgramInfo {
    /// A program's identity and its load-time decisions, by capability name.
    pub fn new(
        id: String,
        name: String,
        version: String,
        publisher: String,
        identity: ProgramIdentity,
        module_hash: String,
        grants: BTreeMap<String, GrantState>,
    ) -> ProgramInfo {
        ProgramInfo { id, name, version, publisher, identity, module_hash, grants }
    }

    /// What the program's records are keyed by: its verified identity,
    /// `id@fingerprint` (see [`ProgramIdentity::key`]).
    pub fn key(&self) -> &str {
        self.identity.key()
    }

    /// What declaring `capability` granted, or why it is denied.
    pub fn grant(&self, capability: &str) -> Result<Grant, ApiError> {
        match self.grants.get(capability) {
            Some(GrantState::Granted(grant)) => Ok(grant.clone()),
            Some(GrantState::Denied(reason)) => Err(ApiError::capability_denied(reason.clone())),
            None => Err(ApiError::capability_denied(format!("`{capability}` is not declared in miniapp.toml"))),
        }
    }

    /// The program as the user sees it named in prompts: `name (id)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }

    /// Each declared capability and whether the host's policy allows it
    /// (`Ok`) or not (`Err(reason)`).
    pub fn capability_decisions(&self) -> BTreeMap<&str, Result<(), &str>> {
        self.grants
            .iter()
            .map(|(name, state)| {
                let decision = match state {
                    GrantState::Granted(_) => Ok(()),
                    GrantState::Denied(reason) => Err(reason.as_str()),
                };
                (name.as_str(), decision)
            })
            .collect()
    }
}
