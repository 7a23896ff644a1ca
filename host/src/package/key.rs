//! Publisher keys: an Ed25519 key pair whose public key's fingerprint is the
//! publisher's identity. The secret key is kept as PKCS#8 PEM (what `openssl pkey`
//! reads), readable by its owner only.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// How many bytes of the SHA-256 of a public key its fingerprint keeps (160 bits,
/// as OpenPGP's fingerprints: far beyond any second-preimage search).
const FINGERPRINT_BYTES: usize = 20;

/// A publisher's identity: the first 20 bytes of the SHA-256 of its Ed25519 public
/// key, as 40 lowercase hex digits. Anything keyed by a program includes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `key`.
    pub fn of(key: &PublicKey) -> Fingerprint {
        let digest = Sha256::digest(key.0.as_bytes());
        Fingerprint(hex::encode(&digest[..FINGERPRINT_BYTES]))
    }

    /// Parses a fingerprint as written in a configuration or on a command line.
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let valid = text.len() == FINGERPRINT_BYTES * 2 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(Fingerprint(text.to_string()))
        } else {
            Err(format!(
                "`{}` is not a publisher fingerprint (40 lowercase hex digits, as `miniapp keygen` prints)",
                crate::sanitize::line_within(text, 80)
            ))
        }
    }

    /// The 40 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A publisher's public key, as carried in a signed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key from its 32 raw bytes, refusing a point that is not a valid key.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| format!("a public key is 32 bytes, not {}", bytes.len()))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| "the bytes are not an Ed25519 public key".to_string())?;
        if key.is_weak() {
            return Err("the public key is a weak (small-order) point".into());
        }
        Ok(PublicKey(key))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// This key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self)
    }

    /// Whether `signature` is this key's over `message` (strict verification: no
    /// malleable or small-order signatures).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &signature).is_ok()
    }

    /// The key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> Result<String, String> {
        self.0.to_public_key_pem(Default::default()).map_err(|e| format!("cannot encode the public key: {e}"))
    }
}

/// A publisher's key pair; signs packages.
#[derive(Clone)]
pub struct PublisherKey {
    key: SigningKey,
}

impl fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("PublisherKey").field("fingerprint", &self.fingerprint().0).finish()
    }
}

impl PublisherKey {
    /// A new random key pair.
    pub fn generate() -> Result<PublisherKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("cannot get random bytes: {e}"))?;
        Ok(PublisherKey::from_seed(seed))
    }

    /// The key pair of a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> PublisherKey {
        PublisherKey { key: SigningKey::from_bytes(&seed) }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// The publisher's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public_key().fingerprint()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Reads a secret key file (PKCS#8 PEM, as [`PublisherKey::write`] makes).
    pub fn read(path: &Path) -> Result<PublisherKey, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| {
            format!(
                "{} is not a publisher key (a PKCS#8 PEM Ed25519 private key, as `miniapp keygen` writes): {e}",
                path.display()
            )
        })?;
        Ok(PublisherKey { key })
    }

    /// Writes the secret key to `path` (a new file, owner-only), refusing to
    /// overwrite an existing one: a lost publisher key cannot sign updates.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let pem = self.key.to_pkcs8_pem(Default::default()).map_err(|e| format!("cannot encode the key: {e}"))?;
        write_new(path, pem.as_bytes(), true)
    }
}

/// Writes `bytes` to a file that must not exist yet, owner-only if `secret`.
pub(crate) fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!(
                "{} already exists; it is not overwritten (choose another path, or remove it yourself)",
                path.display()
            )
        }
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_reads_back_with_the_same_fingerprint_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publisher.key");
        let key = PublisherKey::generate().unwrap();
        key.write(&path).unwrap();
        let read = PublisherKey::read(&path).unwrap();
        assert_eq!(read.fingerprint(), key.fingerprint());
        assert!(key.write(&path).unwrap_err().contains("already exists"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("bad.key"), "hello").unwrap();
        assert!(PublisherKey::read(&dir.path().join("bad.key")).unwrap_err().contains("is not a publisher key"));
    }

    #[test]
    fn fingerprints_are_forty_hex_digits_and_differ_per_key() {
        let a = PublisherKey::from_seed([1; 32]).fingerprint();
        let b = PublisherKey::from_seed([2; 32]).fingerprint();
        assert_ne!(a, b);
        assert_eq!(Fingerprint::parse(a.as_str()).unwrap(), a);
        assert!(Fingerprint::parse("ABC").is_err());
        assert!(Fingerprint::parse(&a.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let key = PublisherKey::from_seed([7; 32]);
        let signature = key.sign(b"message");
        assert!(key.public_key().verifies(b"message", &signature));
        assert!(!key.public_key().verifies(b"messagf", &signature));
        assert!(!PublisherKey::from_seed([8; 32]).public_key().verifies(b"message", &signature));
        assert!(!key.public_key().verifies(b"message", &signature[..63]));
    }
}
