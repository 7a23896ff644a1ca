//! Many programs at once on one host.

use crate::common::{self, probe_op};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_programs_run_concurrently_and_stay_isolated() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let mut tasks = Vec::new();
    for n in 0..50 {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("test.concurrent-{n}");
            let mut session = common::probe(&host, &id, "").await.start().await.unwrap();
            session.launch(&common::direct()).await.unwrap();
            session.take_output();
            for round in 0..5 {
                probe_op(&mut session, "set", json!({"key": "mine", "value": [n, round]})).await;
                tokio::task::yield_now().await;
            }
            let keys = probe_op(&mut session, "keys", json!({})).await;
            assert_eq!(keys["ok"], json!(["mine"]));
            probe_op(&mut session, "get", json!({"key": "mine"})).await["ok"].clone()
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), json!([n, 4]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_program_does_not_starve_the_others() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.spinner", "[limits]\nlaunch_time_ms = 1500\n");
    let spinner = host.load_app_from_parts(manifest, common::hostile_module("infinite_loop")).await.unwrap();
    let app = common::probe(&host, "test.responsive", "").await;
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let spinner = spinner.clone();
            tokio::spawn(async move { spinner.start().await.unwrap().launch(&common::direct()).await })
        })
        .collect();
    // While four guests spin on two threads, a well-behaved one still gets through.
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    // Not a clock: the proof is that it finished while every spinner still spins
    // (each may run for 1.5 s of its own time, and they share two threads).
    assert!(spinners.iter().all(|spinner| !spinner.is_finished()), "the responsive program waited for the spinners");
    for spinner in spinners {
        assert!(spinner.await.unwrap().is_err());
    }
}

#[tokio::test]
async fn a_full_pool_is_the_hosts_capacity_not_the_programs_fault() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |config| config.engine.max_live_programs = 1);
    let app = common::probe(&host, "test.crowded", "").await;
    let first = app.start().await.unwrap();
    let refused = app.start().await.err().expect("the pool holds one program");
    assert_eq!(refused.code(), "host_capacity", "{refused}");
    assert!(refused.to_string().contains("engine.max_live_programs"), "{refused}");
    drop(first);
    app.start().await.expect("a freed slot is used again");
}
