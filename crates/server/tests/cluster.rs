//! Several nodes on one PostgreSQL: events cross nodes through LISTEN/NOTIFY, a meet's media
//! stays pinned to the node that started it, and a ring outlives the node that started it
//! (another node's deadline sweeper ends it on time).
#![allow(clippy::unwrap_used)]

mod common;

use common::http::{customer, get_ok, meet, post_ok, sign_in};

use common::{start_node, Events};
use meetdesk_protocol::{self as p, EventBody, RingStopReason};
use meetdesk_server::Server;
use meetdesk_testkit::Postgres;
use serde_json::json;

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
