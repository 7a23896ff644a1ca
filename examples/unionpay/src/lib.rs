//! An embedder's payment provider, in its own crate: a simulated UnionPay-style
//! bank-card provider (云闪付). It registers the method `unionpay` with the host
//! through `HostBuilder::payment_provider`; the host then offers it on the payment
//! sheet beside any other installed provider, and its payments land in the
//! host's ledger with receipts, like every other method's. Nothing in the host
//! crate names it.
//!
//! Its protocol is its own: the merchant is notified with a JSON body signed with
//! HMAC-SHA256 under a key the provider and the merchant share (kept in the host's
//! key directory), in the `X-UnionPay-Signature` header, with the send time in
//! `X-UnionPay-Timestamp`; a notification older than five minutes, or whose
//! signature does not verify, is refused. The provider keeps its own records of
//! the payments it took in its own table of the host database, so a query after
//! a restart is answered.

use hmac::{Hmac, Mac};
use miniapp_abi::payment::Method;
use miniapp_host::capabilities::payment::provider::{
    BoxFuture, ClientOutcome, Closed, Confirmation, Notification, NotificationHandler, PaymentProvider,
    ProviderContext, ProviderOrder, ProviderPlugin, ProviderState, Verified,
};
use miniapp_host::store::{Database, params};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The method id it registers.
pub const METHOD: &str = "unionpay";

/// How old a notification may be, in seconds.
const MAX_NOTIFICATION_AGE_SECONDS: i64 = 300;

/// The provider's section of the host configuration, `[unionpay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnionPaySettings {
    /// Card numbers are never seen by the merchant; this is the masked card the
    /// simulated payer pays with, shown in the transaction's description.
    pub card: String,
    /// Whether the card is refused (to test a declined payment).
    pub decline: bool,
}

impl Default for UnionPaySettings {
    fn default() -> UnionPaySettings {
        UnionPaySettings { card: "6222 **** **** 0001".into(), decline: false }
    }
}

fn settings(section: &toml::Table) -> Result<UnionPaySettings, String> {
    toml::Value::Table(section.clone()).try_into().map_err(|e: toml::de::Error| e.message().trim().to_string())
}

/// The plug-in.
pub struct UnionPay;

impl ProviderPlugin for UnionPay {
    fn method(&self) -> Method {
        Method::parse(METHOD).unwrap_or_else(|| unreachable!("`unionpay` is a method id"))
    }

    fn display_name(&self) -> String {
        "UnionPay 云闪付".to_string()
    }

    fn check_section(&self, section: &toml::Table) -> Result<(), String> {
        settings(section).map(|_| ())
    }

    fn start(&self, context: ProviderContext) -> Result<Arc<dyn PaymentProvider>, String> {
        context
            .database
            .migrate(
                "example_unionpay",
                &[
                    "CREATE TABLE unionpay_payments (
                    merchant_id TEXT NOT NULL, order_id TEXT NOT NULL, attempt INTEGER NOT NULL,
                    query_id TEXT NOT NULL, amount INTEGER NOT NULL, PRIMARY KEY (merchant_id, order_id)
                ) WITHOUT ROWID;",
                    "CREATE TABLE unionpay_closed (
                    merchant_id TEXT NOT NULL, order_id TEXT NOT NULL, attempt INTEGER NOT NULL,
                    PRIMARY KEY (merchant_id, order_id, attempt)
                ) WITHOUT ROWID;",
                ],
            )
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(UnionPayProvider(Arc::new(Started {
            method: self.method(),
            settings: settings(&context.section)?,
            key: miniapp_host::store::secret::load_or_create(&context.database, &context.key_dir, "unionpay.key")?,
            database: context.database,
            notifications: context.notifications,
            clock: context.clock,
            next_query_id: AtomicU64::new(1),
        }))))
    }
}

/// The started provider.
pub struct UnionPayProvider(Arc<Started>);

/// What the started provider keeps.
pub struct Started {
    method: Method,
    settings: UnionPaySettings,
    key: [u8; 32],
    database: Database,
    notifications: Arc<dyn NotificationHandler>,
    /// The host's clock: a provider's time is the host's (scripts advance it).
    clock: miniapp_host::clock::Clock,
    next_query_id: AtomicU64,
}

impl Started {
    fn sign(&self, timestamp: i64, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{timestamp}\n{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn notification(&self, order: &ProviderOrder, query_id: &str) -> Notification {
        let body = serde_json::json!({
            "merId": order.merchant_id,
            "orderId": order.out_trade_no,
            "txnAmt": order.amount.to_string(),
            "queryId": query_id,
            "respCode": "00",
            "reqReserved": format!("attempt={}", order.attempt),
            "card": self.settings.card,
        })
        .to_string();
        let timestamp = self.clock.now_seconds();
        let headers = vec![
            ("X-UnionPay-Timestamp".to_string(), timestamp.to_string()),
            ("X-UnionPay-Signature".to_string(), self.sign(timestamp, &body)),
        ];
        Notification { headers, body }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifiedTrade {
    mer_id: String,
    order_id: String,
    txn_amt: String,
    query_id: String,
    resp_code: String,
    req_reserved: String,
}

impl PaymentProvider for UnionPayProvider {
    fn pay<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ClientOutcome, String>> {
        Box::pin(async move {
            if self.0.settings.decline {
                return Ok(ClientOutcome::Failed(miniapp_abi::payment::FailReason::InsufficientFunds));
            }
            let query_id = format!("UP{:012}", self.0.next_query_id.fetch_add(1, Ordering::SeqCst));
            let (row_order, row_query) = (order.clone(), query_id.clone());
            let taken = self
                .0
                .database
                .run(move |t| {
                    // Closed attempts are never paid: the check and the payment are one unit.
                    let closed = t.query_one(
                        "SELECT 1 FROM unionpay_closed WHERE merchant_id = $1 AND order_id = $2 AND attempt = $3",
                        params![row_order.merchant_id, row_order.out_trade_no, row_order.attempt],
                    )?;
                    if closed.is_some() {
                        return Ok(false);
                    }
                    t.execute(
                        "INSERT INTO unionpay_payments (merchant_id, order_id, attempt, query_id, amount)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT(merchant_id, order_id) DO UPDATE SET attempt = excluded.attempt,
                             query_id = excluded.query_id, amount = excluded.amount",
                        params![
                            row_order.merchant_id,
                            row_order.out_trade_no,
                            row_order.attempt,
                            row_query,
                            row_order.amount
                        ],
                    )?;
                    Ok(true)
                })
                .await
                .map_err(|e| e.to_string())?;
            if !taken {
                return Err("respCode 12: the merchant closed this order".into());
            }
            // The confirmation goes to the merchant's server in the background, as
            // a real provider's back-end notification does.
            let (started, order) = (self.0.clone(), order.clone());
            tokio::spawn(async move {
                for _ in 0..3 {
                    if started.notifications.handle(&started.method, started.notification(&order, &query_id)).await {
                        break;
                    }
                }
            });
            Ok(ClientOutcome::Paid)
        })
    }

    // Refunds keep the trait's default: this example takes none, and says so.

    fn close<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, Result<Result<Closed, miniapp_host::capabilities::payment::provider::CloseRefused>, String>>
    {
        Box::pin(async move {
            let order = order.clone();
            self.0
                .database
                .run(move |t| {
                    let paid = t.query_one(
                        "SELECT query_id, amount FROM unionpay_payments WHERE merchant_id = $1 AND order_id = $2 AND attempt = $3",
                        params![order.merchant_id, order.out_trade_no, order.attempt],
                    )?;
                    if let Some(row) = paid {
                        return Ok(Ok(Closed::AlreadyPaid { transaction_id: row.text(0)?, amount: row.integer(1)? }));
                    }
                    t.execute(
                        "INSERT INTO unionpay_closed (merchant_id, order_id, attempt) VALUES ($1, $2, $3)
                         ON CONFLICT (merchant_id, order_id, attempt) DO NOTHING",
                        params![order.merchant_id, order.out_trade_no, order.attempt],
                    )?;
                    Ok(Ok(Closed::Closed))
                })
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, Result<ProviderState, String>> {
        Box::pin(async move {
            let (merchant, trade_no) = (order.merchant_id.clone(), order.out_trade_no.clone());
            let found: Option<(u32, String, i64)> = self
                .0
                .database
                .run(move |t| {
                    let row = t.query_one(
                        "SELECT attempt, query_id, amount FROM unionpay_payments WHERE merchant_id = $1 AND order_id = $2",
                        params![merchant, trade_no],
                    )?;
                    row.map(|row| Ok((row.u32(0)?, row.text(1)?, row.integer(2)?))).transpose()
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(match found {
                Some((attempt, query_id, amount)) if attempt == order.attempt => {
                    ProviderState::Paid { transaction_id: query_id, amount }
                }
                Some(_) => ProviderState::NotPaid,
                None => ProviderState::NotFound,
            })
        })
    }

    fn verify(&self, notification: &Notification, now: i64) -> Result<Verified, String> {
        let timestamp: i64 = notification
            .header("X-UnionPay-Timestamp")
            .ok_or("missing X-UnionPay-Timestamp")?
            .parse()
            .map_err(|_| "X-UnionPay-Timestamp is not a number")?;
        let signature = notification.header("X-UnionPay-Signature").ok_or("missing X-UnionPay-Signature")?;
        let expected = self.0.sign(timestamp, &notification.body);
        // Compared in full; both are hex of the same length when genuine.
        if signature.len() != expected.len() || signature.bytes().zip(expected.bytes()).any(|(a, b)| a != b) {
            return Err("forged: the X-UnionPay-Signature does not verify with the shared key".into());
        }
        if (now - timestamp).abs() > MAX_NOTIFICATION_AGE_SECONDS {
            return Err(format!("stale: sent {}s ago", now - timestamp));
        }
        let trade: NotifiedTrade =
            serde_json::from_str(&notification.body).map_err(|e| format!("the body is not a trade: {e}"))?;
        Ok(Verified::Payment(Confirmation {
            merchant_id: trade.mer_id,
            out_trade_no: trade.order_id,
            attempt: trade.req_reserved.strip_prefix("attempt=").and_then(|n| n.parse().ok()),
            transaction_id: trade.query_id,
            paid: trade.resp_code == "00",
            amount: trade.txn_amt.parse().map_err(|_| "txnAmt is not a number of fen")?,
        }))
    }

    fn claimed_order(&self, notification: &Notification) -> Option<(String, String)> {
        let trade: NotifiedTrade = serde_json::from_str(&notification.body).ok()?;
        Some((trade.mer_id, trade.order_id))
    }
}
