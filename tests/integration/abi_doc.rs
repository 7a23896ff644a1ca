//! docs/abi.md must be enough to write a guest: its complete WAT example is
//! extracted and run exactly as printed, and its byte-level example is checked.

use crate::common;

fn abi_doc() -> String {
    std::fs::read_to_string(common::repo().join("docs/abi.md")).expect("docs/abi.md exists")
}

fn example_guest(doc: &str) -> String {
    let after_marker = doc.split("<!-- example-guest -->").nth(1).expect("example marker");
    let block = after_marker.split("```wat").nth(1).expect("wat block");
    block.split("```").next().expect("block end").to_string()
}

#[tokio::test]
async fn the_documented_wat_guest_runs_as_documented() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("com.example.wat-hello", "[capabilities.storage]\n");
    let app =
        host.load_app_from_parts(manifest, example_guest(&abi_doc()).into_bytes()).await.expect("doc guest loads");
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.expect("doc guest launches");
    let stdout = session.take_output().stdout_text();
    assert_eq!(stdout, "{\"surface\":\"direct\",\"path\":\"\",\"query\":{}}\n{\"value\":\"hi\"}\n");
    let doc = abi_doc();
    for line in stdout.lines() {
        assert!(doc.contains(&format!("[com.example.wat-hello] {line}")), "docs show {line}");
    }
}

#[test]
fn the_byte_level_example_matches_the_encoding() {
    let request = serde_json::to_vec(&miniapp_abi::storage::KeyRequest { key: "launches".into() }).unwrap();
    assert_eq!(request.len(), 18);
    let hex: Vec<String> = request.iter().map(|b| format!("{b:02x}")).collect();
    assert!(abi_doc().contains(&format!("0x1000: {}", hex.join(" "))));
    let reply = serde_json::to_vec(&miniapp_abi::storage::GetReply { value: Some(3.into()) }).unwrap();
    assert_eq!(reply, b"{\"value\":3}");
    let error = miniapp_abi::ApiError::invalid_argument("key must be 1 to 256 bytes, is 0");
    assert!(abi_doc().contains(&String::from_utf8(serde_json::to_vec(&error).unwrap()).unwrap()));
}
