//! RSA-2048 keys for the provider protocols (SHA256withRSA, as WeChat Pay v3 and
//! Alipay's RSA2 use): test keys generated on first use and kept as PKCS#8 PEM
//! with the host's secrets in the database (`payment-key:<name>`), so every run
//! and every host on one database agree — a notification one host's simulator
//! signs verifies on another. A key file an earlier version kept in
//! `<data dir>/payment-keys/` is taken over.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use miniapp_host::store::{Database, secret};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use std::path::Path;

/// An RSA key pair.
#[derive(Clone)]
pub struct RsaKeys {
    signing: SigningKey<Sha256>,
    verifying: VerifyingKey<Sha256>,
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
        let public = RsaPublicKey::from(&private);
        Ok(RsaKeys { signing: SigningKey::new(private), verifying: VerifyingKey::new(public) })
    }

    /// A fresh key that is never stored (to forge with, in tests and scenarios).
    pub fn throwaway() -> Result<RsaKeys, String> {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let public = RsaPublicKey::from(&private);
        Ok(RsaKeys { signing: SigningKey::new(private), verifying: VerifyingKey::new(public) })
    }

    /// SHA256withRSA over `message`, base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.signing.sign(message).to_bytes())
    }

    /// Whether `signature` (base64) is this key's SHA256withRSA signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature) else { return false };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return false };
        self.verifying.verify(message, &signature).is_ok()
    }
}
