//! Notifications to any host: with `delivery = "any_host"`, a simulator does not
//! call the merchant's server of the host it runs in; it puts each notification
//! in the shared database (table `simulator_outbox`), and every host running the
//! simulator delivers what is due to its own merchant's server — as a real
//! provider's notification reaches whichever host the merchant's load balancer
//! picks. A notification paid on host A is then often settled by host B, and the
//! fifteen copies of the `duplicate_notifications` scenario land on several
//! hosts at once.
//!
//! A host takes a due notification by a compare-and-set on its claim, so one
//! delivery goes to one host; an unacknowledged one is due again after the next
//! pause of the provider's retry schedule; a claim of a host that died runs out
//! and another host delivers it.

use crate::Route;
use miniapp_abi::payment::Method;
use miniapp_host::capabilities::payment::provider::{Notification, NotificationHandler};
use miniapp_host::clock::Clock;
use miniapp_host::store::{Database, StoreError, params};
use std::sync::Arc;
use std::time::Duration;

const SCHEMA: &[&str] = &["CREATE TABLE simulator_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        headers TEXT NOT NULL,
        body TEXT NOT NULL,
        due_ms INTEGER NOT NULL,
        deliveries INTEGER NOT NULL,
        retries_left INTEGER NOT NULL,
        claimed_until_ms INTEGER NOT NULL
    );
    CREATE INDEX simulator_outbox_due ON simulator_outbox (provider, due_ms);"];

/// How long a host's claim on a delivery lasts before another host may take it.
const CLAIM_MS: i64 = 30_000;

/// How often a host looks for due notifications.
const POLL: Duration = Duration::from_millis(20);

/// One simulator's outbox in the shared database.
#[derive(Clone)]
pub struct Outbox {
    database: Database,
    provider: &'static str,
    /// When a notification is due is read on the host's clock.
    clock: Clock,
}

struct Due {
    id: i64,
    claimed_until_ms: i64,
    notification: Notification,
    deliveries: i64,
    retries_left: i64,
}

impl Outbox {
    /// The outbox `settings` ask for: none when notifications go to this host.
    pub fn for_settings(
        settings: &crate::SimulatorSettings,
        database: &Database,
        provider: &'static str,
        clock: &Clock,
    ) -> Result<Option<Outbox>, String> {
        match settings.delivery {
            crate::Delivery::ThisHost => Ok(None),
            crate::Delivery::AnyHost => {
                Outbox::open(database.clone(), provider, clock.clone()).map(Some).map_err(|e| e.to_string())
            }
        }
    }

    /// The outbox of `provider` in `database` (creating its table if needed).
    pub fn open(database: Database, provider: &'static str, clock: Clock) -> Result<Outbox, StoreError> {
        database.migrate("simulator_outbox", SCHEMA)?;
        Ok(Outbox { database, provider, clock })
    }

    /// Puts `notification` in the outbox, due after `delay`, delivered again on
    /// the route's schedule until acknowledged (or once, with `retry = false`).
    pub(crate) async fn put(&self, route: &Route<'_>, notification: &Notification, delay: Duration, retry: bool) {
        let headers = serde_json::to_string(&notification.headers).unwrap_or_else(|_| "[]".into());
        let body = notification.body.clone();
        let due = self.clock.now_ms().saturating_add(millis(delay.mul_f64(route.scale.max(0.0))));
        let retries = if retry { route.schedule.len() as i64 } else { 0 };
        let provider = self.provider;
        let put = self
            .database
            .run(move |t| {
                t.execute(
                    "INSERT INTO simulator_outbox (provider, headers, body, due_ms, deliveries, retries_left, claimed_until_ms)
                     VALUES ($1, $2, $3, $4, 0, $5, 0)",
                    params![provider, &headers, &body, due, retries],
                )
            })
            .await;
        if let Err(error) = put {
            tracing::error!(%error, "the simulator cannot queue a notification");
        }
    }

    /// Delivers due notifications to `handler` until the simulator is dropped.
    pub(crate) fn serve<S: Send + Sync + 'static>(
        &self,
        owner: std::sync::Weak<S>,
        handler: Arc<dyn NotificationHandler>,
        method: Method,
        schedule: Vec<Duration>,
        scale: f64,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("the simulator's outbox needs an async runtime; notifications stay queued");
            return;
        };
        let outbox = self.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                if owner.upgrade().is_none() {
                    return;
                }
                let due = match outbox.take_due().await {
                    Ok(due) => due,
                    Err(error) => {
                        tracing::warn!(%error, "the simulator cannot read its outbox");
                        continue;
                    }
                };
                for item in due {
                    let (outbox, handler, method, schedule) =
                        (outbox.clone(), handler.clone(), method.clone(), schedule.clone());
                    tokio::spawn(async move {
                        let acknowledged = handler.handle(&method, item.notification.clone()).await;
                        outbox.done(&item, acknowledged, &schedule, scale).await;
                    });
                }
            }
        });
    }

    /// The notifications due now that this host won the claim on.
    async fn take_due(&self) -> Result<Vec<Due>, StoreError> {
        let provider = self.provider;
        let now = self.clock.now_ms();
        let seen: Vec<Due> = self
            .database
            .run(move |t| {
                t.query(
                    "SELECT id, claimed_until_ms, headers, body, deliveries, retries_left FROM simulator_outbox
                     WHERE provider = $1 AND due_ms <= $2 AND claimed_until_ms < $2 ORDER BY due_ms LIMIT 32",
                    params![provider, now],
                )?
                .iter()
                .map(|row| {
                    let headers: Vec<(String, String)> = serde_json::from_str(&row.text(2)?)
                        .map_err(|e| StoreError::Query(format!("a queued notification's headers: {e}")))?;
                    Ok(Due {
                        id: row.integer(0)?,
                        claimed_until_ms: row.integer(1)?,
                        notification: Notification { headers, body: row.text(3)? },
                        deliveries: row.integer(4)?,
                        retries_left: row.integer(5)?,
                    })
                })
                .collect()
            })
            .await?;
        let mut won = Vec::with_capacity(seen.len());
        for item in seen {
            let (id, seen_claim) = (item.id, item.claimed_until_ms);
            let claimed = self
                .database
                .run(move |t| {
                    t.execute(
                        "UPDATE simulator_outbox SET claimed_until_ms = $3 WHERE id = $1 AND claimed_until_ms = $2",
                        params![id, seen_claim, now.saturating_add(CLAIM_MS)],
                    )
                })
                .await?;
            if claimed == 1 {
                won.push(item);
            }
        }
        Ok(won)
    }

    /// After a delivery: gone when acknowledged or out of retries, else due again
    /// after the schedule's next pause.
    async fn done(&self, item: &Due, acknowledged: bool, schedule: &[Duration], scale: f64) {
        let id = item.id;
        let finished = acknowledged || item.retries_left <= 0;
        let pause = usize::try_from(item.deliveries)
            .ok()
            .and_then(|n| schedule.get(n))
            .copied()
            .unwrap_or_default()
            .mul_f64(scale.max(0.0));
        let due = self.clock.now_ms().saturating_add(millis(pause));
        let result = self
            .database
            .run(move |t| {
                if finished {
                    t.execute("DELETE FROM simulator_outbox WHERE id = $1", params![id])
                } else {
                    t.execute(
                        "UPDATE simulator_outbox SET due_ms = $2, deliveries = deliveries + 1,
                             retries_left = retries_left - 1, claimed_until_ms = 0 WHERE id = $1",
                        params![id, due],
                    )
                }
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "the simulator cannot update its outbox");
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
