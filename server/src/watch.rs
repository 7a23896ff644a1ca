//! Watch mode: a change to a program's sources rebuilds it (the manifest's build
//! command) and relaunches every session of it in place, where it was last
//! launched, keeping its storage. A failed build is shown to every such session
//! (and on `GET /api`) and the last good module keeps running.
//!
//! Sources are watched by polling their sizes and modification times (every
//! file under the app directory but build output, `target/`, and hidden
//! entries): no file-system notification API to depend on, and the build tool
//! decides what the change means.

use crate::ServerState;
use crate::build::{self, Output};
use crate::failure::ServeError;
use crate::messages::{Message, one_line};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Rebuilds and relaunches programs of a running server.
#[derive(Clone)]
pub struct Reloader {
    state: Arc<ServerState>,
}

impl Reloader {
    pub(crate) fn new(state: Arc<ServerState>) -> Reloader {
        Reloader { state }
    }

    /// Watches `app_dir` every `interval`, rebuilding and relaunching on each
    /// change, until the task is dropped.
    pub async fn watch(self, app_dir: PathBuf, interval: Duration) {
        let mut seen = fingerprint(&app_dir).await;
        loop {
            tokio::time::sleep(interval).await;
            let now = fingerprint(&app_dir).await;
            if now == seen {
                continue;
            }
            if let Err(error) = self.rebuild(&app_dir).await {
                tracing::info!("rebuild of {} failed: {}", app_dir.display(), one_line(&error));
            }
            // What this build started from: a change saved while it ran is the
            // next change, never absorbed into this one. The module the build
            // writes is not a source (see `fingerprint`); a build that touches
            // other files (a lock file) is followed by one more, which finds them
            // as it left them.
            seen = now;
        }
    }

    /// Builds `app_dir`, loads the result and relaunches every session of the
    /// program with it. On failure, the sessions are told and keep their module.
    pub async fn rebuild(&self, app_dir: &Path) -> Result<String, ServeError> {
        let result = self.build_and_load(app_dir).await;
        let program = self.program_of(app_dir);
        let sessions: Vec<_> =
            self.state.sessions.list().into_iter().filter(|s| program.as_deref() == Some(s.program.as_str())).collect();
        match result {
            Err(error) => {
                let mut message = one_line(&error);
                if let ServeError::Build(build) = &error
                    && !build.output().is_empty()
                {
                    message = format!("{message}\n{}", build.output());
                }
                *self.state.build_error.write().unwrap_or_else(|p| p.into_inner()) = Some(message.clone());
                for session in &sessions {
                    session.log.push(Message::Build { ok: false, message: message.clone() });
                }
                Err(error)
            }
            Ok(app) => {
                *self.state.build_error.write().unwrap_or_else(|p| p.into_inner()) = None;
                let id = self.state.add_program(app.clone())?;
                for session in self.state.sessions.list().into_iter().filter(|s| s.program == id) {
                    let message = format!("rebuilt; module {}", &app.program().module_hash);
                    session.log.push(Message::Build { ok: true, message });
                    // A session closed meanwhile has nothing to relaunch.
                    let _ = session.relaunch(None, Some(app.clone())).await;
                }
                Ok(id)
            }
        }
    }

    async fn build_and_load(&self, app_dir: &Path) -> Result<miniapp_host::App, ServeError> {
        let manifest = miniapp_host::Manifest::from_dir(app_dir).map_err(|e| ServeError::Load { source: e.into() })?;
        let dir = app_dir.to_path_buf();
        tokio::task::spawn_blocking(move || build::build(&dir, &manifest, Output::Capture))
            .await
            .map_err(|e| ServeError::bad_request(format!("the build stopped: {e}")))??;
        self.state.host.load_app(app_dir).await.map_err(|source| ServeError::Load { source })
    }

    /// The id of the loaded program from `app_dir`, if one is loaded.
    fn program_of(&self, app_dir: &Path) -> Option<String> {
        let programs = self.state.programs.read().unwrap_or_else(|p| p.into_inner());
        let wanted = app_dir.canonicalize().ok();
        programs
            .iter()
            .find(|(_, app)| app.dir().and_then(|d| d.canonicalize().ok()) == wanted)
            .map(|(id, _)| id.clone())
    }
}

/// A number that changes when a source file under `dir` is added, removed,
/// resized or modified. The module the manifest names is the build's output,
/// not a source: it is left out.
async fn fingerprint(dir: &Path) -> u64 {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut files: Vec<(PathBuf, u64, Option<SystemTime>)> = Vec::new();
        collect(&dir, &mut files, 0);
        let output = miniapp_host::Manifest::from_dir(&dir).ok().and_then(|manifest| match manifest.code {
            miniapp_host::manifest::Code::Module(module) => Some(dir.join(module)),
            miniapp_host::manifest::Code::Script(_) => None,
        });
        files.retain(|(path, ..)| Some(path) != output.as_ref());
        files.sort();
        let mut hasher = DefaultHasher::new();
        files.hash(&mut hasher);
        hasher.finish()
    })
    .await
    .unwrap_or(0)
}

/// Directories deeper than this are not watched (a link loop, a vendored tree).
const MAX_DEPTH: usize = 16;

fn collect(dir: &Path, files: &mut Vec<(PathBuf, u64, Option<SystemTime>)>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if depth < MAX_DEPTH {
                collect(&entry.path(), files, depth + 1);
            }
        } else {
            files.push((entry.path(), meta.len(), meta.modified().ok()));
        }
    }
}
