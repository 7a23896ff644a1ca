//! RSA-2048 keys for the provider protocols (SHA256withRSA, as WeChat Pay v3 and
//! Alipay's RSA2 use): test keys generated on first use and kept as PKCS#8 PEM
//! with the host's secrets in the database (`payment-key:<name>`), so every run
//! and every host on one database agree — a notification one host's simulator
//! signs verifies on another. A key file an earlier version kept in
//! `<data dir>/payment-keys/` is taken over.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use miniapp_host::store::{Database, secret};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use std::path::Path;
use std::sync::Arc;

/// An RSA key pair. Made and stored with the `rsa` crate (key generation, PKCS#8
/// PEM); signed and verified with `ring`, several times faster (measured:
/// `docs/performance.md`).
#[derive(Clone)]
pub struct RsaKeys {
    pair: Arc<RsaKeyPair>,
    /// The public key, PKCS#1 DER.
    public: Arc<Vec<u8>>,
}

impl RsaKeys {
    /// The key `name` in `database`, generated if missing (or taken over from
    /// `<legacy_dir>/<name>.pem`).
    pub fn load_or_create(database: &Database, legacy_dir: &Path, name: &str) -> Result<RsaKeys, String> {
        let path = legacy_dir.join(format!("{name}.pem"));
        let secret = format!("payment-key:{name}");
        let pem = secret::load_or_create_text(database, &secret, || match std::fs::read_to_string(&path) {
            Ok(pem) => Ok(pem),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                    .map_err(|e| format!("cannot make an RSA key: {e}"))?;
                Ok(key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?.to_string())
            }
            Err(error) => Err(format!("{}: {error}", path.display())),
        })?;
        let private = RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| format!("the key `{secret}` in {} is damaged: {e}", database.describe()))?;
        RsaKeys::from_private(&private)
    }

    /// A fresh key that is never stored (to forge with, in tests and scenarios).
    pub fn throwaway() -> Result<RsaKeys, String> {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        RsaKeys::from_private(&private)
    }

    fn from_private(private: &RsaPrivateKey) -> Result<RsaKeys, String> {
        let der = private.to_pkcs8_der().map_err(|e| format!("cannot encode an RSA key: {e}"))?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| format!("an RSA key ring refuses: {e}"))?;
        let public = pair.public().as_ref().to_vec();
        Ok(RsaKeys { pair: Arc::new(pair), public: Arc::new(public) })
    }

    /// SHA256withRSA (PKCS#1 v1.5) over `message`, base64.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut signature = vec![0u8; self.pair.public().modulus_len()];
        // PKCS#1 v1.5 padding uses no randomness; signing a message with a
        // well-formed key cannot fail, and an empty signature never verifies.
        match self.pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature) {
            Ok(()) => STANDARD.encode(signature),
            Err(_) => String::new(),
        }
    }

    /// Whether `signature` (base64) is this key's SHA256withRSA signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature) else { return false };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.public.as_slice()).verify(message, &bytes).is_ok()
    }
}
