//! One host process of the multi-host test (`integration/multihost.rs`): a
//! real host, on the database and configuration it is given, running the probe
//! as many programs at once, each paying its orders. It prints `paid ORDER` for
//! every payment its programs saw paid, and ends when every program is done.
//!
//! `miniapp-test-host DATA_DIR CONFIG PROBE_WASM PROGRAMS ORDERS`

use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::{Event, Host, HostConfig, LaunchContext, Manifest, Surface};
use std::io::Write;
use std::path::Path;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, config, probe, programs, orders] = args.as_slice() else {
        return Err("usage: miniapp-test-host DATA_DIR CONFIG PROBE_WASM PROGRAMS ORDERS".into());
    };
    let number = |text: &str| text.parse::<usize>().map_err(|e| format!("{text}: {e}"));
    let (programs, orders) = (number(programs)?, number(orders)?);
    let mut config = HostConfig::from_file(Path::new(config))?;
    config.data_dir = data_dir.into();
    config.engine.max_live_programs = u32::try_from(programs + 8).map_err(|e| e.to_string())?;
    let module = std::fs::read(probe).map_err(|e| format!("{probe}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let host = miniapp_providers::install(Host::builder(config)).build().map_err(|e| e.to_string())?;
        let tasks: Vec<_> = (0..programs)
            .map(|program| {
                let (host, module) = (host.clone(), module.clone());
                tokio::spawn(async move { pay_orders(&host, module, program, orders).await })
            })
            .collect();
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
        Ok(())
    })
}

/// What the probe imports, declared (it imports every capability).
const PROBE_DECLARATIONS: &str = "[capabilities.storage]
[capabilities.payment]
merchants = [\"1900000109\"]
[capabilities.link]
domains = [\"taobao.com\"]
[capabilities.identity]
";

/// Program `program` pays its orders, each with the method its number picks.
async fn pay_orders(host: &Host, module: Vec<u8>, program: usize, orders: usize) -> Result<(), String> {
    let manifest = Manifest::parse(
        &format!(
            "id = \"test.multihost.p{program}\"\nname = \"Payer {program}\"\nversion = \"0.1.0\"\npublisher = \"tests\"\n\
             module = \"module.wasm\"\n{PROBE_DECLARATIONS}"
        ),
        Path::new("multihost/miniapp.toml"),
    )
    .map_err(|e| e.to_string())?;
    let app = host.load_app_from_parts(manifest, module).await.map_err(|e| e.to_string())?;
    // Both methods, by program: WeChat Pay for even ones, Alipay for odd.
    let answers = vec![Answer::Pick(1 + program % 2); orders];
    let mut session = app.start_with_user(ScriptedUser::new(answers)).await.map_err(|e| e.to_string())?;
    session.launch(&LaunchContext::new(Surface::Direct)).await.map_err(|e| e.to_string())?;
    session.take_output();
    for order in 0..orders {
        let trade_no = format!("MH-{program:03}-{order:02}");
        let payload = serde_json::json!({
            "merchant_id": "1900000109",
            "out_trade_no": trade_no,
            "amount": 1000 + program * 10 + order,
            "description": "multi-host order",
        });
        session.event(&Event::Tap { action: "pay".into(), payload }).await.map_err(|e| e.to_string())?;
        let output = session.take_output();
        let text = output.stdout_text();
        let reply: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or_default())
            .map_err(|e| format!("the probe printed {text:?}: {e}"))?;
        if reply["ok"]["status"] == "paid" {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "paid {trade_no}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
