//! The real `meetdesk-cli` binary on an impaired network: a server in this process whose media
//! sits behind a lossy UDP relay (`meetdesk_testkit::relay`), two CLI processes playing tones
//! and recording what they hear.
//!
//! The layout: the server binds its media on `[::1]` with a fixed port range (`media_ports`)
//! and advertises `127.0.0.2` (NAT 1:1, `media_public_ip`); the relay binds `127.0.0.2` on
//! every port of the range and forwards to `[::1]` on the same port. The clients bind
//! `127.0.0.1` (the CLI's default for a server on loopback). The server's media is IPv6 on
//! purpose: its sockets then cannot reach the clients' IPv4 candidates directly, so every
//! packet goes through the relay — with every address on IPv4 loopback the server's own
//! connectivity checks would open a direct path around it (peer-reflexive), and a cut link
//! would not cut anything.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::*;
use meetdesk_media::{tone, SAMPLE_RATE};
use meetdesk_rtc::PortRange;
use meetdesk_testkit::relay::{Impairment, Relay};
use serde_json::Value;

/// Where clients send media: the relay.
const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Where the server's media sockets are.
const SERVER_MEDIA_IP: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// Ports in the media range (two connections, and room for ports taken by others).
const PORTS: u16 = 16;
/// The acceptance bounds.
const MAX_GAP: Duration = Duration::from_millis(60);
const MAX_RECOVERY: Duration = Duration::from_secs(2);
/// A 5 ms window quieter than this is silence (`meetdesk_media::tone::longest_gap`'s level
/// for "no gap longer than 60 ms" checks; the tones play at −13.5 dBFS RMS).
const SILENCE_DBFS: f32 = -50.0;

/// A real server on 127.0.0.1 (HTTP) whose media is reached only through `relay`.
async fn server_behind(relay: &Relay) -> TestServer {
    let (public_ip, (first, last)) = (relay.listen_ip(), relay.ports());
    TestServer::start_with(|config| {
        config.media_ip = Some(SERVER_MEDIA_IP);
        config.media_public_ip = Some(public_ip);
        config.media_ports = Some(PortRange::new(first, last).unwrap());
    })
    .await
}

async fn relay(seed: u64) -> Relay {
    Relay::start_on_free_ports(RELAY_IP, SERVER_MEDIA_IP, PORTS, seed).await.unwrap()
}

/// Asserts that the connection's selected pair goes through the relay.
fn assert_through_relay(cli: &Cli, connected: &Value) {
    let remote = connected["candidate_pair"]["remote_address"].as_str().unwrap_or_default();
    assert!(remote.starts_with(&format!("{RELAY_IP}:")), "{}: not through the relay: {connected}", cli.name);
}

fn at_ms(v: &Value) -> i64 {
    v["at_ms"].as_i64().unwrap()
}

/// The impairment starts once both are connected: what is measured is the sound on a lossy
/// path, not the connection set-up (webrtc 0.21's DTLS handshake gives up after 7 lost
/// flights, which 19 % loss per round trip does now and then; the client then offers afresh
/// after `ReconnectPolicy::connect_timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_loss_and_40_ms_jitter_both_ways_leave_no_gap_over_60_ms() {
    let _one = exclusive().await;
    let relay = relay(10).await;
    let t = server_behind(&relay).await;
    let (mut bob, mut mina) =
        t.bob_answers_mina(&["--audio-clock"], &["--hangup-after", "10s", "--audio-clock"]).await;
    for c in [&mut bob, &mut mina] {
        c.event("connected").await;
    }
    relay.set_impairment(Impairment {
        loss: 0.10,
        jitter: Duration::from_millis(40),
        ..Impairment::default()
    });
    mina.exit_ok().await;
    bob.exit_ok().await;
    let stats = relay.stats();
    eprintln!("relay: {stats:?}");

    for (cli, hear) in [(&mut bob, 440.0), (&mut mina, 660.0)] {
        let connected = cli.event("connected").await;
        assert_through_relay(cli, &connected);
        let rec = cli.recording();
        let summary = describe(&rec, &[hear]);
        let gap = tone::longest_gap(&rec, SAMPLE_RATE, SILENCE_DBFS).unwrap();
        eprintln!("{}: {summary} longest gap after the first audio: {gap:?}", cli.name);
        assert!(heard_for(&rec, hear) >= Duration::from_secs(7), "{}: {summary}", cli.name);
        assert!(gap.length <= MAX_GAP, "{}: a gap of {gap:?} (at most {MAX_GAP:?})", cli.name);
    }
    // Both ways really were impaired, and carried the meet.
    for d in [stats.up, stats.down] {
        assert!(d.forwarded >= 800 && d.lost >= d.received / 20, "{stats:?}");
    }
    t.stop().await;
}

/// The first time at or after `from_ms` (Unix ms) that `rec` holds `freq` (a 20 ms window, in
/// 5 ms steps, at least [`HEARD_DB`]), in Unix ms; the recording's sample 0 played at
/// `tick0_us`.
fn heard_from(rec: &[f32], freq: f32, tick0_us: i64, from_ms: i64) -> Option<i64> {
    const WIN: usize = SAMPLE_RATE as usize / 50;
    const STEP: usize = SAMPLE_RATE as usize / 200;
    let start = ((from_ms * 1000 - tick0_us).max(0) as usize) * SAMPLE_RATE as usize / 1_000_000;
    (start..rec.len().saturating_sub(WIN))
        .step_by(STEP)
        .find(|&i| tone::tone_power_db(&rec[i..i + WIN], freq, SAMPLE_RATE) >= HEARD_DB)
        .map(|i| (tick0_us + (i as i64) * 1_000_000 / i64::from(SAMPLE_RATE)) / 1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_5_s_link_drop_both_hear_each_other_within_2_s_of_the_link_returning() {
    let _one = exclusive().await;
    let relay = relay(5).await;
    let t = server_behind(&relay).await;
    let (mut bob, mut mina) =
        t.bob_answers_mina(&["--audio-clock"], &["--hangup-after", "14s", "--audio-clock"]).await;
    for c in [&mut bob, &mut mina] {
        c.event("first_audio").await;
    }
    // Two more seconds of both streams through the relay (2 × 50 packets/s each way), then
    // the link drops both ways for 5 s.
    let s = relay.stats();
    let (up, down) = (s.up.forwarded + 200, s.down.forwarded + 200);
    relay.wait_until(|s| s.up.forwarded >= up && s.down.forwarded >= down).await;
    let outage = relay.drop_link_for(Duration::from_secs(5));
    let (down_ms, up_ms) = (outage.down_unix_ms(), outage.up_unix_ms());

    let mut connected_after = Vec::new();
    for c in [&mut bob, &mut mina] {
        let lost = c.event_where("disconnected", |v| at_ms(v) >= down_ms).await;
        let back = c.event_where("connected", |v| at_ms(v) > at_ms(&lost)).await;
        assert_through_relay(c, &back);
        connected_after.push((c.name.clone(), at_ms(&lost) - down_ms, at_ms(&back) - up_ms, back));
    }
    mina.exit_ok().await;
    bob.exit_ok().await;
    eprintln!("relay: {:?}", relay.stats());

    for ((name, noticed, reconnected, back), (cli, hear)) in
        connected_after.into_iter().zip([(&bob, 440.0), (&mina, 660.0)])
    {
        let tick0_us =
            cli.seen.iter().find(|v| v["event"] == "audio_clock").unwrap()["tick0_unix_us"].as_i64().unwrap();
        let rec = cli.recording();
        let restarts: Vec<i64> = cli
            .seen
            .iter()
            .filter(|v| v["event"] == "ice_restart" && at_ms(v) >= down_ms)
            .map(|v| at_ms(v) - down_ms)
            .collect();
        // The outage cut the sound (it did go through the relay) …
        let mid = heard_from(&rec, hear, tick0_us, down_ms + 1000);
        assert!(mid.is_some_and(|at| at >= up_ms), "{name} heard {hear} Hz during the outage (at {mid:?})");
        // … and it came back within the bound.
        let heard = heard_from(&rec, hear, tick0_us, up_ms).unwrap_or_else(|| {
            panic!("{name} never heard {hear} Hz after the link returned: {}", describe(&rec, &[hear]))
        });
        let recovered = heard - up_ms;
        eprintln!(
            "{name}: noticed the drop after {noticed} ms; ICE restarts at {restarts:?} ms into the outage; \
             connected again {reconnected} ms and heard {hear} Hz again {recovered} ms after the link \
             returned ({back})"
        );
        assert!(
            Duration::from_millis(recovered.max(0) as u64) <= MAX_RECOVERY,
            "{name} heard the other side again only {recovered} ms after the link returned"
        );
    }
    t.stop().await;
}
