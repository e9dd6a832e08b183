//! The session's call history (P8): the IO shell around `meetdesk-history`.
//!
//! [`CallHistory`] holds the agent's local cache (one SQLite file per account under the app's
//! data directory) and a sync task ([`CallHistory::start`]) that runs rounds — on start, on
//! the socket's `hello` (a reconnect), on `history_changed` events and after every delete —
//! while the commands read and delete at once, offline too. The rules (what to push, what to
//! pull, delete wins) are the history crate's; this module only moves data: rusqlite work on
//! the blocking pool (`spawn_blocking`, the std lock never held across an await), requests on
//! the async threads. Every change goes out as a [`HistoryStatus`] through [`Emit`].
//!
//! Also here, because the history screen needs them: suggestions for an empty history, the
//! new-team-meet search, the DM with an agent, and a room's details (online reads).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use meetdesk_client::api::Api;
use meetdesk_history::http::HttpTransport;
use meetdesk_history::{History, HistoryError, Reply, Request, SyncReport, Transport, TransportError};
use meetdesk_protocol::{self as p, Event, EventBody};
use tokio::sync::{mpsc, OnceCell};

use crate::desktop::Emit;
use crate::types::{CommandError, HistoryStatus, HistorySync, HistoryView};

/// What the notice says when the cache was unreadable and is rebuilt from the server.
pub const RESTORING_NOTICE: &str = "Your call history is being restored from the server. Nothing is lost.";
pub const RESTORED_NOTICE: &str = "Your call history was restored from the server. Nothing was lost.";

/// Why a round is due.
#[derive(Debug, Clone, Copy)]
enum Kick {
    /// Start, reconnect, a delete: push and pull.
    Sync,
    /// `history_changed {cursor}`: pull when the cursor is ahead of the cache's.
    Event(i64),
}

type Shared = Arc<StdMutex<History<HttpTransport>>>;

struct Opened {
    history: Shared,
    transport: HttpTransport,
    /// The cache was rebuilt (tell the user nothing is lost).
    rebuilt: bool,
}

struct Inner {
    path: PathBuf,
    account: String,
    api: Api,
    emit: Arc<dyn Emit>,
    opened: OnceCell<Result<Opened, String>>,
    status: StdMutex<HistoryStatus>,
    kick: mpsc::UnboundedSender<Kick>,
}

/// The handle the controller keeps while signed in (cheap to clone).
#[derive(Clone)]
pub struct CallHistory {
    inner: Arc<Inner>,
}

/// The cache file of `account` in `dir`: readable names, one file per server and agent.
pub fn cache_path(dir: &Path, account: &str) -> PathBuf {
    let name: String =
        account.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    dir.join(format!("history-{name}.db"))
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn cache_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("history_cache", format!("The call history cache failed: {e}"))
}

fn valid_id(id: &str) -> Result<(), CommandError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(CommandError::new("bad_input", "No such record, agent or room."));
    }
    Ok(())
}

/// Sends one of the sync engine's requests (the shell's half of [`History::send`], without
/// holding the history).
async fn send(transport: &HttpTransport, request: &Request) -> Result<Reply, TransportError> {
    match request {
        Request::PushDeletes(req) => transport.push_deletes(req).await.map(Reply::Pushed),
        Request::Pull { since, limit } => transport.changes(*since, *limit).await.map(Reply::Page),
    }
}

impl CallHistory {
    /// The handle and its sync task (to spawn; it ends when every handle is gone). The cache of
    /// `agent_id` on `api`'s server lives in `dir`; it is opened by the first use, off the
    /// async threads.
    pub fn start(
        dir: &Path,
        api: Api,
        agent_id: &str,
        emit: Arc<dyn Emit>,
    ) -> (CallHistory, impl Future<Output = ()> + Send + 'static) {
        let account = format!("{} {agent_id}", api.base());
        let (kick, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            path: cache_path(dir, &account),
            account,
            api,
            emit,
            opened: OnceCell::new(),
            status: StdMutex::new(HistoryStatus {
                sync: HistorySync::Syncing,
                pending_deletes: 0,
                notice: None,
                error: None,
            }),
            kick,
        });
        let _ = inner.kick.send(Kick::Sync);
        let task = SyncTask { inner: Arc::downgrade(&inner), rx }.run();
        (CallHistory { inner }, task)
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Hands a socket event over: `hello` (connected or reconnected) and `history_changed`
    /// start a round.
    pub fn on_event(&self, event: &Event) {
        let kick = match &event.body {
            EventBody::Hello { .. } | EventBody::Resync => Kick::Sync,
            EventBody::HistoryChanged { cursor } => Kick::Event(*cursor),
            _ => return,
        };
        let _ = self.inner.kick.send(kick);
    }

    pub fn status(&self) -> HistoryStatus {
        lock(&self.inner.status).clone()
    }

    /// The cached records, newest first, and the sync state (offline too).
    pub async fn view(&self) -> Result<HistoryView, CommandError> {
        let (records, pending) = self.with_history(|h| Ok((h.records()?, h.pending_deletes().len()))).await?;
        let status = self.update(|s| s.pending_deletes = pending as u32);
        Ok(HistoryView { records, status })
    }

    /// Deletes one record here at once; the server hears of it on the next round.
    pub async fn delete(&self, record_id: &str) -> Result<HistoryStatus, CommandError> {
        valid_id(record_id)?;
        let id = record_id.to_owned();
        let pending = self
            .with_history(move |h| {
                h.delete(&id)?;
                Ok(h.pending_deletes().len())
            })
            .await?;
        Ok(self.deleted(pending))
    }

    /// Deletes every record the cache has seen (records the server wrote since stay).
    pub async fn delete_all(&self) -> Result<HistoryStatus, CommandError> {
        let pending = self
            .with_history(|h| {
                h.delete_all()?;
                Ok(h.pending_deletes().len())
            })
            .await?;
        Ok(self.deleted(pending))
    }

    fn deleted(&self, pending: usize) -> HistoryStatus {
        let status = self.update(|s| s.pending_deletes = pending as u32);
        self.inner.emit.history_changed(&status);
        let _ = self.inner.kick.send(Kick::Sync);
        status
    }

    pub async fn suggestions(&self) -> Result<p::Suggestions, CommandError> {
        Ok(self.inner.api.get("/api/history/suggestions").await?)
    }

    pub async fn search(&self, query: &str) -> Result<Vec<p::TeamSearchResult>, CommandError> {
        let q = query.trim();
        if q.chars().count() > 200 {
            return Err(CommandError::new("bad_input", "A search has at most 200 characters."));
        }
        let path = format!("/api/history/search?q={}", encode_query(q));
        Ok(self.inner.api.get(&path).await?)
    }

    pub async fn open_dm(&self, agent_id: &str) -> Result<p::RoomView, CommandError> {
        valid_id(agent_id)?;
        let body = p::DmRequest { agent_id: agent_id.to_owned() };
        Ok(self.inner.api.post("/api/rooms/dm", &body).await?)
    }

    /// A room this agent is in (its members, its meet going on).
    pub async fn room(&self, room_id: &str) -> Result<p::RoomView, CommandError> {
        valid_id(room_id)?;
        let rooms: Vec<p::RoomView> = self.inner.api.get("/api/rooms").await?;
        rooms
            .into_iter()
            .find(|r| r.id == room_id)
            .ok_or_else(|| CommandError::new("not_found", "You are not in this room (any more)."))
    }

    /// Changes the status and returns it (not emitted).
    fn update(&self, f: impl FnOnce(&mut HistoryStatus)) -> HistoryStatus {
        let mut s = lock(&self.inner.status);
        f(&mut s);
        s.clone()
    }

    async fn opened(&self) -> Result<&Opened, CommandError> {
        self.inner.opened().await
    }

    /// Runs `f` on the history on the blocking pool.
    async fn with_history<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut History<HttpTransport>) -> Result<R, HistoryError> + Send + 'static,
    ) -> Result<R, CommandError> {
        let shared = Arc::clone(&self.opened().await?.history);
        on_history(shared, f).await
    }
}

async fn on_history<R: Send + 'static>(
    shared: Shared,
    f: impl FnOnce(&mut History<HttpTransport>) -> Result<R, HistoryError> + Send + 'static,
) -> Result<R, CommandError> {
    tokio::task::spawn_blocking(move || f(&mut lock(&shared)))
        .await
        .map_err(cache_error)?
        .map_err(cache_error)
}

impl Inner {
    /// Opens the cache once (the first caller does it, the others wait for it).
    async fn opened(&self) -> Result<&Opened, CommandError> {
        let result = self
            .opened
            .get_or_init(|| async {
                let path = self.path.clone();
                let account = self.account.clone();
                let transport = HttpTransport::new(self.api.base(), self.api.token().unwrap_or_default());
                let for_open = transport.clone();
                let opened = tokio::task::spawn_blocking(move || {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    History::open(&path, &account, for_open)
                })
                .await;
                match opened {
                    Ok(Ok(history)) => {
                        let rebuilt = history.open_state().nothing_lost_notice();
                        let pending = history.pending_deletes().len() as u32;
                        {
                            let mut s = lock(&self.status);
                            s.pending_deletes = pending;
                            if rebuilt {
                                s.notice = Some(RESTORING_NOTICE.to_owned());
                            }
                        }
                        Ok(Opened { history: Arc::new(StdMutex::new(history)), transport, rebuilt })
                    }
                    Ok(Err(e)) => {
                        tracing::error!(path = %self.path.display(), error = %e, "the call-history cache cannot be opened");
                        Err(e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                }
            })
            .await;
        result.as_ref().map_err(cache_error)
    }

    fn set_status(&self, f: impl FnOnce(&mut HistoryStatus)) {
        let status = {
            let mut s = lock(&self.status);
            let before = s.clone();
            f(&mut s);
            if *s == before {
                return;
            }
            s.clone()
        };
        self.emit.history_changed(&status);
    }
}

/// The sync rounds, one at a time. Holds the handle weakly: it ends when the session drops it.
struct SyncTask {
    inner: std::sync::Weak<Inner>,
    rx: mpsc::UnboundedReceiver<Kick>,
}

/// After a round that could not reach the server, the next one is tried after this (doubling,
/// up to [`RETRY_MAX`]) unless a kick comes first: a reconnect's first request can meet a
/// connection the old server left behind, and deletes should not wait for the next event.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

impl SyncTask {
    async fn run(mut self) {
        let mut retry: Option<Duration> = None;
        loop {
            let first = match retry {
                None => self.rx.recv().await,
                Some(wait) => tokio::time::timeout(wait, self.rx.recv()).await.unwrap_or(Some(Kick::Sync)),
            };
            let Some(first) = first else { return };
            // Every kick that is waiting goes into this one round.
            let mut sync = false;
            let mut event: Option<i64> = None;
            let mut take = |k: Kick| match k {
                Kick::Sync => sync = true,
                Kick::Event(c) => event = Some(event.map_or(c, |e| e.max(c))),
            };
            take(first);
            while let Ok(k) = self.rx.try_recv() {
                take(k);
            }
            let Some(inner) = self.inner.upgrade() else { return };
            retry = match round(&inner, sync, event).await {
                Round::Done => None,
                Round::Unreachable => Some(retry.map_or(RETRY_FIRST, |r| (r * 2).min(RETRY_MAX))),
            };
        }
    }
}

enum Round {
    /// Synced, or failed in a way a retry would not mend (the next kick tries again).
    Done,
    /// The server could not be reached: try again later.
    Unreachable,
}

/// One round: push pending deletes, pull every page; then tell the UI.
async fn round(inner: &Inner, sync: bool, event: Option<i64>) -> Round {
    let opened = match inner.opened().await {
        Ok(o) => o,
        Err(e) => {
            inner.set_status(|s| {
                s.sync = HistorySync::Offline;
                s.error = Some(e.message);
            });
            return Round::Done;
        }
    };
    let first = on_history(Arc::clone(&opened.history), move |h| {
        if sync {
            h.begin();
        }
        if let Some(cursor) = event {
            h.on_event(cursor);
        }
        Ok(h.next_request())
    })
    .await;
    let mut next = match first {
        Ok(Some(request)) => request,
        Ok(None) => return Round::Done, // nothing to do (an event we had already pulled)
        Err(e) => {
            inner.set_status(|s| s.error = Some(e.message));
            return Round::Done;
        }
    };
    inner.set_status(|s| s.sync = HistorySync::Syncing);
    let mut report = SyncReport::default();
    let outcome = loop {
        let reply = send(&opened.transport, &next).await;
        let mut taken = std::mem::take(&mut report);
        let step = on_history(Arc::clone(&opened.history), move |h| {
            let finished = h.finish(reply, &mut taken);
            let pending = h.pending_deletes().len();
            // After a failure the round is over: the engine asks for nothing more.
            let request = h.next_request();
            Ok((finished, taken, pending, request))
        })
        .await;
        match step {
            Ok((finished, r, pending, request)) => {
                report = r;
                inner.set_status(|s| s.pending_deletes = pending as u32);
                match (finished, request) {
                    (Err(e), _) => break Err(e),
                    (Ok(()), Some(request)) => next = request,
                    (Ok(()), None) => break Ok(()),
                }
            }
            Err(e) => break Err(HistoryError::Corrupt(e.message)),
        }
    };
    let changed = report != SyncReport::default();
    if changed {
        tracing::debug!(?report, "call history synced");
    }
    let status = {
        let mut s = lock(&inner.status);
        match &outcome {
            Ok(()) => {
                s.sync = HistorySync::Synced;
                s.error = None;
                if opened.rebuilt && s.notice.is_some() {
                    s.notice = Some(RESTORED_NOTICE.to_owned());
                }
            }
            Err(HistoryError::Transport(TransportError::Unreachable(why))) => {
                tracing::info!(%why, "call history not synced: offline");
                s.sync = HistorySync::Offline;
            }
            Err(e) => {
                tracing::warn!(error = %e, "call history not synced");
                s.sync = HistorySync::Offline;
                s.error = Some(match e {
                    HistoryError::Transport(TransportError::Server { message, .. }) => message.clone(),
                    other => other.to_string(),
                });
            }
        }
        s.clone()
    };
    // Always told after a round: the records may have changed even when the state did not.
    inner.emit.history_changed(&status);
    match outcome {
        Err(HistoryError::Transport(TransportError::Unreachable(_))) => Round::Unreachable,
        _ => Round::Done,
    }
}

/// Percent-encodes a query string value (RFC 3986 unreserved characters kept).
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn each_account_has_a_file_of_its_own() {
        let dir = Path::new("/data");
        let a = cache_path(dir, "http://127.0.0.1:8780 ag_bob");
        assert_eq!(a, Path::new("/data/history-http___127_0_0_1_8780_ag_bob.db"));
        assert_ne!(a, cache_path(dir, "http://127.0.0.1:8780 ag_carol"));
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(encode_query("Bob B&x=1"), "Bob%20B%26x%3D1");
        assert_eq!(encode_query("é"), "%C3%A9");
    }
}
