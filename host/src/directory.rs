//! An app directory, opened: the files a manifest names are opened through it
//! and never from outside it, whatever symlinks lie on the way.
//!
//! On Linux a file is opened with `openat2(RESOLVE_BENEATH)` relative to the
//! directory's descriptor: the kernel refuses any resolution that leaves the
//! directory, in the same call that opens the file, so no symlink swapped in
//! between a check and the open can lead outside; the directory's own path is
//! read back from its descriptor. Both are a few system calls, where resolving a
//! path (`realpath`) examines every component of it. Where the kernel cannot
//! (another system, an older kernel, an absolute symlink that points back inside),
//! the path is resolved and tested instead, as it always was.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why a file of the app directory was not opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Nothing is there.
    Missing,
    /// It resolves to this path, outside the directory.
    Outside(PathBuf),
    /// Reading failed otherwise.
    Io(io::Error),
}

/// What `error` says of the file, to follow its name: "does not exist",
/// "resolves to …, outside the app directory", "cannot be opened: …".
pub(crate) fn describe(error: &OpenError) -> String {
    match error {
        OpenError::Missing => "does not exist".to_string(),
        OpenError::Outside(resolved) => format!("resolves to {}, outside the app directory", resolved.display()),
        OpenError::Io(e) => format!("cannot be opened: {e}"),
    }
}

/// An app directory, held open.
pub(crate) struct AppDirectory {
    /// The directory's canonical path.
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: Option<rustix::fd::OwnedFd>,
}

impl AppDirectory {
    /// Opens the directory at `dir`.
    pub(crate) fn open(dir: &Path) -> io::Result<AppDirectory> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags};
            let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            // The kernel's name for the descriptor is the directory's resolved path;
            // without /proc (or for a directory removed meanwhile) resolve it instead.
            let named = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)))
                .ok()
                .filter(|path| path.is_absolute() && !path.to_string_lossy().ends_with(" (deleted)"));
            let path = match named {
                Some(path) => path,
                None => dir.canonicalize()?,
            };
            Ok(AppDirectory { path, fd: Some(fd) })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(AppDirectory { path: dir.canonicalize()? })
        }
    }

    /// The directory's canonical path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `relative` (a path inside the directory, without `..`) for reading.
    pub(crate) fn open_file(&self, relative: &Path) -> Result<File, OpenError> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            use rustix::fs::{Mode, OFlags, ResolveFlags};
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            match rustix::fs::openat2(fd, relative, flags, Mode::empty(), ResolveFlags::BENEATH) {
                Ok(file) => return Ok(File::from(file)),
                Err(rustix::io::Errno::NOENT) => return Err(OpenError::Missing),
                // Leaving the directory (or an absolute symlink, which the kernel
                // refuses even when it points back inside), or no `openat2` here:
                // decided by resolving the path below.
                Err(_) => {}
            }
        }
        self.open_resolved(relative)
    }

    /// What `relative` resolves to, if that is inside the directory.
    pub(crate) fn resolve(&self, relative: &Path) -> Result<PathBuf, OpenError> {
        let resolved = match self.path.join(relative).canonicalize() {
            Ok(resolved) => resolved,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(OpenError::Missing),
            Err(e) => return Err(OpenError::Io(e)),
        };
        if !resolved.starts_with(&self.path) {
            return Err(OpenError::Outside(resolved));
        }
        Ok(resolved)
    }

    /// Resolves `relative`, tests that it stays inside, and opens what it resolves to.
    fn open_resolved(&self, relative: &Path) -> Result<File, OpenError> {
        let resolved = self.resolve(relative)?;
        File::open(&resolved).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenError::Missing,
            _ => OpenError::Io(e),
        })
    }
}

/// A file of an app directory: where it is, to open it again.
#[derive(Clone, Debug)]
pub(crate) struct AppFile {
    /// The directory's canonical path.
    pub dir: PathBuf,
    /// The file's path inside it, as the manifest gives it.
    pub relative: PathBuf,
}

impl AppFile {
    /// Where it is, for messages and as the key it is remembered by.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(&self.relative)
    }

    /// Opens it again, through its directory.
    pub(crate) fn open(&self) -> Result<File, OpenError> {
        AppDirectory::open(&self.dir).map_err(OpenError::Io)?.open_file(&self.relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_inside_open_and_links_outside_do_not() {
        let root = tempfile::tempdir().unwrap();
        let app = root.path().join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::write(app.join("sub/module.wasm"), b"inside").unwrap();
        std::fs::write(root.path().join("secret"), b"outside").unwrap();
        let dir = AppDirectory::open(&app).unwrap();
        assert_eq!(dir.path(), app.canonicalize().unwrap());
        let read = |relative: &str| {
            dir.open_file(Path::new(relative)).map(|mut f| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut f, &mut text).unwrap();
                text
            })
        };
        assert_eq!(read("sub/module.wasm").unwrap(), "inside");
        assert!(matches!(read("absent.wasm"), Err(OpenError::Missing)));
        #[cfg(unix)]
        {
            // A relative link that climbs out, and an absolute one, are both outside.
            std::os::unix::fs::symlink("../../secret", app.join("sub/up.wasm")).unwrap();
            std::os::unix::fs::symlink(root.path().join("secret"), app.join("abs.wasm")).unwrap();
            for link in ["sub/up.wasm", "abs.wasm"] {
                match read(link) {
                    Err(OpenError::Outside(resolved)) => {
                        assert_eq!(resolved, root.path().canonicalize().unwrap().join("secret"))
                    }
                    other => panic!("{link}: {other:?}"),
                }
            }
            // An absolute link back inside is still inside.
            std::os::unix::fs::symlink(app.join("sub/module.wasm"), app.join("back.wasm")).unwrap();
            assert_eq!(read("back.wasm").unwrap(), "inside");
            // A directory reached through a link in its own path is named by where it is.
            std::os::unix::fs::symlink(&app, root.path().join("alias")).unwrap();
            let aliased = AppDirectory::open(&root.path().join("alias")).unwrap();
            assert_eq!(aliased.path(), app.canonicalize().unwrap());
        }
        let file = AppFile { dir: dir.path().to_path_buf(), relative: "sub/module.wasm".into() };
        assert!(file.open().is_ok());
        assert_eq!(file.path(), dir.path().join("sub/module.wasm"));
    }
}
