//! The decision log: every gate decision, with the program, capability, outcome and
//! the reason, kept in the host database so the user can see what was allowed or
//! refused and why. Loading a program records its grants only when they differ
//! from the last ones recorded for it, so a restart does not fill the log (or cost
//! a durable write) with the same decisions again.

use crate::store::{Database, StoreError, params};
use serde::Serialize;

/// The load decision last recorded for a program (`$1`) and capability (`$2`):
/// its outcome and reason (the `decisions_by_capability` index finds it).
const LAST_LOAD_DECISION: &str = "SELECT outcome, reason FROM decisions
     WHERE program_id = $1 AND capability = $2 AND action = 'load'
     ORDER BY id DESC LIMIT 1";

const SCHEMA: &[&str] = &[
    "CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        program_id TEXT NOT NULL,
        capability TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX decisions_by_program ON decisions (program_id, id);",
    "ALTER TABLE decisions ADD COLUMN target TEXT;
     ALTER TABLE decisions ADD COLUMN surface TEXT;",
    "CREATE INDEX decisions_by_capability ON decisions (program_id, capability, action, id);",
    crate::carry_over_identities!("decisions"),
];

miniapp_abi::stable_names! {
    /// What a gate decided.
    pub enum Outcome {
        /// The request may proceed.
        Allowed => "allowed",
        /// The request was refused.
        Denied => "denied",
        /// The user was asked and agreed.
        Confirmed => "confirmed",
        /// The user was asked and refused (or nobody answered).
        Declined => "declined",
    }
}

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The program the decision was about.
    pub program_id: String,
    /// The capability asked for.
    pub capability: String,
    /// What was asked (`load`, a host function's name, …).
    pub action: String,
    /// What was decided.
    pub outcome: Outcome,
    /// The rule or fact that decided.
    pub reason: String,
    /// What was asked for (a link's display form), if anything.
    pub target: Option<String>,
    /// The surface the decision was made for, if any.
    pub surface: Option<String>,
}

/// Which decisions to read: each field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The program's id.
    pub program_id: Option<String>,
    /// The capability (`load` refusals of a whole module use `module`).
    pub capability: Option<String>,
    /// The decision.
    pub outcome: Option<Outcome>,
}

/// A decision to record.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRecord<'a> {
    /// The program the decision is about.
    pub program_id: &'a str,
    /// The capability asked for.
    pub capability: &'a str,
    /// What was asked (`load`, a host function's name, …).
    pub action: &'a str,
    /// What was decided.
    pub outcome: Outcome,
    /// The rule or fact that decided.
    pub reason: &'a str,
    /// What was asked for.
    pub target: Option<&'a str>,
    /// Where.
    pub surface: Option<&'a str>,
}

/// Appends decisions to, and reads them from, the host database.
#[derive(Debug, Clone)]
pub struct AuditLog {
    database: Database,
}

impl AuditLog {
    /// Reads the records in `database` as they are, creating nothing: for
    /// read-only tools, over a database a host already set up.
    pub fn existing(database: Database) -> AuditLog {
        AuditLog { database }
    }

    /// The audit log in `database`, creating its table if needed.
    pub fn new(database: Database) -> Result<AuditLog, StoreError> {
        database.migrate("audit", SCHEMA)?;
        Ok(AuditLog { database })
    }

    /// The outcome and reason of the load decision last recorded for each of
    /// `capabilities` of `program_id`, in that order (`None`: never recorded): what
    /// a load compares its grants with before writing anything.
    pub async fn last_load_decisions(
        &self,
        program_id: &str,
        capabilities: Vec<String>,
    ) -> Result<Vec<Option<(String, String)>>, StoreError> {
        let program_id = program_id.to_string();
        self.database
            .run(move |t| {
                let mut last = Vec::with_capacity(capabilities.len());
                for capability in &capabilities {
                    let row = t.query_one(LAST_LOAD_DECISION, params![&program_id, capability])?;
                    last.push(row.map(|row| Ok::<_, StoreError>((row.text(0)?, row.text(1)?))).transpose()?);
                }
                // A read: nothing to commit.
                t.abandon();
                Ok(last)
            })
            .await
    }

    /// Records what loading `program_id` decided for each capability it declares
    /// (`(capability, outcome, reason)`), skipping each decision that repeats the
    /// last one recorded for that program and capability. A program loaded again
    /// unchanged so costs a read, not a durable write, while every change of a
    /// grant is still in the log.
    pub async fn record_load(
        &self,
        program_id: &str,
        decisions: &[(String, Outcome, String)],
    ) -> Result<(), StoreError> {
        let program_id = program_id.to_string();
        let decisions = decisions.to_vec();
        self.database
            .run(move |t| {
                let mut changed = false;
                for (capability, outcome, reason) in &decisions {
                    let last = t.query_one(LAST_LOAD_DECISION, params![&program_id, capability])?;
                    if let Some(last) = last
                        && last.text(0)? == outcome.as_str()
                        && last.text(1)? == *reason
                    {
                        continue;
                    }
                    t.execute(
                        "INSERT INTO decisions (at_ms, program_id, capability, action, outcome, reason)
                         VALUES ($1, $2, $3, 'load', $4, $5)",
                        params![crate::calendar::now_ms(), &program_id, capability, outcome.as_str(), reason],
                    )?;
                    changed = true;
                }
                // Nothing new: nothing to commit.
                if !changed {
                    t.abandon();
                }
                Ok(())
            })
            .await
    }

    /// Records one decision.
    pub async fn record_decision(&self, record: &DecisionRecord<'_>) -> Result<(), StoreError> {
        let row = (
            crate::calendar::now_ms(),
            record.program_id.to_string(),
            record.capability.to_string(),
            record.action.to_string(),
            record.outcome.as_str(),
            record.reason.to_string(),
            record.target.map(str::to_string),
            record.surface.map(str::to_string),
        );
        self.database
            .run(move |t| {
                t.execute(
                    "INSERT INTO decisions (at_ms, program_id, capability, action, outcome, reason, target, surface)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    params![row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7],
                )?;
                Ok(())
            })
            .await
    }

    /// How many decisions were recorded for `capability`'s `action` (a host
    /// function's name, `load`, …), across all programs.
    pub async fn count(&self, capability: &str, action: &str) -> Result<u64, StoreError> {
        let capability = capability.to_owned();
        let action = action.to_owned();
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT count(*) FROM decisions WHERE capability = $1 AND action = $2",
                    params![capability, action],
                )?;
                Ok(row.map_or(Ok(0), |row| row.integer(0))?.max(0) as u64)
            })
            .await
    }

    /// How many decisions name the program keyed `program_id`.
    pub async fn count_for_program(&self, program_id: &str) -> Result<u64, StoreError> {
        let program_id = program_id.to_owned();
        self.database
            .run(move |t| {
                let row = t.query_one("SELECT count(*) FROM decisions WHERE program_id = $1", params![program_id])?;
                Ok(row.map_or(Ok(0), |row| row.integer(0))?.max(0) as u64)
            })
            .await
    }

    /// The most recent `limit` decisions, oldest first, optionally for one program
    /// (an id, meaning every identity of that id, or one `id@fingerprint`).
    pub async fn recent(&self, program_id: Option<&str>, limit: u32) -> Result<Vec<Decision>, StoreError> {
        self.query(&AuditFilter { program_id: program_id.map(str::to_string), ..AuditFilter::default() }, limit).await
    }

    /// The most recent `limit` decisions that pass `filter`, oldest first.
    pub async fn query(&self, filter: &AuditFilter, limit: u32) -> Result<Vec<Decision>, StoreError> {
        let filter = filter.clone();
        let outcome = filter.outcome.map(Outcome::as_str);
        self.database
            .run(move |t| {
                let rows = t.query(
                    "SELECT at_ms, program_id, capability, action, outcome, reason, target, surface FROM (
                     SELECT * FROM decisions
                     WHERE (CAST($1 AS TEXT) IS NULL OR program_id = $1 OR substr(program_id, 1, length($1) + 1) = $1 || '@')
                       AND (CAST($2 AS TEXT) IS NULL OR capability = $2)
                       AND (CAST($3 AS TEXT) IS NULL OR outcome = $3)
                     ORDER BY id DESC LIMIT $4
                 ) AS recent ORDER BY id ASC",
                    params![filter.program_id, filter.capability, outcome, limit],
                )?;
                rows.iter()
                    .map(|row| {
                        Ok(Decision {
                            at_ms: row.integer(0)?,
                            program_id: row.text(1)?,
                            capability: row.text(2)?,
                            action: row.text(3)?,
                            outcome: row.name(4)?,
                            reason: row.text(5)?,
                            target: row.optional_text(6)?,
                            surface: row.optional_text(7)?,
                        })
                    })
                    .collect()
            })
            .await
    }
}
