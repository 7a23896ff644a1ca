//! Receipts: what the host signs when an order is paid, so a merchant can verify
//! it without trusting the program that shows it. A receipt is
//! `base64url(JSON payload) "." base64url(Ed25519 signature)`, signed with a key
//! kept with the host's secrets in the database (`receipt.key`, see
//! [`crate::store::secret`]).

use crate::store::Database;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a receipt states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPayload {
    /// Format version.
    pub v: u32,
    /// The merchant paid.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// `wechat_pay` or `alipay`.
    pub method: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// The attempt that paid.
    pub attempt: u32,
    /// When the host recorded the payment, ms since the epoch.
    pub paid_at_ms: i64,
}

/// What a refund receipt states: that the provider confirmed the money is back
/// with the payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundReceiptPayload {
    /// Format version.
    pub v: u32,
    /// Always `refund`: what tells it from a payment receipt.
    pub kind: String,
    /// The merchant.
    pub merchant_id: String,
    /// The refunded order.
    pub out_trade_no: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The provider's refund id.
    pub refund_id: String,
    /// The method the order was paid and refunded with.
    pub method: String,
    /// Minor units returned.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// When the host recorded the refund's success, ms since the epoch (the host's clock).
    pub refunded_at_ms: i64,
}

/// A verified receipt of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// A payment's.
    Payment(ReceiptPayload),
    /// A refund's.
    Refund(RefundReceiptPayload),
}

/// Signs and verifies receipts.
pub struct ReceiptSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ReceiptSigner").field("public_key", &self.public_key_hex()).finish()
    }
}

impl ReceiptSigner {
    /// The signer whose seed is the host secret `receipt.key` in `database`
    /// (taken over from `<data_dir>/receipt.key` when an earlier version kept it
    /// there): every host on one database signs with the same key.
    pub fn open(database: &Database, data_dir: &Path) -> Result<ReceiptSigner, String> {
        let seed = crate::store::secret::load_or_create(database, data_dir, "receipt.key")?;
        Ok(ReceiptSigner { key: SigningKey::from_bytes(&seed) })
    }

    /// The signer in `data_dir`, if this host has made one (read-only tools).
    pub fn open_existing(database: Option<&Database>, data_dir: &Path) -> Result<Option<ReceiptSigner>, String> {
        let seed = crate::store::secret::load_existing(database, data_dir, "receipt.key")?;
        Ok(seed.map(|seed| ReceiptSigner { key: SigningKey::from_bytes(&seed) }))
    }

    /// Signs `payload`.
    pub fn sign(&self, payload: &ReceiptPayload) -> String {
        self.sign_json(payload)
    }

    /// Signs a refund's `payload`.
    pub fn sign_refund(&self, payload: &RefundReceiptPayload) -> String {
        self.sign_json(payload)
    }

    fn sign_json(&self, payload: &impl Serialize) -> String {
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(payload).unwrap_or_default();
        let signature = self.key.sign(&json);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Checks a payment receipt's signature and returns what it states.
    pub fn verify(&self, receipt: &str) -> Result<ReceiptPayload, String> {
        match self.verify_any(receipt)? {
            Receipt::Payment(payload) => Ok(payload),
            Receipt::Refund(_) => Err("this is a refund receipt, not a payment receipt".to_string()),
        }
    }

    /// Checks a receipt of either kind and returns what it states.
    pub fn verify_any(&self, receipt: &str) -> Result<Receipt, String> {
        let json = verify_with(&self.key.verifying_key(), receipt)?;
        let value: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| format!("the payload is not a receipt: {e}"))?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some("refund") {
            serde_json::from_value(value).map(Receipt::Refund).map_err(|e| format!("the payload is not a receipt: {e}"))
        } else {
            serde_json::from_value(value)
                .map(Receipt::Payment)
                .map_err(|e| format!("the payload is not a receipt: {e}"))
        }
    }

    /// The public key, hex, for merchants who verify receipts themselves.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }
}

fn verify_with(key: &VerifyingKey, receipt: &str) -> Result<Vec<u8>, String> {
    let (payload, signature) =
        receipt.trim().split_once('.').ok_or("a receipt is two base64url parts joined by `.`")?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|e| format!("the payload is not base64url: {e}"))?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|e| format!("the signature is not base64url: {e}"))?;
    let signature = Signature::from_slice(&signature).map_err(|_| "the signature is not 64 bytes")?;
    key.verify(&json, &signature)
        .map_err(|_| "the signature does not match: the receipt was altered or signed by another host")?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_verify_and_tampering_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let signer = ReceiptSigner::open(&Database::open_in(dir.path()).unwrap(), dir.path()).unwrap();
        let payload = ReceiptPayload {
            v: 1,
            merchant_id: "1900000109".into(),
            out_trade_no: "T123456".into(),
            transaction_id: "4200000001".into(),
            method: "wechat_pay".into(),
            amount: 1999,
            currency: "CNY".into(),
            attempt: 1,
            paid_at_ms: 1,
        };
        let receipt = signer.sign(&payload);
        assert_eq!(signer.verify(&receipt).unwrap(), payload);
        let mut forged = payload.clone();
        forged.amount = 1;
        let forged_json = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{forged_json}.{}", receipt.split_once('.').unwrap().1);
        assert!(signer.verify(&tampered).unwrap_err().contains("does not match"));
        assert!(signer.verify("garbage").is_err());
        let other_dir = tempfile::tempdir().unwrap();
        let other = ReceiptSigner::open(&Database::open_in(other_dir.path()).unwrap(), other_dir.path()).unwrap();
        assert!(other.verify(&receipt).is_err());
    }
}
