//! Durability of the real `meetdesk-server` binary on a SQLite file: a crash (SIGKILL) loses
//! no committed meet, ring deadline, message or event; a node restarted after a ring's
//! deadline ends it at once by itself; SIGTERM shuts down cleanly and promptly.
//!
//! The server runs as a child process on 127.0.0.1 and a free port. Readiness is a bounded
//! loop of real `/healthz` requests; events are awaited on real WebSockets, never by sleeping.
#![allow(clippy::unwrap_used)]

mod common;

use common::http::{customer, get_ok, meet, post_ok, sign_in};

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Events;
use meetdesk_protocol::{self as p, EventBody, RingStopReason};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_meetdesk-server");
/// Bound on a start (migrations, demo seed, bind) before `/healthz` answers.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a graceful shutdown: "promptly".
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

/// Numbers the log files of the runs.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// One run of the real binary. Killed (SIGKILL) when dropped, so a failing test leaves no
/// server behind.
struct Proc {
    child: tokio::process::Child,
    base: String,
    port: u16,
    log: PathBuf,
    health: p::Health,
}

impl Proc {
    /// Starts the binary on `database` (with `--demo`) and waits until `/healthz` answers.
    /// Tries `port` first (a restart keeps its address), then fresh free ports if that one
    /// was taken meanwhile.
    async fn start(dir: &Path, database: &str, port: Option<u16>, offset_ms: Option<i64>) -> Proc {
        let mut port = port.unwrap_or_else(meetdesk_testkit::free_port);
        let mut failures = Vec::new();
        for _ in 0..4 {
            let log = dir.join(format!("server-{}.log", RUNS.fetch_add(1, Ordering::Relaxed)));
            let file = std::fs::File::create(&log).unwrap();
            let mut cmd = tokio::process::Command::new(BIN);
            cmd.arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--database")
                .arg(database)
                .arg("--demo")
                .env_remove("MEETDESK_TEST_TIME_OFFSET_MS")
                .env_remove("MEETDESK_PUBLIC_URL")
                .env_remove("MEETDESK_SMTP_URL")
                .env_remove("MEETDESK_LOG_JSON")
                .env("RUST_LOG", "info,sqlx=warn")
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .kill_on_drop(true);
            if let Some(ms) = offset_ms {
                cmd.env("MEETDESK_TEST_TIME_OFFSET_MS", ms.to_string());
            }
            let child = cmd.spawn().unwrap();
            let mut proc = Proc {
                child,
                base: format!("http://127.0.0.1:{port}"),
                port,
                log,
                health: p::Health { status: String::new(), node_id: String::new(), database: String::new() },
            };
            match proc.wait_healthy().await {
                Ok(health) => {
                    proc.health = health;
                    return proc;
                }
                Err(e) => {
                    failures.push(e);
                    port = meetdesk_testkit::free_port();
                }
            }
        }
        panic!("the server never became healthy:\n{}", failures.join("\n---\n"));
    }

    /// A bounded loop of real requests; `Err` (with the log) when the process exited first.
    async fn wait_healthy(&mut self) -> Result<p::Health, String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited ({status}) before answering /healthz:\n{}", self.log_text()));
            }
            if let Ok(resp) = http.get(format!("{}/healthz", self.base)).send().await {
                if resp.status() == 200 {
                    return Ok(resp.json().await.unwrap());
                }
            }
            assert!(
                Instant::now() < deadline,
                "/healthz did not answer within {START_TIMEOUT:?}:\n{}",
                self.log_text()
            );
            // Retry pacing of the readiness poll (not synchronisation: the loop ends on a
            // real answer).
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: a crash. Nothing of the process runs after this.
    async fn crash(mut self) {
        self.child.kill().await.unwrap();
        let status = self.child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    }

    /// SIGTERM through `kill(1)`, then waits (bounded) for the exit; returns how long it took.
    async fn terminate(mut self) -> (std::process::ExitStatus, Duration, String) {
        let pid = self.child.id().unwrap();
        let sent = Instant::now();
        let kill =
            tokio::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await.unwrap();
        assert!(kill.success(), "kill -TERM {pid}: {kill}");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit 30 s after SIGTERM:\n{}", self.log_text()))
            .unwrap();
        (status, sent.elapsed(), self.log_text())
    }
}

// --- HTTP, as a client would speak it --------------------------------------------------------

async fn say(base: &str, token: &str, chat_id: &str, body: &str) -> p::MessageView {
    post_ok(base, Some(token), &format!("/api/chats/{chat_id}/messages"), json!({"body": body})).await
}

async fn start_meet(base: &str, customer: &str) -> p::MeetView {
    post_ok(
        base,
        Some(customer),
        "/api/meets",
        json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "audio"}),
    )
    .await
}

async fn bodies(base: &str, token: &str, chat_id: &str) -> Vec<String> {
    let msgs: Vec<p::MessageView> =
        get_ok(base, Some(token), &format!("/api/chats/{chat_id}/messages")).await;
    msgs.into_iter().map(|m| m.body).collect()
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("meetdesk.db").display())
}

/// (a) SIGKILL mid-ring, restart: the meet still rings with the same deadline, and bob's
/// socket resuming from the last seq he saw gets exactly what he missed. (b) SIGKILL again,
/// restart two minutes "later": the overdue ring ends as missed at once, with no request
/// touching the meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_ring_loses_nothing_and_a_late_restart_ends_the_ring_as_missed() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    let server = Proc::start(dir.path(), &database, None, None).await;
    assert_eq!(server.health.database, "sqlite");
    let base = server.base.clone();

    let bob = sign_in(&base, "bob@demo.test").await;
    let mina = customer(&base, "chat_mina").await;
    let mut bob_events = Events::connect(&base, &bob, None).await;
    say(&base, &mina, "chat_mina", "before the meet").await;
    bob_events.message(|m| m.body == "before the meet").await;

    let started = start_meet(&base, &mina).await;
    assert_eq!(started.state, p::MeetState::Ringing);
    let ring = bob_events.ring(&started.id).await;
    let EventBody::Ring { deadline, .. } = ring.body else { unreachable!() };
    assert_eq!(deadline, started.created_at + 120_000, "the ring lasts 120 s");
    say(&base, &mina, "chat_mina", "m1: seen live").await;
    bob_events.message(|m| m.body == "m1: seen live").await;

    // Bob's laptop drops off; Mina keeps writing; then the server crashes.
    let seen = bob_events.last_seq;
    bob_events.close();
    drop(bob_events);
    let m2 = say(&base, &mina, "chat_mina", "m2: while bob was away").await;
    let m3 = say(&base, &mina, "chat_mina", "m3: just before the crash").await;
    let port = server.port;
    let crash_1 = Instant::now();
    server.crash().await;

    // (a) Restart on the same file.
    let server = Proc::start(dir.path(), &database, Some(port), None).await;
    let restart_1 = crash_1.elapsed();
    let base = server.base.clone();
    let view = meet(&base, &bob, &started.id).await;
    assert_eq!(view.state, p::MeetState::Ringing, "{view:?}");
    assert_eq!(view.created_at, started.created_at);
    assert_eq!(view.rings.len(), 1);
    assert_eq!(view.rings[0].deadline, deadline, "same ring deadline after the crash");
    assert_eq!(view.rings[0].status, p::RingStatus::Ringing);

    let mut bob_events = Events::connect(&base, &bob, Some(seen)).await;
    let got2 = bob_events.message(|m| m.id == m2.id).await;
    let got3 = bob_events.message(|m| m.id == m3.id).await;
    assert_eq!(
        (got2.body.as_str(), got3.body.as_str()),
        ("m2: while bob was away", "m3: just before the crash")
    );
    let replayed: Vec<&p::Event> = bob_events.all().iter().filter(|e| e.seq > 0).collect();
    assert!(replayed.iter().all(|e| e.seq > seen), "nothing seen twice: {replayed:#?}");
    let replayed_messages: Vec<&str> = replayed
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message { message } => Some(message.body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        replayed_messages,
        ["m2: while bob was away", "m3: just before the crash"],
        "exactly what he missed"
    );
    let history = bodies(&base, &bob, "chat_mina").await;
    for expected in
        ["before the meet", "m1: seen live", "m2: while bob was away", "m3: just before the crash"]
    {
        assert!(history.iter().any(|b| b == expected), "{expected:?} lost: {history:?}");
    }
    // Sessions survive too: Mina's token still works and sees the ringing meet.
    assert_eq!(meet(&base, &mina, &started.id).await.state, p::MeetState::Ringing);

    // (b) Crash again; restart two minutes "later" (past the deadline).
    let seen = bob_events.last_seq;
    let port = server.port;
    let crash_2 = Instant::now();
    server.crash().await;
    drop(bob_events);
    let server = Proc::start(dir.path(), &database, Some(port), Some(120_000)).await;
    let healthy_2 = Instant::now();
    let base = server.base.clone();
    // Only a socket resuming from where bob was: no request touches the meet.
    let mut bob_events = Events::connect(&base, &bob, Some(seen)).await;
    let stop = bob_events.ring_stopped(&started.id).await;
    assert!(matches!(stop.body, EventBody::RingStopped { reason: RingStopReason::TimedOut, .. }), "{stop:?}");
    let missed = bob_events.meet_state(&started.id, p::MeetState::Missed).await;
    let restart_2_to_missed = crash_2.elapsed();
    // At once: the sweeper looks at the stored deadlines when the node starts.
    assert!(
        healthy_2.elapsed() < Duration::from_secs(5),
        "missed only {:?} after start",
        healthy_2.elapsed()
    );
    assert!(missed.ended_at.unwrap() >= deadline, "{missed:?}");
    assert_eq!(missed.rings[0].status, p::RingStatus::NoAnswer);
    let indicator = bob_events.message(|m| m.meet_id.as_deref() == Some(started.id.as_str())).await;
    assert_eq!(indicator.body, "Missed meet");
    // Now the requests: the stored meet agrees, admins see why, the customer sees "ended".
    assert_eq!(meet(&base, &bob, &started.id).await.state, p::MeetState::Missed);
    let alice = sign_in(&base, "alice@demo.test").await;
    assert_eq!(meet(&base, &alice, &started.id).await.missed_reason.as_deref(), Some("no_answer"));
    assert_eq!(meet(&base, &mina, &started.id).await.state, p::MeetState::Ended);
    let history = bodies(&base, &bob, "chat_mina").await;
    assert!(history.iter().any(|b| b == "m3: just before the crash"), "{history:?}");

    eprintln!(
        "timings: restart after crash 1 healthy in {restart_1:?}; crash 2 -> missed seen in {restart_2_to_missed:?}; total {:?}",
        began.elapsed()
    );
    let (status, took, log) = server.terminate().await;
    assert!(status.success(), "{status}:\n{log}");
    assert!(took < SHUTDOWN_BOUND, "{took:?}");
}

/// SIGTERM: exit 0 promptly (with a socket still open), and a restart keeps every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_promptly_and_a_restart_keeps_all_data() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    let server = Proc::start(dir.path(), &database, None, None).await;
    let base = server.base.clone();
    let port = server.port;
    let bob = sign_in(&base, "bob@demo.test").await;
    let mina = customer(&base, "chat_mina").await;
    // Open sockets must not hold the shutdown up.
    let mut bob_events = Events::connect(&base, &bob, None).await;
    let _mina_events = Events::connect(&base, &mina, None).await;
    say(&base, &mina, "chat_mina", "kept across a clean restart").await;
    let started = start_meet(&base, &mina).await;
    bob_events.ring(&started.id).await;

    let (status, took, log) = server.terminate().await;
    assert_eq!(status.code(), Some(0), "exit status {status}:\n{log}");
    assert!(took < SHUTDOWN_BOUND, "SIGTERM took {took:?} to exit:\n{log}");
    assert!(log.contains("shutting down"), "{log}");

    let server = Proc::start(dir.path(), &database, Some(port), None).await;
    let base = server.base.clone();
    let view = meet(&base, &bob, &started.id).await;
    assert_eq!(view.state, p::MeetState::Ringing);
    assert_eq!(view.rings[0].deadline, started.created_at + 120_000);
    let history = bodies(&base, &mina, "chat_mina").await;
    assert!(history.iter().any(|b| b == "kept across a clean restart"), "{history:?}");
    eprintln!("timings: SIGTERM to exit {took:?}");
    let (status, _, log) = server.terminate().await;
    assert!(status.success(), "{status}:\n{log}");
}
