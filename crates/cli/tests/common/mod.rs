//! Harness for driving the real `meetdesk-cli` binary: a real server in this process on
//! 127.0.0.1 (temp SQLite, demo data), CLI processes whose JSON lines are read as they come,
//! test tones written to temp WAVs, and measurements of what each process recorded.
//!
//! Nothing here sleeps to synchronise: every wait is for a JSON line or a process exit,
//! bounded by [`WAIT`].
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meetdesk_media::{tone, wav, SAMPLE_RATE};
use meetdesk_server::{Config, Server};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a test waits for a line or an exit that must come (a failure bound, not a pause).
pub const WAIT: Duration = Duration::from_secs(45);

/// The tests run real-time audio in several processes on a small machine: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// A real server on 127.0.0.1 with the demo channel, on a temp SQLite file (or one node of a
/// cluster on a throwaway PostgreSQL: [`TestServer::cluster`]).
pub struct TestServer {
    pub server: Option<Server>,
    pub base: String,
    pub dir: tempfile::TempDir,
    _pg: Option<Arc<meetdesk_testkit::Postgres>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// [`TestServer::start`] with changes to its configuration (e.g. a TURN server).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}?mode=rwc", dir.path().join("meetdesk.db").display());
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), database);
        config.demo = true;
        configure(&mut config);
        let server = meetdesk_server::start(config).await.unwrap();
        let base = server.url();
        TestServer { server: Some(server), base, dir, _pg: None }
    }

    /// `n` nodes with the demo channel on one throwaway PostgreSQL (started one after the
    /// other: the first seeds the demo).
    pub async fn cluster(n: usize) -> Vec<TestServer> {
        let pg = tokio::task::spawn_blocking(meetdesk_testkit::Postgres::start).await.unwrap().unwrap();
        let pg = Arc::new(pg);
        let mut nodes = Vec::new();
        for _ in 0..n {
            let mut config = Config::new("127.0.0.1:0".parse().unwrap(), pg.url());
            config.demo = true;
            let server = meetdesk_server::start(config).await.unwrap();
            let base = server.url();
            let dir = tempfile::tempdir().unwrap();
            nodes.push(TestServer { server: Some(server), base, dir, _pg: Some(Arc::clone(&pg)) });
        }
        nodes
    }

    /// This node's id.
    pub fn node_id(&self) -> String {
        self.server().state.node_id.clone()
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The demo directory's resume link for the customer of `chat_id`.
    pub async fn resume_link(&self, chat_id: &str) -> String {
        let dir: Value = reqwest::get(format!("{}/api/demo", self.base)).await.unwrap().json().await.unwrap();
        dir["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chat_id"] == chat_id)
            .unwrap_or_else(|| panic!("no demo customer for {chat_id}"))["link"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A temp file path.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `meetdesk-cli agent` signed in as `{name}@demo.test`, playing `tone` and recording into
    /// `{name}.wav`; `args` say what else it does (`--answer auto`, `--call-room …`).
    pub fn agent(&self, name: &str, tone: &Path, args: &[&str]) -> Cli {
        self.agent_at(&self.base, name, tone, args)
    }

    /// [`TestServer::agent`] talking to the server at `base` (another node, a front door).
    pub fn agent_at(&self, base: &str, name: &str, tone: &Path, args: &[&str]) -> Cli {
        let email = format!("{name}@demo.test");
        let sign_in = ["agent", "--server", base, "--email", &email, "--password", "demo"];
        self.spawn_playing(name, &[&sign_in, args].concat(), tone)
    }

    /// `meetdesk-cli customer` opening `link`, playing `tone` and recording into `{name}.wav`.
    pub fn customer(&self, name: &str, link: &str, tone: &Path, args: &[&str]) -> Cli {
        self.customer_at(&self.base, name, link, tone, args)
    }

    /// [`TestServer::customer`] talking to the server at `base`.
    pub fn customer_at(&self, base: &str, name: &str, link: &str, tone: &Path, args: &[&str]) -> Cli {
        let open = ["customer", "--server", base, "--link", link];
        self.spawn_playing(name, &[&open, args].concat(), tone)
    }

    /// Mina, the demo customer of `chat_mina`, opening her widget's resume link.
    pub async fn mina(&self, tone: &Path, args: &[&str]) -> Cli {
        let link = self.resume_link("chat_mina").await;
        self.customer("mina", &link, tone, args)
    }

    /// The usual meet: bob (agent, `--answer auto`, plays 660 Hz) signs in, then mina
    /// (customer, `--start-meet`, plays 440 Hz) presses Meet; both record. `bob_args` and
    /// `mina_args` say what else each does. Returns (bob, mina).
    pub async fn bob_answers_mina(&self, bob_args: &[&str], mina_args: &[&str]) -> (Cli, Cli) {
        let (a440, a660) = (self.tone_wav(440.0), self.tone_wav(660.0));
        let mut bob = self.agent("bob", &a660, &[&["--answer", "auto"], bob_args].concat());
        bob.event("signed_in").await;
        let mina = self.mina(&a440, &[&["--start-meet"], mina_args].concat()).await;
        (bob, mina)
    }

    fn spawn_playing(&self, name: &str, args: &[&str], tone: &Path) -> Cli {
        let rec = self.path(&format!("{name}.wav"));
        Cli::spawn(name, &[args, &["--play", path_str(tone), "--record", path_str(&rec)]].concat())
    }

    /// A WAV of a `freq` Hz sine at 0.3 peak (−10.5 dB), 2 s long (the CLI loops it).
    pub fn tone_wav(&self, freq: f32) -> PathBuf {
        self.tone_wav_at(freq, TONE_AMPLITUDE)
    }

    /// A WAV of a `freq` Hz sine at `amplitude` peak, 2 s long.
    pub fn tone_wav_at(&self, freq: f32, amplitude: f32) -> PathBuf {
        let path = self.path(&format!("tone_{freq}.wav"));
        let samples = tone::sine(freq, SAMPLE_RATE, Duration::from_secs(2), amplitude);
        wav::write_i16(&path, &samples, SAMPLE_RATE).unwrap();
        path
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

pub const TONE_AMPLITUDE: f32 = 0.3;

/// What the harness files a stdout line that is not JSON under.
pub const NOT_JSON: &str = "__not_json__";

/// One `meetdesk-cli` process and the JSON lines it printed.
pub struct Cli {
    pub name: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Every line read so far, in order.
    pub seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    /// The tasks reading stdout and stderr (they end at EOF, after the process exits).
    readers: Vec<tokio::task::JoinHandle<()>>,
    pub record: Option<PathBuf>,
}

impl Cli {
    /// Starts `meetdesk-cli ARGS…`.
    pub fn spawn(name: &str, args: &[&str]) -> Cli {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meetdesk-cli"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let who = name.to_owned();
        let stdout_done = tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("[{who}] {line}");
                let v = serde_json::from_str::<Value>(&line).unwrap_or_else(
                    |e| serde_json::json!({"event": NOT_JSON, "line": line, "error": e.to_string()}),
                );
                let _ = tx.send(v);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        let stderr_done = tokio::spawn(async move {
            let mut reader = BufReader::new(err).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let record = args.iter().position(|a| *a == "--record").map(|i| PathBuf::from(args[i + 1]));
        Cli {
            name: name.to_owned(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
            readers: vec![stdout_done, stderr_done],
            record,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn failure(&self, what: &str) -> String {
        let events: Vec<String> = self.seen.iter().map(|v| v.to_string()).collect();
        format!("{}: {what}\nlines:\n{}\nstderr:\n{}", self.name, events.join("\n"), self.stderr())
    }

    /// The first line (already read or to come) whose `event` is `event`.
    pub async fn event(&mut self, event: &str) -> Value {
        self.event_where(event, |_| true).await
    }

    /// The first line (already read or to come) with this `event` that matches `pred`.
    pub async fn event_where(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| v["event"] == event && pred(v)) {
            return v.clone();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) => {
                    self.seen.push(v.clone());
                    if v["event"] == event && pred(&v) {
                        return v;
                    }
                }
                Ok(None) => panic!("{}", self.failure(&format!("exited before printing {event}"))),
                Err(_) => panic!("{}", self.failure(&format!("no {event} within {WAIT:?}"))),
            }
        }
    }

    /// Waits for the process to exit, then reads the lines it left.
    pub async fn exit(&mut self) -> ExitStatus {
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(s) => s.unwrap(),
            Err(_) => panic!("{}", self.failure(&format!("still running after {WAIT:?}"))),
        };
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(WAIT, reader).await;
        }
        while let Ok(v) = self.lines.try_recv() {
            self.seen.push(v);
        }
        status
    }

    /// Waits for a clean exit (status 0), with the usual diagnostics otherwise.
    pub async fn exit_ok(&mut self) {
        let status = self.exit().await;
        assert!(status.success(), "{}", self.failure(&format!("exited with {status}")));
        assert!(!self.stderr().contains("panicked"), "{}", self.failure("panicked"));
        assert!(!self.names().iter().any(|n| n == NOT_JSON), "{}", self.failure("printed a non-JSON line"));
    }

    /// The `event` names printed, in order.
    pub fn names(&self) -> Vec<String> {
        self.seen.iter().map(|v| v["event"].as_str().unwrap_or("?").to_owned()).collect()
    }

    /// Asserts that these events were printed in this order (others may come between).
    pub fn assert_order(&self, expected: &[&str]) {
        let names = self.names();
        let mut at = 0;
        for e in expected {
            match names[at..].iter().position(|n| n == e) {
                Some(i) => at += i + 1,
                None => panic!("{}", self.failure(&format!("expected {expected:?} in order, got {names:?}"))),
            }
        }
    }

    /// The recording, once the process has exited.
    pub fn recording(&self) -> Vec<f32> {
        wav::read_mono_48k(self.record.as_ref().expect("started with --record")).unwrap()
    }
}

/// Analysis window: 100 ms.
pub const WINDOW: usize = SAMPLE_RATE as usize / 10;

/// The level of `freq` in each 100 ms window, dB re full-scale sine (Goertzel). Each window
/// is Hann-weighted (and scaled back by its mean, 0.5) so that another tone 200 Hz away does
/// not leak into the measurement: a plain Goertzel over 100 ms sees a neighbour only ~35 dB
/// down.
pub fn tone_levels(rec: &[f32], freq: f32) -> Vec<f32> {
    let hann: Vec<f32> = (0..WINDOW)
        .map(|i| {
            let x = std::f32::consts::PI * i as f32 / WINDOW as f32;
            2.0 * x.sin().powi(2) // sin² = (1 − cos 2x)/2, over its mean ½
        })
        .collect();
    let mut buf = vec![0.0f32; WINDOW];
    rec.chunks_exact(WINDOW)
        .map(|w| {
            for ((b, s), h) in buf.iter_mut().zip(w).zip(&hann) {
                *b = s * h;
            }
            tone::tone_power_db(&buf, freq, SAMPLE_RATE)
        })
        .collect()
}

/// A tone played at [`TONE_AMPLITUDE`] (−10.5 dB) is "heard" in a window where it is at least
/// this loud after the network (Opus keeps it within a dB or two).
pub const HEARD_DB: f32 = -20.0;
/// And "absent" where it is below this: 25 dB under the tone. Not lower: a dropout in the
/// others' audio (a busy machine) is a click whose broadband energy reaches about −40 dB at
/// any frequency.
pub const ABSENT_DB: f32 = -35.0;

/// How long `freq` is heard in `rec`.
pub fn heard_for(rec: &[f32], freq: f32) -> Duration {
    heard_above(rec, freq, HEARD_DB)
}

/// How long `freq` is at least `threshold_db` loud in `rec`.
pub fn heard_above(rec: &[f32], freq: f32, threshold_db: f32) -> Duration {
    let n = tone_levels(rec, freq).iter().filter(|&&db| db >= threshold_db).count();
    Duration::from_millis(n as u64 * 100)
}

/// The loudest window of `freq` in `rec`.
pub fn loudest(rec: &[f32], freq: f32) -> f32 {
    tone_levels(rec, freq).into_iter().fold(f32::MIN, f32::max)
}

/// Asserts `rec` holds every tone of `hear` for at least `min` and none of `absent`.
pub fn assert_hears(who: &str, rec: &[f32], hear: &[f32], absent: &[f32], min: Duration) {
    let all: Vec<f32> = hear.iter().chain(absent).copied().collect();
    let summary = describe(rec, &all);
    eprintln!("{who}'s recording: {summary}");
    for &f in hear {
        assert!(heard_for(rec, f) >= min, "{who} should hear {f} Hz for {min:?}: {summary}");
    }
    for &f in absent {
        let levels = tone_levels(rec, f);
        let (at, _) =
            levels.iter().enumerate().fold((0, f32::MIN), |b, (i, &db)| if db > b.1 { (i, db) } else { b });
        let around: Vec<String> = (at.saturating_sub(3)..(at + 4).min(levels.len()))
            .map(|i| {
                let all: Vec<String> =
                    all.iter().map(|&g| format!("{g}:{:.1}", tone_levels(rec, g)[i])).collect();
                format!("{:.1}s {}", i as f32 / 10.0, all.join(" "))
            })
            .collect();
        assert!(
            loudest(rec, f) < ABSENT_DB,
            "{who} should not hear {f} Hz: {summary}\naround its loudest window:\n{}",
            around.join("\n")
        );
    }
}

/// A short summary of a recording for failure messages.
pub fn describe(rec: &[f32], freqs: &[f32]) -> String {
    let mut s = format!("{:.2} s;", rec.len() as f64 / f64::from(SAMPLE_RATE));
    for f in freqs {
        s.push_str(&format!(" {f} Hz heard {:?} (loudest {:.1} dB);", heard_for(rec, *f), loudest(rec, *f)));
    }
    s
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Four more agents in `room_general`, which then has 8 members (P6: at least 8).
pub async fn eight_members_in_general(t: &TestServer) -> Vec<String> {
    use meetdesk_store::{accounts, rooms};
    let hash = meetdesk_server::auth::hash_password("demo").unwrap();
    let mut db = t.server().state.store.conn().await.unwrap();
    let mut ids = Vec::new();
    for n in ["erin", "frank", "grace", "heidi"] {
        let agent = accounts::Agent {
            id: format!("ag_{n}"),
            channel_id: "ch_demo".into(),
            email: format!("{n}@demo.test"),
            name: format!("{n} (test)"),
            password_hash: hash.clone(),
            role: "agent".into(),
            seat: false,
        };
        accounts::insert_agent(&mut db, &agent, 0).await.unwrap();
        ids.push(agent.id);
    }
    let general = rooms::room_by_id(&mut db, "room_general").await.unwrap().unwrap();
    rooms::insert_room(&mut db, &general, &ids, 0).await.unwrap();
    assert_eq!(rooms::members(&mut db, "room_general").await.unwrap().len(), 8);
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"].map(String::from).to_vec()
}

/// The 8-party meet's tone level in dB (seven tones are mixed in each speaker).
const EIGHT_PARTY_DB: f32 = -20.0;

/// P6: the 8 members of `room_general` in one team meet, agent `i` talking to the server at
/// `bases[i]` (one node, or nodes of a cluster); bob calls once the seven others listen, each
/// must hear the seven others and not themself.
pub async fn eight_party_meet(t: &TestServer, bases: &[String; 8]) {
    let names = eight_members_in_general(t).await;
    const AMPLITUDE: f32 = 0.1; // EIGHT_PARTY_DB
    let freqs = [410.0, 530.0, 670.0, 790.0, 950.0, 1090.0, 1230.0, 1370.0];
    let mut clis: Vec<Cli> = Vec::new();
    // bob (index 1) calls once the seven others listen.
    let order: Vec<usize> = (0..8).filter(|&i| i != 1).chain([1]).collect();
    let mut by_index: Vec<Option<usize>> = vec![None; 8];
    for &i in &order {
        let [how, what] = if i == 1 { ["--call-room", "room_general"] } else { ["--answer", "auto"] };
        let wav = t.tone_wav_at(freqs[i], AMPLITUDE);
        let mut cli = t.agent_at(&bases[i], &names[i], &wav, &["--hangup-after", "6s", how, what]);
        cli.event("signed_in").await;
        by_index[i] = Some(clis.len());
        clis.push(cli);
    }
    for c in &mut clis {
        c.exit_ok().await;
    }
    let mut first_audio = Vec::new();
    let mut connected_at = Vec::new();
    for c in &mut clis {
        connected_at.push(c.event("connected").await["at_ms"].as_i64().unwrap());
        let full =
            c.event_where("media_slots", |v| v["slots"].as_array().is_some_and(|s| s.len() == 7)).await;
        assert_eq!(full["slots"].as_array().unwrap().len(), 7, "{}", c.name);
        let first = c.event("first_audio").await;
        first_audio.push((c.name.clone(), first["since_accepted_ms"].as_i64().unwrap_or(-1)));
    }
    let spread = connected_at.iter().max().unwrap() - connected_at.iter().min().unwrap();
    eprintln!("accept → first audio (ms): {first_audio:?}; connected within {spread} ms of each other");
    for i in 0..8 {
        let cli = &clis[by_index[i].unwrap()];
        let rec = cli.recording();
        let summary = describe(&rec, &freqs);
        eprintln!("{}'s recording: {summary}", cli.name);
        for (j, &f) in freqs.iter().enumerate() {
            let heard = heard_above(&rec, f, EIGHT_PARTY_DB - 10.0);
            if j == i {
                assert!(loudest(&rec, f) < EIGHT_PARTY_DB - 15.0, "{} hears themself: {summary}", cli.name);
            } else {
                let timeline: String = tone_levels(&rec, f)
                    .iter()
                    .map(|&db| match db {
                        db if db >= EIGHT_PARTY_DB - 3.0 => '#',
                        db if db >= EIGHT_PARTY_DB - 10.0 => '+',
                        db if db >= EIGHT_PARTY_DB - 30.0 => '.',
                        _ => ' ',
                    })
                    .collect();
                eprintln!("{:>6} {f:>6} Hz |{timeline}|", cli.name);
                // About 6 s together; a busy machine (8 clients and the server in debug
                // builds on 2 cores) loses some of it.
                assert!(
                    heard >= Duration::from_millis(1500),
                    "{} hears {f} Hz for {heard:?}: {summary}",
                    cli.name
                );
            }
        }
    }
}
