//! Settings the user changes: per-user switches kept in the host database, such as
//! whether links may be opened and shared in group chats and the Moments feed.

use crate::store::{Database, StoreError, params};
use miniapp_abi::lifecycle::Surface;

const SCHEMA: &[&str] = &["CREATE TABLE user_settings (
        user_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
    ) WITHOUT ROWID;"];

/// The user's settings.
#[derive(Debug, Clone)]
pub struct UserSettings {
    database: Database,
}

impl UserSettings {
    /// Reads the records in `database` as they are, creating nothing: for
    /// read-only tools, over a database a host already set up.
    pub fn existing(database: Database) -> UserSettings {
        UserSettings { database }
    }

    /// Settings in `database`, creating the table if needed.
    pub fn new(database: Database) -> Result<UserSettings, StoreError> {
        database.migrate("settings", SCHEMA)?;
        Ok(UserSettings { database })
    }

    fn links_key(surface: Surface) -> String {
        format!("links.{surface}.enabled")
    }

    /// Whether `user_id` turned links on for `surface`.
    pub async fn links_enabled(&self, user_id: &str, surface: Surface) -> Result<bool, StoreError> {
        let (user_id, key) = (user_id.to_owned(), UserSettings::links_key(surface));
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT value FROM user_settings WHERE user_id = $1 AND key = $2",
                    params![user_id, key],
                )?;
                Ok(row.map(|row| row.text(0)).transpose()?.as_deref() == Some("true"))
            })
            .await
    }

    /// Turns links on or off for `surface`.
    pub async fn set_links_enabled(&self, user_id: &str, surface: Surface, enabled: bool) -> Result<(), StoreError> {
        let (user_id, key) = (user_id.to_owned(), UserSettings::links_key(surface));
        self.database
            .run(move |t| {
                t.execute(
                    "INSERT INTO user_settings (user_id, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT(user_id, key) DO UPDATE SET value = excluded.value",
                    params![user_id, key, enabled.to_string()],
                )?;
                Ok(())
            })
            .await
    }
}
