//! Harness for the server's end-to-end tests: a real server on 127.0.0.1 (in this process),
//! on a temp SQLite file or a throwaway PostgreSQL, driven over real HTTP and WebSockets.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use meetdesk_protocol::{self as p, Event, EventBody};
use meetdesk_server::{Config, Server};
use meetdesk_testkit::Postgres;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// How long a test waits for an event that must come. Not a synchronisation sleep: tests wait
/// for the event itself; this only bounds a failure.
pub const WAIT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub server: Option<Server>,
    pub http: reqwest::Client,
    pub base: String,
    _dir: tempfile::TempDir,
    _pg: Option<Postgres>,
    pub database: String,
}

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let (database, pg) = match db {
            Db::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("meetdesk.db").display()), None),
            Db::Postgres => {
                let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap().unwrap();
                (pg.url(), Some(pg))
            }
        };
        let server = start_node(&database).await;
        let base = server.url();
        TestServer { server: Some(server), http: reqwest::Client::new(), base, _dir: dir, _pg: pg, database }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Moves the server's clock forward and lets the deadline sweeper look at once.
    pub fn advance(&self, ms: i64) {
        let state = &self.server().state;
        state.clock.advance(ms);
        state.deadlines_changed.notify_one();
    }

    pub fn now(&self) -> i64 {
        self.server().state.clock.now_ms()
    }

    pub async fn sign_in(&self, email: &str) -> Client {
        let body: p::SessionResponse =
            self.post_ok(None, "/api/auth/sign-in", json!({"email": email, "password": "demo"})).await;
        Client {
            token: body.token,
            device_id: body.device_id,
            agent_id: Some(body.agent.id),
            base: self.base.clone(),
        }
    }

    /// A customer session resuming the demo chat `chat_id` through its signed demo link.
    pub async fn customer(&self, chat_id: &str) -> Client {
        let s = http::customer_session(&self.base, chat_id).await;
        Client { token: s.token, device_id: s.device_id, agent_id: None, base: self.base.clone() }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        http::call(&self.base, method, token, path, body).await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, token, path, Some(body)).await
    }

    pub async fn get_ok<T: DeserializeOwned>(&self, token: Option<&str>, path: &str) -> T {
        http::get_ok(&self.base, token, path).await
    }

    pub async fn post_ok<T: DeserializeOwned>(&self, token: Option<&str>, path: &str, body: Value) -> T {
        http::post_ok(&self.base, token, path, body).await
    }

    /// Starts a meet and returns it.
    pub async fn start_meet(&self, who: &Client, target: Value, media: &str) -> p::MeetView {
        self.post_ok(Some(&who.token), "/api/meets", json!({"target": target, "media": media})).await
    }

    pub async fn act(&self, who: &Client, meet_id: &str, action: &str) -> (u16, Value) {
        self.post(Some(&who.token), &format!("/api/meets/{meet_id}/{action}"), json!({})).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

pub async fn start_node(database: &str) -> Server {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), database);
    config.demo = true;
    meetdesk_server::start(config).await.unwrap()
}

/// Someone signed in: an agent device or a customer widget session.
#[derive(Clone, Debug)]
pub struct Client {
    pub token: String,
    pub device_id: String,
    pub agent_id: Option<String>,
    pub base: String,
}

impl Client {
    pub async fn events(&self) -> Events {
        Events::connect(&self.base, &self.token, None).await
    }
}

/// One event socket; events are read in the background into a queue.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
    pub last_seq: i64,
    pub seen: Vec<Event>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Events {
    pub async fn connect(base: &str, token: &str, after: Option<i64>) -> Events {
        let ws_base = base.replacen("http://", "ws://", 1);
        let url = match after {
            Some(a) => format!("{ws_base}/api/events?token={token}&after={a}"),
            None => format!("{ws_base}/api/events?token={token}"),
        };
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = socket.next() => match msg {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                            let event: Event = serde_json::from_str(&t).unwrap();
                            if tx.send(event).is_err() { break; }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    _ = &mut close_rx => {
                        let _ = socket.close(None).await;
                        break;
                    }
                }
            }
        });
        let mut events = Events { rx, last_seq: after.unwrap_or(0), seen: Vec::new(), close: Some(close_tx) };
        events.next_where(|e| matches!(e.body, EventBody::Hello { .. })).await;
        events
    }

    /// An event already received that matches, or else the next one that does.
    pub async fn seen_or_next(&mut self, mut pred: impl FnMut(&Event) -> bool) -> Event {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return e.clone();
        }
        self.next_where(pred).await
    }

    /// The next event that matches; everything before it is kept in `seen`.
    pub async fn next_where(&mut self, mut pred: impl FnMut(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no matching event within {WAIT:?}; seen: {:#?}", self.seen))
                .unwrap_or_else(|| panic!("socket closed; seen: {:#?}", self.seen));
            if event.seq > 0 {
                assert!(
                    event.seq > self.last_seq,
                    "seq went backwards: {} after {}",
                    event.seq,
                    self.last_seq
                );
                self.last_seq = event.seq;
            }
            self.seen.push(event.clone());
            if pred(&event) {
                return event;
            }
        }
    }

    pub async fn ring(&mut self, meet_id: &str) -> Event {
        self.next_where(|e| matches!(&e.body, EventBody::Ring { meet, .. } if meet.id == meet_id)).await
    }

    pub async fn ring_stopped(&mut self, meet_id: &str) -> Event {
        self.next_where(|e| matches!(&e.body, EventBody::RingStopped { meet_id: m, .. } if m == meet_id))
            .await
    }

    pub async fn meet_state(&mut self, meet_id: &str, state: p::MeetState) -> p::MeetView {
        let e = self
            .next_where(|e| matches!(&e.body, EventBody::MeetUpdated { meet } if meet.id == meet_id && meet.state == state))
            .await;
        match e.body {
            EventBody::MeetUpdated { meet } => meet,
            _ => unreachable!(),
        }
    }

    pub async fn message(&mut self, pred: impl Fn(&p::MessageView) -> bool) -> p::MessageView {
        let e =
            self.seen_or_next(|e| matches!(&e.body, EventBody::Message { message } if pred(message))).await;
        match e.body {
            EventBody::Message { message } => message,
            _ => unreachable!(),
        }
    }

    /// Every event received so far (including the one that matched last).
    pub fn all(&self) -> &[Event] {
        &self.seen
    }

    pub fn close(&mut self) {
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs the async test body once per database.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(common::Db::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(common::Db::Postgres).await;
            }
        }
    };
}

/// HTTP as a client speaks it, against any server by base URL (in-process or a child process).
pub mod http {
    use meetdesk_protocol as p;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    pub async fn call(
        base: &str,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get_ok<T: DeserializeOwned>(base: &str, token: Option<&str>, path: &str) -> T {
        let (status, v) = call(base, reqwest::Method::GET, token, path, None).await;
        assert_eq!(status, 200, "GET {base}{path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    pub async fn post_ok<T: DeserializeOwned>(base: &str, token: Option<&str>, path: &str, body: Value) -> T {
        let (status, v) = call(base, reqwest::Method::POST, token, path, Some(body)).await;
        assert_eq!(status, 200, "POST {base}{path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    /// An agent's session.
    pub async fn session(base: &str, email: &str) -> p::SessionResponse {
        post_ok(base, None, "/api/auth/sign-in", json!({"email": email, "password": "demo"})).await
    }

    /// An agent's session token.
    pub async fn sign_in(base: &str, email: &str) -> String {
        session(base, email).await.token
    }

    /// A customer session resumed through the demo directory's signed link.
    pub async fn customer_session(base: &str, chat_id: &str) -> p::CustomerSessionResponse {
        let dir: p::DemoDirectory = get_ok(base, None, "/api/demo").await;
        let link = &dir.customers.iter().find(|c| c.chat_id == chat_id).unwrap().link;
        let token = link.split("resume=").nth(1).unwrap();
        post_ok(base, None, "/api/widget/resume", json!({"token": token})).await
    }

    /// A customer session token.
    pub async fn customer(base: &str, chat_id: &str) -> String {
        customer_session(base, chat_id).await.token
    }

    pub async fn meet(base: &str, token: &str, id: &str) -> p::MeetView {
        get_ok(base, Some(token), &format!("/api/meets/{id}")).await
    }
}
