//! The payment ledger: one row per order with a state machine, and one event row
//! per transition (time and cause), in the host database (WAL, `synchronous=FULL`):
//! a transition acknowledged is on disk, and each is one transaction, so a crash at
//! any point leaves every order in exactly one state.
//!
//! ```text
//! created → awaiting_user → processing → paid ──→ refunds (see [`refunds`])
//!                │               ├──────→ failed     (a retry starts a new attempt:
//!                └───────────────┴──────→ cancelled   back to created)
//!   any unpaid state ──────────────────→ closed     (the merchant closed it: final)
//! ```
//!
//! `(merchant_id, out_trade_no)` is the idempotency key, kept for good: the same
//! request again gets the recorded outcome (the same receipt bytes) and charges
//! nothing; the same key with other parameters is a conflict.
//!
//! Across hosts sharing one database, each invariant rests on a guarantee of the
//! database, not on the host:
//!
//! - one order per key: the primary key `(merchant_id, out_trade_no)`;
//! - paid at most once: every transition is a read-check-write in one
//!   serializable unit (a second `processing → paid` sees `paid` and changes
//!   nothing), and the unique index `payment_paid_once` refuses a second `paid`
//!   event outright;
//! - one host works on an order at a time: the lease ([`super::lease`]), taken
//!   over only by a compare-and-set on the owner and expiry seen;
//! - never closed once paid, never paid once closed: both are transitions out
//!   of the unpaid states, read-check-write in one serializable unit;
//! - refunds never exceed what was paid: see [`refunds`].
//!
//! Every time the ledger writes is read from the host's [`Clock`].

pub mod refunds;

use super::lease::Owner;
use super::order::ValidOrder;
use crate::clock::Clock;
use crate::store::{Database, Row, StoreError, Transaction, params};
use miniapp_abi::payment::{FailReason, Method, PaymentResult, Status};
use serde::Serialize;
use std::sync::Arc;

const SCHEMA: &[&str] = &[
    "CREATE TABLE payment_orders (
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        program_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        description TEXT NOT NULL,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        method TEXT,
        transaction_id TEXT,
        fail_reason TEXT,
        receipt TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (merchant_id, out_trade_no)
    ) WITHOUT ROWID;
    CREATE TABLE payment_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        cause TEXT NOT NULL
    );
    CREATE INDEX payment_events_by_order ON payment_events (merchant_id, out_trade_no, id);
    CREATE TABLE payment_notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        provider TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL
    );",
    crate::carry_over_identities!("payment_orders"),
    "ALTER TABLE payment_orders ADD COLUMN owner TEXT;
     ALTER TABLE payment_orders ADD COLUMN lease_until_ms INTEGER;
     CREATE UNIQUE INDEX payment_paid_once ON payment_events (merchant_id, out_trade_no) WHERE to_state = 'paid';",
    // Which host made each transition and received each notification.
    "ALTER TABLE payment_events ADD COLUMN host TEXT;
     ALTER TABLE payment_notifications ADD COLUMN host TEXT;",
    // Refunds (ABI 1.1).
    refunds::SCHEMA,
];

miniapp_abi::stable_names! {
    /// An order's place in the state machine.
    pub enum State {
        /// Recorded, nothing shown yet.
        Created => "created",
        /// The payment sheet is in front of the user.
        AwaitingUser => "awaiting_user",
        /// The user chose a method; the provider has the order.
        Processing => "processing",
        /// Paid, confirmed by the provider.
        Paid => "paid",
        /// Failed; a new attempt may follow.
        Failed => "failed",
        /// Cancelled by the user; a new attempt may follow.
        Cancelled => "cancelled",
        /// Closed unpaid by the merchant: no attempt ever follows.
        Closed => "closed",
    }
}

impl State {
    /// Whether this state ends an attempt.
    pub fn is_final(self) -> bool {
        matches!(self, State::Paid | State::Failed | State::Cancelled | State::Closed)
    }

    /// The state as the guest sees it: every state in progress is `pending`.
    pub fn status(self) -> Status {
        match self {
            State::Paid => Status::Paid,
            State::Failed => Status::Failed,
            State::Cancelled => Status::Cancelled,
            State::Closed => Status::Closed,
            State::Created | State::AwaitingUser | State::Processing => Status::Pending,
        }
    }

    /// The states a merchant may close an order from: every state but paid.
    pub const UNPAID: [State; 5] =
        [State::Created, State::AwaitingUser, State::Processing, State::Failed, State::Cancelled];
}

/// A ledger failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The idempotency key was used with other parameters.
    #[error("order {out_trade_no} of merchant {merchant_id} exists with other parameters ({field} differs)")]
    Conflict {
        /// The merchant.
        merchant_id: String,
        /// The order.
        out_trade_no: String,
        /// The first parameter that differs.
        field: &'static str,
    },
}

/// One order as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRecord {
    /// The merchant.
    pub merchant_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The program that asked.
    pub program_id: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// What was bought.
    pub description: String,
    /// Where it stands.
    pub state: State,
    /// The current attempt (1 for the first).
    pub attempt: u32,
    /// The method chosen, once chosen.
    pub method: Option<String>,
    /// The provider's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// Why it failed, when failed.
    pub fail_reason: Option<String>,
    /// The signed receipt, once paid.
    pub receipt: Option<String>,
    /// When it was first requested, ms since the epoch.
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// The host working on it (see [`super::lease`]), while in progress.
    pub owner: Option<String>,
    /// Until when the owner's claim holds, ms since the epoch.
    pub lease_until_ms: Option<i64>,
}

impl OrderRecord {
    /// The current attempt as its provider is handed it.
    pub fn provider_order(&self) -> super::provider::ProviderOrder {
        super::provider::ProviderOrder {
            merchant_id: self.merchant_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            attempt: self.attempt,
            amount: self.amount,
            currency: self.currency.clone(),
            description: self.description.clone(),
        }
    }

    /// The order as the guest sees it.
    pub fn to_result(&self) -> PaymentResult {
        PaymentResult {
            status: self.state.status(),
            merchant_id: self.merchant_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            transaction_id: self.transaction_id.clone(),
            method: self.method.as_deref().and_then(Method::parse),
            receipt: self.receipt.clone(),
            reason: self.fail_reason.as_deref().and_then(FailReason::parse),
            attempt: self.attempt,
        }
    }
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// The attempt it belongs to.
    pub attempt: u32,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// From.
    pub from_state: String,
    /// To.
    pub to_state: String,
    /// Why.
    pub cause: String,
    /// The host that made it (see [`super::lease::Owner`]); none for
    /// transitions recorded before hosts were.
    pub host: Option<String>,
}

/// What [`Ledger::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// A new attempt was recorded; go ahead.
    Start(OrderRecord),
    /// The order is already paid or in progress: answer with it and charge nothing.
    Existing(OrderRecord),
    /// A new attempt would start, but the caller may not start one now (no user
    /// action to show the payment sheet for): nothing was recorded.
    NotNow,
}

/// Fields a transition may set.
#[derive(Debug, Clone, Default)]
pub struct Changes<'a> {
    /// The method chosen.
    pub method: Option<&'a str>,
    /// The provider's transaction id.
    pub transaction_id: Option<&'a str>,
    /// Why it failed.
    pub fail_reason: Option<&'a str>,
    /// The signed receipt.
    pub receipt: Option<&'a str>,
}

/// The ledger, as one host works on it.
#[derive(Debug, Clone)]
pub struct Ledger {
    database: Database,
    owner: Arc<Owner>,
    lease_ms: i64,
    clock: Clock,
}

/// How long a claim lasts by default, unless the host's settings say otherwise.
const DEFAULT_LEASE_MS: i64 = 30_000;

impl Ledger {
    /// The database the ledger lives in.
    pub fn database(&self) -> &Database {
        &self.database
    }
}

const COLUMNS: &str = "merchant_id, out_trade_no, program_id, amount, currency, description, state, attempt, \
                       method, transaction_id, fail_reason, receipt, created_ms, updated_ms, owner, lease_until_ms";

/// The states in which an order is being worked on, as SQL.
const IN_PROGRESS: &str = "('created', 'awaiting_user', 'processing')";

impl Ledger {
    /// Reads the records in `database` as they are, creating nothing: for
    /// read-only tools, over a database a host already set up.
    pub fn existing(database: Database) -> Ledger {
        Ledger { database, owner: Arc::new(Owner::this_process()), lease_ms: DEFAULT_LEASE_MS, clock: Clock::system() }
    }

    /// The ledger in `database`.
    pub fn new(database: Database) -> Result<Ledger, StoreError> {
        database.migrate("payment", SCHEMA)?;
        Ok(Ledger::existing(database))
    }

    /// This ledger with claims lasting `lease_ms` without renewal.
    pub fn with_lease_ms(mut self, lease_ms: u64) -> Ledger {
        self.lease_ms = i64::try_from(lease_ms).unwrap_or(i64::MAX).max(1);
        self
    }

    /// This ledger reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Ledger {
        self.clock = clock;
        self
    }

    /// The clock the ledger reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// This host as the owner of the orders it works on.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// How long a claim lasts without renewal.
    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// The claim to write with a move to `to`: this host and the lease's end, or
    /// none once the order is final.
    fn claim_for(&self, to: State) -> (Option<String>, Option<i64>) {
        match to.is_final() {
            true => (None, None),
            false => (Some(self.owner.as_str().to_string()), Some(self.clock.now_ms().saturating_add(self.lease_ms))),
        }
    }

    /// Renews this host's claims on the orders it is working on; returns how many.
    pub async fn renew_leases(&self) -> Result<usize, StoreError> {
        let (owner, until) = (self.owner.as_str().to_string(), self.clock.now_ms().saturating_add(self.lease_ms));
        self.database
            .run(move |t| {
                t.execute(
                    &format!(
                        "UPDATE payment_orders SET lease_until_ms = $2 WHERE owner = $1 AND state IN {IN_PROGRESS}"
                    ),
                    params![&owner, until],
                )
            })
            .await
    }

    /// Orders in progress that no live host holds: the lease ran out, or the
    /// owner is a process on this machine that is gone.
    pub async fn abandoned(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let now = self.clock.now_ms();
        let sql = format!("SELECT {COLUMNS} FROM payment_orders WHERE state IN {IN_PROGRESS} ORDER BY created_ms");
        let orders: Vec<OrderRecord> =
            self.database.run(move |t| t.query(&sql, &[])?.iter().map(row_to_order).collect()).await?;
        Ok(orders
            .into_iter()
            .filter(|order: &OrderRecord| {
                order.lease_until_ms.is_none_or(|until| until < now)
                    || order.owner.as_deref().is_some_and(Owner::is_gone)
            })
            .collect())
    }

    /// Takes `order` (as [`Ledger::abandoned`] saw it) over for this host: `true`
    /// if this host won it, `false` if it changed meanwhile (another host took
    /// it, or its owner moved it on).
    pub async fn claim(&self, order: &OrderRecord) -> Result<bool, StoreError> {
        let (owner, until) = (self.owner.as_str().to_string(), self.clock.now_ms().saturating_add(self.lease_ms));
        let seen = order.clone();
        self.database
            .run(move |t| {
                let changed = t.execute(
                    "UPDATE payment_orders SET owner = $1, lease_until_ms = $2
                     WHERE merchant_id = $3 AND out_trade_no = $4 AND attempt = $5 AND state = $6
                       AND COALESCE(owner, '') = $7 AND COALESCE(lease_until_ms, -1) = $8",
                    params![
                        &owner,
                        until,
                        &seen.merchant_id,
                        &seen.out_trade_no,
                        seen.attempt,
                        seen.state.as_str(),
                        seen.owner.clone().unwrap_or_default(),
                        seen.lease_until_ms.unwrap_or(-1)
                    ],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    /// Records a request: a new order, a new attempt after a cancel or failure, or
    /// the existing order when it is paid or in progress.
    pub async fn begin(&self, order: &ValidOrder, program_id: &str) -> Result<Begin, LedgerError> {
        self.begin_if(order, program_id, true).await
    }

    /// Like [`Ledger::begin`], but a new attempt is recorded only if `may_start`;
    /// otherwise the answer is [`Begin::NotNow`] and the transaction is dropped, so
    /// the check and the record are one atomic step.
    pub async fn begin_if(&self, order: &ValidOrder, program_id: &str, may_start: bool) -> Result<Begin, LedgerError> {
        let order = order.clone();
        let program_id = program_id.to_owned();
        let claim = self.claim_for(State::Created);
        let now = self.clock.now_ms();
        self.database
            .run(move |t| {
                let outcome = match begin_in(t, &order, &program_id, &claim, now) {
                    Ok(Begin::Start(_)) if !may_start => Ok(Begin::NotNow),
                    outcome => outcome,
                };
                // Only a started attempt is kept: a check that refused, or found
                // the existing order, writes nothing.
                if !matches!(outcome, Ok(Begin::Start(_))) {
                    t.abandon();
                }
                Ok(outcome)
            })
            .await
            .map_err(LedgerError::from)?
    }

    /// Moves the order `(merchant_id, out_trade_no)` from one of `from` to `to` for
    /// `attempt`, recording `cause`.
    /// Returns the order afterwards, or `None` if it was not in one of `from` (a
    /// duplicate or late event): nothing changes then.
    pub async fn transition(
        &self,
        (merchant_id, out_trade_no): (&str, &str),
        attempt: Option<u32>,
        from: &[State],
        to: State,
        cause: &str,
        changes: &Changes<'_>,
    ) -> Result<Option<OrderRecord>, LedgerError> {
        let (merchant_id, out_trade_no, from, cause) =
            (merchant_id.to_owned(), out_trade_no.to_owned(), from.to_vec(), cause.to_owned());
        let owned = |field: Option<&str>| field.map(str::to_owned);
        let (method, transaction_id, fail_reason, receipt) =
            (owned(changes.method), owned(changes.transaction_id), owned(changes.fail_reason), owned(changes.receipt));
        let (owner, lease_until) = self.claim_for(to);
        let host = self.owner.as_str().to_string();
        let now = self.clock.now_ms();
        Ok(self
            .database
            .run(move |t| {
                let (merchant_id, out_trade_no) = (merchant_id.as_str(), out_trade_no.as_str());
                let Some(current) = load(t, merchant_id, out_trade_no)? else { return Ok(None) };
                if !from.contains(&current.state) || attempt.is_some_and(|a| a != current.attempt) {
                    return Ok(None);
                }
                t.execute(
                    "UPDATE payment_orders SET state = $3, updated_ms = $4,
                     method = COALESCE($5, method), transaction_id = COALESCE($6, transaction_id),
                     fail_reason = COALESCE($7, fail_reason), receipt = COALESCE($8, receipt),
                     owner = $9, lease_until_ms = $10
                 WHERE merchant_id = $1 AND out_trade_no = $2",
                    params![
                        merchant_id,
                        out_trade_no,
                        to.as_str(),
                        now,
                        method,
                        transaction_id,
                        fail_reason,
                        receipt,
                        owner,
                        lease_until
                    ],
                )?;
                let step = Transition {
                    attempt: current.attempt,
                    from: current.state,
                    to,
                    cause: &cause,
                    host: &host,
                    at_ms: now,
                };
                event(t, merchant_id, out_trade_no, &step)?;
                load(t, merchant_id, out_trade_no)
            })
            .await?)
    }

    /// The order, if any.
    pub async fn get(&self, merchant_id: &str, out_trade_no: &str) -> Result<Option<OrderRecord>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        let out_trade_no = out_trade_no.to_owned();
        self.database.run(move |t| load(t, &merchant_id, &out_trade_no)).await
    }

    /// How many orders the program keyed `program_key` has made.
    pub async fn orders_of(&self, program_key: &str) -> Result<u64, StoreError> {
        let program = program_key.to_string();
        self.database
            .run(move |t: &mut dyn Transaction| {
                let row = t.query_one("SELECT COUNT(*) FROM payment_orders WHERE program_id = $1", params![program])?;
                row.map_or(Ok(0), |row| row.integer(0).map(|n| n as u64))
            })
            .await
    }

    /// Every order, newest first.
    pub async fn list(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.database
            .run(move |t| {
                let sql = format!("SELECT {COLUMNS} FROM payment_orders ORDER BY created_ms DESC, out_trade_no");
                t.query(&sql, &[])?.iter().map(row_to_order).collect()
            })
            .await
    }

    /// An order's transitions, oldest first.
    pub async fn events(&self, merchant_id: &str, out_trade_no: &str) -> Result<Vec<EventRecord>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        let out_trade_no = out_trade_no.to_owned();
        self.database
            .run(move |t| {
                t.query(
                    "SELECT attempt, at_ms, from_state, to_state, cause, host FROM payment_events
                     WHERE merchant_id = $1 AND out_trade_no = $2 ORDER BY id",
                    params![merchant_id, out_trade_no],
                )?
                .iter()
                .map(|row| {
                    Ok(EventRecord {
                        attempt: row.u32(0)?,
                        at_ms: row.integer(1)?,
                        from_state: row.text(2)?,
                        to_state: row.text(3)?,
                        cause: row.text(4)?,
                        host: row.optional_text(5)?,
                    })
                })
                .collect()
            })
            .await
    }

    /// The database's own check of its data: `ok` when sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.database.integrity_check().await
    }

    /// How many times each order was moved to `paid` (never more than once).
    pub async fn paid_transitions(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.database
            .run(move |t| {
                t.query(
                    "SELECT merchant_id, out_trade_no, COUNT(*) FROM payment_events WHERE to_state = 'paid'
                     GROUP BY merchant_id, out_trade_no ORDER BY merchant_id, out_trade_no",
                    &[],
                )?
                .iter()
                .map(|row| Ok((row.text(0)?, row.text(1)?, row.u32(2)?)))
                .collect()
            })
            .await
    }

    /// Records a provider notification, what the host made of it, and which host
    /// received it.
    pub async fn record_notification(
        &self,
        provider: &str,
        merchant_id: &str,
        out_trade_no: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let row = [provider, merchant_id, out_trade_no, outcome, detail, self.owner.as_str()].map(str::to_owned);
        let now = self.clock.now_ms();
        self.database
            .run(move |t| {
                let [provider, merchant_id, out_trade_no, outcome, detail, host] = &row;
                t.execute(
                    "INSERT INTO payment_notifications (at_ms, provider, merchant_id, out_trade_no, outcome, detail, host)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    params![now, provider, merchant_id, out_trade_no, outcome, detail, host],
                )?;
                Ok(())
            })
            .await
    }

    /// Each attempt at paying an order and where it ended (`None` while in
    /// progress), oldest first: the last state each attempt's events reached.
    pub async fn attempts(&self, merchant_id: &str, out_trade_no: &str) -> Result<Vec<(u32, State)>, StoreError> {
        let mut attempts: Vec<(u32, State)> = Vec::new();
        for event in self.events(merchant_id, out_trade_no).await? {
            let state = State::parse(&event.to_state)
                .ok_or_else(|| StoreError::corrupt(miniapp_abi::UnknownName::new("State", &event.to_state)))?;
            match attempts.last_mut() {
                // A retry's first event ("retried") belongs to the new attempt.
                Some((attempt, last)) if *attempt == event.attempt => *last = state,
                _ => attempts.push((event.attempt, state)),
            }
        }
        Ok(attempts)
    }

    /// The notifications recorded for an order: `(provider, outcome, detail)`.
    pub async fn notifications(
        &self,
        merchant_id: &str,
        out_trade_no: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let (merchant_id, out_trade_no) = (merchant_id.to_owned(), out_trade_no.to_owned());
        self.database
            .run(move |t| {
                t.query(
                    "SELECT provider, outcome, detail FROM payment_notifications
                     WHERE merchant_id = $1 AND out_trade_no = $2 ORDER BY id",
                    params![merchant_id, out_trade_no],
                )?
                .iter()
                .map(|row| Ok((row.text(0)?, row.text(1)?, row.text(2)?)))
                .collect()
            })
            .await
    }
}

fn begin_in(
    t: &mut dyn Transaction,
    order: &ValidOrder,
    program_id: &str,
    (owner, lease_until): &(Option<String>, Option<i64>),
    now: i64,
) -> Result<Begin, LedgerError> {
    let (merchant, trade_no) = (&order.merchant_id, &order.out_trade_no);
    let Some(existing) = load(t, merchant, trade_no)? else {
        t.execute(
            &format!("INSERT INTO payment_orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'created', 1, NULL, NULL, NULL, NULL, $7, $7, $8, $9)"),
            params![merchant, trade_no, program_id, order.amount, &order.currency, &order.description, now, owner, lease_until],
        )?;
        let host = owner.as_deref().unwrap_or_default();
        let step =
            Transition { attempt: 1, from: State::Created, to: State::Created, cause: "requested", host, at_ms: now };
        event(t, merchant, trade_no, &step)?;
        let created = load(t, merchant, trade_no)?.ok_or_else(|| vanished(trade_no))?;
        return Ok(Begin::Start(created));
    };
    let conflict =
        |field| LedgerError::Conflict { merchant_id: merchant.clone(), out_trade_no: trade_no.clone(), field };
    if existing.amount != order.amount {
        return Err(conflict("amount"));
    }
    if existing.currency != order.currency {
        return Err(conflict("currency"));
    }
    if existing.description != order.description {
        return Err(conflict("description"));
    }
    if existing.program_id != program_id {
        return Err(conflict("program"));
    }
    match existing.state {
        State::Failed | State::Cancelled => {
            let attempt = existing.attempt + 1;
            t.execute(
                "UPDATE payment_orders SET state = 'created', attempt = $3, method = NULL, transaction_id = NULL,
                     fail_reason = NULL, updated_ms = $4, owner = $5, lease_until_ms = $6
                 WHERE merchant_id = $1 AND out_trade_no = $2",
                params![merchant, trade_no, attempt, now, owner, lease_until],
            )?;
            let host = owner.as_deref().unwrap_or_default();
            let step =
                Transition { attempt, from: existing.state, to: State::Created, cause: "retried", host, at_ms: now };
            event(t, merchant, trade_no, &step)?;
            let retried = load(t, merchant, trade_no)?.ok_or_else(|| vanished(trade_no))?;
            Ok(Begin::Start(retried))
        }
        _ => Ok(Begin::Existing(existing)),
    }
}

/// An order written in this very transaction cannot be missing; if it is, the
/// database is not behaving.
fn vanished(trade_no: &str) -> StoreError {
    StoreError::Query(format!("order {trade_no} is missing right after it was written"))
}

/// One transition of one order, as a host records it.
struct Transition<'a> {
    attempt: u32,
    from: State,
    to: State,
    cause: &'a str,
    host: &'a str,
    at_ms: i64,
}

fn event(t: &mut dyn Transaction, merchant: &str, trade_no: &str, step: &Transition<'_>) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO payment_events (merchant_id, out_trade_no, attempt, at_ms, from_state, to_state, cause, host)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            merchant,
            trade_no,
            step.attempt,
            step.at_ms,
            step.from.as_str(),
            step.to.as_str(),
            step.cause,
            step.host
        ],
    )?;
    Ok(())
}

fn load(t: &mut dyn Transaction, merchant: &str, trade_no: &str) -> Result<Option<OrderRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payment_orders WHERE merchant_id = $1 AND out_trade_no = $2");
    t.query_one(&sql, params![merchant, trade_no])?.as_ref().map(row_to_order).transpose()
}

fn row_to_order(row: &Row) -> Result<OrderRecord, StoreError> {
    Ok(OrderRecord {
        merchant_id: row.text(0)?,
        out_trade_no: row.text(1)?,
        program_id: row.text(2)?,
        amount: row.integer(3)?,
        currency: row.text(4)?,
        description: row.text(5)?,
        state: row.name(6)?,
        attempt: row.u32(7)?,
        method: row.optional_text(8)?,
        transaction_id: row.optional_text(9)?,
        fail_reason: row.optional_text(10)?,
        receipt: row.optional_text(11)?,
        created_ms: row.integer(12)?,
        updated_ms: row.integer(13)?,
        owner: row.optional_text(14)?,
        lease_until_ms: row.optional_integer(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a query to completion (the tests are not async; the queries are).
    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
    }

    fn order(amount: i64) -> ValidOrder {
        ValidOrder {
            merchant_id: "1900000109".into(),
            out_trade_no: "T0001-abc".into(),
            amount,
            currency: "CNY".into(),
            description: "Deal".into(),
            methods: None,
        }
    }

    /// What can happen to an order, in the ways the host moves it.
    #[derive(Debug, Clone)]
    enum Step {
        /// A request (or a retry) with this amount.
        Request(i64),
        /// The sheet shown, then cancelled.
        Cancel,
        /// A method chosen and the provider's notification, `copies` times (a
        /// provider may deliver one notification more than once), for the attempt
        /// that is current or the one before it (a late notification).
        Notify { copies: u8, stale: bool },
        /// The provider reports a failure.
        Fail,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec![1999i64, 2000]).prop_map(Step::Request),
            Just(Step::Cancel),
            (1u8..4, any::<bool>()).prop_map(|(copies, stale)| Step::Notify { copies, stale }),
            Just(Step::Fail),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Idempotency under any sequence of requests, retries, cancels, failures
        /// and duplicate or late notifications: one order per key, paid at most
        /// once, never re-opened once paid, a request with other parameters always
        /// a conflict, and each new attempt numbered one more than the last.
        #[test]
        fn any_sequence_keeps_one_order_paid_at_most_once(steps in proptest::collection::vec(step(), 1..24)) {
          for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let ledger = Ledger::new(backend.database(dir.path())).unwrap();
            let key = ("1900000109", "T0001-abc");
            let mut paid_with: Option<String> = None;
            let mut attempts = 0;
            for step in steps.clone() {
                let current = block(ledger.get(key.0, key.1)).unwrap();
                match step {
                    Step::Request(amount) => match block(ledger.begin(&order(amount), "p")) {
                        Ok(Begin::Start(record)) => {
                            proptest::prop_assert!(paid_with.is_none(), "a paid order started again");
                            attempts += 1;
                            proptest::prop_assert_eq!(record.attempt, attempts);
                        }
                        Ok(Begin::NotNow) => unreachable!("begin always may start"),
                        Ok(Begin::Existing(record)) => {
                            proptest::prop_assert_eq!(record.amount, amount);
                            proptest::prop_assert!(!matches!(record.state, State::Cancelled | State::Failed));
                        }
                        Err(LedgerError::Conflict { field, .. }) => {
                            proptest::prop_assert_eq!(field, "amount");
                            proptest::prop_assert!(current.is_some_and(|c| c.amount != amount));
                        }
                        Err(other) => proptest::prop_assert!(false, "{other}"),
                    },
                    Step::Cancel => {
                        let t = |from: &[State], to, cause| {
                            block(ledger.transition(key, None, from, to, cause, &Changes::default())).unwrap()
                        };
                        if t(&[State::Created], State::AwaitingUser, "sheet shown").is_some() {
                            t(&[State::AwaitingUser], State::Cancelled, "user cancelled");
                        }
                    }
                    Step::Notify { copies, stale } => {
                        let Some(current) = current else { continue };
                        block(ledger.transition(key, Some(current.attempt), &[State::Created], State::Processing, "paying", &Changes::default())).unwrap();
                        let attempt = if stale { current.attempt.saturating_sub(1) } else { current.attempt };
                        let transaction_id = format!("tx-{attempt}");
                        for _ in 0..copies {
                            let changes = Changes { transaction_id: Some(&transaction_id), receipt: Some("r"), ..Changes::default() };
                            if block(ledger.transition(key, Some(attempt), &[State::Processing], State::Paid, "notified", &changes)).unwrap().is_some() {
                                proptest::prop_assert!(paid_with.is_none(), "paid twice");
                                paid_with = Some(transaction_id.clone());
                            }
                        }
                    }
                    Step::Fail => {
                        block(ledger.transition(key, None, &[State::Processing], State::Failed, "provider failed", &Changes::default())).unwrap();
                    }
                }
                let orders = block(ledger.list()).unwrap();
                proptest::prop_assert!(orders.len() <= 1);
                if let Some(transaction_id) = &paid_with {
                    proptest::prop_assert_eq!(orders[0].state, State::Paid);
                    proptest::prop_assert_eq!(orders[0].transaction_id.as_ref(), Some(transaction_id));
                }
            }
            let paid = block(ledger.paid_transitions()).unwrap();
            proptest::prop_assert!(paid.iter().all(|(_, _, count)| *count == 1));
            proptest::prop_assert_eq!(paid.len(), usize::from(paid_with.is_some()));
          }
        }
    }

    /// A state this host does not know (a newer version's, or damage) is an error
    /// that names it — never read as a state that would allow charging again.
    #[test]
    fn an_unknown_stored_state_is_corrupt_not_cancelled() {
        for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let database = backend.database(dir.path());
            let ledger = Ledger::new(database.clone()).unwrap();
            let Begin::Start(_) = block(ledger.begin(&order(1999), "p")).unwrap() else { panic!() };
            block(database.run(|t| t.execute("UPDATE payment_orders SET state = 'refunded'", &[]))).unwrap();
            let error = block(ledger.get("1900000109", "T0001-abc")).unwrap_err();
            assert_eq!(error.code(), "corrupt");
            assert!(error.to_string().contains("`refunded` is not a known State value"), "{error}");
            assert!(matches!(block(ledger.begin(&order(1999), "p")), Err(LedgerError::Store(StoreError::Corrupt(_)))));
        }
    }

    #[test]
    fn the_state_machine_and_idempotency() {
        for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let ledger = Ledger::new(backend.database(dir.path())).unwrap();
            let Begin::Start(first) = block(ledger.begin(&order(1999), "p")).unwrap() else { panic!() };
            assert_eq!((first.state, first.attempt), (State::Created, 1));
            // In progress: the same request gets the existing order.
            assert!(matches!(block(ledger.begin(&order(1999), "p")).unwrap(), Begin::Existing(_)));
            assert!(matches!(
                block(ledger.begin(&order(2000), "p")),
                Err(LedgerError::Conflict { field: "amount", .. })
            ));
            let t = |from: &[State], to, cause| {
                block(ledger.transition(("1900000109", "T0001-abc"), None, from, to, cause, &Changes::default()))
                    .unwrap()
            };
            assert!(t(&[State::Created], State::AwaitingUser, "sheet shown").is_some());
            assert!(t(&[State::AwaitingUser], State::Cancelled, "user cancelled").is_some());
            // A retry after a cancel is a new attempt.
            let Begin::Start(retry) = block(ledger.begin(&order(1999), "p")).unwrap() else { panic!() };
            assert_eq!(retry.attempt, 2);
            assert!(t(&[State::Created], State::Processing, "paying").is_some());
            let paid = Changes { transaction_id: Some("42"), receipt: Some("r"), ..Changes::default() };
            let key = ("1900000109", "T0001-abc");
            let once =
                block(ledger.transition(key, Some(2), &[State::Processing], State::Paid, "notified", &paid)).unwrap();
            assert_eq!(once.unwrap().state, State::Paid);
            let twice =
                block(ledger.transition(key, Some(2), &[State::Processing], State::Paid, "notified", &paid)).unwrap();
            assert!(twice.is_none(), "a duplicate changes nothing");
            let Begin::Existing(done) = block(ledger.begin(&order(1999), "p")).unwrap() else { panic!() };
            assert_eq!(done.receipt.as_deref(), Some("r"));
            let causes: Vec<String> =
                block(ledger.events("1900000109", "T0001-abc")).unwrap().into_iter().map(|e| e.cause).collect();
            assert_eq!(
                causes,
                ["requested", "sheet shown", "user cancelled", "retried", "paying", "notified"],
                "{}",
                backend.name()
            );
        }
    }

    /// An order another host holds is left alone while its claim lasts; once
    /// the claim runs out, of two hosts trying to take it over exactly one wins.
    #[test]
    fn a_claim_is_taken_over_only_when_it_runs_out_and_by_one_host() {
        for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let database = backend.database(dir.path());
            let elsewhere = Ledger::new(database.clone()).unwrap().with_lease_ms(60_000);
            let Begin::Start(_) = block(elsewhere.begin(&order(1999), "p")).unwrap() else { panic!() };
            // Written as a host on another machine would: its process cannot be
            // looked at, so only its lease counts.
            block(database.run(|t| t.execute("UPDATE payment_orders SET owner = 'another-machine/1/1/00'", &[])))
                .unwrap();
            let (a, b) = (Ledger::new(database.clone()).unwrap(), Ledger::new(database.clone()).unwrap());
            assert!(block(a.abandoned()).unwrap().is_empty(), "{}: a live claim is not abandoned", backend.name());
            block(database.run(|t| t.execute("UPDATE payment_orders SET lease_until_ms = 1", &[]))).unwrap();
            let seen = block(a.abandoned()).unwrap();
            assert_eq!(seen.len(), 1);
            let (won_a, won_b) = (block(a.claim(&seen[0])).unwrap(), block(b.claim(&seen[0])).unwrap());
            assert!(won_a ^ won_b, "{}: exactly one host takes it over", backend.name());
            assert!(block(b.abandoned()).unwrap().is_empty(), "the winner's claim is live");
        }
    }
}
