//! The web DevTools in a real browser: `miniapp dev` (the real binary) and
//! Debian's headless Chromium driven through its ChromeDriver (WebDriver). The
//! storefront is used as a developer would — browse, add to cart, share, check
//! out on the host's payment sheet — and the panels agree with the CLI; a hostile
//! program's markup and escape sequences appear as text.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Without them
//! the tests say they were skipped, except under `CI`, where they fail.
//! `MINIAPP_SCREENSHOTS=1` also writes the screenshots the tests take into `docs/`.

#[path = "support/served.rs"]
mod served;
mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use served::Served;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{miniapp, repo, text};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a step may wait for the page before the test gives up: a guard
/// against a hang, far beyond any machine's need, never a measure of speed.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// A ChromeDriver process and a headless Chromium session; both end when dropped.
struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts ChromeDriver and a browser, or `None` (skipped) where they are not installed.
async fn browser() -> Option<Browser> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver)"
        );
        eprintln!("skipped: install Debian's chromium and chromium-driver to run the browser tests");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    // Ready when it accepts connections.
    let mut ready = false;
    for _ in 0..1200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "chromedriver never listened on port {port}");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            // As root Chromium needs --no-sandbox.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900", "--lang=zh-CN"],
        }),
    );
    // It may accept connections a moment before it takes sessions.
    let mut last = None;
    for _ in 0..100 {
        let connected = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match connected {
            Ok(client) => return Some(Browser { client, driver }),
            Err(error) => last = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no browser session: {last:?}");
}

impl Browser {
    async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client.wait().at_most(HANG_GUARD).for_element(Locator::Css(selector)).await.unwrap_or_else(|e| {
            panic!("no `{selector}` on the page: {e}");
        })
    }

    /// Clicks the program's button whose label contains `label`.
    async fn tap(&self, label: &str) {
        self.click(Locator::XPath(&format!("//div[@id='view']//button[contains(., '{label}')]"))).await;
    }

    /// Clicks what `locator` finds, finding it again if the page redrew it
    /// between finding and clicking.
    async fn click(&self, locator: Locator<'_>) {
        let mut last = None;
        for _ in 0..(HANG_GUARD.as_millis() / 100) {
            match self.client.find(locator).await {
                Ok(element) => match element.click().await {
                    Ok(()) => return,
                    Err(error) => last = Some(error),
                },
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot click {locator:?}: {last:?}");
    }

    /// Waits until the text of `selector` contains `wanted`; returns that text.
    async fn text_of(&self, selector: &str, wanted: &str) -> String {
        let mut last = String::new();
        for _ in 0..(HANG_GUARD.as_millis() / 100) {
            if let Ok(element) = self.client.find(Locator::Css(selector)).await {
                last = element.text().await.unwrap_or_default();
                if last.contains(wanted) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{selector}` never showed `{wanted}`; it shows: {last}");
    }

    /// The attribute `name` of what `selector` finds, finding it again if the
    /// page redrew it meanwhile.
    async fn attr(&self, selector: &str, name: &str) -> String {
        let mut last = None;
        for _ in 0..(HANG_GUARD.as_millis() / 100) {
            match self.client.find(Locator::Css(selector)).await {
                Ok(element) => match element.attr(name).await {
                    Ok(Some(value)) => return value,
                    Ok(None) => panic!("`{selector}` has no `{name}`"),
                    Err(error) => last = Some(error),
                },
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot read `{name}` of `{selector}`: {last:?}");
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
        let dir = match std::env::var_os("MINIAPP_SCREENSHOTS") {
            Some(_) => repo().join("docs"),
            None => std::env::temp_dir(),
        };
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storefront_in_the_devtools_buys_shares_and_agrees_with_the_ledger() {
    let Some(browser) = browser().await else { return };
    let data = tempfile::tempdir().unwrap();
    let server = Served::start(data.path(), &["dev", "sample-programs/taobao-deals", "--no-watch"]);
    browser.client.goto(&server.url).await.unwrap();

    browser.text_of("#view", "今日特价").await;
    assert_eq!(browser.css("#title").await.text().await.unwrap(), "淘宝特价 Taobao Deals");
    // Prices are exact: integer fen drawn as yuan.
    browser.text_of("#view", "¥129.00").await;
    browser.screenshot("devtools-storefront.png").await;

    browser.tap("景德镇手绘青花瓷茶具套装").await;
    browser.text_of("#stack", "pages/item").await;
    browser.tap("加入购物车").await;
    browser.text_of("#view", "已加入购物车").await;

    // Moments is off until the user turns it on in the Link switches panel.
    browser.tap("Share to Moments").await;
    browser.text_of("#view", "Share to moments: denied").await;
    browser.click(Locator::Css("#tabs button[data-tab='links']")).await;
    browser.click(Locator::Css("#switch-moments")).await;
    for _ in 0..(HANG_GUARD.as_millis() / 100) {
        let (_, settings) = server.api().get("/api/settings").await;
        let moments = settings["links"].as_array().unwrap().iter().find(|l| l["surface"] == "moments").cloned();
        if moments.is_some_and(|m| m["switch"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.tap("Share to Moments").await;
    browser.text_of("#view", "Share to moments: opened").await;

    // The host's back button, then the cart and checkout.
    browser.click(Locator::Css("#back")).await;
    browser.text_of("#stack", "pages 1/").await;
    // A button's key taps it: `c` opens the cart, as at the terminal.
    browser.client.find(Locator::Css("body")).await.unwrap().send_keys("c").await.unwrap();
    browser.text_of("#stack", "pages/cart").await;
    browser.tap("结算").await;

    // The payment sheet is the host's dialog, over the whole phone.
    let sheet = browser.css("#dialog .sheet.kind-payment").await;
    let sheet_text = sheet.text().await.unwrap();
    assert!(sheet_text.contains("¥129.00") && sheet_text.contains("miniapp host"), "{sheet_text}");
    browser.screenshot("devtools-payment-sheet.png").await;
    browser.click(Locator::Css("#dialog button[data-method='wechat_pay']")).await;
    browser.text_of("#view", "支付成功").await;

    // The ledger panel and `miniapp ledger list --json` agree.
    browser.click(Locator::Css("#tabs button[data-tab='ledger']")).await;
    let order = browser.attr("#orders tr.order", "data-order").await;
    let state = browser.attr("#orders tr.order", "data-state").await;
    let listed = miniapp(data.path(), &["ledger", "list", "--json"]);
    let listed: Value = serde_json::from_str(&text(&listed.stdout)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(Some(order.as_str()), listed[0]["out_trade_no"].as_str());
    assert_eq!(state, "paid");
    assert_eq!(listed[0]["state"], "paid");
    let amount = browser.attr("#orders tr.order td[data-amount]", "data-amount").await;
    assert_eq!(amount, listed[0]["amount"].to_string());

    // The Host calls panel lists the payment request with its reply.
    browser.click(Locator::Css("#tabs button[data-tab='calls']")).await;
    browser.text_of("#calls", "payment").await;
    let _ = browser.client.clone().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_programs_markup_and_escape_sequences_are_shown_as_text() {
    let Some(browser) = browser().await else { return };
    let data = tempfile::tempdir().unwrap();
    let server = Served::start(data.path(), &["dev", "sample-programs/hostile", "--no-watch"]);
    browser.client.goto(&server.url).await.unwrap();
    browser.text_of("#view", "What a malicious mini-program tries").await;
    for n in 1..=8 {
        browser.tap("Next attack").await;
        browser.text_of("#view", &format!("{n}. ")).await;
    }
    // Its markup is text in the view and in the console; nothing of it became an element.
    let view = browser.text_of("#view", "shown as text: <img src=x onerror=").await;
    assert!(view.contains("<b>bold?</b>"), "{view}");
    let console = browser.text_of("#console", "<script>document.title='pwned'</script>").await;
    assert!(console.contains("\\u{1b}[2J"), "escape sequences are escaped: {console}");
    assert!(
        browser
            .client
            .find_all(Locator::Css("#view img, #view b, #console img, #console script"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(browser.client.title().await.unwrap(), "miniapp DevTools");

    // The loop is ended by the host, which says so outside the program's area.
    browser.tap("Next attack").await;
    let ended = browser.text_of("#ended", "limits.callback_time_ms").await;
    assert!(ended.starts_with("The host ended the program"), "{ended}");
    let _ = browser.client.clone().close().await;
}
