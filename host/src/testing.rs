//! Test support, for the host's own tests and an embedder's: a host in a
//! throwaway data directory, and the context of a host call built without a
//! guest, so a capability's handler can be tested alone.
//!
//! ```
//! use miniapp_host::testing::{TestCall, TestHost};
//! use miniapp_host::consent::{Answer, ScriptedUser};
//!
//! # async fn demo() {
//! let test = TestHost::new(|builder| builder);
//! let storage = test.host.registry().get("storage").unwrap().clone();
//! let set = storage.functions().into_iter().find(|f| f.name() == "set").unwrap();
//! let call = TestCall::new("storage", &test.host).user(ScriptedUser::new([Answer::Yes]));
//! let reply = set.call(call.context(), br#"{"key":"k","value":1}"#.to_vec()).await;
//! assert!(reply.is_ok());
//! # }
//! ```

use crate::capability::{
    CallContext, CapabilityState, Grant, GrantState, OncePerLaunch, ProgramInfo, SessionView, UserAction,
};
use crate::consent::{Nobody, User};
use crate::host::{Host, HostBuilder};
use crate::sandbox::OutputCapture;
use crate::{CapturedOutput, HostConfig};
use miniapp_abi::lifecycle::Surface;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A host whose data directory is removed when it is dropped.
pub struct TestHost {
    /// The host.
    pub host: Host,
    dir: tempfile::TempDir,
}

impl TestHost {
    /// A host on the default configuration in a fresh directory, set up further by
    /// `setup` (add capabilities, providers, a user). Panics if it cannot start:
    /// it is for tests.
    pub fn new(setup: impl FnOnce(HostBuilder) -> HostBuilder) -> TestHost {
        TestHost::with_config(|_| {}, setup)
    }

    /// Like [`TestHost::new`], with the configuration changed by `configure` first.
    pub fn with_config(
        configure: impl FnOnce(&mut HostConfig),
        setup: impl FnOnce(HostBuilder) -> HostBuilder,
    ) -> TestHost {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = HostConfig::with_data_dir(dir.path());
        configure(&mut config);
        let host = setup(Host::builder(config)).build().unwrap_or_else(|e| panic!("the test host starts: {e}"));
        TestHost { host, dir }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A host call's context without a guest: which capability, which program (with
/// the grant its declaration would give), which user, which surface.
pub struct TestCall {
    host: Host,
    capability: &'static str,
    program_id: String,
    module_hash: String,
    grant: Option<Grant>,
    user: Arc<dyn User>,
    surface: Surface,
    gesture: bool,
    data: Option<crate::capability::SessionData>,
    output: OutputCapture,
    once: OncePerLaunch,
}

impl TestCall {
    /// A call to `capability` of `host` by program `test.program`, granted what
    /// an empty `[capabilities.<capability>]` table declares, from a direct launch,
    /// with nobody to answer prompts.
    pub fn new(capability: &'static str, host: &Host) -> TestCall {
        let grant = host.registry().get(capability).and_then(|c| c.declare(&toml::Table::new()).ok());
        TestCall {
            host: host.clone(),
            capability,
            program_id: "test.program".into(),
            module_hash: "0".repeat(64),
            grant,
            user: Arc::new(Nobody),
            surface: Surface::Direct,
            gesture: false,
            data: None,
            output: OutputCapture::new(1 << 20),
            once: OncePerLaunch::default(),
        }
    }

    /// The calling program's id.
    pub fn program(mut self, id: &str) -> TestCall {
        self.program_id = id.into();
        self
    }

    /// The calling program's module hash (consent is remembered per module).
    pub fn module_hash(mut self, hash: &str) -> TestCall {
        self.module_hash = hash.into();
        self
    }

    /// What the program was granted (from the capability's `declare`).
    pub fn grant(mut self, grant: Grant) -> TestCall {
        self.grant = Some(grant);
        self
    }

    /// Who answers the host's prompts.
    pub fn user(mut self, user: Arc<dyn User>) -> TestCall {
        self.user = user;
        self
    }

    /// The surface the program was launched on.
    pub fn surface(mut self, surface: Surface) -> TestCall {
        self.surface = surface;
        self
    }

    /// Whether the call is made while handling a tap (a user action).
    pub fn tap(mut self, gesture: bool) -> TestCall {
        self.gesture = gesture;
        self
    }

    /// The capability's session state (what its `prepare` would make).
    pub fn data(mut self, data: crate::capability::SessionData) -> TestCall {
        self.data = Some(data);
        self
    }

    /// The context a handler receives. Contexts made from one `TestCall` share a
    /// session: its once-per-launch marks and its output.
    pub fn context(&self) -> CallContext {
        let grants = match &self.grant {
            Some(grant) => BTreeMap::from([(self.capability.to_string(), GrantState::Granted(grant.clone()))]),
            None => BTreeMap::new(),
        };
        let program = Arc::new(ProgramInfo::new(
            self.program_id.clone(),
            "Test Program".into(),
            "1.0.0".into(),
            "Test Publisher".into(),
            self.host.development_identity(&self.program_id),
            self.module_hash.clone(),
            grants,
        ));
        let action = UserAction::default();
        action.set(self.gesture);
        let session = SessionView {
            user: self.user.clone(),
            surface: self.surface,
            gesture: self.gesture,
            action,
            output: self.output.clone(),
            once: self.once.clone(),
            states: self.states(),
        };
        let grant: Grant = self.grant.clone().unwrap_or_else(|| Arc::new(()));
        CallContext::new(self.capability, program, grant, session)
    }

    fn states(&self) -> Arc<[CapabilityState]> {
        match (&self.data, self.host.registry().get(self.capability)) {
            (Some(data), Some(capability)) => {
                Arc::from(vec![CapabilityState { capability: capability.clone(), data: data.clone() }])
            }
            _ => Arc::from(Vec::new()),
        }
    }

    /// What the host told the developer during the calls (notices).
    pub fn take_output(&self) -> CapturedOutput {
        self.output.drain()
    }
}

pub use crate::store::TestBackend;
pub use crate::store::test_backend::POSTGRES_URL_ENV;
