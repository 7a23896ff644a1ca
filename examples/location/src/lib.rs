//! An embedder's capability, in its own crate: `miniapp:location`, the device's
//! position, shared only with the user's consent. It is installed with
//! `HostBuilder::capability(miniapp_example_location::init)` — the path the
//! built-in capabilities take — and uses the host's services: its setting comes
//! from the host TOML's `[location]` section, the question goes through the one
//! consent gate (remembered per program and module, revocable, audited), and
//! every share is kept in its own table of the host database. Nothing in the host
//! crate names it.
//!
//! A program declares it with the purpose the user is shown:
//!
//! ```toml
//! [capabilities.location]
//! purpose = "Find the shops near you"
//! ```
//!
//! `location.get` (no arguments) answers `{"latitude": …, "longitude": …,
//! "accuracy_m": …}`, or `capability_denied` when the user said no.

use miniapp_abi::ApiError;
use miniapp_host::HostError;
use miniapp_host::capability::{
    CallContext, Capability, ConsentGate, ConsentRequest, DeclarationError, Grant, HostFunction, InitContext,
    NoArguments, ScopeInfo, declare_scopes,
};
use miniapp_host::store::{Database, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The capability's name: `[capabilities.location]`, `miniapp:location`, `[location]`.
pub const NAME: &str = "location";

/// The consent scope it asks for.
pub const SCOPE: &str = "location";

/// `[location]` of the host TOML: where this device is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationSettings {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// How precise the position is, in metres (what the user is told is shared).
    pub accuracy_m: u32,
}

impl Default for LocationSettings {
    fn default() -> LocationSettings {
        // The People's Square, Shanghai.
        LocationSettings { latitude: 31.2304, longitude: 121.4737, accuracy_m: 50 }
    }
}

/// `location.get`'s reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Precision, in metres.
    pub accuracy_m: u32,
}

/// The capability.
pub struct Location {
    settings: LocationSettings,
    consent: ConsentGate,
    database: Database,
}

/// Makes the capability from the host's services and `[location]`.
pub fn init(context: &InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> {
    let settings: LocationSettings = context.settings(NAME)?;
    if !(-90.0..=90.0).contains(&settings.latitude) || !(-180.0..=180.0).contains(&settings.longitude) {
        return Err(HostError::Config(format!(
            "[{NAME}]: latitude {} / longitude {} is not a position on Earth",
            settings.latitude, settings.longitude
        )));
    }
    let database = context.services.database.clone();
    database.migrate(
        "example_location",
        &["CREATE TABLE location_shares (program_id TEXT NOT NULL, at_ms INTEGER NOT NULL, accuracy_m INTEGER NOT NULL);"],
    )?;
    Ok(Arc::new(Location { settings, consent: context.services.consent.clone(), database }))
}

/// What a program declaring `location` is granted: the purpose the user sees.
#[derive(Debug, Clone)]
pub struct LocationGrant {
    purpose: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    purpose: String,
}

impl Location {
    async fn get(self: Arc<Self>, context: CallContext, _: NoArguments) -> Result<Position, ApiError> {
        let grant = context.grant::<LocationGrant>()?;
        let shared = format!("your position, to about {} m", self.settings.accuracy_m);
        let question = ConsentRequest { scope: SCOPE, purpose: &grant.purpose, shared: &shared };
        self.consent.require(&context, question).await?;
        let (program, accuracy) = (context.program().key().to_string(), self.settings.accuracy_m);
        self.database
            .run(move |t| {
                t.execute(
                    "INSERT INTO location_shares (program_id, at_ms, accuracy_m) VALUES ($1, $2, $3)",
                    params![program, miniapp_host::calendar::now_ms(), accuracy],
                )?;
                Ok(())
            })
            .await
            .map_err(|e| ApiError::new(miniapp_abi::ErrorCode::Unavailable, e.to_string()))?;
        self.consent.log_use(&context, SCOPE, &shared).await?;
        Ok(Position {
            latitude: self.settings.latitude,
            longitude: self.settings.longitude,
            accuracy_m: self.settings.accuracy_m,
        })
    }

    /// How many times `program_id` was given the position.
    pub async fn shares(&self, program_id: &str) -> Result<u64, HostError> {
        let program = program_id.to_string();
        let count = self
            .database
            .run(move |t| {
                let row =
                    t.query_one("SELECT count(*) FROM location_shares WHERE program_id = $1", params![program])?;
                row.map_or(Ok(0), |row| row.integer(0))
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

impl Capability for Location {
    fn name(&self) -> &'static str {
        NAME
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: Params = DeclarationError::decode(params)?;
        let mut scopes = declare_scopes(BTreeMap::from([(SCOPE.to_string(), params.purpose)]), &[SCOPE])
            .map_err(|e| DeclarationError::new("purpose", e.message))?;
        let purpose = scopes.remove(SCOPE).unwrap_or_default();
        Ok(Arc::new(LocationGrant { purpose }))
    }

    fn scopes(&self) -> Vec<ScopeInfo> {
        vec![ScopeInfo {
            name: SCOPE.into(),
            summary: format!("where you are, to about {} m", self.settings.accuracy_m),
        }]
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![HostFunction::method("get", &self, Location::get)]
    }
}
