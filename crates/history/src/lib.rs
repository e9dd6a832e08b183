//! meetdesk-history: the desktop app's call history (P8), readable offline.
//!
//! - [`cache`]: the local SQLite file (rusqlite, WAL, migrations); rebuilt from the server when
//!   missing or corrupt, with a flag for the UI that nothing is lost.
//! - [`engine`]: the sync rules as a sans-IO state machine (cursor, pending offline deletes with
//!   idempotency keys, delete wins).
//! - [`Transport`]: the two server calls, behind a small trait; [`http::HttpTransport`] speaks
//!   them over HTTP.
//! - [`History`]: the shell the app holds: reads from the cache, deletes locally at once, and
//!   syncs on start, on reconnect and on `history_changed` events.
//!
//! **API boundary:** no UI, no event socket (the app hands events to [`History::on_event`]),
//! no meet starting (the app calls `POST /api/history/records/{id}/call`).

pub mod cache;
pub mod engine;
pub mod http;

use std::future::Future;
use std::path::Path;

use meetdesk_protocol as p;

pub use cache::{Cache, OpenState};
pub use engine::{Change, Engine, Output, Page, PendingDelete, Pulled, Reply, Request};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cache database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cache file: {0}")]
    Io(#[from] std::io::Error),
    #[error("cache data: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cache is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer (offline, connection lost, timeout): try again later.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error (our `AppError` shape).
    #[error("server answered {status} {code}: {message}")]
    Server { status: u16, code: String, message: String },
    #[error("unexpected answer: {0}")]
    Decode(String),
}

/// The two server calls sync needs. `changes` answers a [`p::ChangesPage`] as a [`Page`]
/// (records kept as the JSON the server sent; [`Page::from_json`]).
pub trait Transport {
    fn changes(&self, since: i64, limit: u32) -> impl Future<Output = Result<Page, TransportError>> + Send;
    fn push_deletes(
        &self,
        req: &p::DeletesRequest,
    ) -> impl Future<Output = Result<p::DeletesResponse, TransportError>> + Send;
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: usize,
    pub upserts: usize,
    pub deletes: usize,
    pub pushed: usize,
}

/// The call history as the desktop app holds it.
pub struct History<T> {
    cache: Cache,
    engine: Engine,
    transport: T,
    open_state: OpenState,
}

impl<T: Transport> History<T> {
    /// Opens the cache at `path` for `account` (e.g. "https://support.example.com ag_123").
    pub fn open(path: &Path, account: &str, transport: T) -> Result<History<T>, HistoryError> {
        let (cache, open_state) = Cache::open(path, account)?;
        let engine = Engine::new(cache.cursor()?, cache.pending()?);
        Ok(History { cache, engine, transport, open_state })
    }

    /// How the cache was found (show the "nothing is lost" notice when it was rebuilt).
    pub fn open_state(&self) -> &OpenState {
        &self.open_state
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn with_page_limit(mut self, limit: u32) -> Self {
        self.engine = self.engine.clone().with_page_limit(limit);
        self
    }

    /// The records to show, newest first (works offline).
    pub fn records(&self) -> Result<Vec<p::CallRecordView>, HistoryError> {
        self.cache.records()
    }

    pub fn record(&self, id: &str) -> Result<Option<p::CallRecordView>, HistoryError> {
        self.cache.record(id)
    }

    /// Deletes not yet acknowledged by the server.
    pub fn pending_deletes(&self) -> &[PendingDelete] {
        self.engine.pending()
    }

    pub fn cursor(&self) -> i64 {
        self.engine.cursor()
    }

    /// Delete one record: gone here at once, sent on the next sync.
    pub fn delete(&mut self, id: &str) -> Result<(), HistoryError> {
        self.queue(p::DeleteTarget::Record { id: id.to_owned() })
    }

    /// Delete all call records seen so far (records the server has and this cache has not seen
    /// yet are kept).
    pub fn delete_all(&mut self) -> Result<(), HistoryError> {
        self.queue(p::DeleteTarget::All { through: Some(self.engine.cursor()) })
    }

    fn queue(&mut self, target: p::DeleteTarget) -> Result<(), HistoryError> {
        let d = PendingDelete { key: uuid::Uuid::new_v4().to_string(), target };
        self.cache.delete_locally(&d)?;
        self.engine.delete(d);
        Ok(())
    }

    /// A `history_changed {cursor}` event arrived: true when a sync is due.
    pub fn on_event(&mut self, cursor: i64) -> bool {
        self.engine.on_event(cursor);
        !self.engine.is_idle()
    }

    /// Starts a round (on start, on reconnect, on demand); then [`History::sync`] or the
    /// [`History::next_request`] / [`History::finish`] steps.
    pub fn begin(&mut self) {
        self.engine.sync();
    }

    /// The next request to send, if any (one at a time). Deletes may be made while it is in
    /// flight: the reply then loses to them (delete wins). After a failed [`History::finish`]
    /// the round is over: `None` until [`History::begin`], an event ahead of the cache or a
    /// delete asks again.
    pub fn next_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }

    /// Sends a request through the transport.
    pub async fn send(&self, request: &Request) -> Result<Reply, TransportError> {
        match request {
            Request::PushDeletes(req) => self.transport.push_deletes(req).await.map(Reply::Pushed),
            Request::Pull { since, limit } => self.transport.changes(*since, *limit).await.map(Reply::Page),
        }
    }

    /// Applies the outcome of the request in flight to the cache. On a transport error the
    /// round stops (pending deletes stay, the cache keeps what it has) and the error is returned.
    pub fn finish(
        &mut self,
        outcome: Result<Reply, TransportError>,
        report: &mut SyncReport,
    ) -> Result<(), HistoryError> {
        match outcome {
            Ok(reply) => self.engine.handle_reply(reply)?,
            Err(e) => {
                self.engine.handle_failure();
                self.engine.stop();
                return Err(e.into());
            }
        }
        while let Some(output) = self.engine.poll_output() {
            match &output {
                Output::ApplyPage { upserts, deletes, .. } => {
                    report.pages += 1;
                    report.upserts += upserts.len();
                    report.deletes += deletes.len();
                }
                Output::Forget { keys } => report.pushed += keys.len(),
            }
            self.cache.apply(&output)?;
        }
        Ok(())
    }

    /// One round: push pending deletes, then pull every page.
    pub async fn sync(&mut self) -> Result<SyncReport, HistoryError> {
        self.begin();
        let mut report = SyncReport::default();
        while let Some(request) = self.next_request() {
            let outcome = self.send(&request).await;
            self.finish(outcome, &mut report)?;
        }
        Ok(report)
    }
}
