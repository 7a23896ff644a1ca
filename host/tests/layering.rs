//! The host crate's module graph, read from its sources: no cycle among its
//! top-level modules, and the layering the README's Layout section states — the
//! sandbox knows no capability, capabilities know the capability core and the
//! host services but never the app, the session or the host.
//!
//! An edge is a code reference `crate::<module>` (or a crate-root re-export) in a
//! module's files; comments are not code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crate-root re-exports, by the module that defines them.
const REEXPORTS: &[(&str, &str)] = &[
    ("Host", "host"),
    ("HostBuilder", "host"),
    ("HostConfig", "config"),
    ("Limits", "config"),
    ("EngineSettings", "config"),
    ("App", "app"),
    ("ModuleAnalysis", "app"),
    ("Session", "session"),
    ("SessionObserver", "session"),
    ("HostError", "error"),
    ("LoadError", "error"),
    ("SessionError", "error"),
    ("Manifest", "manifest"),
    ("ProgramInfo", "capability"),
    ("CapturedOutput", "sandbox"),
    ("Fault", "sandbox"),
    ("LimitKind", "sandbox"),
    ("Notice", "sandbox"),
];

/// What each layer must never use.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "directory",
        &["config", "manifest", "script", "package", "capability", "capabilities", "app", "session", "host", "store"],
    ),
    ("clock", &["config", "capability", "capabilities", "app", "session", "host", "store", "sandbox", "driver"]),
    ("sandbox", &["capability", "capabilities", "app", "session", "host", "consent", "transcript", "driver", "store"]),
    ("capability", &["capabilities", "app", "session", "host", "transcript", "driver", "records"]),
    ("capabilities", &["app", "session", "host", "transcript", "driver", "records"]),
    ("session", &["app", "host", "capabilities", "transcript", "driver"]),
    ("app", &["host", "capabilities", "driver", "transcript"]),
    ("store", &["capability", "capabilities", "app", "session", "host", "audit", "consent", "programs"]),
    ("package", &["capability", "capabilities", "app", "session", "host", "store", "programs", "error", "sandbox"]),
    ("script", &["package", "capability", "capabilities", "app", "session", "host", "store", "programs", "sandbox"]),
    ("programs", &["capabilities", "app", "session", "host", "transcript", "driver", "sandbox"]),
];

fn modules() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let top = relative.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            if top == "lib" {
                continue;
            }
            let targets = edges.entry(top.clone()).or_default();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                let mut rest = line;
                while let Some(at) = rest.find("crate::") {
                    rest = &rest[at + "crate::".len()..];
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    let module =
                        REEXPORTS.iter().find(|(item, _)| *item == name).map_or(name.clone(), |(_, m)| m.to_string());
                    if module != top && !module.is_empty() {
                        targets.insert(module);
                    }
                }
            }
        }
    }
    edges
}

fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn graph(edges: &BTreeMap<String, BTreeSet<String>>) -> String {
    edges
        .iter()
        .map(|(m, to)| format!("{m} -> {}", to.iter().cloned().collect::<Vec<_>>().join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_host_modules_form_no_cycle() {
    let edges = modules();
    assert!(edges.len() > 10, "found only {} modules", edges.len());
    if let Some(found) = cycle(&edges) {
        panic!("module cycle: {}\n{}", found.join(" -> "), graph(&edges));
    }
}

#[test]
fn each_layer_uses_only_what_is_below_it() {
    let edges = modules();
    for (layer, forbidden) in FORBIDDEN {
        let uses = edges.get(*layer).unwrap_or_else(|| panic!("no module `{layer}`"));
        let wrong: Vec<&String> = uses.iter().filter(|m| forbidden.contains(&m.as_str())).collect();
        assert!(wrong.is_empty(), "`{layer}` uses {wrong:?}\n{}", graph(&edges));
    }
}

/// The storage interface is the one way to the database: no module outside
/// `store/` names a database library (SQLite's or PostgreSQL's), so another
/// backend is one new module there.
#[test]
fn only_the_store_knows_the_database_library() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.starts_with(root.join("store"))
                && ["rusqlite", "tokio_postgres", "deadpool_postgres"]
                    .iter()
                    .any(|library| std::fs::read_to_string(&path).unwrap().contains(library))
            {
                offenders.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "outside store/: {offenders:?}");
}
