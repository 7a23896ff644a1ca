//! Who a program is, as the host verified it at load, and what its gates decided:
//! what every capability keys its records by.

use super::Grant;
use miniapp_abi::ApiError;
use std::collections::BTreeMap;

/// Who a program is and what its gates decided at load.
#[derive(Debug)]
pub struct ProgramInfo {
    /// The manifest's id.
    pub id: String,
    /// The manifest's display name.
    pub name: String,
    /// The manifest's version.
    pub version: String,
    /// The manifest's publisher.
    pub publisher: String,
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
        module_hash: String,
        grants: BTreeMap<String, GrantState>,
    ) -> ProgramInfo {
        ProgramInfo { id, name, version, publisher, module_hash, grants }
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
