//! The simulated providers' own records of the payments they took and the
//! refunds they made, kept in the host database (in their own tables) so that,
//! like real providers, they still know after the host restarts. Each check of a
//! provider rule and the record it guards are one serializable unit, so the rules
//! hold across hosts too. Times are the host's clock's, handed in as `now`.

use miniapp_abi::ErrorCode;
use miniapp_host::capabilities::payment::provider::{
    CloseRefused, Closed, ProviderOrder, ProviderRefund, ProviderRefundState, ProviderState, RefundOutcome,
};
use miniapp_host::store::{Database, StoreError, Transaction, params};

/// A payment as a simulated provider records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedPayment {
    /// The merchant's attempt it belongs to.
    pub attempt: u32,
    /// What the provider charged, in minor units.
    pub amount_charged: i64,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Whether the payer paid.
    pub paid: bool,
}

const BOOK_SCHEMA: &[&str] = &[
    "CREATE TABLE simulator_payments (
        provider TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        amount_charged INTEGER NOT NULL,
        transaction_id TEXT NOT NULL,
        paid INTEGER NOT NULL,
        PRIMARY KEY (provider, merchant_id, out_trade_no)
    ) WITHOUT ROWID;",
    // Attempts the merchant closed: never paid afterwards.
    "CREATE TABLE simulator_closed (
        provider TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        PRIMARY KEY (provider, merchant_id, out_trade_no, attempt)
    ) WITHOUT ROWID;",
    // When the provider created and was paid each order (empty for payments
    // recorded before times were kept: no time rule applies to them), and the
    // refunds it made.
    "ALTER TABLE simulator_payments ADD COLUMN created_ms INTEGER;
     ALTER TABLE simulator_payments ADD COLUMN paid_ms INTEGER;
     CREATE TABLE simulator_refunds (
        provider TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        out_refund_no TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        refund_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        requested_ms INTEGER NOT NULL,
        settles_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, merchant_id, out_refund_no)
    ) WITHOUT ROWID;
    CREATE INDEX simulator_refunds_by_order ON simulator_refunds (provider, merchant_id, out_trade_no);",
];

miniapp_abi::stable_names! {
    /// How a simulated refund ends once it settles.
    pub enum RefundEnd {
        /// The payer has the money back.
        Success => "success",
        /// The provider could not return it.
        Abnormal => "abnormal",
        /// Closed without returning anything.
        Closed => "closed",
    }
}

/// What the provider says when an abnormal refund settles.
pub const ABNORMAL_DETAIL: &str =
    "ABNORMAL: the payer's bank card was cancelled or frozen; the merchant must handle this refund";
/// What the provider says when a refund is closed.
pub const CLOSED_DETAIL: &str = "CLOSED: the refund was closed; nothing was returned";

/// One provider's refund rules, with the error codes it answers in.
pub(crate) struct RefundRules {
    /// At most this many refunds of one order.
    pub max_refunds: Option<i64>,
    /// At least this long between two refunds of one order, ms.
    pub min_spacing_ms: i64,
    /// Only within this long of the payment, ms.
    pub window_ms: i64,
    /// How long a refund takes to settle, ms.
    pub settle_after_ms: i64,
    /// Codes: no such paid order; over what is left; out of the window; too
    /// many; too soon; the key reused for another refund.
    pub codes: [&'static str; 6],
}

/// A refund the provider took just now: when it settles and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRefund {
    /// The provider's id of it.
    pub refund_id: String,
    /// When it settles, ms on the host's clock.
    pub settles_ms: i64,
    /// How.
    pub end: RefundEnd,
}

/// The provider's answer to a payment of an attempt the merchant closed.
pub const ORDER_CLOSED: &str = "ORDER_CLOSED: the merchant closed this order; it cannot be paid";

/// One simulator's records.
#[derive(Debug, Clone)]
pub struct SimulatorBook {
    database: Database,
    provider: &'static str,
}

impl SimulatorBook {
    /// The records of `provider` in `database` (creating the table if needed).
    pub fn open(database: Database, provider: &'static str) -> Result<SimulatorBook, StoreError> {
        database.migrate("payment_simulators", BOOK_SCHEMA)?;
        Ok(SimulatorBook { database, provider })
    }

    /// Records `payment` for `order` (the latest attempt replaces an earlier one);
    /// refused with [`ORDER_CLOSED`] if the merchant closed this attempt — the
    /// check and the record are one serializable unit, so a close and a payment
    /// racing on two hosts cannot both succeed.
    pub async fn record(&self, order: &ProviderOrder, payment: &SimulatedPayment, now: i64) -> Result<(), String> {
        let (provider, order, payment) = (self.provider, order.clone(), payment.clone());
        let paid_ms = payment.paid.then_some(now);
        let recorded = self
            .database
            .run(move |t| {
                let closed = t.query_one(
                    "SELECT 1 FROM simulator_closed
                     WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3 AND attempt = $4",
                    params![provider, order.merchant_id, order.out_trade_no, order.attempt],
                )?;
                if closed.is_some() {
                    return Ok(false);
                }
                t.execute(
                    "INSERT INTO simulator_payments (provider, merchant_id, out_trade_no, attempt, amount_charged, transaction_id, paid, created_ms, paid_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT(provider, merchant_id, out_trade_no) DO UPDATE SET attempt = excluded.attempt,
                         amount_charged = excluded.amount_charged, transaction_id = excluded.transaction_id, paid = excluded.paid,
                         created_ms = excluded.created_ms, paid_ms = excluded.paid_ms",
                    params![
                        provider,
                        order.merchant_id,
                        order.out_trade_no,
                        payment.attempt,
                        payment.amount_charged,
                        payment.transaction_id,
                        payment.paid,
                        now,
                        paid_ms
                    ],
                )?;
                Ok(true)
            })
            .await
            .map_err(|e| e.to_string())?;
        if recorded { Ok(()) } else { Err(ORDER_CLOSED.to_string()) }
    }

    /// Closes `order`'s attempt, unless it was paid: then what was paid. With
    /// `min_age_ms` (WeChat Pay's five minutes), an order the provider created
    /// less than that long before `now` is refused, naming when it may be closed.
    pub async fn close(
        &self,
        order: &ProviderOrder,
        now: i64,
        min_age_ms: Option<(i64, &'static str)>,
    ) -> Result<Result<Closed, CloseRefused>, String> {
        let (provider, order) = (self.provider, order.clone());
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT attempt, amount_charged, transaction_id, paid, created_ms FROM simulator_payments
                     WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3",
                    params![provider, order.merchant_id, order.out_trade_no],
                )?;
                if let Some(row) = row
                    && row.u32(0)? == order.attempt
                {
                    if row.bool(3)? {
                        return Ok(Ok(Closed::AlreadyPaid { transaction_id: row.text(2)?, amount: row.integer(1)? }));
                    }
                    let created = row.optional_integer(4)?;
                    if let (Some((min_age, code)), Some(created)) = (min_age_ms, created)
                        && now - created < min_age
                    {
                        let wait = (min_age - (now - created) + 999) / 1000;
                        return Ok(Err(CloseRefused {
                            code: ErrorCode::LimitExceeded,
                            message: format!(
                                "{code}: an order may be closed only {} minutes after it was created (in {wait} s)",
                                min_age / 60_000
                            ),
                        }));
                    }
                }
                t.execute(
                    "INSERT INTO simulator_closed (provider, merchant_id, out_trade_no, attempt) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (provider, merchant_id, out_trade_no, attempt) DO NOTHING",
                    params![provider, order.merchant_id, order.out_trade_no, order.attempt],
                )?;
                Ok(Ok(Closed::Closed))
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Takes `refund` under `rules` at `now`, ending as `end` once settled; the
    /// same `out_refund_no` again answers where that refund stands and takes
    /// nothing more (`None` beside the answer). Rule checks and the record are
    /// one unit.
    pub(crate) async fn refund(
        &self,
        refund: &ProviderRefund,
        rules: &RefundRules,
        now: i64,
        end: RefundEnd,
        refund_id: String,
    ) -> Result<(RefundOutcome, Option<NewRefund>), String> {
        let (provider, refund) = (self.provider, refund.clone());
        let (max_refunds, spacing, window, settle_after, codes) =
            (rules.max_refunds, rules.min_spacing_ms, rules.window_ms, rules.settle_after_ms, rules.codes);
        self.database
            .run(move |t| {
                let refused = |code: ErrorCode, message: String| Ok((RefundOutcome::Refused { code, message }, None));
                if let Some((trade_no, amount, state)) = refund_at(t, provider, &refund.merchant_id, &refund.out_refund_no, now)? {
                    if trade_no != refund.out_trade_no || amount != refund.amount {
                        return refused(
                            ErrorCode::IdempotencyConflict,
                            format!("{}: out_refund_no {} was used for another refund", codes[5], refund.out_refund_no),
                        );
                    }
                    return Ok((RefundOutcome::Accepted(state), None));
                }
                let payment = t.query_one(
                    "SELECT attempt, amount_charged, transaction_id, paid, paid_ms FROM simulator_payments
                     WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3",
                    params![provider, &refund.merchant_id, &refund.out_trade_no],
                )?;
                let paid = match payment {
                    Some(row) if row.bool(3)? && row.u32(0)? == refund.attempt && row.text(2)? == refund.transaction_id => {
                        (row.integer(1)?, row.optional_integer(4)?)
                    }
                    _ => {
                        return refused(ErrorCode::NotFound, format!("{}: no paid order {} with this transaction", codes[0], refund.out_trade_no));
                    }
                };
                let (charged, paid_ms) = paid;
                if let Some(paid_ms) = paid_ms
                    && now - paid_ms > window
                {
                    return refused(
                        ErrorCode::InvalidArgument,
                        format!("{}: the order was paid more than {} days ago; it can no longer be refunded", codes[2], window / 86_400_000),
                    );
                }
                let others = t.query_one(
                    "SELECT COUNT(*), COALESCE(MAX(requested_ms), 0),
                            COALESCE(SUM(CASE WHEN outcome = 'closed' AND settles_ms <= $4 THEN 0 ELSE amount END), 0)
                     FROM simulator_refunds WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3",
                    params![provider, &refund.merchant_id, &refund.out_trade_no, now],
                )?;
                let (count, last, held) = match others {
                    Some(row) => (row.integer(0)?, row.integer(1)?, row.integer(2)?),
                    None => (0, 0, 0),
                };
                if max_refunds.is_some_and(|max| count >= max) {
                    return refused(
                        ErrorCode::LimitExceeded,
                        format!("{}: an order may be refunded at most {} times; this one has been {count} times", codes[3], max_refunds.unwrap_or_default()),
                    );
                }
                if count > 0 && now - last < spacing {
                    return refused(
                        ErrorCode::LimitExceeded,
                        format!(
                            "{}: refunds of one order must be at least {} s apart (the last was {} s ago)",
                            codes[4],
                            spacing / 1000,
                            (now - last) / 1000
                        ),
                    );
                }
                if held + refund.amount > charged {
                    return refused(
                        ErrorCode::InvalidArgument,
                        format!("{}: {} exceeds the {} left to refund", codes[1], refund.amount, charged - held),
                    );
                }
                let settles_ms = now.saturating_add(settle_after);
                t.execute(
                    "INSERT INTO simulator_refunds (provider, merchant_id, out_refund_no, out_trade_no, refund_id, amount, outcome, requested_ms, settles_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    params![provider, &refund.merchant_id, &refund.out_refund_no, &refund.out_trade_no, &refund_id, refund.amount, end.as_str(), now, settles_ms],
                )?;
                let state = refund_at(t, provider, &refund.merchant_id, &refund.out_refund_no, now)?
                    .map(|(_, _, state)| state)
                    .unwrap_or(ProviderRefundState::NotFound);
                Ok((RefundOutcome::Accepted(state), Some(NewRefund { refund_id: refund_id.clone(), settles_ms, end })))
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Where `refund` stands at `now`.
    pub async fn refund_state(&self, refund: &ProviderRefund, now: i64) -> Result<ProviderRefundState, String> {
        let (provider, merchant, refund_no) = (self.provider, refund.merchant_id.clone(), refund.out_refund_no.clone());
        self.database
            .run(move |t| Ok(refund_at(t, provider, &merchant, &refund_no, now)?.map(|(_, _, state)| state)))
            .await
            .map(|state| state.unwrap_or(ProviderRefundState::NotFound))
            .map_err(|e| e.to_string())
    }

    /// What the provider says about `order` when asked.
    pub async fn state(&self, order: &ProviderOrder) -> Result<ProviderState, String> {
        let (provider, merchant, trade_no) = (self.provider, order.merchant_id.clone(), order.out_trade_no.clone());
        let found: Option<SimulatedPayment> = self
            .database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT attempt, amount_charged, transaction_id, paid FROM simulator_payments
                     WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3",
                    params![provider, merchant, trade_no],
                )?;
                row.map(|row| {
                    Ok(SimulatedPayment {
                        attempt: row.u32(0)?,
                        amount_charged: row.integer(1)?,
                        transaction_id: row.text(2)?,
                        paid: row.bool(3)?,
                    })
                })
                .transpose()
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(match found {
            None => ProviderState::NotFound,
            Some(p) if p.paid && p.attempt == order.attempt => {
                ProviderState::Paid { transaction_id: p.transaction_id, amount: p.amount_charged }
            }
            Some(_) => ProviderState::NotPaid,
        })
    }
}

/// A refund's order, amount and state at `now`: processing until it settles.
fn refund_at(
    t: &mut dyn Transaction,
    provider: &str,
    merchant: &str,
    refund_no: &str,
    now: i64,
) -> Result<Option<(String, i64, ProviderRefundState)>, StoreError> {
    let row = t.query_one(
        "SELECT out_trade_no, amount, refund_id, outcome, settles_ms FROM simulator_refunds
         WHERE provider = $1 AND merchant_id = $2 AND out_refund_no = $3",
        params![provider, merchant, refund_no],
    )?;
    let Some(row) = row else { return Ok(None) };
    let (trade_no, amount, refund_id, end, settles) =
        (row.text(0)?, row.integer(1)?, row.text(2)?, row.name::<RefundEnd>(3)?, row.integer(4)?);
    let state = match (now >= settles, end) {
        (false, _) => ProviderRefundState::Processing { refund_id },
        (true, RefundEnd::Success) => ProviderRefundState::Success { refund_id, amount },
        (true, RefundEnd::Abnormal) => ProviderRefundState::Abnormal { refund_id, detail: ABNORMAL_DETAIL.into() },
        (true, RefundEnd::Closed) => ProviderRefundState::Closed { refund_id, detail: CLOSED_DETAIL.into() },
    };
    Ok(Some((trade_no, amount, state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
    }

    fn order(attempt: u32) -> ProviderOrder {
        ProviderOrder {
            merchant_id: "1900000109".into(),
            out_trade_no: "T-book-01".into(),
            attempt,
            amount: 1000,
            currency: "CNY".into(),
            description: "Deal".into(),
        }
    }

    const MINUTE: i64 = 60_000;

    /// The close/pay race at the provider: a close after the payer paid answers
    /// ORDERPAID with the payment; a payment after a close is refused; an unpaid
    /// order is not closed within five minutes of its creation, and is after.
    #[test]
    fn close_and_pay_exclude_each_other_and_the_close_waits_five_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let book = SimulatorBook::open(Database::open_in(dir.path()).unwrap(), "wechat_pay").unwrap();
        let paid = SimulatedPayment { attempt: 1, amount_charged: 1000, transaction_id: "4200".into(), paid: true };
        block(book.record(&order(1), &paid, 0)).unwrap();
        let rule = Some((5 * MINUTE, "RULE_LIMIT"));
        assert_eq!(
            block(book.close(&order(1), MINUTE, rule)).unwrap(),
            Ok(Closed::AlreadyPaid { transaction_id: "4200".into(), amount: 1000 })
        );
        let unpaid = SimulatedPayment { attempt: 2, amount_charged: 1000, transaction_id: "4201".into(), paid: false };
        block(book.record(&order(2), &unpaid, 10 * MINUTE)).unwrap();
        let early = block(book.close(&order(2), 11 * MINUTE, rule)).unwrap().unwrap_err();
        assert_eq!(early.code, ErrorCode::LimitExceeded);
        assert!(early.message.starts_with("RULE_LIMIT") && early.message.contains("in 240 s"), "{}", early.message);
        assert_eq!(block(book.close(&order(2), 15 * MINUTE, rule)).unwrap(), Ok(Closed::Closed));
        let late = SimulatedPayment { attempt: 2, amount_charged: 1000, transaction_id: "4202".into(), paid: true };
        assert_eq!(block(book.record(&order(2), &late, 16 * MINUTE)).unwrap_err(), ORDER_CLOSED);
    }

    /// A repeated refund request is the same refund; the rules count and space
    /// refunds and never return more than was charged.
    #[test]
    fn refunds_follow_the_rules_and_repeat_as_the_same_refund() {
        let dir = tempfile::tempdir().unwrap();
        let book = SimulatorBook::open(Database::open_in(dir.path()).unwrap(), "wechat_pay").unwrap();
        let paid = SimulatedPayment { attempt: 1, amount_charged: 1000, transaction_id: "4200".into(), paid: true };
        block(book.record(&order(1), &paid, 0)).unwrap();
        let rules = RefundRules {
            max_refunds: Some(2),
            min_spacing_ms: MINUTE,
            window_ms: 365 * 86_400_000,
            settle_after_ms: MINUTE,
            codes: ["NOT_FOUND", "OVER", "WINDOW", "TOO_MANY", "TOO_SOON", "REUSED"],
        };
        let refund = |no: &str, amount: i64| ProviderRefund {
            merchant_id: "1900000109".into(),
            out_trade_no: "T-book-01".into(),
            attempt: 1,
            transaction_id: "4200".into(),
            order_amount: 1000,
            out_refund_no: no.into(),
            amount,
            currency: "CNY".into(),
            reason: None,
        };
        let ask = |no: &str, amount: i64, now: i64| {
            block(book.refund(&refund(no, amount), &rules, now, RefundEnd::Success, format!("50-{no}"))).unwrap()
        };
        let refused = |outcome: RefundOutcome| match outcome {
            RefundOutcome::Refused { message, .. } => message,
            other => panic!("{other:?}"),
        };
        let (first, taken) = ask("R1", 600, 0);
        assert_eq!(first, RefundOutcome::Accepted(ProviderRefundState::Processing { refund_id: "50-R1".into() }));
        assert!(taken.is_some());
        let (again, taken) = ask("R1", 600, 1);
        assert_eq!(again, first, "the same refund, nothing more");
        assert!(taken.is_none());
        assert!(refused(ask("R1", 601, 2).0).starts_with("REUSED"));
        assert!(refused(ask("R2", 100, 30_000).0).starts_with("TOO_SOON"));
        assert!(refused(ask("R2", 401, 2 * MINUTE).0).starts_with("OVER"));
        assert!(matches!(ask("R2", 400, 2 * MINUTE).0, RefundOutcome::Accepted(_)));
        assert!(refused(ask("R3", 0, 4 * MINUTE).0).starts_with("TOO_MANY"));
        let settled = block(book.refund_state(&refund("R1", 600), MINUTE)).unwrap();
        assert_eq!(settled, ProviderRefundState::Success { refund_id: "50-R1".into(), amount: 600 });
    }
}
