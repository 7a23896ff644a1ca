//! Load: 1,000 programs running at once on one host, each handling events, paying
//! (and retrying its payment, as a flaky network would) and opening a link. Then
//! the books are checked: one paid order per program, none paid twice, every
//! payment and link decision in the audit log, every program's memory within its
//! limit, and every program served (event latency p50/p99/max printed). All
//! 1,000 run their events at once on two threads, so an event's latency is mostly
//! its wait behind the others' work: the figures show fairness, not speed.

use crate::common::{self, probe_op, probe_tap};
use miniapp_host::capabilities::payment::PaymentSettings;
use miniapp_host::capabilities::payment::ledger::State;
use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_providers::SimulatorSettings;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

const PROGRAMS: usize = 1_000;
/// Storage events per program, around the payment and the link.
const STORAGE_EVENTS: usize = 4;

struct ProgramRun {
    latencies: Vec<(&'static str, Duration)>,
    memory_bytes: u64,
    memory_limit: u64,
}

async fn timed(
    session: &mut miniapp_host::Session,
    latencies: &mut Vec<(&'static str, Duration)>,
    op: &'static str,
    data: serde_json::Value,
) -> serde_json::Value {
    let started = Instant::now();
    // A payment sheet follows the user's tap; the other operations are plain events.
    let reply = if op == "pay" { probe_tap(session, op, data).await } else { probe_op(session, op, data).await };
    latencies.push((op, started.elapsed()));
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_programs_at_once_lose_and_double_nothing() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |config| {
        config.engine.max_live_programs = PROGRAMS as u32 + 8;
        SimulatorSettings::update(config, |s| s.notification_delay_scale = 0.0).unwrap();
        config.update_section("payment", |p: &mut PaymentSettings| p.confirm_wait_ms = 60_000).unwrap();
    });
    // Every program is instantiated before any of them does its work.
    let all_running = Arc::new(Barrier::new(PROGRAMS));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(PROGRAMS);
    for n in 0..PROGRAMS {
        let (host, all_running) = (host.clone(), all_running.clone());
        tasks.push(tokio::spawn(async move {
            let app = common::probe(&host, &format!("load.shop-{n:04}"), "").await;
            let user = ScriptedUser::new([Answer::Pick(1 + n % 2)]);
            let mut session = app.start_with_user(user).await.expect("a slot in the pool");
            session.launch(&common::direct()).await.unwrap();
            session.take_output();
            all_running.wait().await;

            let mut latencies = Vec::new();
            for round in 0..STORAGE_EVENTS / 2 {
                let reply =
                    timed(&mut session, &mut latencies, "set", json!({"key": "cart", "value": [n, round]})).await;
                assert!(reply.get("ok").is_some(), "{reply}");
            }
            let order = json!({"merchant_id": "1900000109", "out_trade_no": format!("LOAD-{n:04}"),
                               "amount": 100 + n as i64, "description": "Load test order"});
            let paid = timed(&mut session, &mut latencies, "pay", order.clone()).await;
            assert_eq!(paid["ok"]["status"], "paid", "{paid}");
            // The retry answers with the same payment and charges nothing.
            let retried = timed(&mut session, &mut latencies, "pay", order).await;
            assert_eq!(retried["ok"]["status"], "paid", "{retried}");
            assert_eq!(retried["ok"]["transaction_id"], paid["ok"]["transaction_id"]);
            let url = format!("https://taobao.com/item/{n}");
            let opened = timed(&mut session, &mut latencies, "open", json!({"kind": "web", "url": url})).await;
            assert_eq!(opened["ok"]["outcome"], "opened", "{opened}");
            for _ in 0..STORAGE_EVENTS / 2 {
                let reply = timed(&mut session, &mut latencies, "get", json!({"key": "cart"})).await;
                assert_eq!(reply["ok"][0], n, "{reply}");
            }
            ProgramRun { latencies, memory_bytes: session.memory_bytes(), memory_limit: app.limits().memory_bytes }
        }));
    }
    let mut latencies = Vec::new();
    let mut memory_total = 0;
    for task in tasks {
        let run = task.await.expect("every program finishes");
        assert!(run.memory_bytes <= run.memory_limit, "{} > {}", run.memory_bytes, run.memory_limit);
        memory_total += run.memory_bytes;
        latencies.extend(run.latencies);
    }
    let elapsed = started.elapsed();

    let ledger = host.payment_ledger();
    let orders = ledger.list().await.unwrap();
    assert_eq!(orders.len(), PROGRAMS, "one order per program, none lost, none doubled");
    for order in &orders {
        assert_eq!(order.state, State::Paid, "{order:?}");
        let n: i64 = order.out_trade_no.trim_start_matches("LOAD-").parse().unwrap();
        assert_eq!(order.amount, 100 + n);
        let program = host.development_identity(&format!("load.shop-{n:04}"));
        assert_eq!(order.program_id, program.key(), "keyed by the program's verified identity");
    }
    let transitions = ledger.paid_transitions().await.unwrap();
    assert_eq!(transitions.len(), PROGRAMS);
    assert!(transitions.iter().all(|(_, _, count)| *count == 1), "an order was paid twice");
    assert_eq!(ledger.integrity_check().await.unwrap(), "ok");

    let audit = host.audit();
    assert_eq!(audit.count("link", "open").await.unwrap(), PROGRAMS as u64, "every link decision audited");
    assert!(audit.count("payment", "request").await.unwrap() >= PROGRAMS as u64, "every payment decision audited");

    println!(
        "{PROGRAMS} programs at once, {} events in {elapsed:.1?}, guest memory {} MiB in all; event latency:",
        latencies.len(),
        memory_total >> 20
    );
    for op in ["set", "pay", "open", "get"] {
        let mut these: Vec<Duration> = latencies.iter().filter(|(o, _)| *o == op).map(|(_, d)| *d).collect();
        these.sort();
        let at = |q: f64| these[((these.len() - 1) as f64 * q) as usize];
        println!("  {op:<5} p50 {:>10.1?}  p99 {:>10.1?}  max {:>10.1?}", at(0.5), at(0.99), at(1.0));
    }
    // Figures only: how long an event waited depends on the machine and its load,
    // and budgets charge programs only for the time they run, so no bound is asserted.
}
