//! Pay demo: every launch buys a tea set (¥29.90) as a new order; the host shows
//! the payment sheet and the user picks WeChat Pay or Alipay, or cancels.
//!
//! ```sh
//! miniapp run sample-programs/pay-demo --answer 2            # pay with Alipay
//! miniapp run sample-programs/pay-demo --payment-scenario insufficient_funds --answer 1
//! miniapp run sample-programs/pay-demo --answer no \
//!   --event '{"type":"tap","action":"pay-again"}' --answer 1   # cancel, then retry the same order
//! miniapp ledger list
//! ```

use miniapp_sdk::payment::{self, Order, PaymentResult, Status};
use miniapp_sdk::prelude::*;

const MERCHANT: &str = "1900000109";

#[derive(Default)]
struct PayDemo {
    order: Option<Order>,
}

fn report(result: &PaymentResult) {
    match result.status {
        Status::Paid => {
            println!(
                "paid {} by {} — transaction {} (attempt {})",
                result.out_trade_no,
                result.method.as_ref().map(|m| m.as_str()).unwrap_or("?"),
                result.transaction_id.as_deref().unwrap_or("?"),
                result.attempt
            );
            println!("receipt: {}", result.receipt.as_deref().unwrap_or(""));
        }
        Status::Failed => println!(
            "payment failed for {}: {}",
            result.out_trade_no,
            result.reason.map(|r| r.as_str()).unwrap_or("unknown")
        ),
        Status::Cancelled => println!("cancelled {}; tap pay-again to retry the same order", result.out_trade_no),
        Status::Pending => println!("{} is pending; the provider has not confirmed yet", result.out_trade_no),
        Status::Closed => println!("{} is closed; it can no longer be paid", result.out_trade_no),
    }
}

impl PayDemo {
    /// Buys another tea set as a new order.
    fn buy(&mut self) -> Result<()> {
        let number: u64 = storage::get("orders")?.unwrap_or(0) + 1;
        storage::set("orders", &number)?;
        let order = Order::cny(MERCHANT, &format!("PAYDEMO-{number:06}"), 2990, "Tea set, 2 pieces");
        println!("ordering {}: Tea set, 2 pieces, ¥29.90", order.out_trade_no);
        report(&payment::request(&order)?);
        self.order = Some(order);
        Ok(())
    }
}

impl MiniApp for PayDemo {
    fn on_launch(&mut self, _launch: LaunchContext) -> Result<()> {
        self.buy()
    }

    /// `buy` orders again; `pay-again` asks to pay the last order again (a retry
    /// after a cancel, or — once paid — the recorded result, charging nothing).
    fn on_event(&mut self, event: Event) -> Result<()> {
        let Event::Tap { action, .. } = event else { return Ok(()) };
        match (action.as_str(), &self.order) {
            ("buy", _) => self.buy(),
            ("pay-again", Some(order)) => {
                report(&payment::request(order)?);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

miniapp_sdk::export_app!(PayDemo);
