//! The embedder's capability in a real host, used by a real guest: the consent
//! question with the manifest's purpose, the answer remembered, the refusal
//! audited, the setting from `[location]` and the shares in its own table.

use miniapp_example_location::{Location, NAME, Position};
use miniapp_host::audit::{AuditFilter, Outcome};
use miniapp_host::capability::CallObserver;
use miniapp_host::consent::{Answer, Nobody, Prompt, ScriptedUser};
use miniapp_host::{App, ErrorCode, Host, HostConfig, LaunchContext, Manifest, SessionError, SessionObserver, Surface};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MANIFEST: &str = r#"
id = "com.example.nearby"
name = "Nearby Shops"
version = "1.0.0"
publisher = "Example Maps"
module = "guest.wat"
[capabilities.location]
purpose = "Find the shops near you"
"#;

/// Keeps the replies to `location.get`.
#[derive(Default)]
struct Replies(Mutex<Vec<(i32, Vec<u8>)>>);

impl CallObserver for Replies {
    fn host_call(&self, _: &str, function: &str, _: &[u8], status: i32, reply: &[u8], _: std::time::Duration) {
        if function == "get" {
            self.0.lock().unwrap().push((status, reply.to_vec()));
        }
    }
}

impl SessionObserver for Replies {}

fn host(config: HostConfig) -> Host {
    Host::builder(config).capability(miniapp_example_location::init).build().expect("the host starts")
}

async fn app(host: &Host) -> App {
    let manifest = Manifest::parse(MANIFEST, Path::new("miniapp.toml")).unwrap();
    host.load_app_from_parts(manifest, include_bytes!("guest.wat").to_vec()).await.expect("the guest loads")
}

#[tokio::test]
async fn the_position_is_shared_once_the_user_allows_it_and_the_answer_is_remembered() {
    let data = tempfile::tempdir().unwrap();
    let mut config =
        HostConfig::from_toml("[location]\nlatitude = 39.9042\nlongitude = 116.4074\naccuracy_m = 20\n").unwrap();
    config.data_dir = data.path().to_path_buf();
    let host = host(config);
    let app = app(&host).await;

    let user = ScriptedUser::new([Answer::Yes]);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    let replies = Arc::new(Replies::default());
    session.observe(replies.clone());
    session.launch(&LaunchContext::new(Surface::Direct)).await.expect("the launch succeeds");
    let (status, reply) = replies.0.lock().unwrap()[0].clone();
    assert_eq!(status, 0);
    let position: Position = serde_json::from_slice(&reply).unwrap();
    assert_eq!(position, Position { latitude: 39.9042, longitude: 116.4074, accuracy_m: 20 });
    let prompts = user.prompts();
    let Some(Prompt::Consent { scope, purpose, shared, .. }) = prompts.first() else { panic!("{prompts:?}") };
    assert_eq!((scope.as_str(), purpose.as_str()), ("location", "Find the shops near you"));
    assert!(shared.contains("20 m"), "{shared}");

    // Remembered: the next session asks nobody.
    let mut again = app.start_with_user(Arc::new(Nobody)).await.unwrap();
    again.launch(&LaunchContext::new(Surface::Direct)).await.expect("remembered");
    let location = host.registry().capability::<Location>(NAME).expect("the capability is registered");
    assert_eq!(location.shares(app.program().key()).await.unwrap(), 2);
    let remembered = host.grants().list("local").await.unwrap();
    assert_eq!(remembered.iter().map(|g| g.scope.as_str()).collect::<Vec<_>>(), ["location"]);
    assert!(host.registry().scopes().iter().any(|(capability, scope)| *capability == NAME && scope.name == "location"));
}

#[tokio::test]
async fn a_refusal_is_capability_denied_and_audited() {
    let data = tempfile::tempdir().unwrap();
    let host = host(HostConfig::with_data_dir(data.path()));
    let app = app(&host).await;
    let mut session = app.start_with_user(ScriptedUser::new([Answer::No])).await.unwrap();
    let error = session.launch(&LaunchContext::new(Surface::Direct)).await.unwrap_err();
    assert!(
        matches!(error, SessionError::CallbackFailed { status, .. } if status == ErrorCode::CapabilityDenied.number()),
        "{error}"
    );
    let filter = AuditFilter { capability: Some(NAME.into()), ..AuditFilter::default() };
    let decisions = host.audit().query(&filter, 10).await.unwrap();
    assert!(decisions.iter().any(|d| d.action == "consent" && d.outcome == Outcome::Declined), "{decisions:?}");
    let location = host.registry().capability::<Location>(NAME).unwrap();
    assert_eq!(location.shares("com.example.nearby").await.unwrap(), 0);
}

#[tokio::test]
async fn its_setting_and_declaration_are_checked() {
    let data = tempfile::tempdir().unwrap();
    let mut config = HostConfig::from_toml("[location]\nlatitude = 91.0\n").unwrap();
    config.data_dir = data.path().to_path_buf();
    let error = Host::builder(config).capability(miniapp_example_location::init).build().err().unwrap();
    assert!(error.to_string().contains("not a position on Earth"), "{error}");
    let mut config = HostConfig::from_toml("[location]\naltitude = 3\n").unwrap();
    config.data_dir = data.path().to_path_buf();
    let error = Host::builder(config).capability(miniapp_example_location::init).build().err().unwrap();
    assert!(error.to_string().contains("[location]") && error.to_string().contains("altitude"), "{error}");
    // Without the capability installed, its section belongs to nobody.
    let mut config = HostConfig::from_toml("[location]\nlatitude = 1.0\n").unwrap();
    config.data_dir = data.path().to_path_buf();
    let error = Host::builder(config).build().err().unwrap();
    assert!(error.to_string().contains("unknown section `[location]`"), "{error}");

    let host = host(HostConfig::with_data_dir(data.path()));
    let manifest =
        Manifest::parse(&MANIFEST.replace("Find the shops near you", ""), Path::new("miniapp.toml")).unwrap();
    let error = host.load_app_from_parts(manifest, include_bytes!("../tests/guest.wat").to_vec()).await.err().unwrap();
    assert!(error.to_string().contains("capabilities.location.purpose"), "{error}");
}
