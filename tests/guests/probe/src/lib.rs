//! Test guest. On launch it prints `launched <surface>`; each `custom` event (or
//! `tap`, as a user gesture) names an operation (`set`, `get`, `remove`, `keys`,
//! `clear`, `info`, `fill`, `open`, `share`, `pay`, `sleep`, `spin`, `panic`, …) with its arguments in `data`, and the guest prints one JSON line:
//! `{"op": ..., "ok": <result>}` or `{"op": ..., "error": {"code", "message"}}`.

use miniapp_sdk::prelude::*;
use serde_json::{Value, json};

#[derive(Default)]
struct Probe;

fn text(data: &Value, field: &str) -> String {
    data.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl MiniApp for Probe {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        println!("launched {}", launch.surface);
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        // A tap carries the same operations as a custom event, as a user gesture.
        let (name, data) = match event {
            Event::Custom { name, data } => (name, data),
            Event::Tap { action, payload } => (action, payload),
            _ => return Ok(()),
        };
        let result: Result<Value> = match name.as_str() {
            "set" => storage::set(&text(&data, "key"), &data["value"]).map(|()| Value::Null),
            "get" => storage::get::<Value>(&text(&data, "key")).map(|v| json!(v)),
            "remove" => storage::remove(&text(&data, "key")).map(|r| json!(r)),
            "keys" => storage::keys().map(|k| json!(k)),
            "clear" => storage::clear().map(|()| Value::Null),
            "info" => storage::info().map(|i| json!({"used": i.used_bytes, "quota": i.quota_bytes, "keys": i.key_count})),
            "fill" => {
                // Writes `count` entries of `size` bytes until one fails.
                let size = data["size"].as_u64().unwrap_or(1024) as usize;
                let count = data["count"].as_u64().unwrap_or(1);
                let value = "x".repeat(size);
                (0..count)
                    .try_for_each(|i| storage::set(&format!("fill-{i}"), &value))
                    .map(|()| json!(count))
            }
            "open" => serde_json::from_value::<link::Target>(data)
                .map_err(|e| Error::new(ErrorCode::InvalidArgument, e.to_string()))
                .and_then(link::open)
                .map(|reply| json!(reply)),
            "share" => serde_json::from_value::<link::Card>(data["card"].clone())
                .map_err(|e| Error::new(ErrorCode::InvalidArgument, e.to_string()))
                .and_then(|card| {
                    let surface = Surface::parse(data["surface"].as_str().unwrap_or_default())
                        .ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "surface"))?;
                    link::share(card, surface)
                })
                .map(|reply| json!(reply)),
            "user_id" => identity::user_id().map(|id| json!(id)),
            "union_id" => identity::union_id().map(|id| json!(id)),
            "authorize" => identity::Scope::parse(data["scope"].as_str().unwrap_or_default())
                .ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "scope"))
                .and_then(identity::authorize)
                .map(|granted| json!(granted)),
            "profile" => identity::profile().map(|p| json!(p)),
            "phone" => identity::phone().map(|p| json!(p)),
            "address" => identity::address().map(|a| json!(a)),
            "pay" => serde_json::from_value::<Value>(data)
                .map_err(|e| Error::new(ErrorCode::InvalidArgument, e.to_string()))
                .and_then(|d| {
                    let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
                    let order = payment::Order {
                        merchant_id: text("merchant_id"),
                        out_trade_no: text("out_trade_no"),
                        amount: d["amount"].as_i64().unwrap_or_default(),
                        currency: d.get("currency").and_then(Value::as_str).unwrap_or("CNY").to_string(),
                        description: text("description"),
                        methods: None,
                    };
                    payment::request(&order)
                })
                .map(|r| json!(r)),
            "pay_query" => payment::query(&text(&data, "merchant_id"), &text(&data, "out_trade_no")).map(|r| json!(r)),
            "pay_close" => payment::close(&text(&data, "merchant_id"), &text(&data, "out_trade_no")).map(|r| json!(r)),
            "pay_refund" => {
                let mut refund = payment::Refund::new(
                    &text(&data, "merchant_id"),
                    &text(&data, "out_trade_no"),
                    &text(&data, "out_refund_no"),
                    data["amount"].as_i64().unwrap_or_default(),
                );
                refund.reason = data["reason"].as_str().map(str::to_string);
                payment::refund(&refund).map(|r| json!(r))
            }
            "sleep" => {
                // WASI `poll_oneoff` with a clock subscription, through std.
                std::thread::sleep(std::time::Duration::from_millis(data["ms"].as_u64().unwrap_or(0)));
                Ok(Value::Null)
            }
            "spin" => {
                // `iterations` rounds of arithmetic: work that runs over several
                // interruption ticks without a host call.
                let mut state = 0x9e37_79b9_7f4a_7c15u64;
                for _ in 0..data["iterations"].as_u64().unwrap_or(0) {
                    state = std::hint::black_box(state.rotate_left(5) ^ state.wrapping_mul(0x2545_f491_4f6c_dd1d));
                }
                Ok(json!(state))
            }
            "panic" => panic!("the probe was asked to panic"),
            other => Err(Error::new(ErrorCode::InvalidArgument, format!("unknown op {other}"))),
        };
        let line = match result {
            Ok(value) => json!({"op": name, "ok": value}),
            Err(error) => json!({"op": name, "error": {"code": error.code, "message": error.message}}),
        };
        println!("{line}");
        Ok(())
    }
}

miniapp_sdk::export_app!(Probe);
