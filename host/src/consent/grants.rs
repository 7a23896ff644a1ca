//! Remembered consent: the user's answer per user, program, module hash and scope,
//! kept in the host database with a log of every grant, denial, use and revocation.
//!
//! An answer applies to the module it was given for: a new version of a program
//! (another module hash) is asked again.

use crate::store::{Database, StoreError, Transaction, params};
use serde::Serialize;

const SCHEMA: &[&str] = &[
    "CREATE TABLE consent_grants (
        user_id TEXT NOT NULL,
        program_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        module_hash TEXT NOT NULL,
        decision TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, program_id, scope)
    ) WITHOUT ROWID;
    CREATE TABLE consent_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        program_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT NOT NULL
    );",
    crate::carry_over_identities!("consent_grants"),
    crate::carry_over_identities!("consent_log"),
];

miniapp_abi::stable_names! {
    /// The remembered answer for a scope.
    pub enum Decision {
        /// The user allowed it.
        Granted => "granted",
        /// The user refused it.
        Denied => "denied",
        /// The user took back an earlier grant.
        Revoked => "revoked",
    }
}

/// One remembered answer, for `miniapp permissions list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    /// The user.
    pub user_id: String,
    /// The program.
    pub program_id: String,
    /// The scope.
    pub scope: String,
    /// The module the answer was given for.
    pub module_hash: String,
    /// The answer.
    pub decision: Decision,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// The consent store.
#[derive(Debug, Clone)]
pub struct Grants {
    database: Database,
}

impl Grants {
    /// Reads the records in `database` as they are, creating nothing: for
    /// read-only tools, over a database a host already set up.
    pub fn existing(database: Database) -> Grants {
        Grants { database }
    }

    /// The consent store in `database`.
    pub fn new(database: Database) -> Result<Grants, StoreError> {
        database.migrate("consent", SCHEMA)?;
        Ok(Grants { database })
    }

    /// The remembered answer for this module, if any (an answer given for another
    /// module of the same program does not count).
    pub async fn lookup(
        &self,
        user_id: &str,
        program_id: &str,
        module_hash: &str,
        scope: &str,
    ) -> Result<Option<Decision>, StoreError> {
        let [user_id, program_id, module_hash, scope] = [user_id, program_id, module_hash, scope].map(str::to_owned);
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT decision, module_hash FROM consent_grants
                     WHERE user_id = $1 AND program_id = $2 AND scope = $3",
                    params![user_id, program_id, scope],
                )?;
                let Some(row) = row else { return Ok(None) };
                let decision: Decision = row.name(0)?;
                // A revocation holds whatever the module; an answer holds for its module only.
                Ok((row.text(1)? == module_hash || decision == Decision::Revoked).then_some(decision))
            })
            .await
    }

    /// Remembers the user's answer and logs it.
    pub async fn remember(
        &self,
        user_id: &str,
        program_id: &str,
        module_hash: &str,
        scope: &str,
        decision: Decision,
    ) -> Result<(), StoreError> {
        let [user_id, program_id, module_hash, scope] = [user_id, program_id, module_hash, scope].map(str::to_owned);
        self.database
            .run(move |t| {
                t.execute(
                    "INSERT INTO consent_grants (user_id, program_id, scope, module_hash, decision, at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT(user_id, program_id, scope) DO UPDATE SET
                         module_hash = excluded.module_hash, decision = excluded.decision, at_ms = excluded.at_ms",
                    params![&user_id, &program_id, &scope, &module_hash, decision.as_str(), crate::calendar::now_ms()],
                )?;
                log(t, &user_id, &program_id, &scope, decision.as_str(), &module_hash)
            })
            .await
    }

    /// Logs a use of a granted scope (what was shared).
    pub async fn log_use(&self, user_id: &str, program_id: &str, scope: &str, detail: &str) -> Result<(), StoreError> {
        let [user_id, program_id, scope, detail] = [user_id, program_id, scope, detail].map(str::to_owned);
        self.database.run(move |t| log(t, &user_id, &program_id, &scope, "used", &detail)).await
    }

    /// Revokes the grants of `program_id` — one scope, or all — and logs it. Returns
    /// the scopes revoked.
    pub async fn revoke(
        &self,
        user_id: &str,
        program_id: &str,
        scope: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let (user_id, program_id, scope) = (user_id.to_owned(), program_id.to_owned(), scope.map(str::to_owned));
        self.database
            .run(move |t| {
                let scopes = t
                    .query(
                        "SELECT scope FROM consent_grants WHERE user_id = $1 AND program_id = $2
                         AND decision = 'granted' AND (CAST($3 AS TEXT) IS NULL OR scope = $3) ORDER BY scope",
                        params![&user_id, &program_id, scope],
                    )?
                    .iter()
                    .map(|row| row.text(0))
                    .collect::<Result<Vec<String>, StoreError>>()?;
                for scope in &scopes {
                    t.execute(
                        "UPDATE consent_grants SET decision = 'revoked', at_ms = $4
                         WHERE user_id = $1 AND program_id = $2 AND scope = $3",
                        params![&user_id, &program_id, scope, crate::calendar::now_ms()],
                    )?;
                    log(t, &user_id, &program_id, scope, "revoked", "by the user")?;
                }
                Ok(scopes)
            })
            .await
    }

    /// How many remembered answers (of any user) the program keyed `program_id` has.
    pub async fn count_for_program(&self, program_id: &str) -> Result<u64, StoreError> {
        let program_id = program_id.to_owned();
        self.database
            .run(move |t| {
                let row =
                    t.query_one("SELECT COUNT(*) FROM consent_grants WHERE program_id = $1", params![program_id])?;
                row.map_or(Ok(0), |row| row.integer(0).map(|n| n as u64))
            })
            .await
    }

    /// Forgets every remembered answer of the program keyed `program_id` (it is
    /// being uninstalled with its data): a program of that identity asks again.
    /// The consent log keeps what was asked and shared.
    pub async fn forget_program(&self, program_id: &str) -> Result<(), StoreError> {
        let program_id = program_id.to_owned();
        self.database
            .run(move |t| t.execute("DELETE FROM consent_grants WHERE program_id = $1", params![program_id]).map(drop))
            .await
    }

    /// Every remembered answer of `user_id`.
    pub async fn list(&self, user_id: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let user_id = user_id.to_owned();
        self.database
            .run(move |t| {
                t.query(
                    "SELECT user_id, program_id, scope, module_hash, decision, at_ms FROM consent_grants
                     WHERE user_id = $1 ORDER BY program_id, scope",
                    params![user_id],
                )?
                .iter()
                .map(|row| {
                    Ok(GrantRecord {
                        user_id: row.text(0)?,
                        program_id: row.text(1)?,
                        scope: row.text(2)?,
                        module_hash: row.text(3)?,
                        decision: row.name(4)?,
                        at_ms: row.integer(5)?,
                    })
                })
                .collect()
            })
            .await
    }

    /// The consent log of `program_id`: `(at_ms, scope, event, detail)`, oldest first.
    pub async fn history(
        &self,
        user_id: &str,
        program_id: &str,
    ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let (user_id, program_id) = (user_id.to_owned(), program_id.to_owned());
        self.database
            .run(move |t| {
                t.query(
                    "SELECT at_ms, scope, event, detail FROM consent_log
                     WHERE user_id = $1 AND program_id = $2 ORDER BY id",
                    params![user_id, program_id],
                )?
                .iter()
                .map(|row| Ok((row.integer(0)?, row.text(1)?, row.text(2)?, row.text(3)?)))
                .collect()
            })
            .await
    }
}

fn log(
    t: &mut dyn Transaction,
    user: &str,
    program: &str,
    scope: &str,
    event: &str,
    detail: &str,
) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO consent_log (at_ms, user_id, program_id, scope, event, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        params![crate::calendar::now_ms(), user, program, scope, event, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a query to completion (the tests are not async; the queries are).
    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
    }

    #[test]
    fn answers_hold_for_their_module_and_revocations_for_all() {
        for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let grants = Grants::new(backend.database(dir.path())).unwrap();
            assert_eq!(block(grants.lookup("u", "p", "m1", "phone")).unwrap(), None);
            block(grants.remember("u", "p", "m1", "phone", Decision::Granted)).unwrap();
            assert_eq!(block(grants.lookup("u", "p", "m1", "phone")).unwrap(), Some(Decision::Granted));
            assert_eq!(block(grants.lookup("u", "p", "m2", "phone")).unwrap(), None, "a new module asks again");
            assert_eq!(block(grants.revoke("u", "p", None)).unwrap(), vec!["phone".to_string()]);
            assert_eq!(block(grants.lookup("u", "p", "m2", "phone")).unwrap(), Some(Decision::Revoked));
            let events: Vec<String> = block(grants.history("u", "p")).unwrap().into_iter().map(|e| e.2).collect();
            assert_eq!(events, ["granted", "revoked"], "{}", backend.name());
        }
    }
}
