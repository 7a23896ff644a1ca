//! `miniapp ledger`: the payment ledger — orders, their transitions and
//! notifications — and checking a receipt.

use super::{open_host, open_records};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use miniapp_host::HostConfig;
use miniapp_host::capabilities::payment::ledger::State;
use miniapp_host::capabilities::payment::ledger::refunds::RefundState;
use miniapp_host::capabilities::payment::money;
use miniapp_host::capabilities::payment::receipt::Receipt;
use miniapp_host::sanitize;
use serde_json::json;
use std::process::ExitCode;

/// Arguments of `miniapp ledger`.
#[derive(Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    what: LedgerCommand,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Every order, newest first.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One order with its transitions and notifications.
    Show {
        /// The order number (`out_trade_no`).
        order: String,
        /// The merchant, when several have an order with that number.
        #[arg(long)]
        merchant: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the ledger: the database's integrity, no order paid twice, every paid
    /// order with a receipt that verifies, no order left unfinished, refunds of
    /// no order above what was paid, each settled once with a receipt.
    Check {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a receipt's signature (a payment's or a refund's) against this host's
    /// key and the ledger.
    Verify {
        /// The receipt, as a payment result carries it.
        receipt: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key receipts are signed with (Ed25519), so a merchant can
    /// verify receipts without this host.
    Key {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn ledger(config: HostConfig, args: LedgerArgs) -> anyhow::Result<ExitCode> {
    if let LedgerCommand::Check { json } = args.what {
        return check(config, json).await;
    }
    // Reading commands read only: they create nothing and settle nothing (`check`
    // settles what a previous run left with a provider first).
    let records = open_records(&config)?;
    let Some(ledger) = records.ledger() else {
        return match args.what {
            LedgerCommand::List { json: true } => {
                println!("[]");
                Ok(ExitCode::SUCCESS)
            }
            LedgerCommand::List { json: false } => {
                println!("no orders");
                Ok(ExitCode::SUCCESS)
            }
            _ => bail!("this host has no payment records in {}", config.data_dir.display()),
        };
    };
    let receipts = || {
        records.receipts().with_context(|| {
            format!("this host has signed no receipts (no receipt key in {})", config.data_dir.display())
        })
    };
    match args.what {
        LedgerCommand::List { json } => {
            let orders = ledger.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&orders)?);
            } else if orders.is_empty() {
                println!("no orders");
            } else {
                for o in orders {
                    println!(
                        "{:<32} {:<12} {:>12} {:<10} attempt {} {:<10} {}",
                        o.out_trade_no,
                        o.merchant_id,
                        money::display(o.amount, &o.currency),
                        o.state.as_str(),
                        o.attempt,
                        o.method.as_deref().unwrap_or("-"),
                        o.program_id
                    );
                }
            }
        }
        LedgerCommand::Show { order, merchant, json } => {
            let matches: Vec<_> = ledger
                .list()
                .await?
                .into_iter()
                .filter(|o| o.out_trade_no == order && merchant.as_ref().is_none_or(|m| *m == o.merchant_id))
                .collect();
            let record = match matches.as_slice() {
                [] => bail!("no order {order} in the ledger"),
                [one] => one.clone(),
                _ => bail!("several merchants have an order {order}; name one with --merchant"),
            };
            let events = ledger.events(&record.merchant_id, &record.out_trade_no).await?;
            let notifications = ledger.notifications(&record.merchant_id, &record.out_trade_no).await?;
            let mut refunds = Vec::new();
            for refund in ledger.refunds_of(&record.merchant_id, &record.out_trade_no).await? {
                let events = ledger.refund_events(&refund.merchant_id, &refund.out_refund_no).await?;
                refunds.push((refund, events));
            }
            if json {
                let notifications: Vec<_> =
                    notifications.iter().map(|(p, o, d)| json!({"provider": p, "outcome": o, "detail": d})).collect();
                let refunds: Vec<_> =
                    refunds.iter().map(|(refund, events)| json!({"refund": refund, "events": events})).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"order": record, "events": events, "notifications": notifications, "refunds": refunds})
                    )?
                );
            } else {
                println!(
                    "{} to merchant {}: {} — {}, attempt {}",
                    record.out_trade_no,
                    record.merchant_id,
                    money::display(record.amount, &record.currency),
                    record.state,
                    record.attempt
                );
                println!("  {} (program {})", sanitize::line(&record.description), record.program_id);
                if let Some(transaction) = &record.transaction_id {
                    println!("  transaction {transaction} by {}", record.method.as_deref().unwrap_or("?"));
                }
                if let Some(receipt) = &record.receipt {
                    println!("  receipt {receipt}");
                }
                for e in events {
                    println!("  attempt {} {} → {}: {}", e.attempt, e.from_state, e.to_state, sanitize::line(&e.cause));
                }
                for (provider, outcome, detail) in notifications {
                    println!("  notification from {provider}: {outcome} ({})", sanitize::line(&detail));
                }
                for (refund, events) in refunds {
                    println!(
                        "  refund {} {} — {}{}",
                        sanitize::line(&refund.out_refund_no),
                        money::display(refund.amount, &refund.currency),
                        refund.state,
                        refund.refund_id.as_deref().map(|id| format!(", refund id {id}")).unwrap_or_default()
                    );
                    if let Some(detail) = &refund.detail {
                        println!("    {}", sanitize::line(detail));
                    }
                    if let Some(receipt) = &refund.receipt {
                        println!("    receipt {receipt}");
                    }
                    for e in events {
                        println!("    {} → {}: {}", e.from_state, e.to_state, sanitize::line(&e.cause));
                    }
                }
            }
        }
        LedgerCommand::Check { .. } => unreachable!("handled above"),
        LedgerCommand::Key { json } => {
            let key = receipts()?.public_key_hex();
            if json {
                println!("{}", serde_json::to_string_pretty(&json!({"algorithm": "ed25519", "public_key_hex": key}))?);
            } else {
                println!("{key}");
                eprintln!(
                    "receipts are base64url(JSON) \".\" base64url(Ed25519 signature over the JSON bytes); this is the public key, hex"
                );
            }
        }
        LedgerCommand::Verify { receipt, json } => {
            let verified =
                receipts()?.verify_any(&receipt).map_err(anyhow::Error::msg).context("the receipt is not valid")?;
            let payload = match verified {
                Receipt::Payment(payload) => payload,
                Receipt::Refund(payload) => {
                    let record =
                        ledger.refund(&payload.merchant_id, &payload.out_refund_no).await?.with_context(|| {
                            format!("the receipt is signed, but the ledger has no refund {}", payload.out_refund_no)
                        })?;
                    let agrees = record.state == RefundState::Success
                        && record.out_trade_no == payload.out_trade_no
                        && record.amount == payload.amount
                        && record.currency == payload.currency;
                    if !agrees {
                        bail!(
                            "the receipt is signed, but the ledger records refund {} differently",
                            payload.out_refund_no
                        );
                    }
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&json!({"valid": true, "refund_receipt": payload}))?
                        );
                    } else {
                        println!(
                            "valid: refund {} of {} returned {} by {} (refund {})",
                            payload.out_refund_no,
                            payload.out_trade_no,
                            money::display(payload.amount, &payload.currency),
                            payload.method,
                            payload.refund_id
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let record = ledger.get(&payload.merchant_id, &payload.out_trade_no).await?.with_context(|| {
                format!("the receipt is signed, but the ledger has no order {}", payload.out_trade_no)
            })?;
            let agrees = record.transaction_id.as_deref() == Some(payload.transaction_id.as_str())
                && record.amount == payload.amount
                && record.currency == payload.currency;
            if !agrees {
                bail!("the receipt is signed, but the ledger records order {} differently", payload.out_trade_no);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&json!({"valid": true, "receipt": payload}))?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "valid: {} paid {} to merchant {} by {} (transaction {})",
                payload.out_trade_no,
                money::display(payload.amount, &payload.currency),
                payload.merchant_id,
                payload.method,
                payload.transaction_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ledger check`: settles what a previous run left with a provider, then checks.
async fn check(config: HostConfig, json: bool) -> anyhow::Result<ExitCode> {
    let host = open_host(config)?;
    let reconciled = host.reconcile_payments().await.map_err(anyhow::Error::msg)?;
    if reconciled > 0 {
        eprintln!("reconciled {reconciled} payment(s) a previous run left with a provider");
    }
    let ledger = host.payment_ledger();
    let integrity = ledger.integrity_check().await?;
    let orders = ledger.list().await?;
    let receipts = host.payment_receipts();
    let mut problems = Vec::new();
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    for (merchant, order, count) in ledger.paid_transitions().await? {
        if count > 1 {
            problems.push(format!("{order} of merchant {merchant} was paid {count} times"));
        }
    }
    // Σ refunds ≤ paid, refunds only of paid orders, each settled once, each
    // success with a refund receipt that verifies.
    for total in ledger.refund_totals().await? {
        if total.held > total.paid {
            problems.push(format!(
                "{} of merchant {}: refunds of {} exceed the {} paid",
                total.out_trade_no, total.merchant_id, total.held, total.paid
            ));
        }
        if total.state != State::Paid && total.held > 0 {
            problems.push(format!("{} is refunded but {}", total.out_trade_no, total.state));
        }
        for refund in ledger.refunds_of(&total.merchant_id, &total.out_trade_no).await? {
            if refund.state == RefundState::Success {
                let verified = refund.receipt.as_deref().map(|r| receipts.verify_any(r));
                match verified {
                    Some(Ok(Receipt::Refund(payload)))
                        if payload.amount == refund.amount && payload.out_refund_no == refund.out_refund_no => {}
                    _ => problems.push(format!("refund {} succeeded without a matching receipt", refund.out_refund_no)),
                }
            }
        }
    }
    for (merchant, refund, count) in ledger.refund_settlements().await? {
        if count > 1 {
            problems.push(format!("refund {refund} of merchant {merchant} was settled {count} times"));
        }
    }
    for order in &orders {
        if !order.state.is_final() {
            problems.push(format!("{} is unfinished ({})", order.out_trade_no, order.state));
        }
        if order.state == State::Paid {
            let verified = order.receipt.as_deref().map(|r| receipts.verify(r));
            match verified {
                Some(Ok(payload))
                    if payload.amount == order.amount
                        && Some(&payload.transaction_id) == order.transaction_id.as_ref() => {}
                _ => problems.push(format!("{} is paid without a matching receipt", order.out_trade_no)),
            }
        }
    }
    let paid = orders.iter().filter(|o| o.receipt.is_some() && o.state.is_final()).count();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"integrity": integrity, "orders": orders.len(), "paid": paid, "problems": problems})
            )?
        );
    } else {
        println!("integrity {integrity}; {} orders, {paid} paid", orders.len());
        for problem in &problems {
            println!("problem: {problem}");
        }
    }
    if !problems.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
