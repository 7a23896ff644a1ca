//! Signed packages: one file holding a program's manifest, module and assets,
//! signed by its publisher's key — what `miniapp pack` writes and `miniapp
//! install` and [`crate::Host::load_package`] accept. The format is documented in
//! `docs/packages.md`:
//!
//! ```text
//! "MINIAPP-PACKAGE\n"                    16 bytes
//! index length                           u32, little-endian (≤ 1 MiB)
//! index                                  JSON: format, publisher key, entries (name, role, size, SHA-256)
//! signature length                       u32, little-endian (always 64)
//! signature                              Ed25519 over "miniapp-package-v1\0" ‖ index
//! entries' bytes                         in index order, nothing after
//! ```
//!
//! The signature covers the index; the index covers every entry by its SHA-256.
//! So a changed byte anywhere is refused, and the refusal names the part: the
//! header, the index or signature, or the entry whose hash differs.

pub mod key;

pub use key::{Fingerprint, PublicKey, PublisherKey};

use crate::manifest::{Code, MANIFEST_FILE, Manifest, ManifestError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The first bytes of every package.
pub const MAGIC: &[u8; 16] = b"MINIAPP-PACKAGE\n";
/// What the signature is made over, before the index: a package signature can
/// never be replayed as a receipt's or anything else's.
pub const SIGNING_CONTEXT: &[u8] = b"miniapp-package-v1\0";
/// The package format version this host reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The conventional file extension.
pub const EXTENSION: &str = "mpkg";
/// The largest package file this host reads (checked before reading it).
pub const MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;
const MAX_INDEX_BYTES: usize = 1024 * 1024;
const MAX_ENTRIES: usize = 4096;
const MAX_NAME_BYTES: usize = 255;

/// Why a package was refused; [`PackageError::part`] names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The file could not be read.
    #[error("cannot read the package {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The bytes are not a package this host can read.
    #[error("{source_name}: {part}: {reason}")]
    Malformed {
        /// The package.
        source_name: String,
        /// The part at fault: `header`, `index`, `signature`, `entries`.
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The signature does not verify against the key the index names.
    #[error(
        "{source_name}: signature: does not verify against the publisher key {fingerprint} the package names — the signature or the index was changed after signing"
    )]
    BadSignature {
        /// The package.
        source_name: String,
        /// The key the index names.
        fingerprint: Fingerprint,
    },
    /// An entry's bytes are not the ones the publisher signed.
    #[error(
        "{source_name}: {role} `{name}`: its SHA-256 differs from the signed index — the {role} was changed after signing"
    )]
    Tampered {
        /// The package.
        source_name: String,
        /// `manifest`, `module` or `asset`.
        role: &'static str,
        /// The entry's name.
        name: String,
    },
    /// The signed manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl PackageError {
    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            PackageError::Unreadable { .. } => "package_unreadable",
            PackageError::Malformed { .. } => "package_malformed",
            PackageError::BadSignature { .. } => "package_signature_invalid",
            PackageError::Tampered { .. } => "package_tampered",
            PackageError::Manifest(_) => "manifest_invalid",
        }
    }

    /// The part of the package at fault: `header`, `index`, `signature`,
    /// `entries`, `manifest`, `module`, `asset` (or `file` when it was not read).
    pub fn part(&self) -> &'static str {
        match self {
            PackageError::Unreadable { .. } => "file",
            PackageError::Malformed { part, .. } => part,
            PackageError::BadSignature { .. } => "signature",
            PackageError::Tampered { role, .. } => role,
            PackageError::Manifest(_) => "manifest",
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `miniapp.toml`, always the first entry.
    Manifest,
    /// The module the manifest names.
    Module,
    /// A file the manifest lists under `assets`.
    Asset,
    /// One of a script program's sources (its main file, pages, `sources`).
    Source,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Manifest => "manifest",
            Role::Module => "module",
            Role::Asset => "asset",
            Role::Source => "source",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format: u32,
    /// base64url (no padding) of the 32-byte Ed25519 public key.
    publisher_key: String,
    entries: Vec<IndexEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    name: String,
    role: Role,
    size: u64,
    sha256: String,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path in the app directory, `/`-separated.
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A package's contents: read from an app directory to be signed, or read from a
/// package file and verified.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The validated manifest.
    pub manifest: Manifest,
    /// Every entry: the manifest, the module, then the assets by name.
    pub entries: Vec<Entry>,
}

/// A package whose signature and every entry's hash verified.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    /// What it holds.
    pub contents: Contents,
    /// The publisher's key, as signed.
    pub publisher: PublicKey,
    /// SHA-256 of the whole package file, hex.
    pub package_hash: String,
}

impl VerifiedPackage {
    /// The publisher's identity.
    pub fn fingerprint(&self) -> Fingerprint {
        self.publisher.fingerprint()
    }

    /// The module's bytes.
    pub fn module(&self) -> &[u8] {
        self.contents.module()
    }
}

impl Contents {
    /// Reads the manifest, the module it names and its assets from `app_dir`
    /// (nothing is built: the module must exist).
    pub fn from_dir(app_dir: &Path) -> Result<Contents, PackageError> {
        let manifest = Manifest::from_dir(app_dir)?;
        let unreadable = |path: &Path, reason: String| PackageError::Unreadable { path: path.to_path_buf(), reason };
        let manifest_path = app_dir.join(MANIFEST_FILE);
        let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| unreadable(&manifest_path, e.to_string()))?;
        let mut entries = vec![Entry { name: MANIFEST_FILE.to_string(), role: Role::Manifest, bytes: manifest_bytes }];
        match &manifest.code {
            Code::Module(module) => {
                let module_path = app_dir.join(module);
                let bytes = std::fs::read(&module_path).map_err(|e| unreadable(&module_path, e.to_string()))?;
                entries.push(Entry { name: entry_name(module), role: Role::Module, bytes });
            }
            Code::Script(script) => {
                let files = crate::script::read_dir(app_dir, script).map_err(|reason| unreadable(app_dir, reason))?;
                entries.extend(files.into_iter().map(|(name, bytes)| Entry { name, role: Role::Source, bytes }));
            }
        }
        let mut assets = Vec::new();
        for asset in &manifest.assets {
            crate::manifest::collect_files(app_dir, asset, &mut assets)
                .map_err(|reason| unreadable(&app_dir.join(asset), reason))?;
        }
        assets.sort();
        assets.dedup();
        for relative in assets {
            let name = entry_name(&relative);
            if entries.iter().any(|e| e.name == name) {
                continue;
            }
            let path = app_dir.join(&relative);
            let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e.to_string()))?;
            entries.push(Entry { name, role: Role::Asset, bytes });
        }
        Ok(Contents { manifest, entries })
    }

    /// The module's bytes (none for a script program).
    pub fn module(&self) -> &[u8] {
        self.entries.iter().find(|e| e.role == Role::Module).map_or(&[], |e| e.bytes.as_slice())
    }

    /// A script program's sources, by name.
    pub fn sources(&self) -> Vec<(String, Vec<u8>)> {
        self.entries.iter().filter(|e| e.role == Role::Source).map(|e| (e.name.clone(), e.bytes.clone())).collect()
    }

    /// The package file: these contents signed by `key`.
    pub fn sign(&self, key: &PublisherKey) -> Vec<u8> {
        let index = Index {
            format: FORMAT_VERSION,
            publisher_key: URL_SAFE_NO_PAD.encode(key.public_key().to_bytes()),
            entries: self
                .entries
                .iter()
                .map(|e| IndexEntry {
                    name: e.name.clone(),
                    role: e.role,
                    size: e.bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&e.bytes)),
                })
                .collect(),
        };
        // An index of strings and integers always serialises.
        let index = serde_json::to_vec(&index).unwrap_or_default();
        let mut message = SIGNING_CONTEXT.to_vec();
        message.extend_from_slice(&index);
        let signature = key.sign(&message);
        let mut out = Vec::with_capacity(
            MAGIC.len() + 8 + index.len() + 64 + self.entries.iter().map(|e| e.bytes.len()).sum::<usize>(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(index.len() as u32).to_le_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&(signature.len() as u32).to_le_bytes());
        out.extend_from_slice(&signature);
        for entry in &self.entries {
            out.extend_from_slice(&entry.bytes);
        }
        out
    }
}

/// Reads and verifies the package file at `path`.
pub fn read_file(path: &Path) -> Result<VerifiedPackage, PackageError> {
    verify(&read_bytes(path)?, &path.display().to_string())
}

/// The bytes of the package file at `path`, its size checked before reading.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, PackageError> {
    let unreadable = |reason: String| PackageError::Unreadable { path: path.to_path_buf(), reason };
    let size = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?.len();
    if size > MAX_PACKAGE_BYTES {
        return Err(unreadable(format!("{size} bytes is more than the {MAX_PACKAGE_BYTES} a package may hold")));
    }
    std::fs::read(path).map_err(|e| unreadable(e.to_string()))
}

/// Verifies package bytes; `source_name` names the package in errors.
pub fn verify(bytes: &[u8], source_name: &str) -> Result<VerifiedPackage, PackageError> {
    let malformed = |part: &'static str, reason: String| PackageError::Malformed {
        source_name: source_name.to_string(),
        part,
        reason,
    };
    let mut reader = Reader { bytes, at: 0 };
    let magic = reader.take(MAGIC.len()).filter(|m| m == MAGIC);
    if magic.is_none() {
        return Err(malformed("header", "not a miniapp package (the file does not start with MINIAPP-PACKAGE)".into()));
    }
    let index_len = reader.u32().ok_or_else(|| malformed("index", "the file ends before the index".into()))?;
    let index_len = usize::try_from(index_len).unwrap_or(usize::MAX);
    if index_len > MAX_INDEX_BYTES {
        return Err(malformed(
            "index",
            format!("{index_len} bytes is more than the {MAX_INDEX_BYTES} an index may hold"),
        ));
    }
    let index_bytes =
        reader.take(index_len).ok_or_else(|| malformed("index", "the file ends inside the index".into()))?;
    let signature_len =
        reader.u32().ok_or_else(|| malformed("signature", "the file ends before the signature".into()))?;
    if signature_len != 64 {
        return Err(malformed(
            "signature",
            format!("an Ed25519 signature is 64 bytes, the package says {signature_len}"),
        ));
    }
    let signature =
        reader.take(64).ok_or_else(|| malformed("signature", "the file ends inside the signature".into()))?;

    let index: Index = serde_json::from_slice(index_bytes).map_err(|e| {
        malformed(
            "index",
            format!(
                "not a package index ({}) — the index was changed after signing, or the file is damaged",
                crate::sanitize::line_within(&e.to_string(), 200)
            ),
        )
    })?;
    if index.format != FORMAT_VERSION {
        return Err(malformed(
            "index",
            format!("package format {} (this host reads format {FORMAT_VERSION}; use a newer miniapp)", index.format),
        ));
    }
    let key_bytes = URL_SAFE_NO_PAD
        .decode(&index.publisher_key)
        .map_err(|_| malformed("index", "the publisher key is not base64url".into()))?;
    let publisher =
        PublicKey::from_bytes(&key_bytes).map_err(|reason| malformed("index", format!("publisher key: {reason}")))?;
    let mut message = SIGNING_CONTEXT.to_vec();
    message.extend_from_slice(index_bytes);
    if !publisher.verifies(&message, signature) {
        return Err(PackageError::BadSignature {
            source_name: source_name.to_string(),
            fingerprint: publisher.fingerprint(),
        });
    }

    // Signed, so the index is the publisher's; still, check its shape before
    // slicing by its sizes (each size against what is left, never allocating by it).
    if index.entries.len() > MAX_ENTRIES {
        return Err(malformed(
            "index",
            format!("{} entries is more than the {MAX_ENTRIES} a package may hold", index.entries.len()),
        ));
    }
    let mut entries = Vec::with_capacity(index.entries.len());
    for (position, item) in index.entries.iter().enumerate() {
        check_entry_name(&item.name).map_err(|reason| {
            malformed("index", format!("entry `{}`: {reason}", crate::sanitize::line_within(&item.name, 80)))
        })?;
        let expected_role = if position == 0 { Some(Role::Manifest) } else { None };
        if expected_role.is_some_and(|role| role != item.role) || (position > 0 && item.role == Role::Manifest) {
            return Err(malformed("index", "the manifest must be the first entry, and the only one".into()));
        }
        if entries.iter().any(|e: &Entry| e.name == item.name) {
            return Err(malformed("index", format!("entry `{}` appears twice", item.name)));
        }
        let size = usize::try_from(item.size).unwrap_or(usize::MAX);
        let data = reader.take(size).ok_or_else(|| {
            malformed("entries", format!("the file ends inside `{}` (the index says {} bytes)", item.name, item.size))
        })?;
        if hex::encode(Sha256::digest(data)) != item.sha256 {
            return Err(PackageError::Tampered {
                source_name: source_name.to_string(),
                role: item.role.name(),
                name: item.name.clone(),
            });
        }
        entries.push(Entry { name: item.name.clone(), role: item.role, bytes: data.to_vec() });
    }
    if reader.at != bytes.len() {
        return Err(malformed("entries", format!("{} bytes follow the last entry", bytes.len() - reader.at)));
    }
    let Some(manifest_entry) = entries.first().filter(|e| e.role == Role::Manifest && e.name == MANIFEST_FILE) else {
        return Err(malformed("index", format!("the first entry must be the manifest, `{MANIFEST_FILE}`")));
    };
    let manifest_path = PathBuf::from(format!("{source_name}:{MANIFEST_FILE}"));
    let text = std::str::from_utf8(&manifest_entry.bytes).map_err(|_| ManifestError {
        path: manifest_path.clone(),
        field: None,
        message: "is not UTF-8".into(),
    })?;
    let manifest = Manifest::parse(text, &manifest_path)?;
    let modules: Vec<String> = entries.iter().filter(|e| e.role == Role::Module).map(|e| e.name.clone()).collect();
    let contents = Contents { manifest, entries };
    match &contents.manifest.code {
        Code::Module(module) => {
            let module_name = entry_name(module);
            if modules.len() != 1 || modules[0] != module_name {
                return Err(malformed(
                    "index",
                    format!("the package must hold exactly one module, `{module_name}`, as its manifest names"),
                ));
            }
        }
        Code::Script(script) => {
            if !modules.is_empty() {
                return Err(malformed("index", "a script program's package holds its sources, not a module".into()));
            }
            crate::script::Bundle::new(script, contents.sources(), MAX_PACKAGE_BYTES)
                .map_err(|reason| malformed("entries", format!("the script program's sources: {reason}")))?;
        }
    }
    Ok(VerifiedPackage { contents, publisher, package_hash: hex::encode(Sha256::digest(bytes)) })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len())?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
    }
}

pub use crate::manifest::entry_name;

fn check_entry_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!("a name is 1 to {MAX_NAME_BYTES} bytes"));
    }
    if name.chars().any(char::is_control) || name.contains('\\') {
        return Err("a name has no control characters or backslashes".into());
    }
    if name.split('/').any(|part| part.is_empty() || part == "." || part == "..") || name.starts_with('/') {
        return Err("a name is a relative path inside the app directory".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents() -> Contents {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            "id = \"com.example.pkg\"\nname = \"Pkg\"\nversion = \"1.0.0\"\npublisher = \"Example\"\nmodule = \"app.wat\"\nassets = [\"pages\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("app.wat"), "(module)").unwrap();
        std::fs::create_dir(dir.path().join("pages")).unwrap();
        std::fs::write(dir.path().join("pages/b.txt"), "b").unwrap();
        std::fs::write(dir.path().join("pages/a.txt"), "a").unwrap();
        Contents::from_dir(dir.path()).unwrap()
    }

    #[test]
    fn a_signed_package_verifies_with_its_publisher_and_entries() {
        let key = PublisherKey::from_seed([3; 32]);
        let package = verify(&contents().sign(&key), "p.mpkg").unwrap();
        assert_eq!(package.fingerprint(), key.fingerprint());
        let names: Vec<&str> = package.contents.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["miniapp.toml", "app.wat", "pages/a.txt", "pages/b.txt"]);
        assert_eq!(package.module(), b"(module)");
        assert_eq!(package.contents.manifest.id, "com.example.pkg");
    }

    #[test]
    fn every_flipped_byte_is_refused_and_the_part_is_named() {
        let bytes = contents().sign(&PublisherKey::from_seed([3; 32]));
        let index_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
        let signature_at = 20 + index_len + 4;
        let entries_at = signature_at + 64;
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x01;
            let error = verify(&changed, "p.mpkg").expect_err(&format!("a flip at byte {at} was accepted"));
            let expected: &[&str] = if at < 16 {
                &["header"]
            } else if at < 20 {
                &["index", "signature", "entries"]
            } else if at < signature_at - 4 {
                &["index", "signature"]
            } else if at < entries_at {
                &["signature"]
            } else {
                &["manifest", "module", "asset"]
            };
            assert!(expected.contains(&error.part()), "byte {at}: {error} (part {})", error.part());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(verify(&longer, "p.mpkg").unwrap_err().part(), "entries");
        assert_eq!(verify(&bytes[..bytes.len() - 1], "p.mpkg").unwrap_err().part(), "entries");
    }

    #[test]
    fn entry_names_never_leave_the_app_directory() {
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a\\b", "a/./b"] {
            assert!(check_entry_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_entry_name("pages/index.wxml").is_ok());
    }
}
