//! The ring sound: the product's own two-tone bursts (P2: not configurable by itself), made
//! here rather than shipped as a file, and played on the default speaker through
//! `meetdesk-media`'s playback stream while something rings.
//!
//! One cycle lasts [`CYCLE`]: four 400 ms bursts alternating [`LOW_HZ`] and [`HIGH_HZ`], then
//! 1.4 s of quiet. Each burst fades in and out over 10 ms so it does not click.

use std::f32::consts::TAU;
use std::sync::mpsc;
use std::time::Duration;

use meetdesk_media::device::open_playback;
use meetdesk_media::pipeline::audio_ring;
use meetdesk_media::SAMPLE_RATE;

/// The bursts' two pitches.
pub const LOW_HZ: f32 = 660.0;
pub const HIGH_HZ: f32 = 880.0;
/// One burst, and how many bursts before the pause.
const BURST: Duration = Duration::from_millis(400);
const BURSTS: u32 = 4;
/// One whole cycle (bursts and pause).
pub const CYCLE: Duration = Duration::from_millis(3_000);
const FADE: Duration = Duration::from_millis(10);
/// Peak amplitude (full scale = 1): clearly audible, not harsh.
const AMPLITUDE: f32 = 0.3;

/// The ring tone, sample by sample at [`SAMPLE_RATE`], endlessly.
#[derive(Debug, Clone, Default)]
pub struct RingTone {
    /// Samples since the start of the current cycle.
    pos: u32,
}

impl RingTone {
    fn samples(d: Duration) -> u32 {
        (d.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as u32
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> f32 {
        let (burst, cycle, fade) = (Self::samples(BURST), Self::samples(CYCLE), Self::samples(FADE));
        let pos = self.pos;
        self.pos = (self.pos + 1) % cycle;
        let index = pos / burst;
        if index >= BURSTS {
            return 0.0;
        }
        let within = pos % burst;
        let hz = if index.is_multiple_of(2) { LOW_HZ } else { HIGH_HZ };
        let envelope = (within.min(burst - 1 - within) as f32 / fade as f32).min(1.0);
        let t = within as f32 / SAMPLE_RATE as f32;
        AMPLITUDE * envelope * (TAU * hz * t).sin()
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [f32]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

/// The ring sound while this lives: a thread of its own holds the speaker stream (cpal streams
/// stay on the thread that made them) and keeps its queue topped up. Dropping it stops the
/// sound and closes the speaker.
pub struct RingSound {
    _stop: mpsc::Sender<()>,
}

/// How much sound is queued ahead of the speaker: small, so the sound stops soon after a drop.
const AHEAD: Duration = Duration::from_millis(120);
const REFILL: Duration = Duration::from_millis(20);

impl RingSound {
    /// Starts the sound on the default speaker. A missing or refused speaker is logged by the
    /// sound thread: a ring without sound still notifies.
    pub fn start() -> std::io::Result<RingSound> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new().name("meetdesk-ring-sound".into()).spawn(move || {
            let capacity = RingTone::samples(AHEAD * 4) as usize;
            let (mut writer, reader) = audio_ring(capacity);
            let stream = match open_playback(None, reader) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "no ring sound: the speaker could not be opened");
                    return;
                }
            };
            tracing::info!(device = stream.device_name(), "ring sound on");
            let ahead = RingTone::samples(AHEAD) as usize;
            let mut tone = RingTone::default();
            let mut block = vec![0.0f32; ahead];
            // Until the `RingSound` is dropped (the sender goes: a disconnect, not a timeout).
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(REFILL) {
                let want = ahead.saturating_sub(writer.queued());
                if want > 0 {
                    tone.fill(&mut block[..want]);
                    writer.push_slice(&block[..want]);
                }
            }
            drop(stream);
            tracing::info!("ring sound off");
        })?;
        Ok(RingSound { _stop: stop })
    }
}

#[cfg(test)]
mod tests {
    use meetdesk_media::tone::tone_power_db;

    use super::*;

    fn cycle() -> Vec<f32> {
        let mut out = vec![0.0; RingTone::samples(CYCLE) as usize];
        RingTone::default().fill(&mut out);
        out
    }

    #[test]
    fn bursts_alternate_two_pitches_then_pause() {
        let samples = cycle();
        let burst = RingTone::samples(BURST) as usize;
        let first = &samples[..burst];
        let second = &samples[burst..2 * burst];
        assert!(tone_power_db(first, LOW_HZ, SAMPLE_RATE) > -20.0);
        assert!(tone_power_db(first, HIGH_HZ, SAMPLE_RATE) < -40.0);
        assert!(tone_power_db(second, HIGH_HZ, SAMPLE_RATE) > -20.0);
        assert!(tone_power_db(second, LOW_HZ, SAMPLE_RATE) < -40.0);
        let pause = &samples[BURSTS as usize * burst..];
        assert!(pause.iter().all(|s| *s == 0.0), "quiet after the bursts");
        assert!(samples.iter().all(|s| s.abs() <= AMPLITUDE));
    }

    #[test]
    fn bursts_fade_and_the_tone_repeats() {
        let samples = cycle();
        assert_eq!(samples[0], 0.0, "fades in from silence");
        let burst = RingTone::samples(BURST) as usize;
        assert!(samples[burst - 1].abs() < 0.01, "fades out");
        let mut tone = RingTone::default();
        let mut twice = vec![0.0; 2 * samples.len()];
        tone.fill(&mut twice);
        assert_eq!(&twice[..samples.len()], &samples[..]);
        assert_eq!(&twice[samples.len()..], &samples[..]);
    }
}
