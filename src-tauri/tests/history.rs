//! The desktop's call history against a real server (in-process, real HTTP on 127.0.0.1, demo
//! data on SQLite): the cache fills on start, reads and deletes offline, sends the offline
//! delete when the server is back (the socket's `hello`), follows `history_changed`, and a
//! corrupt cache is rebuilt with the "nothing is lost" notice. Every wait is on a status the
//! module emits.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use meetdesk_client::api::Api;
use meetdesk_desktop::desktop::Emit;
use meetdesk_desktop::history::{self, CallHistory};
use meetdesk_desktop::types::{HistoryStatus, HistorySync, MeetUiState, SessionState};
use meetdesk_protocol::{self as p, Event, EventBody};
use serde_json::{json, Value};
use tokio::sync::watch;

/// Keeps the last history status emitted.
struct Recorder(watch::Sender<Option<HistoryStatus>>);

impl Emit for Recorder {
    fn session_changed(&self, _: &SessionState) {}
    fn server_event(&self, _: &Event) {}
    fn meet_changed(&self, _: &MeetUiState) {}
    fn history_changed(&self, status: &HistoryStatus) {
        self.0.send_replace(Some(status.clone()));
    }
}

async fn wait_for(
    rx: &mut watch::Receiver<Option<HistoryStatus>>,
    what: &str,
    pred: impl Fn(&HistoryStatus) -> bool,
) -> HistoryStatus {
    let waited =
        tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| s.as_ref().is_some_and(&pred)))
            .await
            .map(|found| found.map(|s| s.clone()));
    match waited {
        Ok(found) => found.unwrap().unwrap(),
        Err(_) => panic!("timed out waiting for {what}; last: {:?}", *rx.borrow()),
    }
}

async fn start_server(dir: &Path, listen: SocketAddr) -> meetdesk_server::Server {
    let database = format!("sqlite://{}?mode=rwc", dir.join("server.db").display());
    let mut config = meetdesk_server::Config::new(listen, database);
    config.demo = true;
    meetdesk_server::start(config).await.unwrap()
}

async fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn sign_in(base: &str, email: &str) -> String {
    let v: Value = reqwest::Client::new()
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

/// Carol calls Bob in their DM and hangs up before he answers: Bob gets an `invited` record.
async fn dm_record(base: &str, carol: &str) {
    let (status, meet) = call(
        base,
        carol,
        reqwest::Method::POST,
        "/api/meets",
        Some(json!({"target": {"kind": "room", "room_id": "dm_bob_carol"}, "media": "audio"})),
    )
    .await;
    assert_eq!(status, 200, "{meet}");
    let id = meet["id"].as_str().unwrap();
    let (status, body) =
        call(base, carol, reqwest::Method::POST, &format!("/api/meets/{id}/hangup"), Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
}

async fn bob_cursor(base: &str, bob: &str) -> i64 {
    let (_, page) = call(base, bob, reqwest::Method::GET, "/api/history/changes?since=0", None).await;
    let page: p::ChangesPage = serde_json::from_value(page).unwrap();
    page.cursor.max(page.changes.iter().map(|c| c.seq()).max().unwrap_or(0))
}

fn hello() -> Event {
    Event {
        seq: 0,
        at: 0,
        body: EventBody::Hello { device_id: "dev".into(), node_id: "n".into(), cursor: 0 },
    }
}

fn open(dir: &Path, base: &str, token: &str) -> (CallHistory, watch::Receiver<Option<HistoryStatus>>) {
    let (tx, rx) = watch::channel(None);
    let api = Api::new(base).unwrap().with_token(token);
    let (history, task) = CallHistory::start(dir, api, "ag_bob", Arc::new(Recorder(tx)));
    tokio::spawn(task);
    (history, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_reads_and_deletes_reach_the_server_when_it_is_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("meetdesk_desktop=debug,meetdesk_history=debug"))
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let base = server.url();
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let bob = sign_in(&base, "bob@demo.test").await;
    let carol = sign_in(&base, "carol@demo.test").await;
    dm_record(&base, &carol).await;
    dm_record(&base, &carol).await;

    // Start: the cache fills from the server.
    let data = dir.path().join("data");
    let (history, mut rx) = open(&data, &base, &bob);
    wait_for(&mut rx, "the first sync", |s| s.sync == HistorySync::Synced).await;
    let view = history.view().await.unwrap();
    assert_eq!(view.records.len(), 2, "{view:?}");
    let rec = &view.records[0];
    assert_eq!(rec.direction, p::RecordDirection::Invited);
    assert_eq!(rec.counterpart.kind, p::CounterpartKind::Agent);
    assert_eq!(rec.invited_by.as_ref().map(|a| a.name.as_str()), Some("Carol Chen"));
    assert!(history.path().starts_with(&data) && history.path().exists());

    // A live `history_changed`: a new record is pulled.
    dm_record(&base, &carol).await;
    let cursor = bob_cursor(&base, &bob).await;
    let (tx_seen, mut seen) = watch::channel(0usize);
    let h2 = history.clone();
    let watcher = tokio::spawn(async move {
        let mut rx = rx;
        loop {
            if rx.changed().await.is_err() {
                return rx;
            }
            let n = h2.view().await.unwrap().records.len();
            tx_seen.send_replace(n);
            if n == 3 {
                return rx;
            }
        }
    });
    history.on_event(&Event { seq: 1, at: 0, body: EventBody::HistoryChanged { cursor } });
    tokio::time::timeout(Duration::from_secs(20), seen.wait_for(|n| *n == 3)).await.unwrap().unwrap();
    let mut rx = watcher.await.unwrap();

    // The server goes away: the cache still reads, and a delete is gone here at once.
    server.shutdown().await;
    let before = history.view().await.unwrap().records;
    assert_eq!(before.len(), 3);
    let gone = before[1].id.clone();
    let status = history.delete(&gone).await.unwrap();
    assert_eq!(status.pending_deletes, 1);
    let after = history.view().await.unwrap();
    assert_eq!(after.records.len(), 2);
    assert!(after.records.iter().all(|r| r.id != gone));
    let s = wait_for(&mut rx, "offline", |s| s.sync == HistorySync::Offline).await;
    assert_eq!(s.pending_deletes, 1, "{s:?}");

    // Back on the same port and database: the socket's `hello` starts a round, the delete is
    // sent, and the server has the record no more.
    let server = start_server(dir.path(), addr).await;
    history.on_event(&hello());
    let s = wait_for(&mut rx, "synced with nothing pending", |s| {
        s.sync == HistorySync::Synced && s.pending_deletes == 0
    })
    .await;
    assert_eq!(s.error, None);
    let (status, _) =
        call(&base, &bob, reqwest::Method::GET, &format!("/api/history/records/{gone}"), None).await;
    assert_eq!(status, 404, "the offline delete reached the server");
    assert_eq!(history.view().await.unwrap().records.len(), 2);

    // Delete all, online.
    history.delete_all().await.unwrap();
    wait_for(&mut rx, "delete all sent", |s| s.sync == HistorySync::Synced && s.pending_deletes == 0).await;
    assert!(history.view().await.unwrap().records.is_empty());
    let (_, page) = call(&base, &bob, reqwest::Method::GET, "/api/history/changes?since=0", None).await;
    let page: p::ChangesPage = serde_json::from_value(page).unwrap();
    assert!(
        page.changes.iter().all(|c| matches!(c, p::RecordChange::Delete { .. })),
        "no live record on the server: {page:?}"
    );

    // The online reads the screen uses.
    let results = history.search("").await.unwrap();
    let kinds: Vec<p::RoomKind> = results.iter().map(|r| r.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| match k {
        p::RoomKind::Public => 0,
        p::RoomKind::Private => 1,
        p::RoomKind::Dm => 2,
    });
    assert_eq!(kinds, sorted, "public groups, private groups, then DMs");
    let dave = results.iter().find(|r| r.agent.as_ref().is_some_and(|a| a.id == "ag_dave")).unwrap();
    assert_eq!(dave.room_id, None, "bob has no DM with Dave yet");
    let dm = history.open_dm("ag_dave").await.unwrap();
    assert_eq!(dm.kind, p::RoomKind::Dm);
    assert_eq!(history.room(&dm.id).await.unwrap().id, dm.id);
    assert_eq!(history.room("room_escalations").await.unwrap_err().code, "not_found");
    let suggestions = history.suggestions().await.unwrap();
    assert!(suggestions.customers.len() <= 10 && suggestions.agents.len() <= 10);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cache_is_rebuilt_from_the_server_and_says_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let base = server.url();
    let bob = sign_in(&base, "bob@demo.test").await;
    let carol = sign_in(&base, "carol@demo.test").await;
    dm_record(&base, &carol).await;

    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let path = history::cache_path(&data, &format!("{base} ag_bob"));
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let (history, mut rx) = open(&data, &base, &bob);
    let s = wait_for(&mut rx, "synced", |s| s.sync == HistorySync::Synced).await;
    assert_eq!(s.notice.as_deref(), Some(history::RESTORED_NOTICE));
    assert_eq!(history.view().await.unwrap().records.len(), 1, "pulled back from the server");
    server.shutdown().await;
}
