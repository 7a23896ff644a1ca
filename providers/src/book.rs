//! The simulated providers' own records of the payments they took, kept in the
//! host database (in their own table) so that, like real providers, they still know
//! after the host restarts which payments they took.

use miniapp_host::capabilities::payment::provider::{Closed, ProviderOrder, ProviderState};
use miniapp_host::store::{Database, StoreError, params};

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
];

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
    pub async fn record(&self, order: &ProviderOrder, payment: &SimulatedPayment) -> Result<(), String> {
        let (provider, order, payment) = (self.provider, order.clone(), payment.clone());
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
                    "INSERT INTO simulator_payments (provider, merchant_id, out_trade_no, attempt, amount_charged, transaction_id, paid)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT(provider, merchant_id, out_trade_no) DO UPDATE SET attempt = excluded.attempt,
                         amount_charged = excluded.amount_charged, transaction_id = excluded.transaction_id, paid = excluded.paid",
                    params![
                        provider,
                        order.merchant_id,
                        order.out_trade_no,
                        payment.attempt,
                        payment.amount_charged,
                        payment.transaction_id,
                        payment.paid
                    ],
                )?;
                Ok(true)
            })
            .await
            .map_err(|e| e.to_string())?;
        if recorded { Ok(()) } else { Err(ORDER_CLOSED.to_string()) }
    }

    /// Closes `order`'s attempt, unless it was paid: then what was paid.
    pub async fn close(&self, order: &ProviderOrder) -> Result<Closed, String> {
        let (provider, order) = (self.provider, order.clone());
        self.database
            .run(move |t| {
                let row = t.query_one(
                    "SELECT attempt, amount_charged, transaction_id, paid FROM simulator_payments
                     WHERE provider = $1 AND merchant_id = $2 AND out_trade_no = $3",
                    params![provider, order.merchant_id, order.out_trade_no],
                )?;
                if let Some(row) = row
                    && row.u32(0)? == order.attempt
                    && row.bool(3)?
                {
                    return Ok(Closed::AlreadyPaid { transaction_id: row.text(2)?, amount: row.integer(1)? });
                }
                t.execute(
                    "INSERT INTO simulator_closed (provider, merchant_id, out_trade_no, attempt) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (provider, merchant_id, out_trade_no, attempt) DO NOTHING",
                    params![provider, order.merchant_id, order.out_trade_no, order.attempt],
                )?;
                Ok(Closed::Closed)
            })
            .await
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
