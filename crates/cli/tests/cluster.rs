//! Meets whose devices talk to different server nodes on one PostgreSQL, as behind a load
//! balancer: a node that does not carry a meet forwards its devices' media offers to the one
//! that does, and takes the meet's media over when that node dies.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use meetdesk_testkit::front::Front;
use serde_json::Value;

/// The meet as node `t` reads it (any node reads the same database).
async fn meet_view(t: &TestServer, meet_id: &str) -> Value {
    let mut db = t.server().state.store.conn().await.unwrap();
    let stored = meetdesk_store::meets::get(&mut db, meet_id).await.unwrap().unwrap();
    serde_json::json!({"node_id": stored.node_id, "phase": meetdesk_store::meets::phase_name(stored.meet.phase)})
}

// P2 across nodes: the customer's widget on node A presses Meet (A carries the meet), bob's
// app talks to node B; B forwards his offer to A, and both hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_on_node_a_and_an_agent_on_node_b_hear_each_other() {
    let _one = exclusive().await;
    let nodes = TestServer::cluster(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (a440, a660) = (a.tone_wav(440.0), a.tone_wav(660.0));
    let mut bob = a.agent_at(&b.base, "bob", &a660, &["--answer", "auto"]);
    assert_eq!(bob.event("signed_in").await["node_id"], b.node_id());
    let link = a.resume_link("chat_mina").await;
    let mut mina = a.customer_at(&a.base, "mina", &link, &a440, &["--start-meet", "--hangup-after", "4s"]);
    let started = mina.event("started").await;
    let meet_id = started["meet_id"].as_str().unwrap().to_owned();
    mina.exit_ok().await;
    bob.exit_ok().await;
    assert_eq!(meet_view(a, &meet_id).await["node_id"], a.node_id(), "A carried it throughout");
    bob.assert_order(&["signed_in", "ring", "accepted", "connected", "first_audio", "ended"]);
    assert_eq!(bob.event("first_audio").await["party"]["id"], "cus_mina");
    assert_hears("bob", &bob.recording(), &[440.0], &[660.0], Duration::from_millis(2500));
    assert_hears("mina", &mina.recording(), &[660.0], &[440.0], Duration::from_millis(2500));
    for t in nodes {
        t.stop().await;
    }
}

// P6 across nodes: 8 agents, alternately on nodes A and B, in one team meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_agents_spread_over_two_nodes_each_hear_the_seven_others() {
    let _one = exclusive().await;
    let nodes = TestServer::cluster(2).await;
    let bases: [String; 8] = std::array::from_fn(|i| nodes[i % 2].base.clone());
    eight_party_meet(&nodes[0], &bases).await;
    for t in nodes {
        t.stop().await;
    }
}

// The node carrying a meet dies mid-meet. The load balancer sends its clients to node B; their
// media restarts there, B takes the meet's media over, and both hear each other again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_carrying_node_dies_the_meet_moves_to_another_node_and_the_sound_comes_back() {
    let _one = exclusive().await;
    let mut nodes = TestServer::cluster(2).await;
    let b = nodes.pop().unwrap();
    let mut a = nodes.pop().unwrap();
    // Mina's load balancer sends her to A, bob's to B.
    let mina_front = Front::start(a.server().addr).await.unwrap();
    let bob_front = Front::start(b.server().addr).await.unwrap();
    let (a440, a660) = (b.tone_wav(440.0), b.tone_wav(660.0));
    let mut bob = b.agent_at(&bob_front.url(), "bob", &a660, &["--answer", "auto"]);
    bob.event("signed_in").await;
    let link = b.resume_link("chat_mina").await;
    // She hangs up 12 s after her media first connected: the move takes a few seconds, so the
    // last seconds of both recordings went through B.
    let mut mina =
        b.customer_at(&mina_front.url(), "mina", &link, &a440, &["--start-meet", "--hangup-after", "12s"]);
    let meet_id = mina.event("started").await["meet_id"].as_str().unwrap().to_owned();
    assert_eq!(meet_view(&b, &meet_id).await["node_id"], a.node_id());
    for cli in [&mut bob, &mut mina] {
        cli.event("first_audio").await;
    }

    // A crashes; the front doors cut its connections and send everyone to B.
    let killed_at = now_ms();
    a.server.take().unwrap().kill();
    mina_front.fail_over(b.server().addr);
    bob_front.fail_over(b.server().addr);

    // Each device's media reconnects through B, which now carries the meet.
    for cli in [&mut bob, &mut mina] {
        let back = cli.event_where("connected", |v| v["at_ms"].as_i64() > Some(killed_at)).await;
        let first = cli.event_where("first_audio", |v| v["at_ms"].as_i64() > Some(killed_at)).await;
        eprintln!(
            "{}: media back {} ms, sound back {} ms after the kill",
            cli.name,
            back["at_ms"].as_i64().unwrap() - killed_at,
            first["at_ms"].as_i64().unwrap() - killed_at
        );
    }
    let moved = meet_view(&b, &meet_id).await;
    assert_eq!(
        (moved["node_id"].clone(), moved["phase"].as_str()),
        (Value::from(b.node_id()), Some("active"))
    );
    mina.exit_ok().await;
    bob.exit_ok().await;
    assert_eq!(bob.event("ended").await["meet_id"], meet_id.as_str());
    let bob_rec = bob.recording();
    let mina_rec = mina.recording();
    let tail =
        |rec: &[f32]| rec[rec.len().saturating_sub(2 * meetdesk_media::SAMPLE_RATE as usize)..].to_vec();
    assert_hears("bob (after the move)", &tail(&bob_rec), &[440.0], &[660.0], Duration::from_millis(1000));
    assert_hears("mina (after the move)", &tail(&mina_rec), &[660.0], &[440.0], Duration::from_millis(1000));
    b.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
