//! `meetdesk-bench media`: the voice path measured on this machine, through a real server.
//!
//! The database is prepared first (the demo seed, plus `--capacity` bench customers, chats,
//! agents and their sessions written straight into the store), then the server runs on it in
//! a child process (`meetdesk-bench serve`, as for the server benchmark). Then, each part
//! unless `--only` picks some:
//!
//! * **first-audio** ([`first_audio`]): `--meets` meets between release `meetdesk-cli`
//!   processes: bob (`agent --answer auto`, one process for all meets) and Mina (`customer
//!   --start-meet`, a fresh process per meet), both playing a tone; each side's `accepted`,
//!   `connected` and `first_audio` lines.
//! * **mouth-to-ear** ([`mouth`]): the same two clients, both playing a click track (a chirp
//!   every 500 ms) and recording; `--audio-clock` puts both processes' WAV devices on the wall
//!   clock, and each click's delay is found by cross-correlation. Beside it, in the same run,
//!   two `RTCPeerConnection`s in one headless Chromium page (P2P on this machine, no server),
//!   the caller's microphone being the same click track ([`chromium`]).
//! * **capacity** ([`capacity`]): a load generator in this process holds both ends of N
//!   two-party meets (customer presses Meet, agent accepts, both connect to the SFU with
//!   `meetdesk_rtc::ClientPeer`) and sends a pre-encoded 20 ms Opus frame 50 times a second
//!   per stream; receivers count RTP sequence numbers. Levels ramp up (`--capacity`).
//! * **client-cpu** ([`client_cpu`]): CPU and memory of the two `meetdesk-cli` processes of
//!   one meet, from /proc.
//!
//! Prints markdown (see docs/benchmarks.md, "Media").

mod capacity;
mod chromium;
mod cli;
mod client_cpu;
mod first_audio;
mod mouth;
mod procfs;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{ensure, Context};
use meetdesk_media::{tone, wav, SAMPLE_RATE};
use meetdesk_protocol as p;

use crate::report::{self, Machine};
use crate::server;

/// The demo agent who answers (assignee of `chat_mina`) and his password.
const AGENT_EMAIL: &str = "bob@demo.test";
const AGENT_PASSWORD: &str = "demo";
const CHAT: &str = "chat_mina";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    FirstAudio,
    MouthToEar,
    Capacity,
    ClientCpu,
}

#[derive(Debug, clap::Args)]
pub struct MediaArgs {
    /// Parts to run (default: all), e.g. `--only first-audio,mouth-to-ear`.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Meets for accept → first audio.
    #[arg(long, default_value_t = 30)]
    meets: usize,
    /// Seconds of each mouth-to-ear call (the meetdesk one and the Chromium one).
    #[arg(long, default_value_t = 15.0)]
    m2e_secs: f64,
    /// Mouth-to-ear calls per path (each call has its own playout phase; clicks are pooled).
    #[arg(long, default_value_t = 3)]
    m2e_calls: usize,
    /// Concurrent two-party meets, one level after another (cumulative).
    #[arg(long, value_delimiter = ',', default_value = "100,250,500,750,1000")]
    capacity: Vec<usize>,
    /// Seconds measured at each capacity level (after 3 s of settling).
    #[arg(long, default_value_t = 15.0)]
    capacity_secs: f64,
    /// Stop the ramp after a level whose loss is above this (percent).
    #[arg(long, default_value_t = 10.0)]
    capacity_stop_loss: f64,
    /// Meets being set up at a time while ramping.
    #[arg(long, default_value_t = 8)]
    setup_concurrency: usize,
    /// Seconds of the meet whose clients' CPU is measured.
    #[arg(long, default_value_t = 20.0)]
    cpu_secs: f64,
    /// The `meetdesk-cli` binary (default: next to this one; build it with `--release`).
    #[arg(long)]
    cli: Option<PathBuf>,
    /// The browser for the Chromium ↔ Chromium comparison ("" skips it).
    #[arg(long, default_value = "/usr/bin/chromium")]
    chromium: PathBuf,
    /// Worker threads of the server's runtime (default: the number of cores).
    #[arg(long)]
    server_threads: Option<usize>,
    /// Where the server process writes its log (default: a temp file).
    #[arg(long)]
    server_log: Option<PathBuf>,
}

/// What every part needs.
pub struct Env {
    pub cli: PathBuf,
    pub base: String,
    pub dir: PathBuf,
    /// Mina's resume link (demo directory).
    pub mina_link: String,
    pub server_pid: u32,
}

pub fn run(args: MediaArgs) -> anyhow::Result<()> {
    let parts = if args.only.is_empty() {
        vec![Part::FirstAudio, Part::MouthToEar, Part::ClientCpu, Part::Capacity]
    } else {
        args.only.clone()
    };
    let machine = Machine::read();
    let cli = match &args.cli {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("meetdesk-cli"),
    };
    ensure!(
        cli.is_file(),
        "{} not found: build it first (cargo build --release -p meetdesk-cli) or pass --cli",
        cli.display()
    );
    let mut levels = args.capacity.clone();
    levels.sort_unstable();
    levels.dedup();
    let most = if parts.contains(&Part::Capacity) { levels.last().copied().unwrap_or(0) } else { 0 };
    // Both ends of every load-generator connection live here: a few sockets per peer.
    server::raise_nofile(16_384)?;
    let threads = machine.cores;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("meetdesk-bench")
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let database = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        let started = Instant::now();
        let seeded = capacity::prepare(&database, most).await?;
        eprintln!("seeded the demo and {most} bench meets' parties in {:.1} s", started.elapsed().as_secs_f64());
        let server_threads = args.server_threads.unwrap_or(machine.cores);
        let log = args.server_log.clone().unwrap_or_else(|| dir.path().join("server.log"));
        let server = server::Child::spawn(&database, server_threads, &log).await?;
        let base = format!("http://{}", server.addr);
        let env = Env {
            cli: cli.clone(),
            base: base.clone(),
            dir: dir.path().to_owned(),
            mina_link: mina_link(&base).await?,
            server_pid: server.pid,
        };
        println!("# meetdesk-bench media\n");
        println!("{}", machine.markdown());
        println!(
            "- server: `meetdesk_server::start` in a child process (`meetdesk-bench serve`, {server_threads} worker \
             threads, log level info, pid {}) on {}, SQLite (temp file); clients: release `{}`; load generator in \
             this process ({threads} worker threads)",
            server.pid,
            server.addr,
            cli.display()
        );
        println!("- args: {}\n", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
        let result = run_parts(&args, &parts, &env, &levels, &seeded).await;
        println!("- load average (1/5/15 min) at the end: {}", report::loadavg());
        server.stop().await?;
        result
    })
}

async fn run_parts(
    args: &MediaArgs,
    parts: &[Part],
    env: &Env,
    levels: &[usize],
    seeded: &capacity::Seeded,
) -> anyhow::Result<()> {
    for part in parts {
        let load = report::loadavg();
        match part {
            Part::FirstAudio => {
                let r = first_audio::run(env, args.meets).await?;
                println!("{}", r.markdown(&load));
            }
            Part::MouthToEar => {
                let r = mouth::run(env, args.m2e_secs, args.m2e_calls, &args.chromium).await?;
                println!("{}", r.markdown(&load));
            }
            Part::Capacity => {
                let r = capacity::run(
                    env,
                    seeded,
                    levels,
                    args.capacity_secs,
                    args.capacity_stop_loss,
                    args.setup_concurrency,
                )
                .await?;
                println!("{}", r.markdown());
            }
            Part::ClientCpu => {
                let r = client_cpu::run(env, args.cpu_secs).await?;
                println!("{}", r.markdown(&load));
            }
        }
    }
    Ok(())
}

/// Mina's resume link from the demo directory.
async fn mina_link(base: &str) -> anyhow::Result<String> {
    let dir: p::DemoDirectory = reqwest::get(format!("{base}/api/demo"))
        .await?
        .error_for_status()
        .context("GET /api/demo")?
        .json()
        .await?;
    let mina =
        dir.customers.iter().find(|c| c.chat_id == CHAT).context("no chat_mina in the demo directory")?;
    Ok(mina.link.clone())
}

/// Writes a WAV of a `freq` Hz sine, 2 s (the clients loop it).
fn tone_wav(dir: &Path, freq: f32) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("tone_{freq}.wav"));
    let samples = tone::sine(freq, SAMPLE_RATE, std::time::Duration::from_secs(2), 0.3);
    wav::write_i16(&path, &samples, SAMPLE_RATE)?;
    Ok(path)
}

/// p50 / p95 / max of millisecond samples (nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pct {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub min: f64,
}

impl Pct {
    pub fn of(samples: &[f64]) -> Pct {
        if samples.is_empty() {
            return Pct::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
            s[rank.clamp(1, s.len()) - 1]
        };
        Pct { n: s.len(), p50: at(50.0), p95: at(95.0), max: s[s.len() - 1], min: s[0] }
    }

    /// `| p50 | p95 | max |` cells.
    pub fn cells(&self) -> String {
        if self.n == 0 {
            return "– | – | –".into();
        }
        format!("{:.1} | {:.1} | {:.1}", self.p50, self.p95, self.max)
    }
}
