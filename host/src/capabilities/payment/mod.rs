//! `payment`: one request API over several payment methods, under the three gates:
//!
//! 1. **declared**: the manifest names the merchant ids the program may charge
//!    for, optionally the methods and a per-order cap;
//! 2. **allowed**: the merchant is registered with the host, the currency and
//!    amount are within the host's limits, a provider for the method is installed;
//! 3. **consented**, per payment: the host draws the payment sheet — payee from the
//!    host's records, the exact amount, the description, the methods — and the user
//!    picks a method or cancels.
//!
//! Orders live in the [`ledger`]; providers confirm them by notification, settled
//! by [`settlement`]; paid orders carry a host-signed [`receipt`]. A request with
//! the same `(merchant_id, out_trade_no)` again gets the recorded outcome and the
//! same receipt, and charges nothing; after a cancel or a failure it starts a new
//! attempt that can succeed.
//!
//! ABI 1.1 adds the rest of an order's life: `close` (an unpaid order, closed at
//! its provider first, so it can never be paid afterwards), `refund` (part or all
//! of a paid order, by the provider that took it, under the provider's rules and
//! never more than was paid) and a `query` that reports the whole order —
//! attempts, paid amount, refunds.

pub mod lease;
pub mod ledger;
pub mod money;
pub mod order;
pub mod provider;
pub mod receipt;
mod settings;
pub mod settlement;

pub use settings::{MerchantSettings, PaymentSettings};

use crate::audit::{AuditLog, Outcome as AuditOutcome};
use crate::capability::{CallContext, Capability, DeclarationError, Grant, HostFunction, InitContext};
use crate::consent::{Answer, Prompt};
use crate::error::HostError;
use ledger::refunds::{BeginRefund, RefundRecord, RefundState};
use ledger::{Begin, Changes, Ledger, LedgerError, OrderRecord, State};
use miniapp_abi::payment::{
    AttemptSummary, CloseRequest, FailReason, Method, OrderDetails, PaymentRequest, PaymentResult, QueryRequest,
    RefundRequest, RefundResult, RefundStatus, Status,
};
use miniapp_abi::{ApiError, ErrorCode};
use provider::{
    ClientOutcome, PaymentProvider, ProviderContext, ProviderOrder, ProviderPlugin, ProviderRefund, ProviderState,
    RefundOutcome,
};
use receipt::ReceiptSigner;
use serde::Deserialize;
use settlement::{Providers, Settled, Settlement};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Why a payment request outside a user action is refused (ABI §6.5).
pub const SHEET_NEEDS_USER_ACTION: &str = "the payment sheet is shown only while the program handles a user action \
     (its launch or a tap), once per action";

/// The payment capability.
pub struct Payment {
    settings: PaymentSettings,
    ledger: Ledger,
    receipts: Arc<ReceiptSigner>,
    settlement: Arc<Settlement>,
    plugins: BTreeMap<Method, Arc<dyn ProviderPlugin>>,
    sections: BTreeMap<Method, toml::Table>,
    providers: OnceCell<Providers>,
    reconciled: OnceCell<usize>,
    data_dir: PathBuf,
    audit: AuditLog,
}

impl std::fmt::Debug for Payment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payment").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// What a program that declares `payment` may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentGrant {
    /// Merchant ids it may charge for.
    pub merchants: BTreeSet<String>,
    /// Methods it offers, if it limits them.
    pub methods: Option<Vec<Method>>,
    /// Its per-order cap, in minor units.
    pub max_amount: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentParams {
    merchants: Vec<String>,
    methods: Option<Vec<String>>,
    max_amount: Option<i64>,
}

/// Makes the payment capability from `[payment]`, paying through `providers`.
pub fn init(
    context: &InitContext<'_>,
    providers: Vec<Arc<dyn ProviderPlugin>>,
) -> Result<Arc<dyn Capability>, HostError> {
    let settings = context.settings(miniapp_abi::payment::CAPABILITY)?;
    Ok(Arc::new(Payment::new(settings, context.services, &providers, &context.config.sections)?))
}

impl Payment {
    /// The payment capability on the host's services, paying through `plugins`
    /// (each configured by its section of `sections`, by method id) and keeping
    /// their keys under `data_dir`.
    pub fn new(
        settings: PaymentSettings,
        services: &crate::capability::HostServices,
        plugins: &[Arc<dyn ProviderPlugin>],
        sections: &BTreeMap<String, toml::Table>,
    ) -> Result<Payment, HostError> {
        settings.check_publishers().map_err(HostError::Config)?;
        let ledger = Ledger::new(services.database.clone())?
            .with_lease_ms(settings.order_lease_ms)
            .with_clock(services.clock.clone());
        let receipts = ReceiptSigner::open(&services.database, &services.data_dir)
            .map_err(|reason| crate::store::StoreError::Open { path: services.data_dir.clone(), reason })?;
        let receipts = Arc::new(receipts);
        let settlement = Arc::new(Settlement::new(ledger.clone(), receipts.clone()));
        let mut by_method = BTreeMap::new();
        let mut plugin_sections = BTreeMap::new();
        for plugin in plugins {
            let method = plugin.method();
            let section = sections.get(method.as_str()).cloned().unwrap_or_default();
            plugin.check_section(&section).map_err(|e| HostError::Config(format!("[{method}]: {e}")))?;
            plugin_sections.insert(method.clone(), section);
            by_method.insert(method, plugin.clone());
        }
        Ok(Payment {
            settings,
            ledger,
            receipts,
            settlement,
            plugins: by_method,
            sections: plugin_sections,
            providers: OnceCell::new(),
            reconciled: OnceCell::new(),
            data_dir: services.data_dir.clone(),
            audit: services.audit.clone(),
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The signer of its receipts.
    pub fn receipts(&self) -> &Arc<ReceiptSigner> {
        &self.receipts
    }

    /// Reconciles the orders no live host is working on (a host died: its lease
    /// ran out, or it was a process on this machine that is gone), each taken
    /// over by exactly one host: an unanswered payment sheet is cancelled (no
    /// one can answer it now); an order with a provider is settled by asking the
    /// provider, as a merchant's server does after an outage — paid if it took
    /// the payment, else closed there first (so it can never be paid later) and
    /// then failed. Returns how many orders this host reconciled.
    /// Refunds are reconciled too: one recorded but never answered by the
    /// provider is asked for again (same `out_refund_no`: the provider treats it
    /// as the same refund), and one still processing is settled by asking the
    /// provider where it stands.
    pub async fn reconcile(&self) -> Result<usize, ApiError> {
        let mut reconciled = self.reconcile_refunds().await?;
        let left = self.ledger.abandoned().await.map_err(unavailable)?;
        for order in left {
            if !self.ledger.claim(&order).await.map_err(unavailable)? {
                continue; // Another host took it over, or its owner moved it on.
            }
            let key = (order.merchant_id.as_str(), order.out_trade_no.as_str());
            let moved = match order.state {
                State::Created | State::AwaitingUser => {
                    let cause = "reconciled: the host that showed the payment sheet is gone";
                    self.ledger
                        .transition(
                            key,
                            Some(order.attempt),
                            &[order.state],
                            State::Cancelled,
                            cause,
                            &Changes::default(),
                        )
                        .await
                        .map_err(unavailable)?
                        .is_some()
                }
                _ => self.settle_with_provider(&order).await?,
            };
            reconciled += usize::from(moved);
        }
        Ok(reconciled)
    }

    async fn reconcile_refunds(&self) -> Result<usize, ApiError> {
        let mut reconciled = 0;
        for refund in self.ledger.unsettled_refunds().await.map_err(unavailable)? {
            let moved = match refund.state {
                RefundState::Created => {
                    if !self.ledger.claim_refund(&refund).await.map_err(unavailable)? {
                        continue;
                    }
                    let before = refund.state;
                    match self.submit_refund(refund).await {
                        Ok(after) => after.state != before,
                        Err(error) => {
                            tracing::warn!(%error, "a refund left by a host that died was refused");
                            true
                        }
                    }
                }
                _ => self.ask_about_refund(&refund).await?.is_some(),
            };
            reconciled += usize::from(moved);
        }
        Ok(reconciled)
    }

    /// Asks the provider where `refund` stands and settles what it says; the
    /// refund afterwards, if this changed it.
    async fn ask_about_refund(&self, refund: &RefundRecord) -> Result<Option<RefundRecord>, ApiError> {
        let Some((provider, provider_refund)) = self.provider_refund(refund).await? else { return Ok(None) };
        match provider.query_refund(&provider_refund).await {
            Ok(state) => {
                self.settlement.settle_refund(refund, &state, "provider refund query").await.map_err(unavailable)
            }
            Err(error) => {
                tracing::warn!(refund = %refund.out_refund_no, %error, "the provider cannot say where the refund stands");
                Ok(None)
            }
        }
    }

    /// The provider that took `refund`'s order and the refund as it sees it;
    /// `None` when this host has no provider for its method.
    async fn provider_refund(
        &self,
        refund: &RefundRecord,
    ) -> Result<Option<(Arc<dyn PaymentProvider>, ProviderRefund)>, ApiError> {
        let providers = self.providers().await?;
        let Some(provider) = Method::parse(&refund.method).and_then(|m| providers.get(&m).cloned()) else {
            tracing::warn!(refund = %refund.out_refund_no, "no provider of this host takes refunds of this method");
            return Ok(None);
        };
        let order = self
            .ledger
            .get(&refund.merchant_id, &refund.out_trade_no)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ApiError::internal(format!("order {} of a refund vanished", refund.out_trade_no)))?;
        let transaction_id = order
            .transaction_id
            .clone()
            .ok_or_else(|| ApiError::internal(format!("paid order {} has no transaction id", order.out_trade_no)))?;
        let provider_refund = ProviderRefund {
            merchant_id: refund.merchant_id.clone(),
            out_trade_no: refund.out_trade_no.clone(),
            attempt: order.attempt,
            transaction_id,
            order_amount: order.amount,
            out_refund_no: refund.out_refund_no.clone(),
            amount: refund.amount,
            currency: refund.currency.clone(),
            reason: refund.reason.clone(),
        };
        Ok(Some((provider, provider_refund)))
    }

    /// Asks the provider for a refund recorded as `created` and records its
    /// answer: the refund as it then stands, or the provider's refusal (recorded;
    /// the same request may try again). A provider that cannot be reached leaves
    /// it `created`, for reconciliation to ask again.
    async fn submit_refund(&self, refund: RefundRecord) -> Result<RefundRecord, ApiError> {
        let Some((provider, provider_refund)) = self.provider_refund(&refund).await? else {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("no payment provider of this host refunds {} payments", refund.method),
            ));
        };
        let key = (refund.merchant_id.as_str(), refund.out_refund_no.as_str());
        match provider.refund(&provider_refund).await {
            Ok(RefundOutcome::Accepted(state)) => {
                self.settlement
                    .settle_refund(&refund, &state, "provider accepted the refund")
                    .await
                    .map_err(unavailable)?;
            }
            Ok(RefundOutcome::Refused { code, message }) => {
                let changes = ledger::refunds::RefundChanges { detail: Some(&message), ..Default::default() };
                let cause = format!("the provider refused: {message}");
                self.ledger
                    .refund_transition(key, &[RefundState::Created], RefundState::Refused, &cause, &changes)
                    .await
                    .map_err(unavailable)?;
                return Err(ApiError::new(code, format!("{} refused the refund: {message}", refund.method)));
            }
            Err(error) => {
                tracing::warn!(refund = %refund.out_refund_no, %error, "the provider did not answer; asked again later");
            }
        }
        self.ledger
            .refund(key.0, key.1)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ApiError::internal(format!("refund {} vanished from the ledger", refund.out_refund_no)))
    }

    /// Settles an order that was with a provider when its host died. `false` when
    /// the provider cannot say (the order stays claimed until the claim runs out,
    /// and is tried again).
    async fn settle_with_provider(&self, order: &OrderRecord) -> Result<bool, ApiError> {
        let providers = self.providers().await?;
        let method = order.method.as_deref().and_then(Method::parse);
        let Some((method, provider)) = method.and_then(|m| providers.get(&m).cloned().map(|p| (m, p))) else {
            tracing::warn!(order = %order.out_trade_no, "no provider of this host took the order; left for one that has it");
            return Ok(false);
        };
        let provider_order = order.provider_order();
        let paid = match provider.query(&provider_order).await {
            Ok(ProviderState::Paid { transaction_id, amount }) => Some((transaction_id, amount)),
            Ok(_) => match provider.close(&provider_order).await {
                Ok(Ok(provider::Closed::AlreadyPaid { transaction_id, amount })) => Some((transaction_id, amount)),
                Ok(Ok(provider::Closed::Closed)) => None,
                Ok(Err(refused)) => {
                    tracing::info!(order = %order.out_trade_no, reason = %refused.message, "the provider will not close the order yet; tried again later");
                    return Ok(false);
                }
                Err(error) => {
                    tracing::warn!(order = %order.out_trade_no, %error, "the provider cannot close the order; tried again later");
                    return Ok(false);
                }
            },
            Err(error) => {
                tracing::warn!(order = %order.out_trade_no, %error, "the provider cannot say; tried again later");
                return Ok(false);
            }
        };
        if let Some((transaction_id, amount)) = paid {
            let confirmation = provider::Confirmation::paid(&provider_order, transaction_id, amount);
            let cause = "reconciled: the provider confirmed the payment";
            let settled = self.settlement.settle(&method, &confirmation, cause).await.map_err(unavailable)?;
            return Ok(matches!(settled, Settled::Paid(_) | Settled::AmountMismatch));
        }
        let changes = Changes { fail_reason: Some(FailReason::ProviderTimeout.as_str()), ..Changes::default() };
        let cause = "reconciled: the provider has no payment for this attempt, and closed it";
        let key = (order.merchant_id.as_str(), order.out_trade_no.as_str());
        let failed = self
            .ledger
            .transition(key, Some(order.attempt), &[State::Processing], State::Failed, cause, &changes)
            .await
            .map_err(unavailable)?;
        Ok(failed.is_some())
    }

    /// Keeps this host's claims alive and reconciles what dead hosts left, for
    /// as long as the capability lives: renewing every third of a lease,
    /// reconciling every lease.
    fn keep_claims(self: &Arc<Self>) {
        let payment = Arc::downgrade(self);
        let period = Duration::from_millis(u64::try_from(self.ledger.lease_ms() / 3).unwrap_or(1).max(1));
        let clock = self.ledger.clock().clone();
        tokio::spawn(async move {
            for round in 0u64.. {
                // On the host's clock: leases are time rules like any other.
                clock.sleep(period).await;
                let Some(payment) = payment.upgrade() else { return };
                if let Err(error) = payment.ledger.renew_leases().await {
                    tracing::warn!(%error, "cannot renew this host's claims on its orders");
                }
                if round % 3 == 2
                    && let Err(error) = payment.reconcile().await
                {
                    tracing::warn!(%error, "cannot reconcile orders left by other hosts");
                }
            }
        });
    }

    /// The methods this host has a provider for, with their names on the sheet.
    pub fn methods(&self) -> Vec<(Method, String)> {
        self.plugins.iter().map(|(method, plugin)| (method.clone(), plugin.display_name())).collect()
    }

    /// The providers, started on first use (their keys take a moment to make).
    async fn providers(&self) -> Result<&Providers, ApiError> {
        self.providers
            .get_or_try_init(|| async {
                let plugins: Vec<(Arc<dyn ProviderPlugin>, ProviderContext)> = self
                    .plugins
                    .iter()
                    .map(|(method, plugin)| {
                        let context = ProviderContext {
                            database: self.ledger.database().clone(),
                            key_dir: self.data_dir.join("payment-keys"),
                            notifications: self.settlement.clone(),
                            section: self.sections.get(method).cloned().unwrap_or_default(),
                            clock: self.ledger.clock().clone(),
                        };
                        (plugin.clone(), context)
                    })
                    .collect();
                let started = tokio::task::spawn_blocking(move || -> Result<Providers, String> {
                    plugins
                        .into_iter()
                        .map(|(plugin, context)| {
                            let method = plugin.method();
                            let provider = plugin.start(context).map_err(|e| format!("{method}: {e}"))?;
                            Ok((method, provider))
                        })
                        .collect()
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|started| started)
                .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("a payment provider cannot start: {e}")))?;
                self.settlement.set_providers(started.clone());
                Ok(started)
            })
            .await
    }

    async fn request(
        self: Arc<Self>,
        context: CallContext,
        request: PaymentRequest,
    ) -> Result<PaymentResult, ApiError> {
        let grant = context.grant::<PaymentGrant>()?.clone();
        let program = (context.program().key().to_string(), context.program().label());
        let deny = |reason: String| async {
            let record = crate::audit::DecisionRecord {
                program_id: &program.0,
                capability: miniapp_abi::payment::CAPABILITY,
                action: "request",
                outcome: AuditOutcome::Denied,
                reason: &reason,
                target: Some(&request.merchant_id),
                surface: None,
            };
            let _ = self.audit.record_decision(&record).await;
            ApiError::capability_denied(reason)
        };
        if !grant.merchants.contains(&request.merchant_id) {
            return Err(deny(format!(
                "merchant {} is not declared in [capabilities.payment] merchants",
                request.merchant_id
            ))
            .await);
        }
        let Some(merchant) = self.settings.merchants.get(&request.merchant_id) else {
            return Err(deny(format!("merchant {} is not registered with this host", request.merchant_id)).await);
        };
        let cap = grant.max_amount.unwrap_or(i64::MAX).min(self.settings.max_amount);
        let order = order::validate(&request, cap, &self.settings.currencies)?;
        let providers = self.started().await?;
        // The sheet lists methods in the merchant's order.
        let methods: Vec<Method> = merchant
            .methods
            .iter()
            .filter(|m| order.methods.as_ref().is_none_or(|asked| asked.contains(m)))
            .filter(|m| grant.methods.as_ref().is_none_or(|declared| declared.contains(m)))
            .filter(|m| providers.contains_key(*m))
            .cloned()
            .collect();
        if methods.is_empty() {
            return Err(ApiError::invalid_argument(
                "methods: none of the methods asked for is available for this merchant",
            ));
        }

        // The sheet needs a user action (the launch, a tap), one sheet per action: a
        // program cannot stack sheets in front of the user. A retry of an order that
        // is paid or in progress shows no sheet and needs none.
        let action = &context.session().action;
        let record = match self.ledger.begin_if(&order, &program.0, action.available()).await {
            Ok(Begin::Existing(existing)) => return Ok(existing.to_result()),
            Ok(Begin::NotNow) => return Err(deny(SHEET_NEEDS_USER_ACTION.to_string()).await),
            Ok(Begin::Start(record)) => {
                action.take();
                record
            }
            Err(LedgerError::Conflict { field, .. }) => {
                return Err(ApiError::new(
                    ErrorCode::IdempotencyConflict,
                    format!("order {} was already requested with a different {field}", order.out_trade_no),
                ));
            }
            Err(error) => return Err(unavailable(error)),
        };
        let key = (record.merchant_id.as_str(), record.out_trade_no.as_str());
        let step = async |from: State, to: State, cause: &str, changes: &Changes<'_>| {
            self.ledger.transition(key, Some(record.attempt), &[from], to, cause, changes).await.map_err(unavailable)
        };
        step(State::Created, State::AwaitingUser, "payment sheet shown", &Changes::default()).await?;

        let names: Vec<String> = methods
            .iter()
            .map(|m| self.plugins.get(m).map_or_else(|| m.as_str().to_string(), |p| p.display_name()))
            .collect();
        let sheet = Prompt::Payment {
            program: program.1.clone(),
            payee: merchant.name.clone(),
            merchant_id: order.merchant_id.clone(),
            amount: money::display(order.amount, &order.currency),
            description: order.description.clone(),
            methods: names,
            method_ids: methods.iter().map(|m| m.as_str().to_string()).collect(),
        };
        let method = match context.session().user.ask(&sheet).await {
            Answer::Pick(n) if n >= 1 && n <= methods.len() => methods[n - 1].clone(),
            answer => {
                // Only a method's number pays: a bare yes, or a number that is no
                // method, never picks one for the user.
                let cause = match answer {
                    Answer::NoAnswer => "nobody answered the payment sheet",
                    Answer::No => "the user cancelled on the payment sheet",
                    _ => "the answer named no method on the payment sheet",
                };
                let cancelled = step(State::AwaitingUser, State::Cancelled, cause, &Changes::default()).await?;
                return self.finish(&context, cancelled, (&order.merchant_id, &order.out_trade_no)).await;
            }
        };
        let chosen = Changes { method: Some(method.as_str()), ..Changes::default() };
        let cause = format!("user chose {}", method.as_str());
        if step(State::AwaitingUser, State::Processing, &cause, &chosen).await?.is_none() {
            // Another host reconciled the order meanwhile (this one was too slow to
            // keep its claim): it is not paid now, and the answer says where it is.
            return self.finish(&context, None, (&order.merchant_id, &order.out_trade_no)).await;
        }

        let provider = providers.get(&method).cloned().ok_or_else(|| ApiError::internal("provider vanished"))?;
        let provider_order = record.provider_order();
        let outcome = provider.pay(&provider_order).await;
        let failed = async |reason: FailReason, cause: &str| {
            let changes = Changes { fail_reason: Some(reason.as_str()), ..Changes::default() };
            step(State::Processing, State::Failed, cause, &changes).await
        };
        let settled = match outcome {
            Err(error) => {
                failed(FailReason::ProviderError, &format!("the provider refused the order: {error}")).await?
            }
            Ok(ClientOutcome::Cancelled) => {
                let cause = "the user cancelled at the provider";
                step(State::Processing, State::Cancelled, cause, &Changes::default()).await?
            }
            Ok(ClientOutcome::Failed(reason)) => {
                failed(reason, &format!("the provider declined: {}", reason.as_str())).await?
            }
            Ok(ClientOutcome::Paid | ClientOutcome::Unknown) => {
                self.await_confirmation(provider.as_ref(), &provider_order, &method).await?
            }
        };
        self.finish(&context, settled, (&order.merchant_id, &order.out_trade_no)).await
    }

    /// The providers, with this host's reconciliation done and its claims kept
    /// from now on.
    async fn started(self: &Arc<Self>) -> Result<&Providers, ApiError> {
        let providers = self.providers().await?;
        self.reconciled
            .get_or_try_init(|| async {
                let reconciled = self.reconcile().await?;
                self.keep_claims();
                Ok::<usize, ApiError>(reconciled)
            })
            .await?;
        Ok(providers)
    }

    /// Waits for the provider's notification to settle the order; if it does not
    /// come in time, asks the provider, as a merchant's server would.
    async fn await_confirmation(
        &self,
        provider: &dyn PaymentProvider,
        order: &ProviderOrder,
        method: &Method,
    ) -> Result<Option<OrderRecord>, ApiError> {
        let clock = self.ledger.clock();
        let deadline = clock.now_ms().saturating_add(i64::try_from(self.settings.confirm_wait_ms).unwrap_or(i64::MAX));
        loop {
            // Listen before looking, so a settlement in between is not missed.
            let settled = self.settlement.settled().notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let current = self.ledger.get(&order.merchant_id, &order.out_trade_no).await.map_err(unavailable)?;
            if current.as_ref().is_some_and(|o| o.state.is_final()) {
                return Ok(current);
            }
            let remaining = deadline.saturating_sub(clock.now_ms());
            if remaining <= 0 {
                break;
            }
            // Woken when this host settles it; another host sharing the database
            // may settle it instead (the notification delivered there), so look
            // again now and then. The wait is on the host's clock.
            let remaining = clock.wall_time(Duration::from_millis(u64::try_from(remaining).unwrap_or(u64::MAX)));
            let _ = tokio::time::timeout(remaining.min(Duration::from_millis(100)), settled).await;
        }
        if let Ok(ProviderState::Paid { transaction_id, amount }) = provider.query(order).await {
            let confirmation = provider::Confirmation::paid(order, transaction_id, amount);
            match self.settlement.settle(method, &confirmation, "provider query").await {
                Ok(Settled::Paid(paid)) => return Ok(Some(*paid)),
                Ok(_) => {}
                Err(error) => return Err(ApiError::new(ErrorCode::Unavailable, error)),
            }
        }
        self.ledger.get(&order.merchant_id, &order.out_trade_no).await.map_err(unavailable)
    }

    async fn finish(
        &self,
        context: &CallContext,
        record: Option<OrderRecord>,
        (merchant_id, trade_no): (&str, &str),
    ) -> Result<PaymentResult, ApiError> {
        // A step that found the order moved (settled, or reconciled by another
        // host) answers with where it is now.
        let record = match record {
            Some(record) => record,
            None => self
                .ledger
                .get(merchant_id, trade_no)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| ApiError::internal(format!("order {trade_no} vanished from the ledger")))?,
        };
        let result = record.to_result();
        let amount = money::display(record.amount, &record.currency);
        let message = match &result.reason {
            Some(reason) => {
                format!("{} {amount} to merchant {}: {} ({})", trade_no, record.merchant_id, result.status, reason)
            }
            None => format!("{} {amount} to merchant {}: {}", trade_no, record.merchant_id, result.status),
        };
        context.session().output.notice(miniapp_abi::payment::CAPABILITY, message.clone());
        let outcome = if result.status == miniapp_abi::payment::Status::Paid {
            AuditOutcome::Confirmed
        } else {
            AuditOutcome::Declined
        };
        let record = crate::audit::DecisionRecord {
            program_id: context.program().key(),
            capability: miniapp_abi::payment::CAPABILITY,
            action: "request",
            outcome,
            reason: &message,
            target: Some(&record.merchant_id),
            surface: None,
        };
        self.audit.record_decision(&record).await.map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
        Ok(result)
    }

    /// The program's order `(merchant_id, out_trade_no)`, after checking the
    /// merchant is declared.
    async fn own_order(
        &self,
        context: &CallContext,
        merchant_id: &str,
        out_trade_no: &str,
    ) -> Result<OrderRecord, ApiError> {
        let grant = context.grant::<PaymentGrant>()?;
        if !grant.merchants.contains(merchant_id) {
            return Err(ApiError::capability_denied(format!("merchant {merchant_id} is not declared")));
        }
        match self.ledger.get(merchant_id, out_trade_no).await.map_err(unavailable)? {
            Some(order) if order.program_id == context.program().key() => Ok(order),
            _ => Err(ApiError::new(ErrorCode::NotFound, format!("no order {out_trade_no} for this program"))),
        }
    }

    async fn query(self: Arc<Self>, context: CallContext, request: QueryRequest) -> Result<OrderDetails, ApiError> {
        let order = self.own_order(&context, &request.merchant_id, &request.out_trade_no).await?;
        let mut refunds = self.ledger.refunds_of(&order.merchant_id, &order.out_trade_no).await.map_err(unavailable)?;
        // A refund processing longer than a confirmation should take is asked
        // about, as a merchant's server does when a notification is late.
        let late =
            self.ledger.clock().now_ms().saturating_sub(i64::try_from(self.settings.confirm_wait_ms).unwrap_or(0));
        let is_late = |r: &RefundRecord| r.state == RefundState::Processing && r.updated_ms < late;
        if refunds.iter().any(is_late) {
            self.started().await?;
            for refund in refunds.iter().filter(|r| is_late(r)) {
                self.ask_about_refund(refund).await?;
            }
            // Read again: the provider's answer, or a notification that settled it meanwhile.
            refunds = self.ledger.refunds_of(&order.merchant_id, &order.out_trade_no).await.map_err(unavailable)?;
        }
        let attempts = self.ledger.attempts(&order.merchant_id, &order.out_trade_no).await.map_err(unavailable)?;
        Ok(details(&order, &refunds, &attempts))
    }

    async fn close(self: Arc<Self>, context: CallContext, request: CloseRequest) -> Result<PaymentResult, ApiError> {
        let (merchant_id, trade_no) = (request.merchant_id.as_str(), request.out_trade_no.as_str());
        // An order that moves while it is being closed (a sheet answered, a
        // notification settled) is looked at again, from the state it moved to.
        for _ in 0..8 {
            let order = self.own_order(&context, merchant_id, trade_no).await?;
            if matches!(order.state, State::Paid | State::Closed) {
                return self.closed(&context, order).await;
            }
            // A provider that has (or had) this attempt closes it first, so it can
            // never take a payment for it afterwards.
            if let Some(method) = order.method.as_deref().and_then(Method::parse) {
                let providers = self.started().await?;
                let provider = providers.get(&method).cloned().ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unavailable,
                        format!("no payment provider of this host closes {method} orders"),
                    )
                })?;
                let provider_order = order.provider_order();
                match provider.close(&provider_order).await {
                    Ok(Ok(provider::Closed::Closed)) => {}
                    Ok(Ok(provider::Closed::AlreadyPaid { transaction_id, amount })) => {
                        // WeChat Pay's ORDERPAID: the payer was first. Settled as paid.
                        let confirmation = provider::Confirmation::paid(&provider_order, transaction_id, amount);
                        let cause = "the provider answered a close: already paid";
                        self.settlement.settle(&method, &confirmation, cause).await.map_err(unavailable)?;
                        continue;
                    }
                    Ok(Err(refused)) => {
                        return Err(ApiError::new(
                            refused.code,
                            format!("{method} will not close the order: {}", refused.message),
                        ));
                    }
                    Err(error) => {
                        return Err(unavailable(format!("{method} cannot be reached to close the order: {error}")));
                    }
                }
            }
            let key = (order.merchant_id.as_str(), order.out_trade_no.as_str());
            let cause = "closed by the merchant";
            let closed = self
                .ledger
                .transition(key, Some(order.attempt), &[order.state], State::Closed, cause, &Changes::default())
                .await
                .map_err(unavailable)?;
            if let Some(closed) = closed {
                return self.closed(&context, closed).await;
            }
        }
        Err(ApiError::new(ErrorCode::Unavailable, format!("order {trade_no} keeps changing; close it again")))
    }

    /// Answers a close with the order as it now stands, noticed and audited.
    async fn closed(&self, context: &CallContext, order: OrderRecord) -> Result<PaymentResult, ApiError> {
        let result = order.to_result();
        let message = match result.status {
            Status::Paid => format!("{} was paid before it could be closed: refund it instead", order.out_trade_no),
            _ => format!("{} to merchant {}: {}", order.out_trade_no, order.merchant_id, result.status),
        };
        self.notice_and_audit(context, "close", result.status == Status::Closed, &order.merchant_id, &message).await?;
        Ok(result)
    }

    async fn refund(self: Arc<Self>, context: CallContext, request: RefundRequest) -> Result<RefundResult, ApiError> {
        let grant = context.grant::<PaymentGrant>()?;
        if !grant.merchants.contains(&request.merchant_id) {
            return Err(ApiError::capability_denied(format!("merchant {} is not declared", request.merchant_id)));
        }
        let refund = order::validate_refund(&request)?;
        self.started().await?;
        let program = context.program().key().to_string();
        let record = match self.ledger.begin_refund(&refund, &program).await {
            Ok(BeginRefund::Existing(existing)) => existing,
            Ok(BeginRefund::Start(record)) => match self.submit_refund(record).await {
                Ok(record) => record,
                Err(error) => {
                    let message =
                        format!("refund {} of {}: {}", refund.out_refund_no, refund.out_trade_no, error.message);
                    self.notice_and_audit(&context, "refund", false, &refund.merchant_id, &message).await?;
                    return Err(error);
                }
            },
            Ok(BeginRefund::NoOrder) => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("no order {} for this program", refund.out_trade_no),
                ));
            }
            Ok(BeginRefund::NotPaid(order)) => {
                return Err(ApiError::invalid_argument(format!(
                    "out_trade_no: order {} is {}; only a paid order can be refunded",
                    order.out_trade_no,
                    order.state.as_str()
                )));
            }
            Ok(BeginRefund::OverRefund { paid, held, currency }) => {
                let show = |n| money::display(n, &currency);
                return Err(ApiError::invalid_argument(format!(
                    "amount: {} is more than the {} left to refund on order {} (paid {}, {} refunded or in progress)",
                    show(refund.amount),
                    show(paid - held),
                    refund.out_trade_no,
                    show(paid),
                    show(held)
                )));
            }
            Err(LedgerError::Conflict { field, .. }) => {
                return Err(ApiError::new(
                    ErrorCode::IdempotencyConflict,
                    format!("refund {} was already requested with a different {field}", refund.out_refund_no),
                ));
            }
            Err(error) => return Err(unavailable(error)),
        };
        let result =
            record.to_result().ok_or_else(|| ApiError::internal("a refused refund was answered as a refund"))?;
        let message = format!(
            "refund {} {} of order {}: {}",
            record.out_refund_no,
            money::display(record.amount, &record.currency),
            record.out_trade_no,
            result.status
        );
        let fine = matches!(result.status, RefundStatus::Processing | RefundStatus::Success);
        self.notice_and_audit(&context, "refund", fine, &record.merchant_id, &message).await?;
        Ok(result)
    }

    /// Shows `message` as a host notice and records it in the audit log.
    async fn notice_and_audit(
        &self,
        context: &CallContext,
        action: &str,
        confirmed: bool,
        merchant_id: &str,
        message: &str,
    ) -> Result<(), ApiError> {
        context.session().output.notice(miniapp_abi::payment::CAPABILITY, message.to_string());
        let record = crate::audit::DecisionRecord {
            program_id: context.program().key(),
            capability: miniapp_abi::payment::CAPABILITY,
            action,
            outcome: if confirmed { AuditOutcome::Confirmed } else { AuditOutcome::Declined },
            reason: message,
            target: Some(merchant_id),
            surface: None,
        };
        self.audit.record_decision(&record).await.map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))
    }
}

/// An order's whole state as `query` answers it.
fn details(order: &OrderRecord, refunds: &[RefundRecord], attempts: &[(u32, State)]) -> OrderDetails {
    let paid_amount = if order.state == State::Paid { order.amount } else { 0 };
    let sum = |keep: fn(RefundState) -> bool| refunds.iter().filter(|r| keep(r.state)).map(|r| r.amount).sum::<i64>();
    let refunded_amount = sum(|state| state == RefundState::Success);
    let held = sum(RefundState::holds_money);
    let attempts = attempts
        .iter()
        .map(|&(attempt, state)| AttemptSummary {
            attempt,
            status: state.status(),
            method: (attempt == order.attempt).then(|| order.method.as_deref().and_then(Method::parse)).flatten(),
        })
        .collect();
    OrderDetails {
        order: order.to_result(),
        paid_amount,
        refunded_amount,
        refundable_amount: paid_amount - held,
        attempts,
        refunds: refunds.iter().filter_map(RefundRecord::to_result).collect(),
    }
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("the payment ledger is unavailable: {error}"))
}

impl Capability for Payment {
    fn name(&self) -> &'static str {
        miniapp_abi::payment::CAPABILITY
    }

    fn held<'a>(&'a self, program_key: &'a str) -> crate::capability::HeldFuture<'a> {
        Box::pin(async move {
            let orders = self.ledger.orders_of(program_key).await?;
            Ok((orders > 0).then(|| crate::capability::HeldData {
                keeper: miniapp_abi::payment::CAPABILITY.to_string(),
                description: format!("{orders} orders in the ledger (payment records are never deleted)"),
                deletable: false,
            }))
        })
    }

    fn admit(&self, identity: &crate::capability::ProgramIdentity, grant: &Grant) -> Result<(), DeclarationError> {
        let Some(grant) = grant.downcast_ref::<PaymentGrant>() else {
            return Ok(());
        };
        for merchant_id in &grant.merchants {
            // An unknown merchant is refused at the request, naming it, as before.
            if let Some(merchant) = self.settings.merchants.get(merchant_id)
                && !merchant.serves(identity)
            {
                let signer = if identity.is_development() {
                    format!("this host's development key {}", identity.publisher())
                } else {
                    format!("publisher {}", identity.publisher())
                };
                return Err(DeclarationError::new(
                    "merchants",
                    format!(
                        "merchant `{merchant_id}` ({}) is not bound to {signer} in the host configuration: a program may charge only its own publisher's merchants ([payment.merchants.\"{merchant_id}\"] publishers)",
                        merchant.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: PaymentParams = DeclarationError::decode(params)?;
        if params.merchants.is_empty() {
            return Err(DeclarationError::new("merchants", "name at least one merchant id"));
        }
        let methods = params
            .methods
            .map(|names| {
                names
                    .iter()
                    .map(|name| {
                        Method::parse(name).filter(|m| self.plugins.contains_key(m)).ok_or_else(|| {
                            let known: Vec<&str> = self.plugins.keys().map(Method::as_str).collect();
                            let offered = match known.is_empty() {
                                true => "this host has no payment provider installed".to_string(),
                                false => format!("this host has: {}", known.join(", ")),
                            };
                            DeclarationError::new("methods", format!("unknown method `{name}` ({offered})"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        if params.max_amount.is_some_and(|cap| cap <= 0) {
            return Err(DeclarationError::new("max_amount", "must be a positive number of minor units"));
        }
        Ok(Arc::new(PaymentGrant {
            merchants: params.merchants.into_iter().collect(),
            methods,
            max_amount: params.max_amount,
        }))
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![
            HostFunction::method("request", &self, Payment::request),
            HostFunction::method("query", &self, Payment::query),
            HostFunction::method("close", &self, Payment::close),
            HostFunction::method("refund", &self, Payment::refund),
        ]
    }
}
