//! RSA-2048 keys for the provider protocols (SHA256withRSA, as WeChat Pay v3 and
//! Alipay's RSA2 use): test keys generated on first use and kept as PKCS#8 PEM in
//! `<data dir>/payment-keys/`, so runs against the same data directory agree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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
    /// The key `<dir>/<name>.pem`, generated if missing.
    pub fn load_or_create(dir: &Path, name: &str) -> Result<RsaKeys, String> {
        let path = dir.join(format!("{name}.pem"));
        let private = match std::fs::read_to_string(&path) {
            Ok(pem) => RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                    .map_err(|e| format!("cannot make an RSA key: {e}"))?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let temporary = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&temporary, pem.as_bytes()).map_err(|e| format!("{}: {e}", temporary.display()))?;
                std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))?;
                key
            }
            Err(error) => return Err(format!("{}: {error}", path.display())),
        };
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
