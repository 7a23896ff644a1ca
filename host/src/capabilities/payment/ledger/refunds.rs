//! The ledger's refunds: one row per refund with its own state machine, one
//! event row per transition.
//!
//! ```text
//! created → processing → success      (signed refund receipt)
//!    │           ├─────→ abnormal     (needs the merchant's manual handling)
//!    │           └─────→ closed       (nothing was returned)
//!    └─────→ refused  (the provider refused it: the same request may try again)
//! ```
//!
//! `created` is recorded before the provider is asked, so a host that dies
//! mid-refund leaves a row another host finishes (the provider is asked again
//! with the same `out_refund_no`, which it treats as the same refund).
//!
//! The invariants and the database guarantee behind each:
//!
//! - one refund per key: the primary key `(merchant_id, out_refund_no)`;
//! - Σ refunds ≤ paid: a refund is recorded by one serializable unit that reads
//!   the order and every refund of it that holds money (created, processing,
//!   success, abnormal) and writes only if the new one fits — two racing
//!   refunds cannot both see room for themselves (SQLite runs one writer at a
//!   time; PostgreSQL `SERIALIZABLE` aborts one, and the unit runs again);
//! - settled once: a refund leaves `created`/`processing` by a read-check-write
//!   in one unit, and the unique index `payment_refund_settled_once` refuses a
//!   second settling event outright.

use super::{Ledger, LedgerError, OrderRecord, State, load as load_order, vanished};
use crate::store::{Row, StoreError, Transaction, params};
use miniapp_abi::payment::{RefundResult, RefundStatus};
use serde::Serialize;

pub(super) const SCHEMA: &str = "CREATE TABLE payment_refunds (
        merchant_id TEXT NOT NULL,
        out_refund_no TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        program_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        reason TEXT,
        method TEXT NOT NULL,
        state TEXT NOT NULL,
        refund_id TEXT,
        receipt TEXT,
        detail TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        owner TEXT,
        lease_until_ms INTEGER,
        PRIMARY KEY (merchant_id, out_refund_no)
    ) WITHOUT ROWID;
    CREATE INDEX payment_refunds_by_order ON payment_refunds (merchant_id, out_trade_no);
    CREATE TABLE payment_refund_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id TEXT NOT NULL,
        out_refund_no TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        cause TEXT NOT NULL,
        host TEXT
    );
    CREATE INDEX payment_refund_events_by_refund ON payment_refund_events (merchant_id, out_refund_no, id);
    CREATE UNIQUE INDEX payment_refund_settled_once ON payment_refund_events (merchant_id, out_refund_no)
        WHERE to_state IN ('success', 'abnormal', 'closed');
    ALTER TABLE payment_notifications ADD COLUMN out_refund_no TEXT;";

miniapp_abi::stable_names! {
    /// A refund's place in its state machine.
    pub enum RefundState {
        /// Recorded; the provider is being asked.
        Created => "created",
        /// The provider accepted it.
        Processing => "processing",
        /// The payer has the money back.
        Success => "success",
        /// The provider could not return it; the merchant must handle it.
        Abnormal => "abnormal",
        /// The provider closed it; nothing was returned.
        Closed => "closed",
        /// The provider refused it; the same request may try again.
        Refused => "refused",
    }
}

impl RefundState {
    /// Whether the provider has settled it for good.
    pub fn is_settled(self) -> bool {
        matches!(self, RefundState::Success | RefundState::Abnormal | RefundState::Closed)
    }

    /// Whether its amount counts against what may still be refunded.
    pub fn holds_money(self) -> bool {
        matches!(self, RefundState::Created | RefundState::Processing | RefundState::Success | RefundState::Abnormal)
    }

    /// As the program sees it (a refused one is answered with an error, never listed).
    pub fn status(self) -> Option<RefundStatus> {
        match self {
            RefundState::Created | RefundState::Processing => Some(RefundStatus::Processing),
            RefundState::Success => Some(RefundStatus::Success),
            RefundState::Abnormal => Some(RefundStatus::Abnormal),
            RefundState::Closed => Some(RefundStatus::Closed),
            RefundState::Refused => None,
        }
    }
}

/// The states that hold money, as SQL.
const HOLDING: &str = "('created', 'processing', 'success', 'abnormal')";

/// A refund request that passed the host's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRefund {
    /// The merchant.
    pub merchant_id: String,
    /// The paid order.
    pub out_trade_no: String,
    /// The refund's key with the merchant.
    pub out_refund_no: String,
    /// Minor units.
    pub amount: i64,
    /// Why, for the payer.
    pub reason: Option<String>,
}

/// One refund as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRecord {
    /// The merchant.
    pub merchant_id: String,
    /// The refund's key with the merchant.
    pub out_refund_no: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// The program that asked.
    pub program_id: String,
    /// Minor units.
    pub amount: i64,
    /// The order's currency.
    pub currency: String,
    /// Why, for the payer.
    pub reason: Option<String>,
    /// The method the order was paid with: the provider that refunds it.
    pub method: String,
    /// Where it stands.
    pub state: RefundState,
    /// The provider's refund id, once accepted.
    pub refund_id: Option<String>,
    /// The signed refund receipt, once it succeeded.
    pub receipt: Option<String>,
    /// The provider's word on a refusal, an abnormal or a closed refund.
    pub detail: Option<String>,
    /// When it was first requested, ms since the epoch (the host's clock).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// The host asking the provider, while `created`.
    pub owner: Option<String>,
    /// Until when that host's claim holds.
    pub lease_until_ms: Option<i64>,
}

impl RefundRecord {
    /// The refund as the program sees it, if it is one (not refused).
    pub fn to_result(&self) -> Option<RefundResult> {
        Some(RefundResult {
            status: self.state.status()?,
            merchant_id: self.merchant_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            out_refund_no: self.out_refund_no.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            refund_id: self.refund_id.clone(),
            receipt: self.receipt.clone(),
            detail: self.detail.clone(),
        })
    }
}

/// One transition of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundEvent {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// From.
    pub from_state: String,
    /// To.
    pub to_state: String,
    /// Why.
    pub cause: String,
    /// The host that made it.
    pub host: Option<String>,
}

/// What [`Ledger::begin_refund`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginRefund {
    /// A new refund (or a new try of a refused one) is recorded: ask the provider.
    Start(RefundRecord),
    /// The same refund was asked for before: answer with it, refund nothing.
    Existing(RefundRecord),
    /// The program has no such order.
    NoOrder,
    /// The order is not paid.
    NotPaid(OrderRecord),
    /// The amount is more than is left to refund.
    OverRefund {
        /// What was paid.
        paid: i64,
        /// What refunds already hold.
        held: i64,
        /// The order's currency, to show the amounts in.
        currency: String,
    },
}

/// Fields a refund transition may set.
#[derive(Debug, Clone, Default)]
pub struct RefundChanges<'a> {
    /// The provider's refund id.
    pub refund_id: Option<&'a str>,
    /// The signed receipt.
    pub receipt: Option<&'a str>,
    /// The provider's word.
    pub detail: Option<&'a str>,
}

/// One order's paid amount beside its refunds, for `miniapp ledger check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundTotal {
    /// The merchant.
    pub merchant_id: String,
    /// The order.
    pub out_trade_no: String,
    /// The order's state.
    pub state: State,
    /// The order's amount.
    pub paid: i64,
    /// Σ of its refunds that hold money.
    pub held: i64,
}

const COLUMNS: &str = "merchant_id, out_refund_no, out_trade_no, program_id, amount, currency, reason, method, state, \
                       refund_id, receipt, detail, created_ms, updated_ms, owner, lease_until_ms";

impl Ledger {
    /// Records a refund request of `program_id` in one unit: the same refund
    /// again is answered as it stands, another refund under its key is a
    /// conflict, and a new one is recorded only if its order is the program's,
    /// paid, and has room for it.
    pub async fn begin_refund(&self, refund: &ValidRefund, program_id: &str) -> Result<BeginRefund, LedgerError> {
        let (refund, program_id) = (refund.clone(), program_id.to_owned());
        let (owner, until) = (self.owner.as_str().to_string(), self.clock.now_ms().saturating_add(self.lease_ms));
        let now = self.clock.now_ms();
        self.database
            .run(move |t| {
                let outcome = begin_refund_in(t, &refund, &program_id, &owner, until, now);
                if !matches!(outcome, Ok(BeginRefund::Start(_))) {
                    t.abandon();
                }
                Ok(outcome)
            })
            .await
            .map_err(LedgerError::from)?
    }

    /// Moves a refund from one of `from` to `to`, recording `cause`; `None` if
    /// it was in none of `from` (a duplicate or late notification): nothing
    /// changes then.
    pub async fn refund_transition(
        &self,
        (merchant_id, out_refund_no): (&str, &str),
        from: &[RefundState],
        to: RefundState,
        cause: &str,
        changes: &RefundChanges<'_>,
    ) -> Result<Option<RefundRecord>, StoreError> {
        let (merchant_id, out_refund_no, from, cause) =
            (merchant_id.to_owned(), out_refund_no.to_owned(), from.to_vec(), cause.to_owned());
        let owned = |field: Option<&str>| field.map(str::to_owned);
        let (refund_id, receipt, detail) = (owned(changes.refund_id), owned(changes.receipt), owned(changes.detail));
        let host = self.owner.as_str().to_string();
        let now = self.clock.now_ms();
        // A claim is held only while the provider is being asked.
        let (owner, until) = match to {
            RefundState::Created => (Some(host.clone()), Some(now.saturating_add(self.lease_ms))),
            _ => (None, None),
        };
        self.database
            .run(move |t| {
                let Some(current) = load(t, &merchant_id, &out_refund_no)? else { return Ok(None) };
                if !from.contains(&current.state) {
                    return Ok(None);
                }
                t.execute(
                    "UPDATE payment_refunds SET state = $3, updated_ms = $4, refund_id = COALESCE($5, refund_id),
                         receipt = COALESCE($6, receipt), detail = COALESCE($7, detail), owner = $8, lease_until_ms = $9
                     WHERE merchant_id = $1 AND out_refund_no = $2",
                    params![
                        &merchant_id,
                        &out_refund_no,
                        to.as_str(),
                        now,
                        &refund_id,
                        &receipt,
                        &detail,
                        &owner,
                        until
                    ],
                )?;
                event(t, (&merchant_id, &out_refund_no), (current.state, to), &cause, &host, now)?;
                load(t, &merchant_id, &out_refund_no)
            })
            .await
    }

    /// The refund `(merchant_id, out_refund_no)`, if any.
    pub async fn refund(&self, merchant_id: &str, out_refund_no: &str) -> Result<Option<RefundRecord>, StoreError> {
        let (merchant_id, out_refund_no) = (merchant_id.to_owned(), out_refund_no.to_owned());
        self.database.run(move |t| load(t, &merchant_id, &out_refund_no)).await
    }

    /// An order's refunds, oldest first.
    pub async fn refunds_of(&self, merchant_id: &str, out_trade_no: &str) -> Result<Vec<RefundRecord>, StoreError> {
        let (merchant_id, out_trade_no) = (merchant_id.to_owned(), out_trade_no.to_owned());
        self.database
            .run(move |t| {
                let sql = format!(
                    "SELECT {COLUMNS} FROM payment_refunds WHERE merchant_id = $1 AND out_trade_no = $2
                     ORDER BY created_ms, out_refund_no"
                );
                t.query(&sql, params![&merchant_id, &out_trade_no])?.iter().map(row_to_refund).collect()
            })
            .await
    }

    /// A refund's transitions, oldest first.
    pub async fn refund_events(&self, merchant_id: &str, out_refund_no: &str) -> Result<Vec<RefundEvent>, StoreError> {
        let (merchant_id, out_refund_no) = (merchant_id.to_owned(), out_refund_no.to_owned());
        self.database
            .run(move |t| {
                t.query(
                    "SELECT at_ms, from_state, to_state, cause, host FROM payment_refund_events
                     WHERE merchant_id = $1 AND out_refund_no = $2 ORDER BY id",
                    params![&merchant_id, &out_refund_no],
                )?
                .iter()
                .map(|row| {
                    Ok(RefundEvent {
                        at_ms: row.integer(0)?,
                        from_state: row.text(1)?,
                        to_state: row.text(2)?,
                        cause: row.text(3)?,
                        host: row.optional_text(4)?,
                    })
                })
                .collect()
            })
            .await
    }

    /// Refunds the provider has not settled that no live host is asking about:
    /// `created` ones whose claim ran out (or whose host is gone), and every
    /// `processing` one (its notification may have gone to a host that died).
    pub async fn unsettled_refunds(&self) -> Result<Vec<RefundRecord>, StoreError> {
        let now = self.clock.now_ms();
        let sql = format!(
            "SELECT {COLUMNS} FROM payment_refunds WHERE state IN ('created', 'processing') ORDER BY created_ms"
        );
        let refunds: Vec<RefundRecord> =
            self.database.run(move |t| t.query(&sql, &[])?.iter().map(row_to_refund).collect()).await?;
        Ok(refunds
            .into_iter()
            .filter(|r| {
                r.state == RefundState::Processing
                    || r.lease_until_ms.is_none_or(|until| until < now)
                    || r.owner.as_deref().is_some_and(super::Owner::is_gone)
            })
            .collect())
    }

    /// Takes a `created` refund (as [`Ledger::unsettled_refunds`] saw it) over
    /// for this host: `true` if this host won it.
    pub async fn claim_refund(&self, refund: &RefundRecord) -> Result<bool, StoreError> {
        let (owner, until) = (self.owner.as_str().to_string(), self.clock.now_ms().saturating_add(self.lease_ms));
        let seen = refund.clone();
        self.database
            .run(move |t| {
                let changed = t.execute(
                    "UPDATE payment_refunds SET owner = $1, lease_until_ms = $2
                     WHERE merchant_id = $3 AND out_refund_no = $4 AND state = $5
                       AND COALESCE(owner, '') = $6 AND COALESCE(lease_until_ms, -1) = $7",
                    params![
                        &owner,
                        until,
                        &seen.merchant_id,
                        &seen.out_refund_no,
                        seen.state.as_str(),
                        seen.owner.clone().unwrap_or_default(),
                        seen.lease_until_ms.unwrap_or(-1)
                    ],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    /// Every order with refunds: its amount beside what its refunds hold.
    pub async fn refund_totals(&self) -> Result<Vec<RefundTotal>, StoreError> {
        self.database
            .run(move |t| {
                t.query(
                    &format!(
                        "SELECT o.merchant_id, o.out_trade_no, o.state, o.amount,
                                COALESCE(SUM(CASE WHEN r.state IN {HOLDING} THEN r.amount ELSE 0 END), 0)
                         FROM payment_orders o JOIN payment_refunds r
                           ON r.merchant_id = o.merchant_id AND r.out_trade_no = o.out_trade_no
                         GROUP BY o.merchant_id, o.out_trade_no, o.state, o.amount
                         ORDER BY o.merchant_id, o.out_trade_no"
                    ),
                    &[],
                )?
                .iter()
                .map(|row| {
                    Ok(RefundTotal {
                        merchant_id: row.text(0)?,
                        out_trade_no: row.text(1)?,
                        state: row.name(2)?,
                        paid: row.integer(3)?,
                        held: row.integer(4)?,
                    })
                })
                .collect()
            })
            .await
    }

    /// How many times each refund was settled (never more than once).
    pub async fn refund_settlements(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.database
            .run(move |t| {
                t.query(
                    "SELECT merchant_id, out_refund_no, COUNT(*) FROM payment_refund_events
                     WHERE to_state IN ('success', 'abnormal', 'closed')
                     GROUP BY merchant_id, out_refund_no ORDER BY merchant_id, out_refund_no",
                    &[],
                )?
                .iter()
                .map(|row| Ok((row.text(0)?, row.text(1)?, row.u32(2)?)))
                .collect()
            })
            .await
    }

    /// Records a refund notification and what the host made of it.
    pub async fn record_refund_notification(
        &self,
        provider: &str,
        (merchant_id, out_trade_no, out_refund_no): (&str, &str, &str),
        outcome: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let detail = format!("refund {out_refund_no}: {detail}");
        let row = [provider, merchant_id, out_trade_no, out_refund_no, outcome, &detail, self.owner.as_str()]
            .map(str::to_owned);
        let now = self.clock.now_ms();
        self.database
            .run(move |t| {
                let [provider, merchant_id, out_trade_no, out_refund_no, outcome, detail, host] = &row;
                t.execute(
                    "INSERT INTO payment_notifications
                         (at_ms, provider, merchant_id, out_trade_no, out_refund_no, outcome, detail, host)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    params![now, provider, merchant_id, out_trade_no, out_refund_no, outcome, detail, host],
                )?;
                Ok(())
            })
            .await
    }
}

fn begin_refund_in(
    t: &mut dyn Transaction,
    refund: &ValidRefund,
    program_id: &str,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<BeginRefund, LedgerError> {
    let (merchant, refund_no) = (&refund.merchant_id, &refund.out_refund_no);
    if let Some(existing) = load(t, merchant, refund_no)? {
        let conflict = |field| LedgerError::Conflict {
            merchant_id: merchant.clone(),
            out_trade_no: format!("{} (refund {refund_no})", existing.out_trade_no),
            field,
        };
        if existing.out_trade_no != refund.out_trade_no {
            return Err(conflict("out_trade_no"));
        }
        if existing.amount != refund.amount {
            return Err(conflict("amount"));
        }
        if existing.program_id != program_id {
            return Err(conflict("program"));
        }
        if existing.state != RefundState::Refused {
            return Ok(BeginRefund::Existing(existing));
        }
    }
    let order = match load_order(t, merchant, &refund.out_trade_no)? {
        Some(order) if order.program_id == program_id => order,
        _ => return Ok(BeginRefund::NoOrder),
    };
    if order.state != State::Paid {
        return Ok(BeginRefund::NotPaid(order));
    }
    let held_row = t.query_one(
        &format!(
            "SELECT COALESCE(SUM(amount), 0) FROM payment_refunds
             WHERE merchant_id = $1 AND out_trade_no = $2 AND state IN {HOLDING}"
        ),
        params![merchant, &refund.out_trade_no],
    )?;
    let held = held_row.map_or(Ok(0), |row| row.integer(0))?;
    if held.checked_add(refund.amount).is_none_or(|total| total > order.amount) {
        return Ok(BeginRefund::OverRefund { paid: order.amount, held, currency: order.currency });
    }
    let method = order
        .method
        .clone()
        .ok_or_else(|| StoreError::Query(format!("paid order {} has no method", order.out_trade_no)))?;
    let (from, cause) = match load(t, merchant, refund_no)? {
        Some(refused) => {
            t.execute(
                "UPDATE payment_refunds SET state = 'created', detail = NULL, updated_ms = $3, owner = $4,
                     lease_until_ms = $5 WHERE merchant_id = $1 AND out_refund_no = $2",
                params![merchant, refund_no, now, owner, lease_until],
            )?;
            (refused.state, "requested again")
        }
        None => {
            t.execute(
                &format!("INSERT INTO payment_refunds ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'created', NULL, NULL, NULL, $9, $9, $10, $11)"),
                params![
                    merchant,
                    refund_no,
                    &refund.out_trade_no,
                    program_id,
                    refund.amount,
                    &order.currency,
                    &refund.reason,
                    &method,
                    now,
                    owner,
                    lease_until
                ],
            )?;
            (RefundState::Created, "requested")
        }
    };
    event(t, (merchant, refund_no), (from, RefundState::Created), cause, owner, now)?;
    let started = load(t, merchant, refund_no)?.ok_or_else(|| vanished(refund_no))?;
    Ok(BeginRefund::Start(started))
}

fn event(
    t: &mut dyn Transaction,
    (merchant, refund_no): (&str, &str),
    (from, to): (RefundState, RefundState),
    cause: &str,
    host: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO payment_refund_events (merchant_id, out_refund_no, at_ms, from_state, to_state, cause, host)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![merchant, refund_no, at_ms, from.as_str(), to.as_str(), cause, host],
    )?;
    Ok(())
}

fn load(t: &mut dyn Transaction, merchant: &str, refund_no: &str) -> Result<Option<RefundRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payment_refunds WHERE merchant_id = $1 AND out_refund_no = $2");
    t.query_one(&sql, params![merchant, refund_no])?.as_ref().map(row_to_refund).transpose()
}

fn row_to_refund(row: &Row) -> Result<RefundRecord, StoreError> {
    Ok(RefundRecord {
        merchant_id: row.text(0)?,
        out_refund_no: row.text(1)?,
        out_trade_no: row.text(2)?,
        program_id: row.text(3)?,
        amount: row.integer(4)?,
        currency: row.text(5)?,
        reason: row.optional_text(6)?,
        method: row.text(7)?,
        state: row.name(8)?,
        refund_id: row.optional_text(9)?,
        receipt: row.optional_text(10)?,
        detail: row.optional_text(11)?,
        created_ms: row.integer(12)?,
        updated_ms: row.integer(13)?,
        owner: row.optional_text(14)?,
        lease_until_ms: row.optional_integer(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Begin, Changes};
    use super::*;
    use crate::capabilities::payment::order::ValidOrder;
    use proptest::prelude::*;

    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
    }

    const KEY: (&str, &str) = ("1900000109", "T-refund-prop");

    /// A ledger with one order of `amount`, paid.
    fn paid_ledger(database: crate::store::Database, amount: i64) -> Ledger {
        let ledger = Ledger::new(database).unwrap();
        let order = ValidOrder {
            merchant_id: KEY.0.into(),
            out_trade_no: KEY.1.into(),
            amount,
            currency: "CNY".into(),
            description: "Deal".into(),
            methods: None,
        };
        let Begin::Start(_) = block(ledger.begin(&order, "p")).unwrap() else { panic!("a new order") };
        let chosen = Changes { method: Some("wechat_pay"), ..Changes::default() };
        block(ledger.transition(KEY, None, &[State::Created], State::Processing, "paying", &chosen)).unwrap();
        let paid = Changes { transaction_id: Some("4200"), receipt: Some("r"), ..Changes::default() };
        block(ledger.transition(KEY, None, &[State::Processing], State::Paid, "notified", &paid)).unwrap();
        ledger
    }

    /// What can happen to a paid order's refunds, in any order.
    #[derive(Debug, Clone)]
    enum Step {
        /// A refund request under key `key` for `amount`.
        Refund { key: u8, amount: i64 },
        /// The provider accepted it.
        Accept { key: u8 },
        /// The provider refused it.
        Refuse { key: u8 },
        /// A notification settling it, delivered `copies` times.
        Settle { key: u8, end: u8, copies: u8 },
        /// The merchant tries to close the order.
        Close,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..4, prop::sample::select(vec![1i64, 250, 400, 999, 1000, 1001]))
                .prop_map(|(key, amount)| Step::Refund { key, amount }),
            (0u8..4).prop_map(|key| Step::Accept { key }),
            (0u8..4).prop_map(|key| Step::Refuse { key }),
            (0u8..4, 0u8..3, 1u8..4).prop_map(|(key, end, copies)| Step::Settle { key, end, copies }),
            Just(Step::Close),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Under any sequence of refunds (partial, full, duplicate, over),
        /// acceptances, refusals, settling notifications (duplicated, late) and
        /// closes: Σ refunds that hold money ≤ paid, each refund settles once and
        /// never changes after, a key with another amount is a conflict, and the
        /// paid order is never closed.
        #[test]
        fn any_sequence_keeps_refunds_within_what_was_paid(steps in proptest::collection::vec(step(), 1..32)) {
          for backend in crate::store::TestBackend::all() {
            let dir = tempfile::tempdir().unwrap();
            let ledger = paid_ledger(backend.database(dir.path()), 1000);
            let mut amounts: std::collections::BTreeMap<u8, i64> = Default::default();
            let mut settled: std::collections::BTreeMap<u8, RefundState> = Default::default();
            for step in steps.clone() {
                let no = |key: u8| format!("R-{key}");
                match step {
                    Step::Refund { key, amount } => {
                        let refund = ValidRefund { merchant_id: KEY.0.into(), out_trade_no: KEY.1.into(), out_refund_no: no(key), amount, reason: None };
                        match block(ledger.begin_refund(&refund, "p")) {
                            Ok(BeginRefund::Start(record)) => {
                                prop_assert!(amounts.get(&key).is_none_or(|a| *a == amount));
                                amounts.insert(key, amount);
                                prop_assert_eq!(record.state, RefundState::Created);
                            }
                            Ok(BeginRefund::Existing(record)) => prop_assert_eq!(record.amount, amount),
                            Ok(BeginRefund::OverRefund { paid, held, .. }) => prop_assert!(held + amount > paid),
                            Err(LedgerError::Conflict { field, .. }) => {
                                prop_assert_eq!(field, "amount");
                                prop_assert!(amounts.get(&key).is_some_and(|a| *a != amount));
                            }
                            other => prop_assert!(false, "{other:?}"),
                        }
                    }
                    Step::Accept { key } => {
                        let changes = RefundChanges { refund_id: Some("50"), ..RefundChanges::default() };
                        block(ledger.refund_transition((KEY.0, &no(key)), &[RefundState::Created], RefundState::Processing, "accepted", &changes)).unwrap();
                    }
                    Step::Refuse { key } => {
                        block(ledger.refund_transition((KEY.0, &no(key)), &[RefundState::Created], RefundState::Refused, "refused", &RefundChanges::default())).unwrap();
                    }
                    Step::Settle { key, end, copies } => {
                        let to = [RefundState::Success, RefundState::Abnormal, RefundState::Closed][usize::from(end)];
                        for _ in 0..copies {
                            let moved = block(ledger.refund_transition((KEY.0, &no(key)), &[RefundState::Created, RefundState::Processing], to, "notified", &RefundChanges::default())).unwrap();
                            if moved.is_some() {
                                prop_assert!(!settled.contains_key(&key), "settled twice");
                                settled.insert(key, to);
                            }
                        }
                    }
                    Step::Close => {
                        let closed = block(ledger.transition(KEY, None, &State::UNPAID, State::Closed, "closed", &Changes::default())).unwrap();
                        prop_assert!(closed.is_none(), "a paid order was closed");
                    }
                }
                let totals = block(ledger.refund_totals()).unwrap();
                prop_assert!(totals.iter().all(|t| t.held <= t.paid), "{totals:?}");
                for (key, state) in &settled {
                    let refund = block(ledger.refund(KEY.0, &no(*key))).unwrap().unwrap();
                    prop_assert_eq!(refund.state, *state, "a settled refund changed");
                }
            }
            let settlements = block(ledger.refund_settlements()).unwrap();
            prop_assert!(settlements.iter().all(|(_, _, count)| *count == 1));
            prop_assert_eq!(block(ledger.get(KEY.0, KEY.1)).unwrap().unwrap().state, State::Paid);
          }
        }
    }
}
