//! TURN: a real coturn on 127.0.0.1 (`meetdesk_testkit::turn`), handed to clients by the server
//! (`--turn-url/--turn-username/--turn-credential`, `GET /api/media/config`), and a customer
//! whose `meetdesk-cli` may use relay candidates only (`--ice-transport relay`): its media to
//! the server's SFU then goes through coturn's relay, and the meet sounds as it does direct.
//! Wrong TURN credentials end in a clear error, never a hang.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use meetdesk_testkit::turn::TurnServer;

const TURN_USER: &str = "meetdesk";
const TURN_PASSWORD: &str = "turn-secret";

async fn server_with_turn(turn: &TurnServer, credential: &str) -> TestServer {
    let (url, credential) = (turn.url(), credential.to_owned());
    TestServer::start_with(move |c| {
        c.turn_url = Some(url);
        c.turn_username = Some(TURN_USER.to_owned());
        c.turn_credential = Some(credential);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_customer_is_heard_and_hears_through_coturn() {
    let _one = exclusive().await;
    let turn = TurnServer::start(TURN_USER, TURN_PASSWORD).unwrap();
    let t = server_with_turn(&turn, TURN_PASSWORD).await;
    let (mut bob, mut mina) =
        t.bob_answers_mina(&[], &["--ice-transport", "relay", "--hangup-after", "4s"]).await;
    mina.exit_ok().await;
    bob.exit_ok().await;
    mina.assert_order(&["signed_in", "started", "accepted", "connected", "first_audio", "hung_up", "ended"]);

    // The customer's selected pair is its TURN relay (on coturn's relay address); the agent,
    // with every candidate allowed, goes direct.
    let connected = mina.event("connected").await;
    let pair = &connected["candidate_pair"];
    assert_eq!(pair["local"], "relay", "mina's selected candidate pair: {connected}");
    assert!(
        pair["local_address"].as_str().unwrap_or_default().starts_with("127.0.0.1:"),
        "relayed on 127.0.0.1: {connected}"
    );
    let bob_pair = &bob.event("connected").await["candidate_pair"];
    assert_eq!(bob_pair["local"], "host", "bob: {bob_pair}");

    let log = turn.log();
    for line in ["ALLOCATE processed, success", "CREATE_PERMISSION processed, success"] {
        assert!(log.contains(line), "coturn logged no {line:?}:\n{log}");
    }
    assert!(log.contains(&format!("user <{TURN_USER}>")), "the allocation is the configured user's:\n{log}");

    assert_hears("bob", &bob.recording(), &[440.0], &[660.0], Duration::from_millis(2500));
    assert_hears("mina", &mina.recording(), &[660.0], &[440.0], Duration::from_millis(2500));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_turn_credentials_fail_a_relay_only_customer_at_once_and_end_the_meet() {
    let _one = exclusive().await;
    let turn = TurnServer::start(TURN_USER, TURN_PASSWORD).unwrap();
    let t = server_with_turn(&turn, "not-the-password").await;
    let (mut bob, mut mina) = t.bob_answers_mina(&[], &["--ice-transport", "relay"]).await;
    let started = std::time::Instant::now();
    let failed = mina.event("media_failed").await;
    let status = mina.exit().await;
    let took = started.elapsed();
    eprintln!("mina failed after {took:?}: {failed}");
    assert!(!status.success(), "mina exits with an error");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("no relay candidate"), "a clear reason: {failed}");
    assert!(mina.stderr().contains("no relay candidate"), "on stderr too: {}", mina.stderr());
    assert!(!mina.stderr().contains("panicked"), "{}", mina.stderr());
    assert!(took < Duration::from_secs(15), "it failed at once, not after ICE timeouts: {took:?}");
    assert!(!mina.names().iter().any(|n| n == "connected"), "{:?}", mina.names());

    // The meet whose media never connected ends for the agent too.
    let ended = bob.event("ended").await;
    assert_eq!(ended["meet_id"], failed["meet_id"]);
    bob.exit_ok().await;
    let log = turn.log();
    assert!(log.contains("401"), "coturn refused the allocation (401):\n{log}");
    t.stop().await;
}
