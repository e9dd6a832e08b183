//! A private PulseAudio sound server for one test, with a virtual microphone and speaker.
//!
//! [`PulseAudio::start`] runs `pulseaudio` in the foreground as a child of the test, in user
//! mode (also as root), with no default script (`-n`) and this one instead:
//!
//! | device | kind | for |
//! |---|---|---|
//! | [`SPEAKER`] | null sink, **default sink** | what a client plays; record [`SPEAKER_MONITOR`] |
//! | [`MIC_FEED`] | null sink | play a test signal into it … |
//! | [`MICROPHONE`] | remap of `MIC_FEED.monitor`, **default source** | … and a client captures it |
//!
//! All at 48 kHz mono. Everything lives in a temporary directory: the native-protocol socket
//! (anonymous auth, so no cookie), `HOME`, the runtime and state dirs, a client config with
//! autospawn off, and an ALSA config whose `default` PCM is the pulse plugin pointed at this
//! server. Clients reach it only through [`PulseAudio::env`] (set on a child process: audio
//! libraries read the environment once per process), so the user's own sound setup is never
//! touched. Dropping it stops the daemon (and its parent-death signal stops it if the test
//! process dies first).
//!
//! Needs Debian's `pulseaudio`, `pulseaudio-utils` (`pactl`, `paplay`, `parec`) and, for ALSA
//! clients such as cpal's default host, `libasound2-plugins`.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::child::{self, Owned};

/// The default sink: what clients play ends up here.
pub const SPEAKER: &str = "meetdesk_speaker";
/// The speaker's monitor source: record it to hear what clients played.
pub const SPEAKER_MONITOR: &str = "meetdesk_speaker.monitor";
/// The sink feeding the virtual microphone: play a test signal into it.
pub const MIC_FEED: &str = "meetdesk_mic_feed";
/// The default source (the virtual microphone): clients capture what was played into
/// [`MIC_FEED`].
pub const MICROPHONE: &str = "meetdesk_microphone";
/// The sample rate of every device here.
pub const RATE: u32 = 48_000;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running private PulseAudio server; stopped on drop.
#[derive(Debug)]
pub struct PulseAudio {
    // Field order: the daemon stops before its directory goes.
    daemon: Owned,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl PulseAudio {
    /// Starts the server and waits (polling `pactl info`, bounded) until it answers with its
    /// devices in place.
    pub fn start() -> Result<PulseAudio> {
        child::require("pulseaudio", "pulseaudio")?;
        child::require("pactl", "pulseaudio-utils")?;
        let dir = tempfile::Builder::new().prefix("meetdesk-pulse-").tempdir().context("temp dir")?;
        let root = dir.path();
        for sub in ["runtime", "state", "home"] {
            fs::create_dir_all(root.join(sub)).with_context(|| format!("creating {sub}"))?;
        }
        let socket = root.join("runtime").join("native");
        let script = root.join("default.pa");
        fs::write(
            &script,
            format!(
                "load-module module-native-protocol-unix socket={socket} auth-anonymous=1\n\
                 load-module module-null-sink sink_name={SPEAKER} rate={RATE} channels=1\n\
                 load-module module-null-sink sink_name={MIC_FEED} rate={RATE} channels=1\n\
                 load-module module-remap-source master={MIC_FEED}.monitor source_name={MICROPHONE} \
                 rate={RATE} channels=1\n\
                 set-default-sink {SPEAKER}\n\
                 set-default-source {MICROPHONE}\n",
                socket = socket.display()
            ),
        )
        .context("writing the PulseAudio script")?;
        let server = format!("unix:{}", socket.display());
        fs::write(root.join("client.conf"), format!("autospawn = no\ndefault-server = {server}\n"))
            .context("writing client.conf")?;
        fs::write(
            root.join("asound.conf"),
            format!(
                "pcm.!default {{ type pulse server \"{server}\" }}\n\
                 ctl.!default {{ type pulse server \"{server}\" }}\n"
            ),
        )
        .context("writing asound.conf")?;

        let log = root.join("pulseaudio.log");
        let log_file = fs::File::create(&log).context("creating the daemon log")?;
        let mut cmd = child::command("pulseaudio");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C")
            .envs(private_env(root))
            .args([
                "--daemonize=no",
                "--system=no",
                "--use-pid-file=no",
                "--exit-idle-time=-1",
                "--disallow-exit=yes",
                "--realtime=no",
                "--high-priority=no",
                "--log-target=stderr",
                "-n",
                "-F",
            ])
            .arg(&script)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(log_file);
        let daemon = Owned::spawn("pulseaudio", &mut cmd)?;
        let mut pulse = PulseAudio { daemon, socket, dir };

        let env = pulse.env();
        child::wait_until(&mut pulse.daemon, START_TIMEOUT, "answering `pactl info`", &log, || {
            if !pulse.socket.exists() {
                return Ok(None);
            }
            let out = Command::new("pactl")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .arg("info")
                .stdin(Stdio::null())
                .output()
                .context("running pactl")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let ready = out.status.success()
                && text.contains(&format!("Default Sink: {SPEAKER}"))
                && text.contains(&format!("Default Source: {MICROPHONE}"));
            Ok(ready.then_some(()))
        })?;
        Ok(pulse)
    }

    /// The server address (`unix:/…/native`), as `PULSE_SERVER` takes it.
    pub fn server(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.daemon.id()
    }

    /// The directory everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The environment a client process needs to use this server, through libpulse or
    /// through ALSA's `default` device: `PULSE_SERVER`, `PULSE_CLIENTCONFIG`,
    /// `ALSA_CONFIG_PATH`, and private `HOME` / `XDG_RUNTIME_DIR` (so nothing is written into
    /// the user's). Set it on a child process, never on the test process.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let root = self.dir.path();
        let mut env: Vec<(String, OsString)> =
            private_env(root).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        env.push(("PULSE_SERVER".into(), self.server().into()));
        env.push(("PULSE_CLIENTCONFIG".into(), root.join("client.conf").into()));
        // The system's configuration first, then ours: its `pcm.!default` wins.
        let mut alsa = system_alsa_conf();
        alsa.push(":");
        alsa.push(root.join("asound.conf"));
        env.push(("ALSA_CONFIG_PATH".into(), alsa));
        env
    }

    /// Plays a WAV file into `sink` (e.g. [`MIC_FEED`]) with `paplay`; stopped on drop.
    pub fn play(&self, sink: &str, wav: &Path) -> Result<Playing> {
        child::require("paplay", "pulseaudio-utils")?;
        let mut cmd = child::command("paplay");
        cmd.envs(self.env()).arg("-d").arg(sink).arg(wav).stdout(Stdio::null()).stderr(Stdio::piped());
        Ok(Playing { process: Owned::spawn("paplay", &mut cmd)? })
    }

    /// Records `source` (e.g. [`SPEAKER_MONITOR`]) with `parec`, 48 kHz mono f32, until
    /// [`Recording::stop`].
    pub fn record(&self, source: &str) -> Result<Recording> {
        child::require("parec", "pulseaudio-utils")?;
        let mut cmd = child::command("parec");
        cmd.envs(self.env())
            .arg("-d")
            .arg(source)
            .args(["--raw", "--format=float32le", "--channels=1", "--latency-msec=20"])
            .arg(format!("--rate={RATE}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = Owned::spawn("parec", &mut cmd)?;
        let mut stdout = process.take_stdout().context("parec's stdout")?;
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bytes);
        let reader = thread::Builder::new()
            .name("testkit-parec".into())
            .spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
                }
            })
            .context("starting the parec reader")?;
        Ok(Recording { process, bytes, reader: Some(reader) })
    }
}

/// `HOME`, `XDG_RUNTIME_DIR` and PulseAudio's own runtime and state paths, inside `root`.
fn private_env(root: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("HOME", root.join("home").into()),
        ("XDG_RUNTIME_DIR", root.join("runtime").into()),
        ("XDG_CONFIG_HOME", root.join("home").into()),
        ("PULSE_RUNTIME_PATH", root.join("runtime").into()),
        ("PULSE_STATE_PATH", root.join("state").into()),
    ]
}

fn system_alsa_conf() -> OsString {
    std::env::var_os("ALSA_CONFIG_PATH").unwrap_or_else(|| "/usr/share/alsa/alsa.conf".into())
}

/// A `paplay` running; stopped on drop.
#[derive(Debug)]
pub struct Playing {
    process: Owned,
}

impl Playing {
    /// Waits for the file to finish playing (at most `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Result<()> {
        let status = self.process.wait_exit(timeout)?;
        if status != "exit status: 0" {
            bail!("paplay ended with {status}");
        }
        Ok(())
    }

    /// Is it still playing?
    pub fn is_playing(&mut self) -> bool {
        self.process.exited().is_none()
    }
}

/// A `parec` running.
#[derive(Debug)]
pub struct Recording {
    process: Owned,
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Recording {
    /// What has been recorded so far.
    pub fn samples(&self) -> Vec<f32> {
        decode(&self.bytes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stops recording; returns everything recorded (48 kHz mono).
    pub fn stop(mut self) -> Vec<f32> {
        self.process.stop();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.samples()
    }
}

fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
