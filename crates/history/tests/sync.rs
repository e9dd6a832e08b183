//! Property test of the call-history sync against a real server (in-process, real HTTP on
//! 127.0.0.1; on SQLite, and on a throwaway PostgreSQL from meetdesk-testkit): random interleavings of server-side changes (new records, missed meets
//! and call-backs that mark them handled, deletes from another device), local deletes made
//! offline, app restarts, and syncs with the network up, down, or losing the server's replies
//! after the server acted. At the end, back online, one sync leaves the cache equal to the
//! server, and every record deleted locally is deleted on the server (delete wins).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use meetdesk_history::http::HttpTransport;
use meetdesk_history::{History, Transport, TransportError};
use meetdesk_protocol as p;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    Up,
    Down,
    /// Requests reach the server, which acts on them; the answers are lost.
    LoseReplies,
}

/// The real HTTP adapter behind a switchable network.
#[derive(Clone)]
struct Flaky {
    inner: HttpTransport,
    net: Arc<Mutex<Net>>,
}

impl Flaky {
    fn net(&self) -> Net {
        *self.net.lock().unwrap()
    }
}

impl Transport for Flaky {
    async fn changes(&self, since: i64, limit: u32) -> Result<meetdesk_history::Page, TransportError> {
        match self.net() {
            Net::Up => self.inner.changes(since, limit).await,
            Net::Down => Err(TransportError::Unreachable("network down".into())),
            Net::LoseReplies => {
                let _ = self.inner.changes(since, limit).await;
                Err(TransportError::Unreachable("reply lost".into()))
            }
        }
    }

    async fn push_deletes(&self, req: &p::DeletesRequest) -> Result<p::DeletesResponse, TransportError> {
        match self.net() {
            Net::Up => self.inner.push_deletes(req).await,
            Net::Down => Err(TransportError::Unreachable("network down".into())),
            Net::LoseReplies => {
                let _ = self.inner.push_deletes(req).await;
                Err(TransportError::Unreachable("reply lost".into()))
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Bob calls Carol in their DM and hangs up: a new record (outgoing).
    NewRecord,
    /// Mina calls, Bob declines: a missed record.
    Missed,
    /// Bob calls Mina back: an outgoing record, and her missed records become handled (updates).
    CallBack,
    /// Bob deletes one record on his other device.
    ServerDelete(usize),
    ServerDeleteAll,
    /// Bob deletes in the app (maybe offline).
    LocalDelete(usize),
    LocalDeleteAll,
    Sync(Net),
    /// The app restarts (the cache is opened again from its file).
    Restart,
    /// A `history_changed` event reached the app.
    Event,
    /// A sync whose pull is in flight when the user deletes a record (one the server changed
    /// meanwhile, when there is one): the pulled upsert must lose to the delete.
    DeleteDuringSync(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::NewRecord),
        3 => Just(Op::Missed),
        3 => Just(Op::CallBack),
        2 => any::<usize>().prop_map(Op::ServerDelete),
        1 => Just(Op::ServerDeleteAll),
        3 => any::<usize>().prop_map(Op::LocalDelete),
        1 => Just(Op::LocalDeleteAll),
        2 => Just(Op::Sync(Net::Up)),
        2 => Just(Op::Sync(Net::Down)),
        2 => Just(Op::Sync(Net::LoseReplies)),
        1 => Just(Op::Restart),
        1 => Just(Op::Event),
        3 => any::<usize>().prop_map(Op::DeleteDuringSync),
    ]
}

struct World {
    server: meetdesk_server::Server,
    base: String,
    http: reqwest::Client,
    bob: String,
    bob_phone: String,
    mina: String,
}

async fn call(w: &World, method: reqwest::Method, token: &str, path: &str, body: Option<Value>) -> Value {
    let mut req = w.http.request(method.clone(), format!("{}{path}", w.base)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn start(w: &World, token: &str, target: Value) -> String {
    let meet = call(
        w,
        reqwest::Method::POST,
        token,
        "/api/meets",
        Some(json!({"target": target, "media": "audio"})),
    )
    .await;
    meet["id"].as_str().unwrap().to_owned()
}

async fn act(w: &World, token: &str, meet: &str, action: &str) {
    call(w, reqwest::Method::POST, token, &format!("/api/meets/{meet}/{action}"), Some(json!({}))).await;
}

async fn sign_in(http: &reqwest::Client, base: &str, email: &str) -> String {
    let v: Value = http
        .post(format!("{base}/api/auth/sign-in"))
        .json(&json!({"email": email, "password": "demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// The server's database.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One PostgreSQL for the whole test binary; each world gets a fresh database on it.
fn postgres_database() -> String {
    static PG: OnceLock<meetdesk_testkit::Postgres> = OnceLock::new();
    static N: AtomicU32 = AtomicU32::new(0);
    let pg = PG.get_or_init(|| meetdesk_testkit::Postgres::start().unwrap());
    pg.new_database(&format!("sync_{}", N.fetch_add(1, Ordering::Relaxed))).unwrap()
}

async fn world(dir: &Path) -> World {
    world_on(dir, Backend::Sqlite).await
}

async fn world_on(dir: &Path, backend: Backend) -> World {
    let database = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("server.db").display()),
        Backend::Postgres => postgres_database(),
    };
    let mut config = meetdesk_server::Config::new("127.0.0.1:0".parse().unwrap(), database);
    config.demo = true;
    let server = meetdesk_server::start(config).await.unwrap();
    let base = server.url();
    let http = reqwest::Client::new();
    let bob = sign_in(&http, &base, "bob@demo.test").await;
    let bob_phone = sign_in(&http, &base, "bob@demo.test").await;
    let directory: p::DemoDirectory =
        http.get(format!("{base}/api/demo")).send().await.unwrap().json().await.unwrap();
    let link = &directory.customers.iter().find(|c| c.chat_id == "chat_mina").unwrap().link;
    let resume = link.split("resume=").nth(1).unwrap();
    let session: p::CustomerSessionResponse = http
        .post(format!("{base}/api/widget/resume"))
        .json(&json!({"token": resume}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    World { server, base, http, bob, bob_phone, mina: session.token }
}

/// Bob's records as the server holds them, newest first (as the cache orders them).
async fn server_records(w: &World) -> Vec<p::CallRecordView> {
    let mut db = w.server.state.store.conn().await.unwrap();
    let live = meetdesk_store::records::live(&mut db, "ag_bob").await.unwrap();
    live.iter().map(meetdesk_server::history::record_view).collect()
}

fn open(path: &Path, w: &World, net: &Arc<Mutex<Net>>) -> History<Flaky> {
    let transport = Flaky { inner: HttpTransport::new(&w.base, &w.bob), net: Arc::clone(net) };
    History::open(path, &format!("{} ag_bob", w.base), transport).unwrap().with_page_limit(3)
}

async fn run(ops: Vec<Op>) {
    run_on(ops, Backend::Sqlite).await;
}

async fn run_on(ops: Vec<Op>, backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let w = world_on(dir.path(), backend).await;
    let cache_path = dir.path().join("history.db");
    let net = Arc::new(Mutex::new(Net::Up));
    let mut history = open(&cache_path, &w, &net);
    let mut deleted_locally: BTreeSet<String> = BTreeSet::new();
    let dm = json!({"kind": "room", "room_id": "dm_bob_carol"});
    let mina_chat = json!({"kind": "user_chat", "chat_id": "chat_mina"});

    for op in ops {
        match op {
            Op::NewRecord => {
                let m = start(&w, &w.bob_phone, dm.clone()).await;
                act(&w, &w.bob_phone, &m, "hangup").await;
            }
            Op::Missed => {
                let m = start(&w, &w.mina, mina_chat.clone()).await;
                act(&w, &w.bob_phone, &m, "decline").await;
            }
            Op::CallBack => {
                let m = start(&w, &w.bob_phone, mina_chat.clone()).await;
                act(&w, &w.bob_phone, &m, "hangup").await;
            }
            Op::ServerDelete(i) => {
                let recs = server_records(&w).await;
                if !recs.is_empty() {
                    let id = &recs[i % recs.len()].id;
                    let url = format!("{}/api/history/records/{id}", w.base);
                    let resp = w.http.delete(url).bearer_auth(&w.bob_phone).send().await.unwrap();
                    assert_eq!(resp.status().as_u16(), 204);
                }
            }
            Op::ServerDeleteAll => {
                call(&w, reqwest::Method::DELETE, &w.bob_phone, "/api/history", None).await;
            }
            Op::LocalDelete(i) => {
                let recs = history.records().unwrap();
                if !recs.is_empty() {
                    let id = recs[i % recs.len()].id.clone();
                    history.delete(&id).unwrap();
                    assert!(history.record(&id).unwrap().is_none(), "gone locally at once");
                    deleted_locally.insert(id);
                }
            }
            Op::LocalDeleteAll => {
                deleted_locally.extend(history.records().unwrap().into_iter().map(|r| r.id));
                history.delete_all().unwrap();
                assert!(history.records().unwrap().is_empty());
            }
            Op::Sync(mode) => {
                *net.lock().unwrap() = mode;
                let result = history.sync().await;
                assert_eq!(result.is_ok(), mode == Net::Up, "{result:?}");
                *net.lock().unwrap() = Net::Up;
            }
            Op::Restart => {
                drop(history);
                history = open(&cache_path, &w, &net);
                assert_eq!(history.open_state(), &meetdesk_history::OpenState::Opened);
            }
            Op::DeleteDuringSync(i) => {
                history.begin();
                let mut report = meetdesk_history::SyncReport::default();
                let mut deleted = false;
                while let Some(request) = history.next_request() {
                    if !deleted && matches!(request, meetdesk_history::Request::Pull { .. }) {
                        deleted = true;
                        let recs = history.records().unwrap();
                        let missed: Vec<_> = recs
                            .iter()
                            .filter(|r| r.direction == p::RecordDirection::Missed && !r.handled)
                            .collect();
                        let pick = if missed.is_empty() { recs.iter().collect::<Vec<_>>() } else { missed };
                        if !pick.is_empty() {
                            let id = pick[i % pick.len()].id.clone();
                            history.delete(&id).unwrap();
                            deleted_locally.insert(id);
                        }
                    }
                    let outcome = history.send(&request).await;
                    history.finish(outcome, &mut report).unwrap();
                    let cached: BTreeSet<String> =
                        history.records().unwrap().into_iter().map(|r| r.id).collect();
                    assert!(cached.is_disjoint(&deleted_locally), "a pulled upsert beat a local delete");
                }
            }
            Op::Event => {
                let cursor =
                    meetdesk_store::records::current_seq(&mut w.server.state.store.conn().await.unwrap())
                        .await
                        .unwrap();
                if history.on_event(cursor) {
                    history.sync().await.unwrap();
                }
            }
        }
        // Deleted locally stays deleted locally, whatever was pulled since.
        let cached: BTreeSet<String> = history.records().unwrap().into_iter().map(|r| r.id).collect();
        assert!(
            cached.is_disjoint(&deleted_locally),
            "a local delete came back: {:?}",
            cached.intersection(&deleted_locally)
        );
    }

    *net.lock().unwrap() = Net::Up;
    history.sync().await.unwrap();
    assert!(history.pending_deletes().is_empty(), "every offline delete reached the server");
    let server = server_records(&w).await;
    assert_eq!(history.records().unwrap(), server, "the cache equals the server");
    let on_server: BTreeSet<String> = server.iter().map(|r| r.id.clone()).collect();
    assert!(on_server.is_disjoint(&deleted_locally), "delete wins");

    // A cold start (another cache file) pulls the same.
    let mut cold = open(&dir.path().join("cold.db"), &w, &net);
    assert_eq!(cold.open_state(), &meetdesk_history::OpenState::Created);
    cold.sync().await.unwrap();
    assert_eq!(cold.records().unwrap(), server);
    drop(history);
    drop(cold);
    w.server.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 50, ..ProptestConfig::default() })]

    #[test]
    fn the_cache_ends_equal_to_the_server(ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}

proptest! {
    // The same property with the server on PostgreSQL (fewer cases: each is a new database).
    #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 30, ..ProptestConfig::default() })]

    #[test]
    fn the_cache_ends_equal_to_the_server_on_postgres(ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_on(ops, Backend::Postgres));
    }
}

#[test]
fn a_corrupt_cache_is_rebuilt_from_the_server_and_nothing_is_lost() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let w = world(dir.path()).await;
        for _ in 0..3 {
            let m = start(&w, &w.bob_phone, json!({"kind": "room", "room_id": "dm_bob_carol"})).await;
            act(&w, &w.bob_phone, &m, "hangup").await;
        }
        let net = Arc::new(Mutex::new(Net::Up));
        let path = dir.path().join("history.db");
        let mut history = open(&path, &w, &net);
        history.sync().await.unwrap();
        assert_eq!(history.records().unwrap().len(), 3);
        drop(history);
        // The disk mangles the file.
        let mut bytes = std::fs::read(&path).unwrap();
        for b in bytes.iter_mut().skip(100) {
            *b ^= 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
        let mut history = open(&path, &w, &net);
        assert!(history.open_state().nothing_lost_notice(), "{:?}", history.open_state());
        assert!(history.records().unwrap().is_empty());
        history.sync().await.unwrap();
        assert_eq!(history.records().unwrap(), server_records(&w).await, "restored from the server");
        drop(history);
        w.server.shutdown().await;
    });
}

#[test]
fn a_record_changed_on_the_server_while_deleted_here_stays_deleted() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run(vec![Op::Missed, Op::Sync(Net::Up), Op::CallBack, Op::DeleteDuringSync(0)]));
}
