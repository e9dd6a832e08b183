//! The real `meetdesk-cli` binary in real meets: a server in this process on 127.0.0.1, one CLI
//! process per participant playing its own tone from a WAV and recording what its speaker
//! plays; each recording is checked for the others' tones (Goertzel) and for its own absence.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use meetdesk_media::{tone, SAMPLE_RATE};
use serde_json::Value;

fn ms(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_presses_meet_agent_answers_both_hear_each_other_and_a_hang_up_ends_it() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (mut bob, mut mina) = t.bob_answers_mina(&[], &["--hangup-after", "4s"]).await;
    mina.exit_ok().await;
    bob.exit_ok().await;

    bob.assert_order(&["signed_in", "ring", "accepted", "connected", "first_audio", "ended"]);
    mina.assert_order(&["signed_in", "started", "accepted", "connected", "first_audio", "hung_up", "ended"]);
    let ring = bob.event("ring").await;
    assert_eq!(ring["caller"]["id"], "cus_mina");
    let meet_id = ring["meet_id"].as_str().unwrap().to_owned();
    for cli in [&mut bob, &mut mina] {
        let ended = cli.event("ended").await;
        assert_eq!(
            (ended["meet_id"].as_str(), ended["state"].as_str()),
            (Some(meet_id.as_str()), Some("ended"))
        );
    }
    let first = bob.event("first_audio").await;
    assert_eq!(first["party"]["id"], "cus_mina");
    eprintln!(
        "accept → first audio: bob {} ms (connected after {} ms), mina {} ms",
        ms(&first, "since_accepted_ms"),
        ms(&bob.event("connected").await, "since_accepted_ms"),
        ms(&mina.event("first_audio").await, "since_accepted_ms"),
    );

    let bob_heard = bob.recording();
    let mina_heard = mina.recording();
    assert_hears("bob", &bob_heard, &[440.0], &[660.0], Duration::from_millis(2500));
    assert_hears("mina", &mina_heard, &[660.0], &[440.0], Duration::from_millis(2500));
    for (who, rec) in [("bob", &bob_heard), ("mina", &mina_heard)] {
        let gap = tone::longest_gap(rec, SAMPLE_RATE, -40.0).unwrap();
        eprintln!("{who}: longest gap while the tone played: {gap:?}");
        assert!(gap.length < Duration::from_millis(800), "{who}: {gap:?}");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_in_a_team_room_meet_each_hear_both_others() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    // bob calls the room once carol and alice listen; dave (also a member) is not there.
    let tones = [("carol", 660.0), ("alice", 1000.0), ("bob", 440.0)];
    let mut clis: Vec<Cli> = Vec::new();
    for (name, freq) in tones {
        let [how, what] = if name == "bob" { ["--call-room", "room_general"] } else { ["--answer", "auto"] };
        let mut cli = t.agent(name, &t.tone_wav(freq), &["--hangup-after", "5s", how, what]);
        cli.event("signed_in").await;
        clis.push(cli);
    }
    for c in &mut clis {
        c.exit_ok().await;
    }
    let meet_id = clis[2].event("started").await["meet_id"].clone();
    for c in &mut clis {
        assert_eq!(c.event("ended").await["meet_id"], meet_id, "{}", c.name);
        let first = c.event("first_audio").await;
        eprintln!("{}: accept → first audio {} ms", c.name, ms(&first, "since_accepted_ms"));
    }
    for (i, (name, freq)) in tones.iter().enumerate() {
        let others: Vec<f32> = tones.iter().filter(|(n, _)| n != name).map(|(_, f)| *f).collect();
        let rec = clis[i].recording();
        assert_hears(name, &rec, &others, &[*freq], Duration::from_millis(2000));
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_customer_is_heard_before_and_not_after() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (mut bob, mut mina) = t.bob_answers_mina(&[], &["--mute-after", "1s", "--hangup-after", "4s"]).await;
    mina.exit_ok().await;
    bob.exit_ok().await;
    let connected = ms(&mina.event("connected").await, "at_ms");
    let muted = ms(&mina.event("muted").await, "at_ms");
    assert!((900..1500).contains(&(muted - connected)), "muted {} ms after connecting", muted - connected);

    let rec = bob.recording();
    let levels = tone_levels(&rec, 440.0);
    let onset = levels
        .iter()
        .position(|&db| db >= HEARD_DB)
        .unwrap_or_else(|| panic!("bob never heard mina: {}", describe(&rec, &[440.0])));
    // Heard at first (the first window may be partial)…
    let before = &levels[onset + 1..onset + 5];
    assert!(before.iter().all(|&db| db >= HEARD_DB), "440 Hz at first: {before:?}");
    // … and from 1.5 s on (mina muted 1 s after connecting), far quieter until she hung up.
    let after = &levels[onset + 15..(onset + 30).min(levels.len())];
    assert!(after.len() >= 10, "bob's recording ends {} windows after the onset", levels.len() - onset);
    let loud = before.iter().copied().fold(f32::MAX, f32::min);
    let quiet = after.iter().copied().fold(f32::MIN, f32::max);
    eprintln!("440 Hz at bob: {loud:.1} dB before the mute, at most {quiet:.1} dB after");
    assert!(quiet < loud - 30.0 && quiet < ABSENT_DB, "after the mute: {after:?}");
    // bob was not muted: mina heard him throughout.
    assert!(heard_for(&mina.recording(), 660.0) >= Duration::from_millis(2500));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_up_in_a_dm_meet_ends_it_for_both() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (a440, a660) = (t.tone_wav(440.0), t.tone_wav(660.0));
    let mut carol = t.agent("carol", &a660, &["--answer", "auto", "--hangup-after", "2s"]);
    carol.event("signed_in").await;
    let mut bob = t.agent("bob", &a440, &["--call-room", "dm_bob_carol"]);
    carol.exit_ok().await;
    bob.exit_ok().await;
    carol.assert_order(&["ring", "accepted", "connected", "hung_up", "ended"]);
    bob.assert_order(&["started", "accepted", "connected", "ended"]);
    let ended = bob.event("ended").await;
    assert_eq!((ended["state"].as_str(), ended["left"].as_bool()), (Some("ended"), Some(false)), "{ended}");
    assert!(heard_for(&bob.recording(), 660.0) >= Duration::from_millis(1000));
    assert!(heard_for(&carol.recording(), 440.0) >= Duration::from_millis(1000));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_agent_hears_both_and_the_customer_hanging_up_ends_it_for_all() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (a440, a660, a1000) = (t.tone_wav(440.0), t.tone_wav(660.0), t.tone_wav(1000.0));
    let mut carol = t.agent("carol", &a1000, &["--answer", "auto"]);
    let mut bob =
        t.agent("bob", &a660, &["--answer", "auto", "--invite", "ag_carol", "--invite-after", "1s"]);
    carol.event("signed_in").await;
    bob.event("signed_in").await;
    let mut mina = t.mina(&a440, &["--start-meet", "--hangup-after", "6s"]).await;
    let ring = carol.event("ring").await;
    assert_eq!(ring["invited_by"], "ag_bob", "{ring}");
    let carol_first = carol.event("first_audio").await;
    eprintln!("carol (invited): accept → first audio {} ms", ms(&carol_first, "since_accepted_ms"));
    // The customer hangs up: the meet ends for all three.
    mina.exit_ok().await;
    bob.exit_ok().await;
    carol.exit_ok().await;
    for c in [&mut mina, &mut bob, &mut carol] {
        let ended = c.event("ended").await;
        assert_eq!(ended["state"], "ended", "{}: {ended}", c.name);
        assert_eq!(ended["meet_id"], ring["meet_id"], "{}", c.name);
    }
    bob.assert_order(&["ring", "accepted", "connected", "invited", "ended"]);
    carol.assert_order(&["ring", "accepted", "connected", "first_audio", "ended"]);
    let slots =
        carol.event_where("media_slots", |v| v["slots"].as_array().is_some_and(|s| s.len() == 2)).await;
    let mut parties: Vec<&str> =
        slots["slots"].as_array().unwrap().iter().map(|s| s["party"]["id"].as_str().unwrap()).collect();
    parties.sort();
    assert_eq!(parties, ["ag_bob", "cus_mina"]);
    assert_hears("carol", &carol.recording(), &[440.0, 660.0], &[1000.0], Duration::from_millis(2000));
    assert_hears("mina", &mina.recording(), &[660.0, 1000.0], &[440.0], Duration::from_millis(2000));
    assert_hears("bob", &bob.recording(), &[440.0, 1000.0], &[660.0], Duration::from_millis(2000));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_an_error_on_stderr_with_a_non_zero_exit_never_a_panic() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let wav = t.tone_wav(440.0);
    let rec = t.path("rec.wav");
    let (wav, rec) = (path_str(&wav), path_str(&rec));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("bad duration", vec!["customer", "--server", &t.base, "--link", "x", "--hangup-after", "3x"]),
        ("video", vec!["agent", "--server", &t.base, "--email", "a", "--password", "b", "--media", "video"]),
        (
            "two calls",
            vec![
                "agent",
                "--server",
                &t.base,
                "--email",
                "a",
                "--password",
                "b",
                "--call-room",
                "r",
                "--join",
                "m",
            ],
        ),
        (
            "not a link",
            vec!["customer", "--server", &t.base, "--link", "nonsense", "--play", wav, "--record", rec],
        ),
        (
            "forged link",
            vec![
                "customer",
                "--server",
                &t.base,
                "--link",
                "http://x/demo?resume=forged",
                "--play",
                wav,
                "--record",
                rec,
            ],
        ),
        (
            "bad server",
            vec![
                "customer",
                "--server",
                "ftp://x",
                "--link",
                "http://x/demo?resume=a",
                "--play",
                wav,
                "--record",
                rec,
            ],
        ),
        (
            "no server there",
            vec![
                "agent",
                "--server",
                "http://127.0.0.1:9",
                "--email",
                "bob@demo.test",
                "--password",
                "demo",
                "--play",
                wav,
                "--record",
                rec,
            ],
        ),
        (
            "wrong password",
            vec![
                "agent",
                "--server",
                &t.base,
                "--email",
                "bob@demo.test",
                "--password",
                "nope",
                "--play",
                wav,
                "--record",
                rec,
            ],
        ),
        (
            "missing wav",
            vec![
                "agent",
                "--server",
                &t.base,
                "--email",
                "bob@demo.test",
                "--password",
                "demo",
                "--play",
                "/nonexistent.wav",
                "--record",
                rec,
            ],
        ),
        (
            "not a wav",
            vec![
                "agent",
                "--server",
                &t.base,
                "--email",
                "bob@demo.test",
                "--password",
                "demo",
                "--play",
                "/etc/hostname",
                "--record",
                rec,
            ],
        ),
        (
            "unknown room",
            vec![
                "agent",
                "--server",
                &t.base,
                "--email",
                "bob@demo.test",
                "--password",
                "demo",
                "--call-room",
                "room_nope",
                "--play",
                wav,
                "--record",
                rec,
            ],
        ),
    ];
    for (what, args) in cases {
        let mut cli = Cli::spawn(what, &args);
        let status = cli.exit().await;
        let stderr = cli.stderr();
        eprintln!("{what}: {status}: {}", stderr.trim());
        assert!(!status.success(), "{what}: exited 0");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{what}: says nothing on stderr");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_agents_in_a_team_meet_each_hear_the_seven_others() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let bases: [String; 8] = std::array::from_fn(|_| t.base.clone());
    eight_party_meet(&t, &bases).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_comes_back_when_the_server_loses_the_connections() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (mut bob, mut mina) = t.bob_answers_mina(&[], &["--hangup-after", "14s"]).await;
    bob.event("first_audio").await;
    mina.event("first_audio").await;
    // The server forgets every media connection (as a restarted media router would).
    let lost = std::time::Instant::now();
    t.server().state.media.close_all().await;
    for c in [&mut bob, &mut mina] {
        c.event("disconnected").await;
        let back = c.event_where("connected", |v| v["ice_restarts"].as_u64() > Some(0)).await;
        eprintln!("{}: connected again {:?} after the loss: {back}", c.name, lost.elapsed());
        c.event("media_reoffer").await;
    }
    mina.exit_ok().await;
    bob.exit_ok().await;
    // They hear each other again until the end (most of the last 2 s before the hang-up; a
    // busy machine may drop a little).
    for (c, f) in [(&bob, 440.0), (&mina, 660.0)] {
        let levels = tone_levels(&c.recording(), f);
        let tail = &levels[levels.len().saturating_sub(23)..levels.len().saturating_sub(3)];
        let heard = tail.iter().filter(|&&db| db >= HEARD_DB).count();
        assert!(heard >= tail.len() * 3 / 4, "{} at the end: {tail:?}", c.name);
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ice_restart_keeps_the_sound_going() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (mut bob, mut mina) =
        t.bob_answers_mina(&["--ice-restart-after", "1500ms"], &["--hangup-after", "5s"]).await;
    mina.exit_ok().await;
    bob.exit_ok().await;
    bob.assert_order(&["connected", "ice_restart", "ended"]);
    assert!(!bob.names().iter().any(|n| n == "media_reoffer" || n == "disconnected"), "{:?}", bob.names());
    assert!(!bob.stderr().contains("ICE restart failed"), "{}", bob.stderr());
    assert_hears("bob", &bob.recording(), &[440.0], &[660.0], Duration::from_millis(4000));
    assert_hears("mina", &mina.recording(), &[660.0], &[440.0], Duration::from_millis(4000));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_calls_an_online_customer_whose_widget_answers() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (a440, a660) = (t.tone_wav(440.0), t.tone_wav(660.0));
    let mut mina = t.mina(&a440, &["--answer", "auto"]).await;
    mina.event("signed_in").await;
    let mut bob = t.agent("bob", &a660, &["--call-chat", "chat_mina", "--hangup-after", "3s"]);
    bob.exit_ok().await;
    mina.exit_ok().await;
    mina.assert_order(&["signed_in", "ring", "accepted", "connected", "first_audio", "ended"]);
    bob.assert_order(&["signed_in", "started", "accepted", "connected", "first_audio", "hung_up", "ended"]);
    assert_eq!(mina.event("ring").await["caller"]["id"], "ag_bob");
    assert_hears("mina", &mina.recording(), &[660.0], &[440.0], Duration::from_millis(2000));
    assert_hears("bob", &bob.recording(), &[440.0], &[660.0], Duration::from_millis(2000));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_customer_joins_from_the_follow_up_meet_link() {
    let _one = exclusive().await;
    let t = TestServer::start().await;
    let (a440, a660) = (t.tone_wav(440.0), t.tone_wav(660.0));
    // Mina's widget is not open: bob's call leaves her a follow-up message with a meet link.
    let mut bob = t.agent("bob", &a660, &["--call-chat", "chat_mina"]);
    let started = bob.event("started").await;
    assert_eq!(started["state"], "waiting_for_link", "{started}");
    let meet_id = started["meet_id"].as_str().unwrap().to_owned();
    // The link as her chat shows it (read through a widget session of her own).
    let http = reqwest::Client::new();
    let resume = t.resume_link("chat_mina").await;
    let token = resume.split("resume=").nth(1).unwrap();
    let session: Value = http
        .post(format!("{}/api/widget/resume", t.base))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages: Value = http
        .get(format!("{}/api/chats/chat_mina/messages", t.base))
        .bearer_auth(session["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = messages.as_array().unwrap().iter().find(|m| m["meet_id"] == meet_id.as_str()).unwrap()
        ["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.contains(&format!("/m/{meet_id}?t=")), "{link}");
    let mut mina = t.customer("mina", &link, &a440, &["--hangup-after", "3s"]);
    mina.exit_ok().await;
    bob.exit_ok().await;
    mina.assert_order(&["signed_in", "accepted", "connected", "first_audio", "hung_up", "ended"]);
    assert_eq!(mina.event("accepted").await["how"], "open_link");
    bob.assert_order(&["started", "accepted", "connected", "first_audio", "ended"]);
    assert_hears("mina", &mina.recording(), &[660.0], &[440.0], Duration::from_millis(2000));
    assert_hears("bob", &bob.recording(), &[440.0], &[660.0], Duration::from_millis(2000));
    // A used link does not open the meet again.
    let mut again = t.customer("mina again", &link, &a440, &[]);
    assert!(!again.exit().await.success());
    t.stop().await;
}
