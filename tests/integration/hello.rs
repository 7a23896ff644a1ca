//! The hello sample through the library.

use crate::common;
use miniapp_host::{LaunchContext, Surface};

#[tokio::test]
async fn hello_greets_and_counts_launches_across_hosts() {
    let data = tempfile::tempdir().unwrap();
    let dir = common::repo().join("sample-programs/hello");
    {
        let host = common::host(&data);
        let app = host.load_app(&dir).await.expect("hello loads");
        assert_eq!(app.program().id, "com.example.hello");
        let mut session = app.start().await.unwrap();
        session.launch(&LaunchContext::new(Surface::Chat)).await.unwrap();
        let output = session.take_output().stdout_text();
        assert!(output.contains("Opened from chat — launched the first time."), "{output}");
    }
    // A new host on the same data directory sees the stored count.
    let host = common::host(&data);
    let app = host.load_app(&dir).await.unwrap();
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    let output = session.take_output().stdout_text();
    assert!(output.contains("launched 2 times"), "{output}");
}

#[tokio::test]
async fn load_decisions_are_audited() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    host.load_app(common::repo().join("sample-programs/hello")).await.unwrap();
    let decisions = host.audit().recent(Some("com.example.hello"), 10).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].capability, "storage");
    assert_eq!(decisions[0].outcome.as_str(), "allowed");
}
