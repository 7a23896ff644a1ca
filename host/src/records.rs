//! The host's records opened for reading only, for tools such as `miniapp ledger
//! list` and `miniapp audit`: nothing is created — no data directory, database,
//! table or key — and a read-only data directory works. A host that has kept no
//! records yet reads as empty.

use crate::audit::AuditLog;
use crate::capabilities::payment::ledger::Ledger;
use crate::capabilities::payment::receipt::ReceiptSigner;
use crate::consent::grants::Grants;
use crate::settings::UserSettings;
use crate::store::{Database, DatabaseSettings, StoreError};
use std::path::Path;

/// Read-only access to a data directory's records.
pub struct ReadOnlyRecords {
    database: Option<Database>,
    receipts: Option<ReceiptSigner>,
}

impl ReadOnlyRecords {
    /// Opens the records in the database `settings` name (SQLite's in `data_dir`
    /// by default), if any.
    pub fn open(settings: &DatabaseSettings, data_dir: &Path) -> Result<ReadOnlyRecords, StoreError> {
        let database = Database::open_existing_read_only(settings, data_dir)?;
        let receipts = ReceiptSigner::open_existing(database.as_ref(), data_dir)
            .map_err(|reason| StoreError::Open { path: data_dir.to_path_buf(), reason })?;
        Ok(ReadOnlyRecords { database, receipts })
    }

    /// The decision log, if the host has kept records.
    pub fn audit(&self) -> Option<AuditLog> {
        self.database.clone().map(AuditLog::existing)
    }

    /// The payment ledger, if the host has kept records.
    pub fn ledger(&self) -> Option<Ledger> {
        self.database.clone().map(Ledger::existing)
    }

    /// Remembered consent, if the host has kept records.
    pub fn grants(&self) -> Option<Grants> {
        self.database.clone().map(Grants::existing)
    }

    /// The user's switches, if the host has kept records.
    pub fn user_settings(&self) -> Option<UserSettings> {
        self.database.clone().map(UserSettings::existing)
    }

    /// The receipt signer, if this host has signed receipts.
    pub fn receipts(&self) -> Option<&ReceiptSigner> {
        self.receipts.as_ref()
    }
}
