//! The embedder's provider in a real host: a guest pays, the sheet shows
//! UnionPay beside WeChat Pay and Alipay, the user picks it, and the order lands
//! in the ledger as paid by `unionpay`, with a receipt the host verifies.

use miniapp_abi::payment::Method;
use miniapp_example_unionpay::{METHOD, UnionPay};
use miniapp_host::capabilities::payment::PaymentSettings;
use miniapp_host::capabilities::payment::ledger::State;
use miniapp_host::consent::{Answer, Prompt, ScriptedUser};
use miniapp_host::{Host, HostConfig, LaunchContext, Manifest, Surface};
use std::path::Path;
use std::sync::Arc;

const MANIFEST: &str = r#"
id = "com.example.teashop"
name = "Tea Shop"
version = "1.0.0"
publisher = "Example Tea"
module = "guest.wat"
[capabilities.payment]
merchants = ["1900000109"]
"#;

fn host(data: &Path) -> Host {
    let mut config = HostConfig::with_data_dir(data);
    // The merchant accepts bank cards too.
    config
        .update_section("payment", |payment: &mut PaymentSettings| {
            for merchant in payment.merchants.values_mut() {
                merchant.methods.push(Method::parse(METHOD).unwrap());
            }
            // Settled by the provider's notification, never by a query after a
            // time-out: on a busy machine the notification may take a while.
            payment.confirm_wait_ms = 600_000;
        })
        .unwrap();
    let builder = miniapp_providers::install(Host::builder(config));
    builder.payment_provider(Arc::new(UnionPay)).build().expect("the host starts with the UnionPay provider")
}

#[tokio::test]
async fn a_payment_with_the_embedders_provider_is_paid_with_a_receipt() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path());
    let manifest = Manifest::parse(MANIFEST, Path::new("miniapp.toml")).unwrap();
    let app = host.load_app_from_parts(manifest, include_bytes!("guest.wat").to_vec()).await.unwrap();
    let user = ScriptedUser::new([Answer::Pick(3)]);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&LaunchContext::new(Surface::Direct)).await.expect("the payment request succeeds");

    let sheet = user.prompts().into_iter().find(|p| p.kind() == "payment").expect("a payment sheet");
    let Prompt::Payment { methods, method_ids, .. } = sheet else { unreachable!() };
    assert_eq!(methods, ["WeChat Pay", "Alipay", "UnionPay 云闪付"]);
    assert_eq!(method_ids, ["wechat_pay", "alipay", "unionpay"]);

    let order = host.payment_ledger().get("1900000109", "UP-0001").await.unwrap().expect("the order is recorded");
    assert_eq!(order.state, State::Paid);
    assert_eq!(order.method.as_deref(), Some(METHOD));
    assert!(order.transaction_id.as_deref().is_some_and(|id| id.starts_with("UP")), "{order:?}");
    let receipt = host.payment_receipts().verify(order.receipt.as_deref().unwrap()).expect("the receipt verifies");
    assert_eq!((receipt.method.as_str(), receipt.amount), (METHOD, 1999));
    let notes = host.payment_ledger().notifications("1900000109", "UP-0001").await.unwrap();
    assert_eq!(notes.first().map(|n| (n.0.as_str(), n.1.as_str())), Some((METHOD, "accepted")), "{notes:?}");
}

#[tokio::test]
async fn its_configuration_section_is_checked_when_the_host_is_built() {
    let data = tempfile::tempdir().unwrap();
    let mut config = HostConfig::from_toml("[unionpay]\ncard = \"6222 **** **** 0002\"\ncolour = \"red\"\n").unwrap();
    config.data_dir = data.path().to_path_buf();
    let error = Host::builder(config).payment_provider(Arc::new(UnionPay)).build().err().expect("refused");
    assert_eq!(error.code(), "config_invalid");
    assert!(error.to_string().contains("[unionpay]") && error.to_string().contains("colour"), "{error}");
}
