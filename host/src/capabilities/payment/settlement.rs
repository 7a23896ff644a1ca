//! The merchant's server inside the host: it receives provider notifications,
//! verifies them by each provider's protocol (signature, age, encryption, amount),
//! and settles the order in the ledger exactly once — a notification replayed any
//! number of times, at once, credits once. Forged, stale and amount-mismatched
//! notifications are refused and recorded. Refund notifications (`REFUND.*`)
//! settle refunds the same way: once, whatever arrives after.

use super::ledger::refunds::{RefundChanges, RefundRecord, RefundState};
use super::ledger::{Changes, Ledger, LedgerError, OrderRecord, State};
use super::provider::{
    BoxFuture, Confirmation, Notification, NotificationHandler, PaymentProvider, ProviderRefundState,
    RefundConfirmation, Verified,
};
use super::receipt::{ReceiptPayload, ReceiptSigner, RefundReceiptPayload};
use miniapp_abi::payment::{FailReason, Method};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The started providers, by method: each verifies its own notifications.
pub type Providers = BTreeMap<Method, Arc<dyn PaymentProvider>>;

/// Settles orders from notifications and provider queries.
pub struct Settlement {
    ledger: Ledger,
    receipts: Arc<ReceiptSigner>,
    providers: OnceLock<Providers>,
    settled: tokio::sync::Notify,
}

/// What settling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The order is now paid.
    Paid(Box<OrderRecord>),
    /// It was already settled; nothing changed.
    Duplicate,
    /// The confirmation did not match the order; the order failed.
    AmountMismatch,
    /// A notification of a trade that did not succeed; nothing changed.
    NotPaid,
}

impl Settlement {
    /// A settlement desk writing to `ledger` and signing with `receipts`.
    pub fn new(ledger: Ledger, receipts: Arc<ReceiptSigner>) -> Settlement {
        Settlement { ledger, receipts, providers: OnceLock::new(), settled: tokio::sync::Notify::new() }
    }

    /// Installs the started providers (once, when payments are first used).
    pub fn set_providers(&self, providers: Providers) {
        let _ = self.providers.set(providers);
    }

    /// Wakes whoever waits for an order to settle.
    pub fn settled(&self) -> &tokio::sync::Notify {
        &self.settled
    }

    /// Settles `confirmation` (from a verified notification or a provider query).
    pub async fn settle(&self, method: &Method, confirmation: &Confirmation, cause: &str) -> Result<Settled, String> {
        let settled = self.settle_in_ledger(method, confirmation, cause).await;
        self.settled.notify_waiters();
        settled
    }

    async fn settle_in_ledger(
        &self,
        method: &Method,
        confirmation: &Confirmation,
        cause: &str,
    ) -> Result<Settled, String> {
        if !confirmation.paid {
            return Ok(Settled::NotPaid);
        }
        let (merchant, trade_no) = (&confirmation.merchant_id, &confirmation.out_trade_no);
        let order = self
            .ledger
            .get(merchant, trade_no)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no order {trade_no} of merchant {merchant}"))?;
        let attempt = confirmation.attempt.unwrap_or(order.attempt);
        if confirmation.amount != order.amount {
            let changes = Changes { fail_reason: Some(FailReason::AmountMismatch.as_str()), ..Changes::default() };
            let cause = format!("{cause}: provider confirmed {} instead of {}", confirmation.amount, order.amount);
            self.ledger
                .transition((merchant, trade_no), Some(attempt), &[State::Processing], State::Failed, &cause, &changes)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Settled::AmountMismatch);
        }
        let receipt = self.receipts.sign(&ReceiptPayload {
            v: 1,
            merchant_id: merchant.clone(),
            out_trade_no: trade_no.clone(),
            transaction_id: confirmation.transaction_id.clone(),
            method: method.as_str().to_string(),
            amount: order.amount,
            currency: order.currency.clone(),
            attempt,
            paid_at_ms: self.ledger.clock().now_ms(),
        });
        let changes = Changes {
            method: Some(method.as_str()),
            transaction_id: Some(&confirmation.transaction_id),
            receipt: Some(&receipt),
            fail_reason: None,
        };
        match self
            .ledger
            .transition((merchant, trade_no), Some(attempt), &[State::Processing], State::Paid, cause, &changes)
            .await
        {
            Ok(Some(paid)) => Ok(Settled::Paid(Box::new(paid))),
            Ok(None) => Ok(Settled::Duplicate),
            Err(LedgerError::Store(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Settles a refund as the provider says it stands — from a verified
    /// notification or a query: once; a refund already settled, or a state that
    /// settles nothing (still processing), changes nothing (`Ok(None)`).
    pub async fn settle_refund(
        &self,
        refund: &RefundRecord,
        state: &ProviderRefundState,
        cause: &str,
    ) -> Result<Option<RefundRecord>, String> {
        let key = (refund.merchant_id.as_str(), refund.out_refund_no.as_str());
        let unsettled = [RefundState::Created, RefundState::Processing];
        let moved = match state {
            ProviderRefundState::NotFound => return Ok(None),
            ProviderRefundState::Processing { refund_id } => {
                let changes = RefundChanges { refund_id: Some(refund_id), ..RefundChanges::default() };
                self.ledger
                    .refund_transition(key, &[RefundState::Created], RefundState::Processing, cause, &changes)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(None);
            }
            ProviderRefundState::Success { refund_id, amount } => {
                if *amount != refund.amount {
                    return Err(format!("amount mismatch: the provider returned {amount} of {}", refund.amount));
                }
                let receipt = self.receipts.sign_refund(&RefundReceiptPayload {
                    v: 1,
                    kind: "refund".to_string(),
                    merchant_id: refund.merchant_id.clone(),
                    out_trade_no: refund.out_trade_no.clone(),
                    out_refund_no: refund.out_refund_no.clone(),
                    refund_id: refund_id.clone(),
                    method: refund.method.clone(),
                    amount: refund.amount,
                    currency: refund.currency.clone(),
                    refunded_at_ms: self.ledger.clock().now_ms(),
                });
                let changes = RefundChanges { refund_id: Some(refund_id), receipt: Some(&receipt), detail: None };
                self.ledger.refund_transition(key, &unsettled, RefundState::Success, cause, &changes).await
            }
            ProviderRefundState::Abnormal { refund_id, detail } | ProviderRefundState::Closed { refund_id, detail } => {
                let to = match state {
                    ProviderRefundState::Abnormal { .. } => RefundState::Abnormal,
                    _ => RefundState::Closed,
                };
                let changes = RefundChanges { refund_id: Some(refund_id), receipt: None, detail: Some(detail) };
                self.ledger.refund_transition(key, &unsettled, to, cause, &changes).await
            }
        };
        self.settled.notify_waiters();
        moved.map_err(|e| e.to_string())
    }

    /// Handles a verified refund notification: `true` acknowledges it.
    async fn receive_refund(&self, method: &Method, confirmation: &RefundConfirmation) -> bool {
        let (merchant, trade_no, refund_no) =
            (&confirmation.merchant_id, &confirmation.out_trade_no, &confirmation.out_refund_no);
        let record = async |outcome: &str, detail: &str| {
            let key = (merchant.as_str(), trade_no.as_str(), refund_no.as_str());
            let recorded = self.ledger.record_refund_notification(method.as_str(), key, outcome, detail).await;
            if let Err(error) = recorded {
                tracing::error!(%error, "cannot record a refund notification");
            }
        };
        let refund = match self.ledger.refund(merchant, refund_no).await {
            Ok(Some(refund)) if refund.out_trade_no == *trade_no && refund.method == method.as_str() => refund,
            Ok(_) => {
                record("rejected", &format!("no refund {refund_no} of order {trade_no} by {method}")).await;
                return false;
            }
            Err(error) => {
                record("rejected", &error.to_string()).await;
                return false;
            }
        };
        if confirmation.amount != refund.amount {
            let detail = format!("amount mismatch: the notification says {} of {}", confirmation.amount, refund.amount);
            record("rejected", &detail).await;
            return false;
        }
        let acknowledged = match self.settle_refund(&refund, &confirmation.state, "refund notification").await {
            Ok(Some(settled)) => {
                record("accepted", &format!("refund {}", settled.state.as_str())).await;
                true
            }
            Ok(None) => {
                record("duplicate", "already settled or still processing; nothing changed").await;
                true
            }
            Err(reason) => {
                record("rejected", &reason).await;
                false
            }
        };
        self.settled.notify_waiters();
        acknowledged
    }

    async fn receive(&self, method: &Method, notification: &Notification) -> bool {
        let now = self.ledger.clock().now_seconds();
        // A notification from a method no started provider implements is nobody's.
        let Some(provider) = self.providers.get().and_then(|providers| providers.get(method)) else { return false };
        let verified = provider.verify(notification, now);
        let record = async |merchant: &str, trade_no: &str, outcome: &str, detail: &str| {
            let recorded = self.ledger.record_notification(method.as_str(), merchant, trade_no, outcome, detail).await;
            if let Err(error) = recorded {
                tracing::error!(%error, "cannot record a payment notification");
            }
        };
        let confirmation = match verified {
            Ok(Verified::Payment(confirmation)) => confirmation,
            Ok(Verified::Refund(refund)) => return self.receive_refund(method, &refund).await,
            Err(reason) => {
                let (merchant, trade_no) =
                    provider.claimed_order(notification).unwrap_or_else(|| ("?".into(), "?".into()));
                record(&merchant, &trade_no, "rejected", &reason).await;
                return false;
            }
        };
        let (merchant, trade_no) = (&confirmation.merchant_id, &confirmation.out_trade_no);
        let acknowledged = match self.settle_in_ledger(method, &confirmation, "provider notification").await {
            Ok(Settled::Paid(_)) => {
                record(merchant, trade_no, "accepted", &format!("paid by {}", confirmation.transaction_id)).await;
                true
            }
            Ok(Settled::Duplicate) => {
                record(merchant, trade_no, "duplicate", "already settled; nothing changed").await;
                true
            }
            Ok(Settled::NotPaid) => {
                record(merchant, trade_no, "ignored", "the trade did not succeed; a settled order is not changed")
                    .await;
                true
            }
            Ok(Settled::AmountMismatch) => {
                let detail = format!("amount mismatch: provider says {}", confirmation.amount);
                record(merchant, trade_no, "rejected", &detail).await;
                false
            }
            Err(reason) => {
                record(merchant, trade_no, "rejected", &reason).await;
                false
            }
        };
        // Whoever waits for the order is woken after the notification is on
        // record, so a payment that returns has its notification recorded.
        self.settled.notify_waiters();
        acknowledged
    }
}

impl NotificationHandler for Settlement {
    fn handle<'a>(&'a self, method: &'a Method, notification: Notification) -> BoxFuture<'a, bool> {
        Box::pin(async move { self.receive(method, &notification).await })
    }
}
