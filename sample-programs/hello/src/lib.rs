//! Hello: greets the user, says where it was opened from, and counts its launches
//! in storage so the count survives between runs.

use miniapp_sdk::prelude::*;

#[derive(Default)]
struct Hello;

impl MiniApp for Hello {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        let launches: u64 = storage::get("launches")?.unwrap_or(0) + 1;
        storage::set("launches", &launches)?;
        let times = if launches == 1 { "the first time".to_string() } else { format!("{launches} times") };
        println!("Hello from miniapp! Opened from {} — launched {times}.", launch.surface);
        if !launch.query.is_empty() {
            println!("query: {:?}", launch.query);
        }
        let info = storage::info()?;
        println!("storage: {} of {} bytes used", info.used_bytes, info.quota_bytes);
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Tap { action, .. } => println!("tapped {action}"),
            Event::Input { field, value } => println!("{field} = {value}"),
            Event::Custom { name, .. } if name == "reset" => {
                storage::remove("launches")?;
                println!("launch count reset");
            }
            other => println!("event: {other:?}"),
        }
        Ok(())
    }
}

miniapp_sdk::export_app!(Hello);
