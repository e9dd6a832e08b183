//! `meetdesk-cli tone FILE.wav --hz 440 [--hz 660] [--skip 1s]`: measures test tones in a
//! recording (what `--record` wrote, or any WAV) and prints one JSON line, for tests and
//! scripts that check audio end to end without linking Rust (the browser interop test).
//!
//! Built on `meetdesk_media::tone`: a tone counts as present when it carries most of the
//! signal's power (Goertzel, [`tone::detect`]), over the whole file (`detected`) and per
//! window (`window_share`: the share of sounding windows that hold it). The per-window figure
//! is the one to use for sources whose clock is not the recorder's (a browser's fake
//! microphone): over seconds, a slightly different frequency or a phase jump after a
//! concealed packet smears a tone out of the whole file's very narrow Goertzel bin, while
//! every short window still holds it. `longest_gap_ms` is the longest silence between the
//! first and last sound.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use meetdesk_media::{level, tone, wav, SAMPLE_RATE};
use serde_json::json;

use crate::duration;

/// Silence threshold for `longest_gap_ms`, as the audio tests use it.
const GAP_THRESHOLD_DBFS: f32 = -50.0;

#[derive(Debug, Args)]
pub struct ToneArgs {
    /// The WAV file (any PCM or float WAV; channels are averaged, resampled to 48 kHz).
    file: PathBuf,
    /// A tone's frequency in Hz (repeat for several).
    #[arg(long = "hz", required = true, value_name = "HZ")]
    hz: Vec<f32>,
    /// Leave out this much at the start (e.g. before the media connected).
    #[arg(long, value_parser = duration::parse, default_value = "0", value_name = "DURATION")]
    skip: Duration,
    /// Window for `window_share`.
    #[arg(long, value_parser = duration::parse, default_value = "100ms", value_name = "DURATION")]
    window: Duration,
}

/// Prints `{"file", "seconds", "rms_dbfs", "longest_gap_ms", "longest_gap_at_ms",
/// "sounding_windows", "tones": [{"hz", "power_db", "detected", "window_share"}]}` (times from
/// the start of what was measured; windows quieter than [`tone::DETECT_FLOOR_DBFS`] are
/// silence and not counted). Exit code 0 whatever was found; an unreadable file is an error.
pub fn run(args: &ToneArgs) -> anyhow::Result<u8> {
    let samples =
        wav::read_mono_48k(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let skip = tone::samples_in(args.skip, SAMPLE_RATE).min(samples.len());
    let samples = &samples[skip..];
    let window = tone::samples_in(args.window, SAMPLE_RATE).max(1);
    let sounding: Vec<&[f32]> =
        samples.chunks_exact(window).filter(|w| level::rms_dbfs(w) >= tone::DETECT_FLOOR_DBFS).collect();
    let tones: Vec<_> = args
        .hz
        .iter()
        .map(|&hz| {
            json!({
                "hz": hz,
                "power_db": round2(tone::tone_power_db(samples, hz, SAMPLE_RATE)),
                "detected": tone::detect(samples, hz),
                "window_share": share(&sounding, hz),
            })
        })
        .collect();
    let gap = tone::longest_gap(samples, SAMPLE_RATE, GAP_THRESHOLD_DBFS);
    let out = json!({
        "file": args.file.display().to_string(),
        "seconds": round2(samples.len() as f32 / SAMPLE_RATE as f32),
        "rms_dbfs": round2(level::rms_dbfs(samples)),
        "longest_gap_ms": gap.map(|g| g.length.as_millis() as u64),
        "longest_gap_at_ms": gap.map(|g| g.start.as_millis() as u64),
        "sounding_windows": sounding.len(),
        "tones": tones,
    });
    println!("{out}");
    Ok(0)
}

/// The share of `windows` in which a tone of `hz` is detected (0 when there are none).
fn share(windows: &[&[f32]], hz: f32) -> f64 {
    if windows.is_empty() {
        return 0.0;
    }
    let hits = windows.iter().filter(|w| tone::detect(w, hz)).count();
    round2(hits as f32 / windows.len() as f32)
}

fn round2(x: f32) -> f64 {
    (f64::from(x) * 100.0).round() / 100.0
}
