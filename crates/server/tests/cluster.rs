//! Several nodes on one PostgreSQL: events cross nodes through LISTEN/NOTIFY, a meet's media
//! stays pinned to the node that started it, and a ring outlives the node that started it
//! (another node's deadline sweeper ends it on time).
#![allow(clippy::unwrap_used)]

mod common;

use common::{start_node, Events};
use meetdesk_protocol::{self as p, EventBody, RingStopReason};
use meetdesk_server::Server;
use meetdesk_testkit::Postgres;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

async fn call(
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

async fn get_ok<T: DeserializeOwned>(base: &str, token: Option<&str>, path: &str) -> T {
    let (status, v) = call(base, reqwest::Method::GET, token, path, None).await;
    assert_eq!(status, 200, "GET {base}{path}: {v}");
    serde_json::from_value(v).unwrap()
}

async fn post_ok<T: DeserializeOwned>(base: &str, token: Option<&str>, path: &str, body: Value) -> T {
    let (status, v) = call(base, reqwest::Method::POST, token, path, Some(body)).await;
    assert_eq!(status, 200, "POST {base}{path}: {v}");
    serde_json::from_value(v).unwrap()
}

async fn sign_in(base: &str, email: &str) -> String {
    let s: p::SessionResponse =
        post_ok(base, None, "/api/auth/sign-in", json!({"email": email, "password": "demo"})).await;
    s.token
}

async fn customer(base: &str, chat_id: &str) -> String {
    let dir: p::DemoDirectory = get_ok(base, None, "/api/demo").await;
    let link = &dir.customers.iter().find(|c| c.chat_id == chat_id).unwrap().link;
    let token = link.split("resume=").nth(1).unwrap();
    let s: p::CustomerSessionResponse =
        post_ok(base, None, "/api/widget/resume", json!({"token": token})).await;
    s.token
}

async fn meet(base: &str, token: &str, id: &str) -> p::MeetView {
    get_ok(base, Some(token), &format!("/api/meets/{id}")).await
}

fn hello_node(events: &Events) -> String {
    match &events.all().first().unwrap().body {
        EventBody::Hello { node_id, .. } => node_id.clone(),
        other => panic!("first event is not hello: {other:?}"),
    }
}

/// A throwaway PostgreSQL and two demo nodes A and B on it.
async fn two_nodes() -> (Postgres, Server, Server) {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap().unwrap();
    let a = start_node(&pg.url()).await;
    let b = start_node(&pg.url()).await;
    (pg, a, b)
}

async fn node_id(server: &Server) -> String {
    let health: p::Health = get_ok(&server.url(), None, "/healthz").await;
    assert_eq!(health.database, "postgres");
    health.node_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_on_node_b_rings_bob_on_node_a_and_his_accept_reaches_the_customer_on_b() {
    let (_pg, a, b) = two_nodes().await;
    let (node_a, node_b) = (node_id(&a).await, node_id(&b).await);
    assert_ne!(node_a, node_b);

    // Bob's device is on A; Mina's widget on B.
    let bob = sign_in(&a.url(), "bob@demo.test").await;
    let mut bob_events = Events::connect(&a.url(), &bob, None).await;
    assert_eq!(hello_node(&bob_events), node_a);
    let mina = customer(&b.url(), "chat_mina").await;
    let mut mina_events = Events::connect(&b.url(), &mina, None).await;
    assert_eq!(hello_node(&mina_events), node_b);

    let started: p::MeetView = post_ok(
        &b.url(),
        Some(&mina),
        "/api/meets",
        json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "audio"}),
    )
    .await;
    assert_eq!(started.state, p::MeetState::Ringing);
    assert_eq!(started.node_id, node_b, "media pinned to the node the meet started on");

    // The ring was written on B and reaches A through LISTEN/NOTIFY.
    let ring = bob_events.ring(&started.id).await;
    let EventBody::Ring { meet: rung, deadline } = ring.body else { unreachable!() };
    assert_eq!(deadline, started.created_at + 120_000);
    assert_eq!(rung.node_id, node_b);

    let accepted: p::MeetView =
        post_ok(&a.url(), Some(&bob), &format!("/api/meets/{}/accept", started.id), json!({})).await;
    assert_eq!(accepted.state, p::MeetState::Active);
    assert_eq!(accepted.node_id, node_b, "accepting through A does not move the media");
    // Written on A, delivered to Mina's socket on B.
    let active = mina_events.meet_state(&started.id, p::MeetState::Active).await;
    assert_eq!(active.node_id, node_b);
    let stop = bob_events.ring_stopped(&started.id).await;
    assert!(matches!(stop.body, EventBody::RingStopped { reason: RingStopReason::Accepted, .. }));
    for base in [a.url(), b.url()] {
        assert_eq!(meet(&base, &bob, &started.id).await.node_id, node_b, "{base}");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_outlives_the_node_that_started_it_and_another_node_ends_it_on_time() {
    let (_pg, a, b) = two_nodes().await;
    let node_b = node_id(&b).await;
    let bob = sign_in(&a.url(), "bob@demo.test").await;
    let mut bob_events = Events::connect(&a.url(), &bob, None).await;
    let mina = customer(&b.url(), "chat_mina").await;
    let mut mina_events = Events::connect(&b.url(), &mina, None).await;

    let started: p::MeetView = post_ok(
        &b.url(),
        Some(&mina),
        "/api/meets",
        json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "video"}),
    )
    .await;
    let ring = bob_events.ring(&started.id).await;
    let EventBody::Ring { deadline, .. } = ring.body else { unreachable!() };
    mina_events.meet_state(&started.id, p::MeetState::Ringing).await;
    let mina_seen = mina_events.last_seq;

    // B dies mid-ring: only A is left to end it.
    b.kill();
    drop(mina_events);

    // A's clock to 5 s before the deadline: still ringing.
    let advance_to = |t: i64| {
        a.state.clock.advance(t - a.state.clock.now_ms());
        a.state.deadlines_changed.notify_one();
    };
    advance_to(deadline - 5_000);
    let view = meet(&a.url(), &bob, &started.id).await;
    assert_eq!(view.state, p::MeetState::Ringing, "not before the deadline");
    // A's clock to the deadline: A's sweeper ends it, with nobody poking the meet.
    advance_to(deadline);
    let stop = bob_events.ring_stopped(&started.id).await;
    assert!(matches!(stop.body, EventBody::RingStopped { reason: RingStopReason::TimedOut, .. }), "{stop:?}");
    let missed = bob_events.meet_state(&started.id, p::MeetState::Missed).await;
    let ended_at = missed.ended_at.unwrap();
    assert!(
        (deadline..deadline + 5_000).contains(&ended_at),
        "ended on time: deadline {deadline}, ended {ended_at}"
    );
    assert_eq!(missed.node_id, node_b, "the record still names the node the media was on");
    bob_events
        .message(|m| m.meet_id.as_deref() == Some(started.id.as_str()) && m.body == "Missed meet")
        .await;

    // Mina's widget reconnects to A, resuming where it was on B: the meet ended.
    let mut mina_events = Events::connect(&a.url(), &mina, Some(mina_seen)).await;
    let ended = mina_events.meet_state(&started.id, p::MeetState::Ended).await;
    assert!(ended.missed_reason.is_none());
    a.shutdown().await;
}
