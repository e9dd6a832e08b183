//! The real device path: cpal's default host (ALSA, whose `default` device is routed to
//! PulseAudio) against a private PulseAudio server with a virtual microphone and a virtual
//! speaker (`meetdesk_testkit::pulse`).
//!
//! The test starts the server, records the speaker's monitor with `parec`, plays a 1 kHz tone
//! into the microphone with `paplay`, and runs the device half in a child process — this very
//! test binary, running only `device_child` — with the server's environment: audio libraries
//! read it once per process, so it is never set on this one. The child opens the default
//! microphone and speaker with `meetdesk_media::device`, plays a 440 Hz tone, and captures
//! 3 s. Then Goertzel checks: the capture holds 1 kHz and not 440 Hz; the speaker's monitor
//! holds 440 Hz and not 1 kHz.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meetdesk_media::device::{open_capture, open_playback, DeviceEvent};
use meetdesk_media::pipeline::audio_ring;
use meetdesk_media::{tone, wav, SAMPLE_RATE};
use meetdesk_testkit::pulse::{PulseAudio, MIC_FEED, SPEAKER_MONITOR};

/// Where the child writes what it captured (set by the parent only).
const CAPTURE_ENV: &str = "MEETDESK_TEST_CAPTURE_WAV";
/// The microphone's tone (played into the virtual source by `paplay`).
const MIC_HZ: f32 = 1000.0;
/// The speaker's tone (played by cpal).
const SPEAKER_HZ: f32 = 440.0;
const AMPLITUDE: f32 = 0.3;
/// How much the child captures and plays.
const SECONDS: u64 = 3;
/// A bound on the child's work (a failure bound, never a pause)…
const CHILD_WAIT: Duration = Duration::from_secs(20);
/// … and on the child process.
const WAIT: Duration = Duration::from_secs(40);

/// 100 ms windows in which `freq` is heard: within 6 dB of the whole window's power (the
/// tone dominates) and louder than -30 dBFS.
fn windows_with(samples: &[f32], freq: f32) -> usize {
    samples
        .chunks_exact(SAMPLE_RATE as usize / 10)
        .filter(|w| tone::detect(w, freq) && tone::tone_power_db(w, freq, SAMPLE_RATE) > -30.0)
        .count()
}

/// The loudest 100 ms window of `freq`, dB re a full-scale sine.
fn loudest(samples: &[f32], freq: f32) -> f32 {
    samples
        .chunks_exact(SAMPLE_RATE as usize / 10)
        .map(|w| tone::tone_power_db(w, freq, SAMPLE_RATE))
        .fold(f32::MIN, f32::max)
}

fn summary(samples: &[f32]) -> String {
    format!(
        "{:.2} s; {MIC_HZ} Hz in {} windows (loudest {:.1} dB); {SPEAKER_HZ} Hz in {} windows (loudest {:.1} dB)",
        samples.len() as f64 / f64::from(SAMPLE_RATE),
        windows_with(samples, MIC_HZ),
        loudest(samples, MIC_HZ),
        windows_with(samples, SPEAKER_HZ),
        loudest(samples, SPEAKER_HZ),
    )
}

#[test]
fn cpal_captures_the_virtual_microphone_and_plays_into_the_virtual_speaker() {
    let pulse = PulseAudio::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let speaker = pulse.record(SPEAKER_MONITOR).unwrap();
    let mic_tone = dir.path().join("mic.wav");
    // Longer than the child runs; stopped when dropped.
    wav::write_i16(
        &mic_tone,
        &tone::sine(MIC_HZ, SAMPLE_RATE, Duration::from_secs(30), AMPLITUDE),
        SAMPLE_RATE,
    )
    .unwrap();
    let playing = pulse.play(MIC_FEED, &mic_tone).unwrap();

    let capture = dir.path().join("captured.wav");
    // Files, not pipes: a pipe nobody reads until the end would block a chatty child.
    let child_out = dir.path().join("child.log");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "device_child", "--ignored", "--nocapture", "--test-threads=1"])
        .envs(pulse.env())
        .env(CAPTURE_ENV, &capture)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&child_out).unwrap())
        .stderr(Stdio::from(std::fs::File::options().append(true).open(&child_out).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let child_log = std::fs::read_to_string(&child_out).unwrap_or_default();
    eprintln!("device child:\n{child_log}");
    let daemon_log = std::fs::read_to_string(pulse.dir().join("pulseaudio.log")).unwrap_or_default();
    assert!(
        status.success(),
        "the device child failed ({status}):\n{child_log}\nPulseAudio's log:\n{daemon_log}"
    );
    assert!(child_log.contains("1 passed"), "the device child ran no test:\n{child_log}");
    drop(playing);
    let played = speaker.stop();

    let captured = wav::read_mono_48k(&capture).unwrap();
    eprintln!("captured by cpal: {}", summary(&captured));
    eprintln!("speaker monitor: {}", summary(&played));
    // Of 30 windows, most hold the microphone's tone (the first may be before it flows)…
    assert!(windows_with(&captured, MIC_HZ) >= 20, "cpal captured the tone: {}", summary(&captured));
    // … and none the speaker's: no loop from speaker to microphone.
    assert!(loudest(&captured, SPEAKER_HZ) < -40.0, "{}", summary(&captured));
    assert!(windows_with(&played, SPEAKER_HZ) >= 20, "cpal's tone reached the speaker: {}", summary(&played));
    assert!(loudest(&played, MIC_HZ) < -40.0, "{}", summary(&played));
}

/// The device half, in its own process with the private server's environment (run by the
/// test above; on its own it has nothing to do).
#[test]
#[ignore = "run by cpal_captures_the_virtual_microphone_and_plays_into_the_virtual_speaker in a child process"]
fn device_child() {
    let Some(out) = std::env::var_os(CAPTURE_ENV).map(PathBuf::from) else {
        eprintln!("device_child: {CAPTURE_ENV} not set; nothing to do outside the parent test");
        return;
    };
    let total = SAMPLE_RATE as usize * SECONDS as usize;
    let (mic_w, mut mic_r) = audio_ring(total * 2);
    let (mut spk_w, spk_r) = audio_ring(total + SAMPLE_RATE as usize);
    spk_w.push_slice(&tone::sine(SPEAKER_HZ, SAMPLE_RATE, Duration::from_secs(SECONDS), AMPLITUDE));
    // The order the CLI opens them in.
    let mut mic = open_capture(None, mic_w).unwrap();
    println!("microphone open");
    let mut speaker = open_playback(None, spk_r).unwrap();
    println!("microphone: {mic:?}\nspeaker: {speaker:?}");

    // The device paces this loop: it ends when the microphone delivered SECONDS and the
    // speaker took everything queued.
    let mut captured = vec![0.0f32; total];
    let mut filled = 0;
    let mut events: Vec<(&str, DeviceEvent, usize)> = Vec::new();
    let deadline = Instant::now() + CHILD_WAIT;
    while filled < total || spk_w.queued() > 0 {
        filled += mic_r.pop_into(&mut captured[filled..]);
        for (what, stream) in [("microphone", &mut mic), ("speaker", &mut speaker)] {
            while let Some(event) = stream.poll_event() {
                match events.iter_mut().find(|(w, e, _)| *w == what && *e == event) {
                    Some((_, _, n)) => *n += 1,
                    None => events.push((what, event, 1)),
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "after {CHILD_WAIT:?}: captured {filled} of {total} samples, {} still queued for the speaker; \
             device events: {events:?}",
            spk_w.queued()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("device events (what, event, count): {events:?}");
    drop(mic);
    drop(speaker);
    wav::write_f32(&out, &captured, SAMPLE_RATE).unwrap();
    println!("captured {:.2} s into {}", filled as f64 / f64::from(SAMPLE_RATE), out.display());
}
