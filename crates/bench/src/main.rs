//! `meetdesk-bench`: the server under load on this machine.
//!
//! Prepares a database (a temp SQLite file, or PostgreSQL with `--database postgres://…`) with
//! the demo data and one session per socket, then runs the server on it in a child process
//! (this binary re-executed as `meetdesk-bench serve`, which calls `meetdesk_server::start`
//! like `meetdesk-server` does). A child, because both ends of 10,000 sockets do not fit in
//! one process's open-file limit here, and so that server and clients are scheduled like two
//! programs. Then, for each `--sockets` level:
//!
//! * **ring fan-out**: N idle agent sockets are connected (sessions are written straight into
//!   the store: no argon2 per socket); the assignee (bob) has `--devices` sockets. The customer
//!   (Mina, demo chat `chat_mina`) presses Meet; the time is taken from just before the request
//!   is sent until every one of bob's sockets holds the `ring` event. Bob declines, the
//!   benchmark waits until every idle socket has received the round's broadcast events (meet
//!   and chat updates, the missed-meet message), and the next round starts.
//! * **event throughput**: bob posts messages into the chat; every idle socket listens. At most
//!   `--event-window` messages are not yet delivered to every listener at a time, so the
//!   figure is what the server sustains without dropping anyone.
//!
//! and once, on a quiet server, **sign-in throughput** (real argon2).
//!
//! Prints markdown tables (see docs/benchmarks.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use futures::StreamExt;
use meetdesk_protocol as p;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod media;
mod report;
mod server;
mod setup;
mod sockets;

use report::{Machine, RingRow, SignInRow, Stats, ThroughputRow};
use sockets::{Crowd, RingSeen, Tracker, WAIT};

#[derive(Debug, Parser)]
#[command(about = "Ring fan-out latency, sign-in and event throughput of the meetdesk server")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Idle agent sockets connected, one level after another (cumulative), e.g. 1000,10000.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    sockets: Vec<usize>,
    /// Measured rings per level.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Rings per level before measuring (not counted).
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Sockets of the assignee (bob) that must all hold the ring.
    #[arg(long, default_value_t = 3)]
    devices: usize,
    /// Idle sockets per bench agent (agents are created as needed).
    #[arg(long, default_value_t = 3)]
    devices_per_agent: usize,
    /// `postgres://…` to run on PostgreSQL (a scratch database: the demo data is seeded into
    /// it); default: a temp SQLite file.
    #[arg(long)]
    database: Option<String>,
    /// Worker threads of the server's runtime (default: the number of cores).
    #[arg(long)]
    server_threads: Option<usize>,
    /// Where the server process writes its log (default: a temp file, removed at the end).
    #[arg(long)]
    server_log: Option<std::path::PathBuf>,
    /// Worker threads of the clients' runtime (default: the number of cores).
    #[arg(long)]
    client_threads: Option<usize>,
    /// Concurrent WebSocket handshakes while connecting the idle crowd.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Seconds of sign-ins (0 skips).
    #[arg(long, default_value_t = 5.0)]
    signin_secs: f64,
    /// Concurrent sign-ins (default: 2 × cores).
    #[arg(long)]
    signin_concurrency: Option<usize>,
    /// Seconds of message posting per level (0 skips).
    #[arg(long, default_value_t = 5.0)]
    event_secs: f64,
    /// Concurrent posters.
    #[arg(long, default_value_t = 4)]
    event_posters: usize,
    /// Messages not yet delivered to every listener at most (the socket queue is 512).
    #[arg(long, default_value_t = 64)]
    event_window: usize,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Internal: the server under test, in a child process (started by the benchmark).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        database: String,
        #[arg(long)]
        threads: usize,
    },
    /// Media: accept → first audio, mouth-to-ear (beside Chromium ↔ Chromium), SFU capacity
    /// and client CPU, with release `meetdesk-cli` clients (see docs/benchmarks.md, "Media").
    Media(media::MediaArgs),
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    match args.command.take() {
        Some(Command::Serve { database, threads }) => return server::serve(&database, threads),
        Some(Command::Media(media)) => return media::run(media),
        None => {}
    }
    args.sockets.sort_unstable();
    args.sockets.dedup();
    ensure!(!args.sockets.is_empty(), "--sockets needs at least one level");
    ensure!(args.devices > 0, "--devices must be at least 1");
    let machine = Machine::read();
    let most = args.sockets.iter().copied().max().unwrap_or(0);
    // This process holds the client end of every socket; the server (a child) the other end.
    let nofile = server::raise_nofile((most + args.devices) as u64 + 1024)?;
    let client_threads = args.client_threads.unwrap_or(machine.cores);
    let server_threads = args.server_threads.unwrap_or(machine.cores);
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("meetdesk-bench")
        .enable_all()
        .build()?;
    client_rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let database = match &args.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
        };
        let backend = if database.starts_with("sqlite:") { "SQLite (temp file)" } else { "PostgreSQL" };
        let started = Instant::now();
        let tokens = setup::prepare(&database, most, args.devices_per_agent, args.devices).await?;
        eprintln!(
            "seeded the demo and inserted {} sessions in {:.1} s",
            tokens.idle.len() + tokens.assignee.len(),
            started.elapsed().as_secs_f64()
        );
        let log = args.server_log.clone().unwrap_or_else(|| dir.path().join("server.log"));
        let server = server::Child::spawn(&database, server_threads, &log).await?;
        println!("# meetdesk-bench\n");
        println!("{}", machine.markdown());
        println!(
            "- server: `meetdesk_server::start` in a child process (`meetdesk-bench serve`, {server_threads} \
             worker threads, log level info as `meetdesk-server`, pid {}) on {}, {backend}; clients in this \
             process ({client_threads} worker threads); RLIMIT_NOFILE {nofile}",
            server.pid, server.addr
        );
        println!("- args: {}\n", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
        let result = run(&args, &server, &tokens, &machine).await;
        server.stop().await?;
        result
    })
}

struct Bench<'a> {
    args: &'a Args,
    http: reqwest::Client,
    base: String,
    ws_base: String,
    customer: String,
    assignee: Vec<String>,
    rings: mpsc::UnboundedReceiver<RingSeen>,
    crowd: Arc<Crowd>,
    idle: Vec<JoinHandle<()>>,
    /// Idle frames the crowd must have received once the server is quiet.
    expected_frames: u64,
    /// Broadcast frames per idle socket per ring round (learnt in the first warm-up round).
    frames_per_round: Option<u64>,
    next_message: Arc<AtomicUsize>,
}

async fn run(
    args: &Args,
    server: &server::Child,
    tokens: &setup::Tokens,
    machine: &Machine,
) -> anyhow::Result<()> {
    let base = format!("http://{}", server.addr);
    let ws_base = base.replacen("http://", "ws://", 1);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;

    let customer = setup::customer_token(&http, &base).await?;

    let signin = if args.signin_secs > 0.0 {
        let concurrency = args.signin_concurrency.unwrap_or(2 * machine.cores).max(1);
        Some(sign_in_throughput(&http, &base, concurrency, Duration::from_secs_f64(args.signin_secs)).await?)
    } else {
        None
    };

    let (ring_tx, rings) = mpsc::unbounded_channel();
    let mut assignee_tasks = Vec::new();
    for (i, token) in tokens.assignee.iter().enumerate() {
        let ws = sockets::connect(&ws_base, token).await?;
        assignee_tasks.push(sockets::spawn_assignee(ws, i, ring_tx.clone()));
    }
    drop(ring_tx);

    let crowd = Arc::new(Crowd {
        frames: Default::default(),
        closed: Default::default(),
        lagged: Default::default(),
        tracker: Tracker::new(1 << 20, args.event_window.max(1)),
    });
    let mut bench = Bench {
        args,
        http,
        base,
        ws_base,
        customer,
        assignee: tokens.assignee.clone(),
        rings,
        crowd,
        idle: Vec::new(),
        expected_frames: 0,
        frames_per_round: None,
        next_message: Arc::new(AtomicUsize::new(0)),
    };

    let mut ring_rows = Vec::new();
    let mut event_rows = Vec::new();
    for &level in &args.sockets {
        let load_before = report::loadavg_1min();
        let connect = bench.connect_idle(&tokens.idle[..level]).await?;
        eprintln!("level {level}: {} idle sockets connected at {:.0}/s", bench.idle.len(), connect);
        let mut row = bench.ring_level(level).await?;
        row.connect_per_s = connect;
        row.load = format!("{load_before} → {}", report::loadavg_1min());
        row.rss = format!("{} / {}", report::rss_mib(server.pid), report::rss_mib(std::process::id()));
        eprintln!("{}", row.summary());
        ring_rows.push(row);
        if args.event_secs > 0.0 {
            let t = bench.event_throughput().await?;
            eprintln!("{}", t.summary());
            event_rows.push(t);
        }
    }

    println!("{}", report::ring_table(args.devices, &ring_rows));
    if let Some(s) = &signin {
        println!("{}", report::signin_table(s));
    }
    if !event_rows.is_empty() {
        println!("{}", report::throughput_table(&event_rows));
    }
    println!("- load average (1/5/15 min) at the end: {}", report::loadavg());

    for t in bench.idle.drain(..).chain(assignee_tasks) {
        t.abort();
    }
    Ok(())
}

impl Bench<'_> {
    /// Connects idle sockets until `tokens.len()` are open. Returns sockets per second.
    async fn connect_idle(&mut self, tokens: &[String]) -> anyhow::Result<f64> {
        let have = self.idle.len();
        if tokens.len() <= have {
            return Ok(0.0);
        }
        let started = Instant::now();
        let ws_base = self.ws_base.clone();
        let mut opened = futures::stream::iter(tokens[have..].iter().cloned())
            .map(|token| {
                let ws_base = ws_base.clone();
                async move { sockets::connect(&ws_base, &token).await }
            })
            .buffer_unordered(self.args.connect_concurrency.max(1));
        while let Some(ws) = opened.next().await {
            let ws = ws?;
            self.crowd.frames.fetch_add(1, Ordering::SeqCst); // the hello, read by connect
            self.expected_frames += 1;
            self.idle.push(sockets::spawn_idle(ws, Arc::clone(&self.crowd)));
        }
        let added = tokens.len() - have;
        Ok(added as f64 / started.elapsed().as_secs_f64())
    }

    /// Waits until the crowd has received every frame it is due, i.e. the server is idle again.
    async fn quiet(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        while self.crowd.frames() < self.expected_frames {
            if Instant::now() > deadline {
                bail!(
                    "idle sockets received {} frames, expected {} (closed: {})",
                    self.crowd.frames(),
                    self.expected_frames,
                    self.crowd.closed.load(Ordering::SeqCst)
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Waits until no frame arrived for `still`; returns how many arrived meanwhile.
    async fn settle(&self, still: Duration) -> anyhow::Result<u64> {
        let before = self.crowd.frames();
        let deadline = Instant::now() + WAIT;
        let mut last = before;
        let mut last_change = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now = self.crowd.frames();
            if now != last {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() >= still {
                return Ok(now - before);
            }
            ensure!(Instant::now() < deadline, "the idle sockets never went quiet");
        }
    }

    async fn ring_level(&mut self, level: usize) -> anyhow::Result<RingRow> {
        self.quiet().await?;
        let idle = self.idle.len() as u64;
        let mut ring = Vec::new();
        let mut http = Vec::new();
        let mut drain = Vec::new();
        for round in 0..self.args.warmup + self.args.rounds {
            let before = self.crowd.frames();
            let started = Instant::now();
            let r = self.ring_round().await?;
            match self.frames_per_round {
                Some(k) => {
                    self.expected_frames += k * idle;
                    self.quiet().await?;
                }
                None => {
                    // First round ever: learn how many broadcast frames one round sends each
                    // idle socket (meet updates, chat updates, the missed-meet message).
                    let already = self.crowd.frames() - before;
                    let got = already + self.settle(Duration::from_millis(500)).await?;
                    let k = got.checked_div(idle).unwrap_or(0);
                    ensure!(
                        k > 0 && k * idle == got,
                        "a ring round sent {got} frames to {idle} idle sockets (not a multiple)"
                    );
                    self.frames_per_round = Some(k);
                    self.expected_frames += got;
                }
            }
            if round >= self.args.warmup {
                ring.push(r.ring);
                http.push(r.http);
                drain.push(started.elapsed());
            }
        }
        ensure!(self.crowd.closed.load(Ordering::SeqCst) == 0, "idle sockets were closed during the rings");
        Ok(RingRow {
            sockets: level,
            rounds: ring.len(),
            ring: Stats::of(&mut ring),
            http: Stats::of(&mut http),
            drain: Stats::of(&mut drain),
            frames_per_round: self.frames_per_round.unwrap_or(0),
            connect_per_s: 0.0,
            load: String::new(),
            rss: String::new(),
        })
    }

    async fn ring_round(&mut self) -> anyhow::Result<RoundTimes> {
        while self.rings.try_recv().is_ok() {}
        let devices = self.assignee.len();
        let body = json!({"target": {"kind": "user_chat", "chat_id": setup::CHAT}, "media": "audio"});
        let request =
            self.http.post(format!("{}/api/meets", self.base)).bearer_auth(&self.customer).json(&body);
        let rings = &mut self.rings;
        let t0 = Instant::now();
        let press = async {
            let resp = request.send().await?;
            let answered = Instant::now();
            let status = resp.status();
            let text = resp.text().await?;
            ensure!(status.is_success(), "POST /api/meets answered {status}: {text}");
            let meet: p::MeetView = serde_json::from_str(&text)?;
            anyhow::Ok((meet, answered))
        };
        let held = async {
            let mut seen: Vec<Option<RingSeen>> = (0..devices).map(|_| None).collect();
            while seen.iter().any(Option::is_none) {
                let Some(r) = rings.recv().await else { bail!("the assignee's sockets closed") };
                let device = r.device;
                if let Some(slot) = seen.get_mut(device) {
                    slot.get_or_insert(r);
                }
            }
            Ok(seen.into_iter().flatten().collect::<Vec<_>>())
        };
        let (pressed, held) = tokio::join!(press, tokio::time::timeout(WAIT, held));
        let (meet, answered) = pressed?;
        let held = held.context("the assignee's devices did not all ring")??;
        for r in &held {
            ensure!(
                r.meet_id == meet.id,
                "device {} rang for {} instead of {}",
                r.device,
                r.meet_id,
                meet.id
            );
        }
        let last = held.iter().map(|r| r.at).max().unwrap_or(t0);
        let times = RoundTimes { ring: last.duration_since(t0), http: answered.duration_since(t0) };

        let resp = self
            .http
            .post(format!("{}/api/meets/{}/decline", self.base, meet.id))
            .bearer_auth(&self.assignee[0])
            .json(&json!({}))
            .send()
            .await?;
        let status = resp.status();
        ensure!(status.is_success(), "decline answered {status}: {}", resp.text().await.unwrap_or_default());
        Ok(times)
    }

    async fn event_throughput(&mut self) -> anyhow::Result<ThroughputRow> {
        self.quiet().await?;
        let tracker = &self.crowd.tracker;
        tracker.set_listeners(self.idle.len());
        let from = self.next_message.load(Ordering::SeqCst);
        let delivered_before = tracker.delivered();
        let closed_before = self.crowd.closed.load(Ordering::SeqCst);
        let frames_before = self.crowd.frames();
        let posting = Duration::from_secs_f64(self.args.event_secs);
        let started = Instant::now();
        let deadline = started + posting;
        let url = format!("{}/api/chats/{}/messages", self.base, setup::CHAT);
        let posters = (0..self.args.event_posters.max(1)).map(|_| {
            let http = self.http.clone();
            let url = url.clone();
            let token = self.assignee[0].clone();
            let next = Arc::clone(&self.next_message);
            let crowd = Arc::clone(&self.crowd);
            tokio::spawn(async move {
                let tracker = &crowd.tracker;
                let mut posted = 0usize;
                // `timeout` polls the future before it looks at the clock: check it first.
                while Instant::now() < deadline {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let Ok(Ok(permit)) = tokio::time::timeout(left, tracker.window.acquire()).await else {
                        break;
                    };
                    permit.forget();
                    let idx = next.fetch_add(1, Ordering::SeqCst);
                    if idx >= tracker.capacity() {
                        break;
                    }
                    tracker.mark_started(idx);
                    let body = json!({ "body": format!("{}{idx}.", sockets::MARKER) });
                    let resp = http.post(&url).bearer_auth(&token).json(&body).send().await?;
                    let status = resp.status();
                    ensure!(status.is_success(), "posting answered {status}: {}", resp.text().await?);
                    posted += 1;
                }
                anyhow::Ok(posted)
            })
        });
        let posters: Vec<_> = posters.collect();
        let mut posted = 0;
        for p in posters {
            posted += p.await.context("poster panicked")??;
        }
        let posted_in = started.elapsed();
        let to = self.next_message.load(Ordering::SeqCst).min(tracker.capacity());
        let wait_until = Instant::now() + WAIT;
        while tracker.delivered() - delivered_before < posted as u64 {
            ensure!(
                Instant::now() < wait_until,
                "only {} of {posted} messages reached every listener",
                tracker.delivered() - delivered_before
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut latency = Vec::new();
        let (mut first, mut last) = (Duration::MAX, Duration::ZERO);
        for idx in from..to {
            if let Some((s, d)) = tracker.span(idx) {
                latency.push(d.saturating_sub(s));
                first = first.min(s);
                last = last.max(d);
            }
        }
        let span = last.saturating_sub(first).max(Duration::from_micros(1));
        let listeners = self.idle.len();
        let delivered_frames = self.crowd.frames() - frames_before;
        self.expected_frames += delivered_frames;
        let lagged = self.crowd.closed.load(Ordering::SeqCst) - closed_before;
        Ok(ThroughputRow {
            listeners,
            posters: self.args.event_posters.max(1),
            window: self.args.event_window.max(1),
            messages: posted,
            posted_per_s: posted as f64 / posted_in.as_secs_f64(),
            delivered_msgs_per_s: posted as f64 / span.as_secs_f64(),
            events_per_s: delivered_frames as f64 / span.as_secs_f64(),
            latency: Stats::of(&mut latency),
            lagged,
        })
    }
}

struct RoundTimes {
    ring: Duration,
    http: Duration,
}

async fn sign_in_throughput(
    http: &reqwest::Client,
    base: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<SignInRow> {
    let started = Instant::now();
    let deadline = started + duration;
    let url = format!("{base}/api/auth/sign-in");
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let mut times = Vec::new();
                let body = json!({"email": setup::SIGNIN_EMAIL, "password": "demo", "device_name": "bench"});
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let resp = http.post(&url).json(&body).send().await?;
                    let status = resp.status();
                    let text = resp.text().await?;
                    ensure!(status.is_success(), "sign-in answered {status}: {text}");
                    let _: p::SessionResponse = serde_json::from_str(&text)?;
                    times.push(t0.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut times = Vec::new();
    for w in workers {
        times.extend(w.await.context("sign-in worker panicked")??);
    }
    let elapsed = started.elapsed();
    Ok(SignInRow {
        concurrency,
        seconds: elapsed.as_secs_f64(),
        count: times.len(),
        per_s: times.len() as f64 / elapsed.as_secs_f64(),
        latency: Stats::of(&mut times),
    })
}
