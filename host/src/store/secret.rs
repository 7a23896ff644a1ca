//! Host secrets kept in the data directory: 32 random bytes per file, created on
//! first use, readable by the owner only (the identity key user ids derive from,
//! the receipt-signing seed, …).

use std::io::Write;
use std::path::Path;

/// The secret in `<data_dir>/<name>`, created if missing.
pub fn load_or_create(data_dir: &Path, name: &str) -> Result<[u8; 32], String> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map_err(|_| damaged(&path, name)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("cannot get random bytes: {e}"))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut file) => {
                    file.write_all(&key)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(key)
                }
                // Another host process made it first: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(data_dir, name),
                Err(error) => Err(format!("{}: {error}", path.display())),
            }
        }
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// The key `name` in `data_dir` if there is one, without making one.
pub fn load_existing(data_dir: &Path, name: &str) -> Result<Option<[u8; 32]>, String> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|_| damaged(&path, name)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// What to say of a key file that is not a key: what a new one would cost.
fn damaged(path: &Path, name: &str) -> String {
    let advice = match name {
        "receipt.key" => {
            "restore it from a backup; do not delete it: a new key would make every receipt signed so far unverifiable"
        }
        "identity.key" => "restore it from a backup; a new key would give every user new ids in every program",
        "development.key" => {
            "restore it from a backup; a new key would make every program run from a directory a new program, its data left under the old key"
        }
        _ => "restore it from a backup",
    };
    format!("{} is damaged (not a 32-byte key); {advice}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_receipt_key_is_never_advised_away() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("receipt.key"), b"short").unwrap();
        let error = load_or_create(dir.path(), "receipt.key").unwrap_err();
        assert!(error.contains("restore it from a backup; do not delete it"), "{error}");
        assert_eq!(load_existing(dir.path(), "receipt.key").unwrap_err(), error);
        assert_eq!(load_existing(dir.path(), "missing.key").unwrap(), None);
        assert!(!dir.path().join("missing.key").exists());
    }
}
