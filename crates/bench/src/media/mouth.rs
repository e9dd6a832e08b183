//! Mouth-to-ear latency through the server, beside a Chromium ↔ Chromium call.
//!
//! **The click track**: a 30 ms chirp (300 → 3,400 Hz, broadband, so its cross-correlation
//! has one sharp peak) every 500 ms, silence between; 2 s, looped by the players.
//!
//! **meetdesk**: bob (`agent --answer auto`) and Mina (`customer --start-meet`) both play the
//! click track and record what they hear, both with `--audio-clock`: each prints the wall-clock
//! time of its WAV device's first tick, when sample 0 of the file entered the microphone ring
//! and sample 0 of the recording left the speaker ring; sample `n` follows `n / 48` ms later.
//! So click `k` left Mina's mouth at `tick0(Mina) + k · 500 ms` and is searched for in bob's
//! recording from that instant on (cross-correlation with the chirp, `tone::estimate_delay`,
//! lags 0–450 ms); its lag is the delay. Both directions, over the clicks between 1 s after
//! both connected and the hang-up. What this includes: the client's 20 ms framing, Opus
//! encode, SRTP, UDP over loopback to the server, the SFU's forwarding, back to the other
//! client, its jitter buffer, Opus decode and the 60 ms the mixer keeps ahead of the speaker.
//! What it excludes: the sound card's own capture and playback buffers (none here).
//!
//! **Chromium**: see [`super::chromium`]: the page records its microphone track and the remote
//! track on one `AudioContext`; each click found in the first is searched for in the second
//! the same way. That includes capture-track → WebRTC → NetEq → remote track → WebAudio and
//! excludes the audio device on both ends as well.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};
use meetdesk_media::{tone, wav, SAMPLE_RATE};

use super::cli::{self, ms, CliProc};
use super::{chromium, Env, Pct};

/// Samples between clicks (500 ms).
pub const PERIOD: usize = SAMPLE_RATE as usize / 2;
/// Clicks in the file (it loops).
const CLICKS_IN_FILE: usize = 4;
/// How far after its sending a click is searched for.
const SEARCH: Duration = Duration::from_millis(450);

pub fn chirp() -> Vec<f32> {
    tone::chirp(300.0, 3400.0, SAMPLE_RATE, Duration::from_millis(30), 0.5)
}

/// Writes the click track (48 kHz, 16-bit: Chromium's fake capture reads it too).
pub fn click_wav(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("clicks.wav");
    let mut samples = vec![0.0f32; PERIOD * CLICKS_IN_FILE];
    let c = chirp();
    for k in 0..CLICKS_IN_FILE {
        samples[k * PERIOD..k * PERIOD + c.len()].copy_from_slice(&c);
    }
    wav::write_i16(&path, &samples, SAMPLE_RATE)?;
    Ok(path)
}

/// Where a click sent at `at` (samples in the recording's timeline, fractional) is heard:
/// its delay in ms, `None` when not found.
fn find_click(chirp: &[f32], recorded: &[f32], at: f64) -> Option<f64> {
    if at < 0.0 {
        return None;
    }
    let from = at.floor() as usize;
    let to = (from + tone::samples_in(SEARCH, SAMPLE_RATE) + chirp.len()).min(recorded.len());
    if from >= to || to - from < chirp.len() * 2 {
        return None;
    }
    let lag = tone::estimate_delay(chirp, &recorded[from..to], SAMPLE_RATE, SEARCH)?;
    let lag_samples = lag.as_secs_f64() * f64::from(SAMPLE_RATE);
    Some((from as f64 + lag_samples - at) * 1000.0 / f64::from(SAMPLE_RATE))
}

/// Clicks played from `tick0_us` (one every [`PERIOD`] from sample 0), searched for in a
/// recording starting at `rec_tick0_us`, for clicks sent in `[from_us, to_us]`.
/// Returns (delays in ms, clicks looked for).
pub fn delays(
    played_tick0_us: f64,
    recorded: &[f32],
    rec_tick0_us: f64,
    from_us: f64,
    to_us: f64,
) -> (Vec<f64>, usize) {
    let chirp = chirp();
    let mut out = Vec::new();
    let mut looked = 0;
    for k in 0.. {
        let sent_us = played_tick0_us + (k * PERIOD) as f64 * 1e6 / f64::from(SAMPLE_RATE);
        if sent_us < from_us {
            continue;
        }
        if sent_us > to_us {
            break;
        }
        looked += 1;
        let at = (sent_us - rec_tick0_us) * f64::from(SAMPLE_RATE) / 1e6;
        if let Some(d) = find_click(&chirp, recorded, at) {
            out.push(d);
        }
    }
    (out, looked)
}

/// Clicks found in `local` (from 1 s in), each searched for in `remote` (same timeline).
pub fn delays_same_clock(local: &[f32], remote: &[f32], skip: usize) -> (Vec<f64>, usize) {
    let chirp = chirp();
    let mut out = Vec::new();
    let mut looked = 0;
    let mut pos = skip;
    while pos + PERIOD + chirp.len() < local.len() {
        // The click in this 500 ms stretch of the local track.
        let window = &local[pos..pos + PERIOD + chirp.len()];
        let Some(lag) = tone::estimate_delay(&chirp, window, SAMPLE_RATE, Duration::from_millis(500)) else {
            pos += PERIOD;
            continue;
        };
        let at = pos as f64 + lag.as_secs_f64() * f64::from(SAMPLE_RATE);
        looked += 1;
        if let Some(d) = find_click(&chirp, remote, at) {
            out.push(d);
        }
        pos = at as usize + PERIOD / 2;
    }
    (out, looked)
}

pub struct Leg {
    pub name: String,
    pub delays: Pct,
    pub found: usize,
    pub looked: usize,
    /// Each call's p50 (ms): a call keeps one playout phase (where the device's reads fall
    /// between packet arrivals) for its whole length, so calls differ by up to a frame.
    pub per_call_p50: Vec<f64>,
    pub note: String,
}

/// One path's clicks, pooled over the calls.
#[derive(Default)]
struct Pool {
    delays: Vec<f64>,
    looked: usize,
    per_call_p50: Vec<f64>,
}

impl Pool {
    fn add(&mut self, delays: Vec<f64>, looked: usize) {
        self.per_call_p50.push(Pct::of(&delays).p50);
        self.looked += looked;
        self.delays.extend(delays);
    }

    fn leg(self, name: &str, note: String) -> Leg {
        Leg {
            name: name.into(),
            delays: Pct::of(&self.delays),
            found: self.delays.len(),
            looked: self.looked,
            per_call_p50: self.per_call_p50,
            note,
        }
    }
}

pub struct MouthToEar {
    pub secs: f64,
    pub calls: usize,
    pub legs: Vec<Leg>,
    /// Why the Chromium leg is missing, if it is.
    pub chromium_error: Option<String>,
}

/// `calls` meetdesk calls, then `calls` Chromium calls, `secs` each; clicks pooled per path.
pub async fn run(env: &Env, secs: f64, calls: usize, chromium_path: &Path) -> anyhow::Result<MouthToEar> {
    let clicks = click_wav(&env.dir)?;
    let (mut up, mut down) = (Pool::default(), Pool::default());
    for _ in 0..calls.max(1) {
        let (u, d) = meetdesk_call(env, &clicks, secs).await?;
        up.add(u.0, u.1);
        down.add(d.0, d.1);
    }
    let note = "release `meetdesk-cli` ↔ server (SFU) ↔ release `meetdesk-cli`, 127.0.0.1".to_owned();
    let mut legs = vec![
        up.leg("meetdesk: customer → server → agent", note.clone()),
        down.leg("meetdesk: agent → server → customer", note),
    ];
    let mut chromium_error = None;
    if chromium_path.as_os_str().is_empty() {
        chromium_error = Some("skipped (--chromium \"\")".into());
    } else {
        let mut pool = Pool::default();
        let mut note = String::new();
        for _ in 0..calls.max(1) {
            match chromium::call(chromium_path, &clicks, &env.dir, secs).await {
                Ok(rec) => {
                    let skip = SAMPLE_RATE as usize;
                    let (d, looked) = delays_same_clock(&rec.local, &rec.remote, skip);
                    eprintln!("chromium: {} of {looked} clicks found", d.len());
                    pool.add(d, looked);
                    note = rec.note;
                }
                Err(e) => {
                    eprintln!("chromium: {e:#}");
                    chromium_error = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        if chromium_error.is_none() {
            legs.push(pool.leg("Chromium ↔ Chromium, P2P in one page (no server)", note));
        }
    }
    Ok(MouthToEar { secs, calls: calls.max(1), legs, chromium_error })
}

/// One meetdesk call: each direction's click delays (ms) and how many clicks were looked for.
async fn meetdesk_call(
    env: &Env,
    clicks: &Path,
    secs: f64,
) -> anyhow::Result<((Vec<f64>, usize), (Vec<f64>, usize))> {
    let agent_rec = env.dir.join("m2e_agent.wav");
    let customer_rec = env.dir.join("m2e_customer.wav");
    let mut agent = cli::agent(env, &["--audio-clock"], clicks, &agent_rec).await?;
    let hangup_after = format!("{}ms", (secs * 1000.0) as u64);
    let args = ["--audio-clock", "--hangup-after", &hangup_after];
    let mut customer = cli::customer(env, "customer", &args, clicks, &customer_rec)?;
    customer.exit().await?;
    agent.exit().await?;
    let clock = |p: &CliProc| -> anyhow::Result<f64> {
        let v = p.seen.iter().find(|v| v["event"] == "audio_clock").context("no audio_clock line")?;
        v["tick0_unix_us"].as_f64().context("audio_clock without tick0_unix_us")
    };
    let line = |p: &CliProc, event: &str| -> anyhow::Result<f64> {
        let v = p.seen.iter().find(|v| v["event"] == event).with_context(|| format!("no {event} line"))?;
        ms(v, "at_ms")
    };
    let (a0, c0) = (clock(&agent)?, clock(&customer)?);
    let from_us = line(&agent, "connected")?.max(line(&customer, "connected")?) * 1000.0 + 1e6;
    let to_us = line(&customer, "hung_up")? * 1000.0 - 0.5e6;
    ensure!(to_us > from_us, "the call was too short to measure (--m2e-secs)");
    let agent_heard = wav::read_mono_48k(&agent_rec)?;
    let customer_heard = wav::read_mono_48k(&customer_rec)?;
    let (up, up_looked) = delays(c0, &agent_heard, a0, from_us, to_us);
    let (down, down_looked) = delays(a0, &customer_heard, c0, from_us, to_us);
    eprintln!("meetdesk: {} of {up_looked} and {} of {down_looked} clicks found", up.len(), down.len());
    Ok(((up, up_looked), (down, down_looked)))
}

impl MouthToEar {
    pub fn markdown(&self, load: &str) -> String {
        let mut s = format!(
            "## Mouth-to-ear ({} calls of {} s per path, one after the other; load average before: {load})\n\n\
             | path | clicks found / sent | p50 ms | p95 ms | max ms | min ms | each call's p50 ms | notes |\n\
             |---|---:|---:|---:|---:|---:|---|---|\n",
            self.calls, self.secs
        );
        for l in &self.legs {
            let per_call: Vec<String> = l.per_call_p50.iter().map(|p| format!("{p:.1}")).collect();
            s.push_str(&format!(
                "| {} | {} / {} | {} | {:.1} | {} | {} |\n",
                l.name,
                l.found,
                l.looked,
                l.delays.cells(),
                l.delays.min,
                per_call.join(", "),
                l.note
            ));
        }
        if let Some(e) = &self.chromium_error {
            s.push_str(&format!("\nChromium ↔ Chromium: not measured: {e}\n"));
        }
        s
    }
}
