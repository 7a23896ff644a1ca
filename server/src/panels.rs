//! The host's records a DevTools shows beside the program, read and changed the
//! way the host itself does: a program's storage (through the storage
//! capability, under its quota), the payment ledger, the audit log, the user's
//! permissions and link switches, and the simulators' payment scenario.

use crate::ServerState;
use crate::api::{Body, body, check_user, ok};
use crate::failure::ServeError;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use miniapp_abi::lifecycle::Surface;
use miniapp_host::capabilities::link::LinkSettings;
use miniapp_host::capabilities::storage::{Storage, StorageGrant};
use miniapp_host::consent::LOCAL_USER;
use miniapp_host::sanitize;
use miniapp_providers::Scenario;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type Shared = State<Arc<ServerState>>;
type Reply = Result<Response, ServeError>;

/// The storage capability of the host, and the program's key and grant.
fn storage_of<'a>(state: &'a ServerState, program: &str) -> Result<(&'a Storage, String, StorageGrant), ServeError> {
    let app = state.program(program).ok_or_else(|| ServeError::UnknownProgram { id: program.to_string() })?;
    let storage = state
        .host
        .registry()
        .capability::<Storage>(miniapp_abi::storage::CAPABILITY)
        .ok_or_else(|| ServeError::bad_request("this host has no storage capability"))?;
    let grant = app
        .grant::<StorageGrant>(miniapp_abi::storage::CAPABILITY)
        .ok_or_else(|| ServeError::bad_request(format!("{program} does not declare the storage capability")))?;
    Ok((storage, app.program().key().to_string(), *grant))
}

fn api_failure(error: miniapp_abi::ApiError) -> ServeError {
    ServeError::bad_request(format!("{}: {}", error.code.as_str(), error.message))
}

pub(crate) async fn storage(State(state): Shared, Path(program): Path<String>) -> Reply {
    let (storage, key, grant) = storage_of(&state, &program)?;
    let entries = storage.entries(&key).await.map_err(api_failure)?;
    let (used, count) = storage.used(&key).await.map_err(api_failure)?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| json!({ "key": sanitize::line(&e.key), "value": crate::messages::sanitized(e.value), "size": e.size }))
        .collect();
    ok(json!({
        "program": program,
        "entries": entries,
        "used_bytes": used,
        "key_count": count,
        "quota_bytes": grant.quota_bytes,
        "max_entry_bytes": grant.max_entry_bytes,
    }))
}

pub(crate) async fn put_storage(
    State(state): Shared,
    Path((program, key)): Path<(String, String)>,
    Body(bytes): Body,
) -> Reply {
    let (storage, program_key, grant) = storage_of(&state, &program)?;
    let value: Value = body(&bytes)?;
    let request = miniapp_abi::storage::SetRequest { key: key.clone(), value };
    storage.put(&program_key, grant, request).await.map_err(api_failure)?;
    ok(json!({ "program": program, "key": sanitize::line(&key), "stored": true }))
}

pub(crate) async fn delete_storage(State(state): Shared, Path((program, key)): Path<(String, String)>) -> Reply {
    let (storage, program_key, _) = storage_of(&state, &program)?;
    let removed = storage.delete(&program_key, &key).await.map_err(api_failure)?;
    ok(json!({ "program": program, "key": sanitize::line(&key), "removed": removed }))
}

#[derive(Deserialize)]
pub(crate) struct ProgramQuery {
    program: Option<String>,
    limit: Option<u32>,
    user: Option<String>,
}

impl ProgramQuery {
    /// The records' key of the program asked about: a loaded program's verified
    /// identity, else the value as given (a key read off another record).
    fn program_key(&self, state: &ServerState) -> Option<String> {
        let program = self.program.as_deref()?;
        Some(state.program(program).map_or_else(|| program.to_string(), |app| app.program().key().to_string()))
    }

    fn user(&self) -> Result<String, ServeError> {
        let user = self.user.clone().unwrap_or_else(|| LOCAL_USER.to_string());
        check_user(&user)?;
        Ok(user)
    }
}

pub(crate) async fn ledger(State(state): Shared, Query(query): Query<ProgramQuery>) -> Reply {
    let ledger = state.host.payment_ledger();
    let key = query.program_key(&state);
    let mut orders = Vec::new();
    for order in ledger.list().await? {
        if key.as_ref().is_some_and(|k| *k != order.program_id) {
            continue;
        }
        let events = ledger.events(&order.merchant_id, &order.out_trade_no).await?;
        let notifications: Vec<Value> = ledger
            .notifications(&order.merchant_id, &order.out_trade_no)
            .await?
            .into_iter()
            .map(|(provider, outcome, detail)| json!({ "provider": provider, "outcome": outcome, "detail": sanitize::line(&detail) }))
            .collect();
        let mut refunds = Vec::new();
        for refund in ledger.refunds_of(&order.merchant_id, &order.out_trade_no).await? {
            let events = ledger.refund_events(&refund.merchant_id, &refund.out_refund_no).await?;
            let mut value = serde_json::to_value(&refund).unwrap_or(Value::Null);
            value["events"] = serde_json::to_value(events).unwrap_or(Value::Null);
            refunds.push(crate::messages::sanitized(value));
        }
        let mut value = crate::messages::sanitized(serde_json::to_value(&order).unwrap_or(Value::Null));
        value["events"] = crate::messages::sanitized(serde_json::to_value(events).unwrap_or(Value::Null));
        value["notifications"] = Value::Array(notifications);
        value["refunds"] = Value::Array(refunds);
        orders.push(value);
    }
    ok(json!({ "orders": orders }))
}

pub(crate) async fn audit(State(state): Shared, Query(query): Query<ProgramQuery>) -> Reply {
    let limit = query.limit.unwrap_or(200).clamp(1, 10_000);
    let key = query.program_key(&state);
    let decisions = state.host.audit().recent(key.as_deref(), limit).await?;
    ok(json!({ "decisions": crate::messages::sanitized(serde_json::to_value(decisions).unwrap_or(Value::Null)) }))
}

pub(crate) async fn permissions(State(state): Shared, Query(query): Query<ProgramQuery>) -> Reply {
    let user = query.user()?;
    let grants = state.host.grants().list(&user).await?;
    ok(
        json!({ "user": user, "grants": crate::messages::sanitized(serde_json::to_value(grants).unwrap_or(Value::Null)) }),
    )
}

pub(crate) async fn revoke(
    State(state): Shared,
    Path((program, scope)): Path<(String, String)>,
    Query(query): Query<ProgramQuery>,
) -> Reply {
    let user = query.user()?;
    let key = state.program(&program).map_or_else(|| program.clone(), |app| app.program().key().to_string());
    let scope = (scope != "all").then_some(scope);
    let revoked = state.host.grants().revoke(&user, &key, scope.as_deref()).await?;
    ok(json!({ "user": user, "program": key, "revoked": revoked }))
}

fn link_rules(state: &ServerState) -> Result<LinkSettings, ServeError> {
    state
        .host
        .config()
        .settings(miniapp_abi::link::CAPABILITY)
        .map_err(|e| ServeError::bad_request(format!("[link]: {e}")))
}

pub(crate) async fn settings(State(state): Shared, Query(query): Query<ProgramQuery>) -> Reply {
    let user = query.user()?;
    let rules = link_rules(&state)?;
    let mut links = Vec::new();
    for surface in Surface::ALL {
        let surface_rules = rules.surfaces.get(&surface);
        let switch = match surface_rules {
            Some(r) if r.has_switch() => Some(state.host.user_settings().links_enabled(&user, surface).await?),
            _ => None,
        };
        let by_kind: serde_json::Map<String, Value> = surface_rules
            .map(|r| r.by_kind().iter().map(|(kind, rule)| (kind.to_string(), rule.as_str().into())).collect())
            .unwrap_or_default();
        links.push(json!({ "surface": surface.as_str(), "switch": switch, "rules": by_kind }));
    }
    ok(json!({ "user": user, "links": links }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    enabled: bool,
}

pub(crate) async fn set_links(
    State(state): Shared,
    Path(surface): Path<String>,
    Query(query): Query<ProgramQuery>,
    Body(bytes): Body,
) -> Reply {
    let user = query.user()?;
    let request: SwitchRequest = body(&bytes)?;
    let surface = Surface::parse(&surface)
        .ok_or_else(|| ServeError::bad_request(format!("unknown surface `{}`", sanitize::line(&surface))))?;
    let rules = link_rules(&state)?;
    if !rules.surfaces.get(&surface).is_some_and(|r| r.has_switch()) {
        return Err(ServeError::bad_request(format!("links on {surface} have no switch: none of its rules is opt_in")));
    }
    state.host.user_settings().set_links_enabled(&user, surface, request.enabled).await?;
    ok(json!({ "user": user, "surface": surface.as_str(), "switch": request.enabled }))
}

fn scenario_names() -> Vec<&'static str> {
    Scenario::ALL.iter().map(|s| s.as_str()).collect()
}

pub(crate) async fn scenario(State(state): Shared) -> Reply {
    ok(json!({ "scenario": state.switch.get().map(|s| s.as_str()), "scenarios": scenario_names() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioRequest {
    scenario: Option<String>,
}

pub(crate) async fn set_scenario(State(state): Shared, Body(bytes): Body) -> Reply {
    let request: ScenarioRequest = body(&bytes)?;
    let scenario = match request.scenario.as_deref() {
        None | Some("") => None,
        Some(name) => Some(Scenario::parse(name).ok_or_else(|| {
            ServeError::bad_request(format!(
                "scenario: unknown scenario `{}`; expected one of: {}",
                sanitize::line(name),
                scenario_names().join(", ")
            ))
        })?),
    };
    state.switch.set(scenario);
    ok(json!({ "scenario": scenario.map(|s| s.as_str()), "scenarios": scenario_names() }))
}
