//! The event hub: who receives which event, and delivery to this node's sockets.
//!
//! Every event is written to the database in the same transaction as the change it reports,
//! with its [`Audience`] decided then. One dispatcher per node reads new events in id order
//! (woken by local commits, and on PostgreSQL by `LISTEN`) and hands each to the local
//! sockets whose principal the audience admits. Sockets replay from the database on resume.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use meetdesk_protocol::EventBody;
use meetdesk_store::{events, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};

use crate::auth::Principal;

/// Who may receive an event. Decided by the server when the event is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Every agent of the channel.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub channel_agents: bool,
    /// Every customer session of the channel (channel settings).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub channel_customers: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customers: Vec<String>,
    /// The meet the event is about: a session scoped to one meet sees only that meet's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meet_id: Option<String>,
}

impl Audience {
    pub fn agents(ids: impl IntoIterator<Item = String>) -> Audience {
        Audience { agents: ids.into_iter().collect(), ..Audience::default() }
    }

    pub fn admits(&self, channel_id: &str, event_channel: &str, p: &Principal) -> bool {
        if channel_id != event_channel {
            return false;
        }
        match p {
            Principal::Agent { agent, .. } => {
                self.channel_agents || self.agents.iter().any(|a| a == &agent.id)
            }
            Principal::Customer { customer_id, meet_scope, .. } => {
                let addressed = self.channel_customers || self.customers.iter().any(|c| c == customer_id);
                let in_scope = match meet_scope {
                    None => true,
                    Some(m) => self.meet_id.as_deref() == Some(m.as_str()),
                };
                addressed && in_scope
            }
        }
    }
}

/// An event as read back from the log.
#[derive(Debug)]
pub struct LoggedEvent {
    pub seq: i64,
    pub at: i64,
    pub channel_id: String,
    pub audience: Audience,
    pub body: EventBody,
}

impl LoggedEvent {
    pub fn parse(e: events::StoredEvent) -> Option<LoggedEvent> {
        let audience = serde_json::from_str(&e.audience).ok()?;
        let body = serde_json::from_str(&e.body).ok()?;
        Some(LoggedEvent { seq: e.id, at: e.created_at, channel_id: e.channel_id, audience, body })
    }
}

/// Appends an event to the log inside the caller's transaction.
pub async fn publish(
    db: &mut meetdesk_store::Db,
    store: &Store,
    channel_id: &str,
    audience: &Audience,
    body: &EventBody,
    now: i64,
) -> meetdesk_store::Result<i64> {
    let audience =
        serde_json::to_string(audience).map_err(|e| meetdesk_store::StoreError::Corrupt(e.to_string()))?;
    let body = serde_json::to_string(body).map_err(|e| meetdesk_store::StoreError::Corrupt(e.to_string()))?;
    events::insert(db, store.backend(), channel_id, &audience, &body, now).await
}

/// Bound of a socket's queue; a socket that falls this far behind is closed and resumes.
pub const SOCKET_QUEUE: usize = 512;

struct Sub {
    principal: Arc<Principal>,
    tx: mpsc::Sender<Arc<LoggedEvent>>,
}

#[derive(Default)]
struct Subs {
    next: u64,
    by_id: HashMap<u64, Sub>,
    by_agent: HashMap<String, HashSet<u64>>,
    by_customer: HashMap<String, HashSet<u64>>,
    agents_of_channel: HashMap<String, HashSet<u64>>,
    customers_of_channel: HashMap<String, HashSet<u64>>,
}

fn index_add(map: &mut HashMap<String, HashSet<u64>>, key: &str, id: u64) {
    map.entry(key.to_owned()).or_default().insert(id);
}

fn index_remove(map: &mut HashMap<String, HashSet<u64>>, key: &str, id: u64) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

#[derive(Default)]
pub struct Hub {
    subs: RwLock<Subs>,
    /// Highest event id handed to local sockets.
    dispatched: AtomicI64,
    wake: Notify,
    /// The id of every meet a `meet_updated` event is about, from any node (the media router
    /// follows changes made elsewhere: [`Hub::watch_meets`]).
    meet_changes: std::sync::OnceLock<mpsc::UnboundedSender<String>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("dispatched", &self.dispatched.load(Ordering::Relaxed)).finish()
    }
}

/// A registered socket; unregisters itself when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    pub rx: mpsc::Receiver<Arc<LoggedEvent>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

impl Hub {
    pub fn new(start_after: i64) -> Hub {
        let hub = Hub::default();
        hub.dispatched.store(start_after, Ordering::SeqCst);
        hub
    }

    /// The ids of the meets `meet_updated` events are about, as the dispatcher reads them (from
    /// every node). One watcher per hub; a second call gets a receiver that never yields.
    pub fn watch_meets(&self) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.meet_changes.set(tx).is_err() {
            tracing::warn!("the hub's meet changes are watched already");
        }
        rx
    }

    /// New events were committed (here or, via LISTEN, on another node).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn dispatched(&self) -> i64 {
        self.dispatched.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.subs.read().map(|s| s.by_id.len()).unwrap_or(0)
    }

    pub fn register(self: &Arc<Self>, principal: Arc<Principal>) -> Subscription {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        subs.next += 1;
        let id = subs.next;
        match principal.as_ref() {
            Principal::Agent { agent, .. } => {
                index_add(&mut subs.by_agent, &agent.id, id);
                index_add(&mut subs.agents_of_channel, &agent.channel_id, id);
            }
            Principal::Customer { customer_id, channel_id, .. } => {
                index_add(&mut subs.by_customer, customer_id, id);
                index_add(&mut subs.customers_of_channel, channel_id, id);
            }
        }
        subs.by_id.insert(id, Sub { principal, tx });
        Subscription { hub: Arc::clone(self), id, rx }
    }

    fn unregister(&self, id: u64) {
        let mut subs = self.subs.write().unwrap_or_else(|e| e.into_inner());
        let Some(sub) = subs.by_id.remove(&id) else { return };
        match sub.principal.as_ref() {
            Principal::Agent { agent, .. } => {
                index_remove(&mut subs.by_agent, &agent.id, id);
                index_remove(&mut subs.agents_of_channel, &agent.channel_id, id);
            }
            Principal::Customer { customer_id, channel_id, .. } => {
                index_remove(&mut subs.by_customer, customer_id, id);
                index_remove(&mut subs.customers_of_channel, channel_id, id);
            }
        }
    }

    /// Hands one event to every local socket its audience admits. A socket whose queue is full
    /// is dropped from the hub (its task sees the closed queue and asks the client to resume).
    fn deliver(&self, event: Arc<LoggedEvent>) {
        let mut lagging = Vec::new();
        {
            let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
            let a = &event.audience;
            let mut targets: HashSet<u64> = HashSet::new();
            let mut add = |set: Option<&HashSet<u64>>| targets.extend(set.into_iter().flatten());
            if a.channel_agents {
                add(subs.agents_of_channel.get(&event.channel_id));
            }
            if a.channel_customers {
                add(subs.customers_of_channel.get(&event.channel_id));
            }
            for agent in &a.agents {
                add(subs.by_agent.get(agent));
            }
            for customer in &a.customers {
                add(subs.by_customer.get(customer));
            }
            for id in targets {
                let Some(sub) = subs.by_id.get(&id) else { continue };
                if !a.admits(sub.principal.channel_id(), &event.channel_id, &sub.principal) {
                    continue;
                }
                if sub.tx.try_send(Arc::clone(&event)).is_err() {
                    lagging.push(id);
                }
            }
        }
        for id in lagging {
            self.unregister(id);
        }
    }

    /// Runs forever: waits for a wake-up, then delivers every new event in id order.
    pub async fn run_dispatcher(self: Arc<Self>, store: Store) {
        loop {
            self.wake.notified().await;
            loop {
                let after = self.dispatched();
                // A reader connection: the dispatcher never waits behind (or holds up) writes.
                let batch = match store.read_conn().await {
                    Ok(mut db) => events::after(&mut db, after, 1000).await,
                    Err(e) => Err(e),
                };
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "event dispatcher could not read the log; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if batch.is_empty() {
                    break;
                }
                for stored in batch {
                    let id = stored.id;
                    match LoggedEvent::parse(stored) {
                        Some(event) => {
                            if let (EventBody::MeetUpdated { meet }, Some(watch)) =
                                (&event.body, self.meet_changes.get())
                            {
                                let _ = watch.send(meet.id.clone());
                            }
                            self.deliver(Arc::new(event))
                        }
                        None => tracing::error!(event_id = id, "unreadable event in the log; skipped"),
                    }
                    self.dispatched.store(id, Ordering::SeqCst);
                    // Let the sockets just handed this event send it before the next one wakes
                    // thousands more: a ring (a few sockets) is committed just before its
                    // meet/chat updates (every agent), and without this its sockets wait in the
                    // run queue behind the whole broadcast (p99 ≈ 130 ms at 10,000 sockets).
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}
