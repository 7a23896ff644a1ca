//! What the host hands a script runtime (`miniapp_runtime_load`): a script
//! program's sources, gathered from its app directory or package.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A script program's sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// The entry file, run first (`app.js`).
    pub main: String,
    /// The pages, home first (`pages/index`): each has `<page>.js` in `files`.
    pub pages: Vec<String>,
    /// Every file, by its `/`-separated path in the app directory, as text.
    pub files: BTreeMap<String, String>,
}
