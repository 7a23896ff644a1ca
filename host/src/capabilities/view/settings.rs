//! The view capability's section of the host configuration, `[view]`.

use serde::{Deserialize, Serialize};

/// View limits: what a program may put on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewSettings {
    /// Pages on a program's page stack at most (10, as in WeChat); a manifest may
    /// ask for fewer.
    pub max_pages: u32,
    /// Components in one view at most (2,000).
    pub max_nodes: u32,
    /// Components nested in each other at most (16).
    pub max_depth: u32,
    /// Characters in one string of a view at most (2,000).
    pub max_text_chars: u32,
}

impl Default for ViewSettings {
    fn default() -> ViewSettings {
        ViewSettings { max_pages: 10, max_nodes: 2_000, max_depth: 16, max_text_chars: 2_000 }
    }
}
