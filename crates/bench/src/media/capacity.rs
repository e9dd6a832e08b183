//! How many two-party audio meets the server forwards with under 1 % loss.
//!
//! **Parties.** For each meet, a customer with one native, open chat assigned to its own agent
//! (who has a seat), and one session each, are written straight into the store before the
//! server starts (like the server benchmark's sessions: no argon2 per party).
//!
//! **A meet.** The customer presses Meet (`POST /api/meets`), the agent accepts
//! (`POST /api/meets/{id}/accept`), and both connect to the SFU exactly as the clients do: a
//! `meetdesk_rtc::ClientPeer` each (loopback), `POST /api/meets/{id}/media`, the answer applied,
//! connected. `--setup-concurrency` meets are set up at a time.
//!
//! **Load.** No Opus encoding here: each stream sends the same pre-encoded 20 ms Opus frame (a
//! 440 Hz tone, not DTX) 50 times a second with its own sequence numbers and timestamps; one
//! task paces 25 meets (50 streams) on a 20 ms interval. Each peer counts what it receives:
//! the server continues sequence numbers per slot, so loss over a window is
//! `1 − received / (last − first + 1)` per stream, summed over streams. Packets the generator
//! itself fails to send in time are not loss (they never got a sequence number): the table
//! shows the rate actually sent next to the target.
//!
//! **Ramp.** Levels are cumulative (100 → 250 → …): the new meets are set up, 3 s to settle,
//! then `secs` measured, with the server's CPU (% of one core, /proc/<pid>/stat), its RSS, the
//! generator's CPU and RSS and the load average. The server and this generator share the
//! machine's cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use futures::StreamExt;
use meetdesk_media::codec::{Encoder, DTX_MAX_BYTES};
use meetdesk_media::{tone, FRAME_SAMPLES, SAMPLE_RATE};
use meetdesk_protocol as p;
use meetdesk_rtc::{ClientPeer, PeerConfig, SAMPLES_PER_20MS};
use meetdesk_server::auth::{self, AGENT_SESSION_MS, CUSTOMER_SESSION_MS};
use meetdesk_server::clock::Clock;
use meetdesk_server::demo::CHANNEL_ID;
use meetdesk_store::accounts::{self, Agent, Session};
use meetdesk_store::chats::{self, Chat, Customer};
use meetdesk_store::Store;
use serde_json::json;

use super::procfs::{rss_mib, CpuMeter};
use super::{Env, Pct};
use crate::report;

/// Meets paced by one sender task.
const MEETS_PER_SENDER: usize = 25;
const SETTLE: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The parties of one bench meet.
pub struct Pair {
    chat_id: String,
    customer_token: String,
    agent_token: String,
}

pub struct Seeded {
    pairs: Vec<Pair>,
}

/// Opens the database (migrations), seeds the demo channel, and inserts `meets` customers,
/// chats, agents and their sessions in one transaction.
pub async fn prepare(database: &str, meets: usize) -> anyhow::Result<Seeded> {
    let store = Store::open(database).await.context("opening the database")?;
    let now = Clock::default().now_ms();
    meetdesk_server::demo::seed(&store, now).await.context("seeding the demo channel")?;
    let mut tx = store.begin().await?;
    let mut pairs = Vec::with_capacity(meets);
    let session = |agent_id: Option<String>, customer_id: Option<String>| {
        let (token, hash) = auth::new_token();
        let life = if agent_id.is_some() { AGENT_SESSION_MS } else { CUSTOMER_SESSION_MS };
        let s = Session {
            id: auth::new_id("dev"),
            channel_id: CHANNEL_ID.to_owned(),
            agent_id,
            customer_id,
            meet_id: None,
            device_name: Some("meetdesk-bench".into()),
            created_at: now,
            expires_at: now + life,
            revoked_at: None,
        };
        (s, token, hash)
    };
    for i in 0..meets {
        let agent_id = format!("ag_mb_{i:05}");
        let customer_id = format!("cus_mb_{i:05}");
        let chat_id = format!("chat_mb_{i:05}");
        let agent = Agent {
            id: agent_id.clone(),
            channel_id: CHANNEL_ID.to_owned(),
            email: format!("mb{i:05}@bench.test"),
            name: format!("Media Bench Agent {i:05}"),
            // Never signs in: sessions are inserted below.
            password_hash: auth::dummy_hash().to_owned(),
            role: "agent".into(),
            seat: true,
        };
        accounts::insert_agent(&mut tx, &agent, now).await?;
        let customer = Customer {
            id: customer_id.clone(),
            channel_id: CHANNEL_ID.to_owned(),
            name: format!("Media Bench Customer {i:05}"),
            email: None,
        };
        chats::insert_customer(&mut tx, &customer, now).await?;
        let chat = Chat {
            id: chat_id.clone(),
            channel_id: CHANNEL_ID.to_owned(),
            customer_id: customer_id.clone(),
            assignee_id: Some(agent_id.clone()),
            state: "open".into(),
            source: "native".into(),
            input_open: true,
            created_at: now,
            updated_at: now,
        };
        chats::insert_chat(&mut tx, &chat).await?;
        let (s, agent_token, hash) = session(Some(agent_id), None);
        accounts::insert_session(&mut tx, &s, &hash).await?;
        let (s, customer_token, hash) = session(None, Some(customer_id));
        accounts::insert_session(&mut tx, &s, &hash).await?;
        pairs.push(Pair { chat_id, customer_token, agent_token });
    }
    tx.commit().await.context("committing the bench parties")?;
    store.close().await;
    Ok(Seeded { pairs })
}

/// What one peer received, by RTP sequence number (extended past wrap-around).
#[derive(Default)]
struct Counter {
    state: Mutex<CounterState>,
}

#[derive(Default, Clone, Copy)]
struct CounterState {
    last_raw: Option<u16>,
    ext: i64,
    /// In the current window: the first extended sequence number, the highest, and how many.
    first: Option<i64>,
    highest: i64,
    received: u64,
}

impl Counter {
    fn packet(&self, seq: u16) {
        let Ok(mut s) = self.state.lock() else { return };
        s.ext = match s.last_raw {
            Some(last) => s.ext + i64::from(seq.wrapping_sub(last) as i16),
            None => i64::from(seq),
        };
        s.last_raw = Some(seq);
        let ext = s.ext;
        if s.first.is_none() {
            s.first = Some(ext);
            s.highest = ext;
        }
        s.highest = s.highest.max(ext);
        s.received += 1;
    }

    /// Starts a new window; returns the one that ended.
    fn take(&self) -> CounterState {
        let Ok(mut s) = self.state.lock() else { return CounterState::default() };
        let out = *s;
        s.first = None;
        s.received = 0;
        out
    }
}

struct Stream {
    peer: Arc<ClientPeer>,
    counter: Arc<Counter>,
}

pub struct Level {
    meets: usize,
    streams: usize,
    setup_s: f64,
    failed: usize,
    expected: u64,
    received: u64,
    worst_stream_loss: f64,
    sent_pps: f64,
    received_pps: f64,
    server_cpu: f64,
    generator_cpu: f64,
    server_rss: f64,
    generator_rss: f64,
    setup_ms: Pct,
    load: String,
}

impl Level {
    fn loss_percent(&self) -> f64 {
        if self.expected == 0 {
            return 100.0;
        }
        100.0 * self.expected.saturating_sub(self.received) as f64 / self.expected as f64
    }
}

pub struct Capacity {
    secs: f64,
    payload_bytes: usize,
    levels: Vec<Level>,
    stopped: Option<String>,
}

pub async fn run(
    env: &Env,
    seeded: &Seeded,
    levels: &[usize],
    secs: f64,
    stop_loss: f64,
    concurrency: usize,
) -> anyhow::Result<Capacity> {
    let payload = opus_frame()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let sent = Arc::new(AtomicU64::new(0));
    let mut streams: Vec<Stream> = Vec::new();
    let mut senders = Vec::new();
    let mut out = Vec::new();
    let mut stopped = None;
    let mut have = 0usize;
    for &level in levels {
        ensure!(level <= seeded.pairs.len(), "{level} meets but only {} seeded", seeded.pairs.len());
        let started = Instant::now();
        let new: Vec<_> = futures::stream::iter(&seeded.pairs[have..level])
            .map(|pair| setup_meet(&http, &env.base, pair))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let setup_s = started.elapsed().as_secs_f64();
        let mut failed = 0;
        let mut setup_ms = Vec::new();
        let mut added = Vec::new();
        for r in new {
            match r {
                Ok((pair, took)) => {
                    setup_ms.push(took.as_secs_f64() * 1000.0);
                    added.push(pair);
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("capacity: a meet failed to set up: {e:#}");
                }
            }
        }
        for chunk in added.chunks(MEETS_PER_SENDER) {
            let peers: Vec<Arc<ClientPeer>> =
                chunk.iter().flat_map(|(a, b)| [Arc::clone(&a.peer), Arc::clone(&b.peer)]).collect();
            senders.push(tokio::spawn(send_loop(peers, payload.clone(), Arc::clone(&sent))));
        }
        streams.extend(added.into_iter().flat_map(|(a, b)| [a, b]));
        have = level;
        eprintln!("capacity: {} meets up ({failed} failed) in {setup_s:.1} s", streams.len() / 2);
        tokio::time::sleep(SETTLE).await;

        for s in &streams {
            s.counter.take();
        }
        let sent_before = sent.load(Ordering::Relaxed);
        let server = CpuMeter::start(env.server_pid);
        let generator = CpuMeter::start(std::process::id());
        let window = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let elapsed = window.elapsed().as_secs_f64();
        let (server_cpu, generator_cpu) = (server.percent(), generator.percent());
        let sent_pps = (sent.load(Ordering::Relaxed) - sent_before) as f64 / elapsed;
        let (mut expected, mut received, mut worst) = (0u64, 0u64, 0.0f64);
        for s in &streams {
            let w = s.counter.take();
            let e = match w.first {
                Some(first) => (w.highest - first + 1).max(0) as u64,
                // Nothing arrived: everything it should have heard is lost.
                None => (elapsed * 50.0) as u64,
            };
            let r = w.received.min(e);
            expected += e;
            received += r;
            if e > 0 {
                worst = worst.max(100.0 * (e - r) as f64 / e as f64);
            }
        }
        let row = Level {
            meets: streams.len() / 2,
            streams: streams.len(),
            setup_s,
            failed,
            expected,
            received,
            worst_stream_loss: worst,
            sent_pps,
            received_pps: received as f64 / elapsed,
            server_cpu,
            generator_cpu,
            server_rss: rss_mib(env.server_pid).unwrap_or(f64::NAN),
            generator_rss: rss_mib(std::process::id()).unwrap_or(f64::NAN),
            setup_ms: Pct::of(&setup_ms),
            load: report::loadavg(),
        };
        eprintln!(
            "capacity: {} meets, {} streams: loss {:.3} %, sent {:.0}/s, server CPU {:.0} %, generator CPU {:.0} %",
            row.meets,
            row.streams,
            row.loss_percent(),
            row.sent_pps,
            row.server_cpu,
            row.generator_cpu
        );
        let loss = row.loss_percent();
        out.push(row);
        if failed > 0 {
            stopped = Some(format!("{failed} meets failed to set up at the {level} level"));
            break;
        }
        if loss > stop_loss {
            stopped = Some(format!("loss {loss:.1} % > {stop_loss} % at {level} meets"));
            break;
        }
    }
    for s in senders {
        s.abort();
    }
    futures::stream::iter(streams)
        .for_each_concurrent(64, |s| async move {
            let _ = s.peer.close().await;
        })
        .await;
    Ok(Capacity { secs, payload_bytes: payload.len(), levels: out, stopped })
}

/// One 20 ms Opus frame of a 440 Hz tone (not DTX), as the client's encoder makes it.
fn opus_frame() -> anyhow::Result<Bytes> {
    let mut encoder = Encoder::new()?;
    let mut sine = tone::SineGenerator::new(440.0, SAMPLE_RATE, 0.3);
    let mut pcm = vec![0.0f32; FRAME_SAMPLES];
    let mut frame = Vec::new();
    for _ in 0..10 {
        sine.fill(&mut pcm);
        frame = encoder.encode(&pcm)?;
    }
    ensure!(frame.len() > DTX_MAX_BYTES, "the encoder made a DTX frame of a tone");
    Ok(Bytes::from(frame))
}

/// Customer presses Meet, agent accepts, both connect. Returns the two streams and how long
/// the whole took.
async fn setup_meet(
    http: &reqwest::Client,
    base: &str,
    pair: &Pair,
) -> anyhow::Result<((Stream, Stream), Duration)> {
    let started = Instant::now();
    let target = p::MeetTarget::UserChat { chat_id: pair.chat_id.clone() };
    let meet: p::MeetView = post(
        http,
        &format!("{base}/api/meets"),
        &pair.customer_token,
        &json!({"target": target, "media": p::Media::Audio}),
    )
    .await
    .context("starting the meet")?;
    let _: p::MeetView =
        post(http, &format!("{base}/api/meets/{}/accept", meet.id), &pair.agent_token, &json!({}))
            .await
            .context("accepting")?;
    let url = format!("{base}/api/meets/{}/media", meet.id);
    let (a, b) = futures::try_join!(
        connect(http, &url, &pair.customer_token),
        connect(http, &url, &pair.agent_token)
    )?;
    Ok(((a, b), started.elapsed()))
}

async fn connect(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<Stream> {
    let peer = Arc::new(ClientPeer::new(&PeerConfig::loopback()).await?);
    let answer: p::MediaAnswer =
        post(http, url, token, &json!({"sdp": peer.offer(), "restart": false})).await.context("offering")?;
    peer.accept_answer(&answer.sdp).await?;
    peer.wait_connected(CONNECT_TIMEOUT).await?;
    let counter = Arc::new(Counter::default());
    let (p2, c2) = (Arc::clone(&peer), Arc::clone(&counter));
    tokio::spawn(async move {
        while let Some(r) = p2.recv().await {
            c2.packet(r.packet.header.sequence_number);
        }
    });
    Ok(Stream { peer, counter })
}

async fn post<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<T> {
    let resp = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "{url} answered {status}: {text}");
    Ok(serde_json::from_str(&text)?)
}

/// Sends the frame on every peer every 20 ms (the peers' sends concurrently: each one hands
/// the packet to that connection's own task and waits for it).
async fn send_loop(peers: Vec<Arc<ClientPeer>>, payload: Bytes, sent: Arc<AtomicU64>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut ts: Vec<u32> = peers.iter().map(|_| rand::random()).collect();
    loop {
        tick.tick().await;
        let sends = peers.iter().zip(ts.iter_mut()).map(|(peer, ts)| {
            *ts = ts.wrapping_add(SAMPLES_PER_20MS);
            peer.send_rtp_payload(payload.clone(), *ts)
        });
        let ok = futures::future::join_all(sends).await.iter().filter(|r| r.is_ok()).count();
        sent.fetch_add(ok as u64, Ordering::Relaxed);
    }
}

impl Capacity {
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "## Capacity: concurrent two-party meets through the SFU ({} s measured per level; {}-byte Opus frame, 50 packets/s per stream; server and load generator share the cores)\n\n\
             | meets | streams | loss % | worst stream loss % | received packets/s | sent packets/s (target) | server CPU % of one core | generator CPU % | server RSS MiB | generator RSS MiB | meet setup p50 / p95 ms | level set up in s | load avg (1/5/15) after |\n\
             |---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---|\n",
            self.secs, self.payload_bytes
        );
        for l in &self.levels {
            s.push_str(&format!(
                "| {} | {} | {:.3} | {:.2} | {:.0} | {:.0} ({}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | {:.1}{} | {} |\n",
                l.meets,
                l.streams,
                l.loss_percent(),
                l.worst_stream_loss,
                l.received_pps,
                l.sent_pps,
                l.streams * 50,
                l.server_cpu,
                l.generator_cpu,
                l.server_rss,
                l.generator_rss,
                l.setup_ms.p50,
                l.setup_ms.p95,
                l.setup_s,
                if l.failed > 0 { format!(" ({} failed)", l.failed) } else { String::new() },
                l.load
            ));
        }
        if let Some(why) = &self.stopped {
            s.push_str(&format!("\nRamp stopped: {why}.\n"));
        }
        s
    }
}
