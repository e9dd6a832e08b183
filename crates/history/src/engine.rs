//! The sync engine: which request to send next and what a reply means for the cache. Sans-IO:
//! no database, no network, no clock. The shell ([`crate::History`]) asks
//! [`Engine::poll_request`], performs the request, feeds [`Engine::handle_reply`] (or
//! [`Engine::handle_failure`]), and applies every [`Engine::poll_output`] to the cache.
//!
//! Rules:
//! - Offline deletes are pushed before anything is pulled, oldest first, each with its
//!   idempotency key; a key stays pending until the server acknowledged it (a lost answer is
//!   retried and the server applies the key once).
//! - **Delete wins:** while a delete is pending, a pulled upsert of a record it covers is
//!   dropped (the record stays deleted locally); every other change is applied, so nothing
//!   else is lost.
//! - Pages are applied with their cursor in one cache transaction; `reset` drops every cached
//!   record first.

use std::collections::VecDeque;

use meetdesk_protocol as p;

/// Changes asked for per page (the most the server gives).
pub const PAGE_LIMIT: u32 = 5000;
/// Offline deletes sent per request (the server takes up to 500).
pub const PUSH_LIMIT: usize = 200;

/// A delete made locally and not yet acknowledged by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelete {
    pub key: String,
    pub target: p::DeleteTarget,
}

impl PendingDelete {
    /// Does this delete cover `record` (delete wins)?
    pub fn covers(&self, record: &Pulled) -> bool {
        match &self.target {
            p::DeleteTarget::Record { id } => id == &record.id,
            p::DeleteTarget::All { through } => through.is_none_or(|t| record.created_seq <= t),
        }
    }
}

/// A pulled record: what sync and the cache's columns need of it, and its JSON as the server
/// sent it (a [`p::CallRecordView`]), which the cache stores as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub id: String,
    pub started_at: i64,
    pub created_seq: i64,
    pub body: String,
}

impl TryFrom<&p::CallRecordView> for Pulled {
    type Error = serde_json::Error;

    fn try_from(r: &p::CallRecordView) -> Result<Pulled, serde_json::Error> {
        Ok(Pulled {
            id: r.id.clone(),
            started_at: r.started_at,
            created_seq: r.created_seq,
            body: serde_json::to_string(r)?,
        })
    }
}

/// One change of a [`Page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert(Pulled),
    Delete { id: String },
}

/// A page of `GET /api/history/changes` (a [`p::ChangesPage`]) with each record kept as the
/// JSON the server sent: decoded without building the records ([`Page::from_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub reset: bool,
    pub changes: Vec<Change>,
    pub cursor: i64,
    pub has_more: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireOp {
    Upsert,
    Delete,
}

/// A [`p::RecordChange`] with its record left undecoded.
#[derive(serde::Deserialize)]
struct WireChange<'a> {
    op: WireOp,
    id: Option<String>,
    #[serde(borrow)]
    record: Option<&'a serde_json::value::RawValue>,
}

#[derive(serde::Deserialize)]
struct WirePage<'a> {
    reset: bool,
    #[serde(borrow)]
    changes: Vec<WireChange<'a>>,
    cursor: i64,
    has_more: bool,
}

/// The fields of a [`p::CallRecordView`] sync needs.
#[derive(serde::Deserialize)]
struct RecordKey {
    id: String,
    started_at: i64,
    created_seq: i64,
}

impl Page {
    /// Decodes the JSON of a [`p::ChangesPage`].
    pub fn from_json(bytes: &[u8]) -> Result<Page, serde_json::Error> {
        use serde::de::Error;
        let wire: WirePage<'_> = serde_json::from_slice(bytes)?;
        let mut changes = Vec::with_capacity(wire.changes.len());
        for c in wire.changes {
            changes.push(match (c.op, c.record, c.id) {
                (WireOp::Upsert, Some(record), _) => {
                    let key: RecordKey = serde_json::from_str(record.get())?;
                    Change::Upsert(Pulled {
                        id: key.id,
                        started_at: key.started_at,
                        created_seq: key.created_seq,
                        body: record.get().to_owned(),
                    })
                }
                (WireOp::Delete, _, Some(id)) => Change::Delete { id },
                (WireOp::Upsert, None, _) => return Err(serde_json::Error::missing_field("record")),
                (WireOp::Delete, _, None) => return Err(serde_json::Error::missing_field("id")),
            });
        }
        Ok(Page { reset: wire.reset, changes, cursor: wire.cursor, has_more: wire.has_more })
    }
}

impl TryFrom<&p::ChangesPage> for Page {
    type Error = serde_json::Error;

    fn try_from(page: &p::ChangesPage) -> Result<Page, serde_json::Error> {
        let changes = page
            .changes
            .iter()
            .map(|c| match c {
                p::RecordChange::Upsert { record, .. } => Pulled::try_from(record).map(Change::Upsert),
                p::RecordChange::Delete { id, .. } => Ok(Change::Delete { id: id.clone() }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { reset: page.reset, changes, cursor: page.cursor, has_more: page.has_more })
    }
}

/// What to send next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `POST /api/history/deletes`.
    PushDeletes(p::DeletesRequest),
    /// `GET /api/history/changes?since=&limit=`.
    Pull { since: i64, limit: u32 },
}

/// The server's answer to the request in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Pushed(p::DeletesResponse),
    Page(Page),
}

/// A cache write the shell performs (each in one transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Store a page: drop everything first when `reset`, then the upserts and deletes, then
    /// the new cursor.
    ApplyPage { reset: bool, upserts: Vec<Pulled>, deletes: Vec<String>, cursor: i64 },
    /// These pending deletes were acknowledged: forget them.
    Forget { keys: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("a reply arrived that matches no request in flight")]
    UnexpectedReply,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum InFlight {
    Push(Vec<String>),
    Pull,
}

#[derive(Debug, Clone)]
pub struct Engine {
    cursor: i64,
    pending: Vec<PendingDelete>,
    in_flight: Option<InFlight>,
    pull_wanted: bool,
    /// The round was given up ([`Engine::stop`]): nothing is asked for until a new round,
    /// an event or a delete asks again.
    stopped: bool,
    outputs: VecDeque<Output>,
    page_limit: u32,
}

impl Engine {
    /// Resumes from what the cache holds: its cursor and its pending deletes (oldest first).
    pub fn new(cursor: i64, pending: Vec<PendingDelete>) -> Engine {
        Engine {
            cursor,
            pending,
            in_flight: None,
            pull_wanted: false,
            stopped: false,
            outputs: VecDeque::new(),
            page_limit: PAGE_LIMIT,
        }
    }

    pub fn with_page_limit(mut self, limit: u32) -> Engine {
        self.page_limit = limit.max(1);
        self
    }

    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    pub fn pending(&self) -> &[PendingDelete] {
        &self.pending
    }

    /// Start a round: on start, on reconnect, on demand.
    pub fn sync(&mut self) {
        self.pull_wanted = true;
        self.stopped = false;
    }

    /// A `history_changed {cursor}` event: pull if it is ahead of us.
    pub fn on_event(&mut self, cursor: i64) {
        if cursor > self.cursor {
            self.pull_wanted = true;
            self.stopped = false;
        }
    }

    /// A delete the user made (the shell already applied it to the cache, with the pending
    /// row, in one transaction).
    pub fn delete(&mut self, d: PendingDelete) {
        self.pending.push(d);
        self.stopped = false;
    }

    /// Nothing in flight, nothing to push, nothing to pull.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_none() && self.pending.is_empty() && !self.pull_wanted
    }

    pub fn poll_request(&mut self) -> Option<Request> {
        if self.in_flight.is_some() || self.stopped {
            return None;
        }
        if !self.pending.is_empty() {
            let batch: Vec<PendingDelete> = self.pending.iter().take(PUSH_LIMIT).cloned().collect();
            self.in_flight = Some(InFlight::Push(batch.iter().map(|d| d.key.clone()).collect()));
            let deletes =
                batch.into_iter().map(|d| p::OfflineDelete { key: d.key, target: d.target }).collect();
            return Some(Request::PushDeletes(p::DeletesRequest { deletes }));
        }
        if self.pull_wanted {
            self.in_flight = Some(InFlight::Pull);
            return Some(Request::Pull { since: self.cursor, limit: self.page_limit });
        }
        None
    }

    pub fn handle_reply(&mut self, reply: Reply) -> Result<(), EngineError> {
        match (self.in_flight.take(), reply) {
            (Some(InFlight::Push(sent)), Reply::Pushed(resp)) => {
                // Every status (applied, already applied, nothing to delete) settles the key.
                let acked: Vec<String> =
                    resp.results.into_iter().map(|r| r.key).filter(|k| sent.contains(k)).collect();
                self.pending.retain(|d| !acked.contains(&d.key));
                if !acked.is_empty() {
                    self.outputs.push_back(Output::Forget { keys: acked });
                }
                // Their tombstones (and whatever else changed) are waiting.
                self.pull_wanted = true;
                Ok(())
            }
            (Some(InFlight::Pull), Reply::Page(page)) => {
                let mut upserts = Vec::new();
                let mut deletes = Vec::new();
                for change in page.changes {
                    match change {
                        Change::Upsert(record) => {
                            if !self.pending.iter().any(|d| d.covers(&record)) {
                                upserts.push(record);
                            }
                        }
                        Change::Delete { id } => deletes.push(id),
                    }
                }
                self.cursor = page.cursor;
                self.pull_wanted = page.has_more;
                self.outputs.push_back(Output::ApplyPage {
                    reset: page.reset,
                    upserts,
                    deletes,
                    cursor: page.cursor,
                });
                Ok(())
            }
            (in_flight, _) => {
                self.in_flight = in_flight;
                Err(EngineError::UnexpectedReply)
            }
        }
    }

    /// The request in flight failed (network lost, server error): nothing changed here; the
    /// same work is asked for again on the next round.
    pub fn handle_failure(&mut self) {
        if self.in_flight.take() == Some(InFlight::Pull) {
            self.pull_wanted = true;
        }
    }

    /// Gives up the round (offline): whatever is pending stays for the next one, and nothing
    /// is asked for until then — so a caller cannot take a request it will not send.
    pub fn stop(&mut self) {
        self.in_flight = None;
        self.pull_wanted = false;
        self.stopped = true;
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(id: &str, created_seq: i64) -> p::CallRecordView {
        p::CallRecordView {
            id: id.into(),
            meet_id: format!("meet_{id}"),
            direction: p::RecordDirection::Incoming,
            scope: p::ScopeKind::UserChat,
            media: p::Media::Audio,
            internal: false,
            counterpart: p::Counterpart {
                kind: p::CounterpartKind::Customer,
                id: "c".into(),
                name: "C".into(),
            },
            chat_id: Some("chat".into()),
            room_id: None,
            invited_by: None,
            started_at: created_seq,
            answered_at: None,
            ended_at: None,
            handled: false,
            created_seq,
        }
    }

    fn page(changes: Vec<p::RecordChange>, cursor: i64, has_more: bool) -> Reply {
        Reply::Page(Page::try_from(&p::ChangesPage { reset: false, changes, cursor, has_more }).unwrap())
    }

    fn pulled(id: &str, created_seq: i64) -> Pulled {
        Pulled::try_from(&record(id, created_seq)).unwrap()
    }

    #[test]
    fn a_page_decoded_from_json_keeps_each_record_as_the_server_sent_it() {
        let typed = p::ChangesPage {
            reset: true,
            changes: vec![
                p::RecordChange::Upsert { seq: 4, record: record("a\"é", 2) },
                p::RecordChange::Delete { seq: 5, id: "b".into() },
            ],
            cursor: 5,
            has_more: false,
        };
        let json = serde_json::to_string(&typed).unwrap();
        let page = Page::from_json(json.as_bytes()).unwrap();
        assert_eq!(page, Page::try_from(&typed).unwrap());
        let Change::Upsert(r) = &page.changes[0] else { panic!("an upsert") };
        assert_eq!(serde_json::from_str::<p::CallRecordView>(&r.body).unwrap(), record("a\"é", 2));
        for bad in [
            r#"{"reset":false,"changes":[{"op":"upsert","seq":1}],"cursor":1,"has_more":false}"#,
            r#"{"reset":false,"changes":[{"op":"move","seq":1,"id":"a"}],"cursor":1,"has_more":false}"#,
            "[]",
        ] {
            assert!(Page::from_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn pulls_page_after_page_until_nothing_is_left() {
        let mut e = Engine::new(0, Vec::new()).with_page_limit(1);
        e.sync();
        assert_eq!(e.poll_request(), Some(Request::Pull { since: 0, limit: 1 }));
        assert_eq!(e.poll_request(), None, "one request at a time");
        e.handle_reply(page(vec![p::RecordChange::Upsert { seq: 1, record: record("a", 1) }], 1, true))
            .unwrap();
        assert!(matches!(e.poll_output(), Some(Output::ApplyPage { cursor: 1, .. })));
        assert_eq!(e.poll_request(), Some(Request::Pull { since: 1, limit: 1 }));
        e.handle_reply(page(vec![], 5, false)).unwrap();
        assert_eq!(e.cursor(), 5);
        e.poll_output();
        assert!(e.is_idle());
    }

    #[test]
    fn pending_deletes_go_first_and_win_over_pulled_upserts() {
        let del = PendingDelete { key: "k".into(), target: p::DeleteTarget::Record { id: "a".into() } };
        let mut e = Engine::new(3, vec![del]);
        e.sync();
        let Some(Request::PushDeletes(req)) = e.poll_request() else { panic!("push first") };
        assert_eq!(req.deletes[0].key, "k");
        // The push fails (network): still pending, nothing asked for until the next round, and
        // a pulled upsert of "a" is dropped.
        e.handle_failure();
        e.stop();
        assert_eq!(e.poll_request(), None, "the round is over");
        e.sync();
        assert!(matches!(e.poll_request(), Some(Request::PushDeletes(_))));
        e.handle_failure();
        let mut e2 = Engine::new(3, e.pending().to_vec());
        e2.in_flight = Some(InFlight::Pull);
        e2.handle_reply(page(
            vec![
                p::RecordChange::Upsert { seq: 4, record: record("a", 1) },
                p::RecordChange::Upsert { seq: 5, record: record("b", 5) },
            ],
            5,
            false,
        ))
        .unwrap();
        let Some(Output::ApplyPage { upserts, .. }) = e2.poll_output() else { panic!() };
        assert_eq!(
            upserts.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["b"],
            "delete wins, b is kept"
        );
    }

    #[test]
    fn an_acknowledged_key_is_forgotten_then_the_tombstones_are_pulled() {
        let all = PendingDelete { key: "k".into(), target: p::DeleteTarget::All { through: Some(3) } };
        assert!(all.covers(&pulled("old", 3)) && !all.covers(&pulled("new", 4)), "unseen records are spared");
        let mut e = Engine::new(3, vec![all]);
        e.sync();
        e.poll_request();
        let ack = p::DeleteResult { key: "k".into(), status: p::DeleteStatus::AlreadyApplied, deleted: 2 };
        e.handle_reply(Reply::Pushed(p::DeletesResponse { results: vec![ack] })).unwrap();
        assert_eq!(e.poll_output(), Some(Output::Forget { keys: vec!["k".into()] }));
        assert!(e.pending().is_empty());
        assert_eq!(e.poll_request(), Some(Request::Pull { since: 3, limit: PAGE_LIMIT }));
    }

    #[test]
    fn a_reply_without_a_request_is_refused_and_events_ahead_trigger_a_pull() {
        let mut e = Engine::new(7, Vec::new());
        assert_eq!(e.handle_reply(page(vec![], 9, false)), Err(EngineError::UnexpectedReply));
        e.on_event(7);
        assert!(e.is_idle(), "not ahead");
        e.on_event(8);
        assert_eq!(e.poll_request(), Some(Request::Pull { since: 7, limit: PAGE_LIMIT }));
    }
}
