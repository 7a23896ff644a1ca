//! What the host remembers of files by their stamp ([`KnownByStamp`]), and what
//! the module cache remembers of module files: for a file unchanged since it was
//! last read, the SHA-256 of its module and the module's shape, so that loading it
//! again reads and hashes nothing before the compiled code is mapped.
//!
//! "Unchanged" is the file's stamp — device, inode, size, modification and
//! status-change times, all from one `fstat` of the descriptor the bytes were
//! read through. Any write to a file moves its status-change time, which no user
//! can set back, and replacing it moves the inode, so a changed file never
//! matches. The one race is a write within the file system's timestamp
//! granularity of the read that recorded it, leaving equal times: a stamp is
//! only remembered once its times are [`SETTLED`] in the past, so such a file is
//! hashed again, every time, until it has been left alone (Git's index guards its
//! "racy" entries the same way).
//!
//! Entries live beside the compiled modules (`files/<digest of the path>`), with
//! the same trust: whoever can write the cache directory can already plant code.
//! An entry that does not read back exactly is not used: the file is read.

use super::admission::Shape;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far in the past a file's times must be before its stamp is trusted.
pub(crate) const SETTLED: Duration = Duration::from_secs(2);

/// The first word of an entry: its format.
const FORMAT: &str = "miniapp-module-file-1";

/// A file's identity and times, from one `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i128,
    changed_ns: i128,
}

impl FileStamp {
    /// The stamp of the file `metadata` describes; `None` where the platform has
    /// no inode or status-change time (the file is then read at every load).
    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        Some(FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified_ns: i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
            changed_ns: i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec()),
        })
    }

    /// See the unix version.
    #[cfg(not(unix))]
    pub(crate) fn of(_metadata: &Metadata) -> Option<FileStamp> {
        None
    }

    /// The file's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether both times are at least [`SETTLED`] before `now`.
    fn settled(&self, now: SystemTime) -> bool {
        let now_ns = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        let limit = now_ns - SETTLED.as_nanos() as i128;
        self.modified_ns < limit && self.changed_ns < limit
    }
}

/// What is known of an unchanged file's module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownFile {
    /// Hex SHA-256 of the module (of the binary a text module becomes).
    pub hash: String,
    /// Its counts, for admission under the limits of the load at hand.
    pub shape: Shape,
}

/// What is known of files, in memory, by path, each with the stamp of the file
/// it was learnt from: a file's entry stands only while the file still has that
/// stamp, and only a settled stamp is remembered.
pub(crate) struct KnownByStamp<T> {
    memory: Mutex<HashMap<PathBuf, (FileStamp, T)>>,
    /// Entries kept before the memory is emptied and filled again.
    capacity: usize,
}

impl<T: Clone> KnownByStamp<T> {
    /// An empty memory of at most `capacity` files.
    pub(crate) fn new(capacity: usize) -> KnownByStamp<T> {
        KnownByStamp { memory: Mutex::new(HashMap::new()), capacity }
    }

    /// The entry for `path`, with the stamp it was learnt from.
    pub(crate) fn get(&self, path: &Path) -> Option<(FileStamp, T)> {
        lock(&self.memory).get(path).cloned()
    }

    /// Keeps `value` for `path` with `stamp`, settled or not (a stamp read back
    /// from where it was kept settled).
    fn insert(&self, path: &Path, stamp: FileStamp, value: T) {
        let mut memory = lock(&self.memory);
        if memory.len() >= self.capacity && !memory.contains_key(path) {
            memory.clear();
        }
        memory.insert(path.to_path_buf(), (stamp, value));
    }

    /// Remembers `value` for the file at `path` with `stamp` if its stamp is
    /// settled, and says so; otherwise forgets the file (it is being written to).
    pub(crate) fn remember(&self, path: &Path, stamp: &FileStamp, value: T) -> bool {
        if !stamp.settled(SystemTime::now()) {
            self.forget(path);
            return false;
        }
        self.insert(path, *stamp, value);
        true
    }

    /// Forgets the file at `path`.
    pub(crate) fn forget(&self, path: &Path) {
        lock(&self.memory).remove(path);
    }
}

/// The remembered files: in memory for the host's lifetime, and on disk when the
/// cache has a directory.
pub(crate) struct FileRegistry {
    dir: Option<PathBuf>,
    memory: KnownByStamp<KnownFile>,
}

impl FileRegistry {
    /// A registry persisting under `cache_dir`, if given.
    pub(crate) fn new(cache_dir: Option<&Path>) -> FileRegistry {
        FileRegistry { dir: cache_dir.map(|dir| dir.join("files")), memory: KnownByStamp::new(usize::MAX) }
    }

    /// What is known of the file at `path` (canonical) if it still has `stamp`.
    pub(crate) fn known(&self, path: &Path, stamp: &FileStamp) -> Option<KnownFile> {
        if let Some((kept, known)) = self.memory.get(path) {
            return (kept == *stamp).then_some(known);
        }
        let text = std::fs::read_to_string(self.entry_path(path)?).ok()?;
        let (kept, known) = parse_entry(&text, path)?;
        if kept != *stamp {
            return None;
        }
        self.memory.insert(path, kept, known.clone());
        Some(known)
    }

    /// Remembers that the file at `path` with `stamp` holds `known`, if its stamp
    /// is settled; otherwise forgets it (it is being written to).
    pub(crate) fn remember(&self, path: &Path, stamp: &FileStamp, known: &KnownFile) {
        if !self.memory.remember(path, stamp, known.clone()) {
            return;
        }
        let Some(entry) = self.entry_path(path) else { return };
        if let Err(error) = super::cache::write_atomically(&entry, entry_text(path, stamp, known).as_bytes()) {
            tracing::warn!(path = %entry.display(), %error, "cannot write the module cache");
        }
    }

    fn entry_path(&self, path: &Path) -> Option<PathBuf> {
        let digest = hex::encode(Sha256::digest(path.as_os_str().as_encoded_bytes()));
        Some(self.dir.as_ref()?.join(&digest[..32]))
    }
}

fn entry_text(path: &Path, stamp: &FileStamp, known: &KnownFile) -> String {
    let FileStamp { device, inode, size, modified_ns, changed_ns } = stamp;
    let shape = &known.shape;
    format!(
        "{FORMAT}\n{}\n{device} {inode} {size} {modified_ns} {changed_ns}\n{}\n{} {} {} {} {} {}\n",
        path.display(),
        known.hash,
        shape.functions,
        shape.imports,
        shape.memories,
        shape.tables,
        shape.initial_memory_bytes,
        shape.initial_table_elements,
    )
}

/// An entry's stamp and knowledge, if `text` is exactly an entry for `path`.
fn parse_entry(text: &str, path: &Path) -> Option<(FileStamp, KnownFile)> {
    let mut lines = text.split('\n');
    if lines.next()? != FORMAT || lines.next()? != path.display().to_string() {
        return None;
    }
    let stamp: Vec<&str> = lines.next()?.split(' ').collect();
    let hash = lines.next()?;
    let shape: Vec<u64> = lines.next()?.split(' ').map(str::parse).collect::<Result<_, _>>().ok()?;
    if !lines.next()?.is_empty() || lines.next().is_some() {
        return None;
    }
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return None;
    }
    let [device, inode, size, modified, changed] = stamp.as_slice() else { return None };
    let stamp = FileStamp {
        device: device.parse().ok()?,
        inode: inode.parse().ok()?,
        size: size.parse().ok()?,
        modified_ns: modified.parse().ok()?,
        changed_ns: changed.parse().ok()?,
    };
    let [functions, imports, memories, tables, initial_memory_bytes, initial_table_elements] = shape.as_slice() else {
        return None;
    };
    let shape = Shape {
        functions: *functions,
        imports: *imports,
        memories: *memories,
        tables: *tables,
        initial_memory_bytes: *initial_memory_bytes,
        initial_table_elements: *initial_table_elements,
    };
    Some((stamp, KnownFile { hash: hash.to_string(), shape }))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_of(path: &Path) -> FileStamp {
        FileStamp::of(&std::fs::metadata(path).unwrap()).unwrap()
    }

    fn known() -> KnownFile {
        let shape = Shape { functions: 3, imports: 2, memories: 1, tables: 1, ..Shape::default() };
        KnownFile { hash: "ab".repeat(32), shape }
    }

    /// A file whose times are in the past, as a module built a while ago has.
    fn settled_file(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("app.wasm");
        std::fs::write(&path, bytes).unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(long_ago).unwrap();
        path
    }

    #[test]
    fn a_settled_file_is_known_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let path = settled_file(dir.path(), b"one");
        let registry = FileRegistry::new(Some(&cache));
        let stamp = stamp_of(&path);
        // The change time is the write's own, moments ago: not yet trusted.
        if !stamp.settled(SystemTime::now()) {
            registry.remember(&path, &stamp, &known());
            assert_eq!(registry.known(&path, &stamp), None);
        }
        // Remembered as it will be once settled, it is known, in memory and on disk.
        let later = FileStamp { changed_ns: stamp.modified_ns, ..stamp };
        registry.remember(&path, &later, &known());
        assert_eq!(registry.known(&path, &later), Some(known()));
        assert_eq!(FileRegistry::new(Some(&cache)).known(&path, &later), Some(known()));
        // Any difference in the stamp is a miss.
        for changed in [
            FileStamp { size: later.size + 1, ..later },
            FileStamp { inode: later.inode + 1, ..later },
            FileStamp { modified_ns: later.modified_ns + 1, ..later },
            FileStamp { changed_ns: later.changed_ns + 1, ..later },
        ] {
            assert_eq!(registry.known(&path, &changed), None);
            assert_eq!(FileRegistry::new(Some(&cache)).known(&path, &changed), None);
        }
    }

    #[test]
    fn an_entry_that_does_not_read_back_exactly_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let path = settled_file(dir.path(), b"one");
        let stamp = stamp_of(&path);
        let stamp = FileStamp { changed_ns: stamp.modified_ns, ..stamp };
        FileRegistry::new(Some(&cache)).remember(&path, &stamp, &known());
        let entry = FileRegistry::new(Some(&cache)).entry_path(&path).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        assert_eq!(parse_entry(&text, &path), Some((stamp, known())));
        for broken in [
            text.replace(FORMAT, "miniapp-module-file-0"),
            text.replace(&"ab".repeat(32), &"AB".repeat(32)),
            text.replace(&"ab".repeat(32), "abc"),
            text.trim_end().to_string(),
            format!("{text}extra\n"),
            text.replace("3 2 1 1", "3 2 1"),
        ] {
            std::fs::write(&entry, &broken).unwrap();
            assert_eq!(FileRegistry::new(Some(&cache)).known(&path, &stamp), None, "{broken}");
        }
        // An entry for another path (a digest collision) is not this file's.
        assert_eq!(parse_entry(&text, Path::new("/elsewhere/app.wasm")), None);
    }
}
