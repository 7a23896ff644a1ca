//! Whole sessions of the sample programs, driven by scripts through the real
//! `miniapp` binary. They assert on the transcript (what the program asked, what
//! the host decided) and on the ledger, not on how the screen was drawn.

mod support;

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{miniapp, repo, text};

/// Runs `app` with `script` (a file's text), recording a transcript; returns the
/// output and the transcript.
fn scripted(data: &Path, app: &str, script: &str, extra: &[&str]) -> (Output, Value) {
    let script_path = data.join(format!("script-{}.txt", rand_suffix()));
    std::fs::write(&script_path, script).unwrap();
    let transcript_path = data.join(format!("transcript-{}.json", rand_suffix()));
    let mut args = vec!["run", app, "--script", script_path.to_str().unwrap()];
    args.extend(["--transcript", transcript_path.to_str().unwrap()]);
    args.extend(extra);
    let output = miniapp(data, &args);
    let transcript = std::fs::read_to_string(&transcript_path)
        .map(|t| serde_json::from_str(&t).expect("the transcript is JSON"))
        .unwrap_or(Value::Null);
    (output, transcript)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr));
}

/// The transcript's host calls to `capability.function`, in order.
fn calls<'a>(transcript: &'a Value, capability: &str, function: &str) -> Vec<&'a Value> {
    transcript["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "host_call" && e["capability"] == capability && e["function"] == function)
        .collect()
}

fn entries<'a>(transcript: &'a Value, kind: &str) -> Vec<&'a Value> {
    transcript["entries"].as_array().expect("entries").iter().filter(|e| e["kind"] == kind).collect()
}

fn ledger(data: &Path) -> Vec<Value> {
    let output = miniapp(data, &["ledger", "list", "--json"]);
    assert_success(&output);
    serde_json::from_slice::<Value>(&output.stdout).expect("ledger JSON").as_array().cloned().unwrap_or_default()
}

#[test]
fn the_storefront_demo_browses_buys_with_wechat_pay_shares_and_opens_the_live_room() {
    let data = tempfile::tempdir().unwrap();
    let script = std::fs::read_to_string(repo().join("sample-programs/taobao-deals/demo.script")).unwrap();
    let (output, transcript) = scripted(data.path(), "sample-programs/taobao-deals", &script, &[]);
    assert_success(&output);
    assert_eq!(transcript["program"], "com.taobao.deals");

    // Paid with WeChat Pay, with the coupon applied: ¥129.00 + ¥39.90 − 10% = ¥152.01.
    let payments = calls(&transcript, "payment", "request");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["request"]["amount"], 15201);
    assert_eq!(payments[0]["reply"]["status"], "paid");
    assert_eq!(payments[0]["reply"]["method"], "wechat_pay");
    let prompts = entries(&transcript, "prompt");
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0]["prompt"], "payment");
    assert!(prompts[0]["text"].as_str().unwrap().contains("¥152.01"));

    // After-sales: the pillow's share refunded, the second refund refused within
    // WeChat Pay's minute, then the rest once the script advanced the clock.
    let refunds: Vec<(Value, Value)> = calls(&transcript, "payment", "refund")
        .iter()
        .map(|c| (c["request"]["amount"].clone(), c["reply"]["status"].clone()))
        .collect();
    assert_eq!(refunds.len(), 3, "{refunds:?}");
    assert_eq!(refunds[0], (serde_json::json!(3591), serde_json::json!("processing")));
    assert_eq!(calls(&transcript, "payment", "refund")[1]["status"], "limit_exceeded");
    assert_eq!(refunds[2], (serde_json::json!(11610), serde_json::json!("processing")));

    // Shared to a chat; refused on Moments until the user turned links on there.
    let shares: Vec<(String, String)> = calls(&transcript, "link", "share")
        .iter()
        .map(|c| (c["request"]["surface"].as_str().unwrap().into(), c["reply"]["outcome"].as_str().unwrap().into()))
        .collect();
    let expected = [("chat", "opened"), ("moments", "denied"), ("moments", "opened")];
    assert_eq!(shares, expected.map(|(s, o)| (s.to_string(), o.to_string())));
    assert_eq!(calls(&transcript, "link", "share")[1]["reply"]["reason"], "surface_disabled");

    // The live room is a platform deep link, allowed when opened directly.
    let opens = calls(&transcript, "link", "open");
    assert_eq!(opens[0]["request"]["target"]["url"], "taobao://live/7");
    assert_eq!(opens[0]["reply"]["outcome"], "opened");

    // The result page was shown, and every view was accepted.
    let views = entries(&transcript, "view");
    assert!(
        views
            .iter()
            .any(|v| v["page"]["path"] == "pages/result" && v["view"]["body"].to_string().contains("支付成功 Paid"))
    );
    assert!(calls(&transcript, "view", "render").iter().all(|c| c["status"] == "ok"));
    assert!(entries(&transcript, "step_failed").is_empty());

    // The ledger agrees: one order, paid once, by WeChat Pay.
    let orders = ledger(data.path());
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["state"], "paid");
    assert_eq!(orders[0]["method"], "wechat_pay");
    assert_eq!(orders[0]["amount"], 15201);
    let check = miniapp(data.path(), &["ledger", "check"]);
    assert_success(&check);
    let shown = miniapp(data.path(), &["ledger", "show", "TD00000001", "--json"]);
    assert_success(&shown);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let settled: Vec<(&str, i64)> = shown["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["refund"]["state"].as_str().unwrap(), r["refund"]["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(settled, [("success", 3591), ("success", 11610)], "refunded exactly what was paid, in fen");
    let refund_receipt = shown["refunds"][0]["refund"]["receipt"].as_str().unwrap();
    let verified = miniapp(data.path(), &["ledger", "verify", refund_receipt]);
    assert_success(&verified);
    assert!(text(&verified.stdout).contains("valid: refund TD00000001-4003 of TD00000001 returned ¥35.91"));
}

#[test]
fn a_cancelled_payment_can_be_paid_again_with_alipay_and_the_cart_survives_runs() {
    let data = tempfile::tempdir().unwrap();
    let app = "sample-programs/taobao-deals";
    let fill_cart = r#"
        tap item.open {"id": 4004}
        tap cart.add
        tap buy.now
        expect page pages/cart
        expect "× 2"
    "#;
    let (output, _) = scripted(data.path(), app, fill_cart, &[]);
    assert_success(&output);

    // A new run: the cart was kept in storage.
    let checkout = r#"
        expect "购物车 Cart (2)"
        tap c
        expect "男士纯棉袜子"
        pay cancel
        tap checkout
        expect "支付已取消"
        pay alipay
        tap pay.retry
        expect "支付成功 Paid"
        expect "支付宝 Alipay"
    "#;
    let (output, transcript) = scripted(data.path(), app, checkout, &[]);
    assert_success(&output);
    let payments = calls(&transcript, "payment", "request");
    let outcomes: Vec<(&Value, &Value)> =
        payments.iter().map(|p| (&p["reply"]["status"], &p["reply"]["attempt"])).collect();
    assert_eq!(outcomes, [(&Value::from("cancelled"), &Value::from(1)), (&Value::from("paid"), &Value::from(2))]);
    assert_eq!(payments[0]["request"]["out_trade_no"], payments[1]["request"]["out_trade_no"]);

    let orders = ledger(data.path());
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["state"], "paid");
    assert_eq!(orders[0]["method"], "alipay");
    assert_eq!(orders[0]["attempt"], 2);
    assert_eq!(orders[0]["amount"], 2 * 1990);
}

#[test]
fn the_channels_ad_shows_the_surface_rules_at_work() {
    let data = tempfile::tempdir().unwrap();
    let app = "sample-programs/channels-ad";
    let script = std::fs::read_to_string(repo().join("sample-programs/channels-ad/demo.script")).unwrap();
    let (output, transcript) = scripted(data.path(), app, &script, &["--surface", "channels_ad"]);
    assert_success(&output);
    let outcomes: Vec<&str> =
        calls(&transcript, "link", "open").iter().map(|c| c["reply"]["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["opened", "opened", "confirmed", "declined", "confirmed"]);
    let asked: Vec<&str> = entries(&transcript, "prompt").iter().map(|p| p["prompt"].as_str().unwrap()).collect();
    assert_eq!(asked, ["open_link", "open_link", "open_link"]);

    // The same ad in Moments: nothing opens until the user turns links on there.
    let (output, transcript) = scripted(data.path(), app, "tap shop\ntap live\n", &["--surface", "moments"]);
    assert_success(&output);
    for call in calls(&transcript, "link", "open") {
        assert_eq!(call["reply"]["outcome"], "denied");
        assert_eq!(call["reply"]["reason"], "surface_disabled");
    }
}

#[test]
fn the_hostile_program_is_refused_every_time_and_the_host_stays_up() {
    let data = tempfile::tempdir().unwrap();
    let script = std::fs::read_to_string(repo().join("sample-programs/hostile/demo.script")).unwrap();
    let (output, transcript) = scripted(data.path(), "sample-programs/hostile", &script, &[]);
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("The host is still running."), "{stdout}");

    let payments: Vec<&Value> = calls(&transcript, "payment", "request").into_iter().map(|c| &c["status"]).collect();
    assert_eq!(payments, ["capability_denied", "invalid_argument", "invalid_argument"]);
    let links: Vec<&Value> = calls(&transcript, "link", "open").into_iter().map(|c| &c["reply"]["reason"]).collect();
    assert_eq!(links, ["scheme_not_allowed", "userinfo"]);
    let refused_view = calls(&transcript, "view", "render").into_iter().find(|c| c["status"] != "ok").unwrap();
    assert!(refused_view["reply"]["message"].as_str().unwrap().contains("control character U+001B"));
    let writes = calls(&transcript, "storage", "set");
    assert_eq!(writes.last().unwrap()["status"], "quota_exceeded");
    let ended = entries(&transcript, "ended");
    assert_eq!(ended.len(), 1);
    assert!(ended[0]["reason"].as_str().unwrap().contains("limits.callback_time_ms"));

    // Nothing was charged.
    assert!(ledger(data.path()).is_empty());
}

#[test]
fn script_mistakes_are_reported_with_their_line() {
    let data = tempfile::tempdir().unwrap();
    let app = "sample-programs/taobao-deals";
    let (output, transcript) = scripted(data.path(), app, "expect \"今日特价\"\ntap checkout\n", &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("error: script line 2: no button `checkout` on this page; buttons: [1] 购物车"),
        "{stderr}"
    );
    assert_eq!(entries(&transcript, "step_failed")[0]["line"], 2);

    let (output, _) = scripted(data.path(), app, "tap\n", &[]);
    assert!(text(&output.stderr).contains("script line 1: usage: tap"), "{}", text(&output.stderr));

    // An answer the session never asked for is a mistake in the script.
    let (output, _) = scripted(data.path(), app, "pay alipay\n", &[]);
    assert!(text(&output.stderr).contains("script line 1: 1 scripted answer(s) were never asked for"));
}

#[test]
fn a_person_at_the_terminal_taps_by_number_and_key() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_miniapp"))
        .args(["run", "sample-programs/taobao-deals", "--data-dir"])
        .arg(data.path())
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Open the first deal, add it with its key, open the cart, go back twice, quit.
    child.stdin.take().unwrap().write_all(b"3\na\nc\nback\n<\nno-such-button\nquit\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("pages/item 2/10"), "{stdout}");
    assert!(stdout.contains("已加入购物车"), "{stdout}");
    assert!(stdout.contains("pages/cart 3/10"), "{stdout}");
    assert!(stdout.contains("[host] no button `no-such-button` on this page"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when NO_COLOR is set and stdout is not a terminal");
}
