//! Echo cancellation, noise suppression and automatic gain control for the microphone.
//!
//! Behind the small [`AudioProcessor`] trait: [`WebRtcProcessor`] is the WebRTC audio
//! processing module (AEC3, noise suppression, AGC2) through `sonora`, a pure-Rust port, and
//! [`PassThrough`] does nothing (headset users, tests, or if processing is switched off).
//! Why sonora and not the C++ module: `docs/decisions/audio-processing.md`.
//!
//! Usage, per 20 ms: give the processor what the speaker is about to play
//! ([`AudioProcessor::process_render`], the far end), then clean the microphone frame in place
//! ([`AudioProcessor::process_capture`], the near end). Frames are mono 48 kHz, any multiple of
//! 10 ms. Neither call allocates.

use std::time::Duration;

use crate::SAMPLE_RATE;

/// The processing unit: 10 ms at 48 kHz.
pub const CHUNK_SAMPLES: usize = 480;

/// Errors from audio processing.
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    /// Frames must be a whole number of 10 ms chunks.
    #[error("frame of {0} samples is not a multiple of 10 ms ({CHUNK_SAMPLES} samples)")]
    FrameLength(usize),
    /// The processing module rejected the stream.
    #[error("audio processing: {0}")]
    Module(#[from] sonora::Error),
}

/// Something that cleans microphone audio, given what the speaker plays.
pub trait AudioProcessor: Send {
    /// The far-end signal (what the speaker plays), mono 48 kHz, a multiple of 10 ms.
    fn process_render(&mut self, far_end: &[f32]) -> Result<(), ProcessingError>;
    /// Clean a near-end (microphone) frame in place, mono 48 kHz, a multiple of 10 ms.
    fn process_capture(&mut self, near_end: &mut [f32]) -> Result<(), ProcessingError>;
    /// The delay between a frame given to `process_render` and its echo reaching
    /// `process_capture` (device buffers); a hint, the canceller also estimates it.
    fn set_stream_delay(&mut self, _delay: Duration) {}
    /// A short name for logs.
    fn name(&self) -> &'static str;
}

fn check_chunks(len: usize) -> Result<(), ProcessingError> {
    if len.is_multiple_of(CHUNK_SAMPLES) {
        Ok(())
    } else {
        Err(ProcessingError::FrameLength(len))
    }
}

/// Leaves audio untouched.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough;

impl AudioProcessor for PassThrough {
    fn process_render(&mut self, far_end: &[f32]) -> Result<(), ProcessingError> {
        check_chunks(far_end.len())
    }

    fn process_capture(&mut self, near_end: &mut [f32]) -> Result<(), ProcessingError> {
        check_chunks(near_end.len())
    }

    fn name(&self) -> &'static str {
        "pass-through"
    }
}

/// Which parts of the WebRTC module run. Default: all on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingConfig {
    /// Acoustic echo cancellation (AEC3).
    pub echo_cancellation: bool,
    /// Noise suppression (moderate, about 12 dB).
    pub noise_suppression: bool,
    /// Automatic gain control (AGC2 adaptive digital gain and limiter).
    pub gain_control: bool,
    /// High-pass filter (removes rumble and DC).
    pub high_pass_filter: bool,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self { echo_cancellation: true, noise_suppression: true, gain_control: true, high_pass_filter: true }
    }
}

/// The WebRTC audio processing module (via `sonora`): AEC3 + noise suppression + AGC2.
pub struct WebRtcProcessor {
    apm: sonora::AudioProcessing,
    config: ProcessingConfig,
}

impl std::fmt::Debug for WebRtcProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcProcessor").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Default for WebRtcProcessor {
    fn default() -> Self {
        Self::new(ProcessingConfig::default())
    }
}

impl WebRtcProcessor {
    /// A processor for mono 48 kHz capture and render streams.
    pub fn new(config: ProcessingConfig) -> Self {
        use sonora::config::{
            AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression,
        };
        let apm_config = sonora::Config {
            echo_canceller: config.echo_cancellation.then(EchoCanceller::default),
            noise_suppression: config.noise_suppression.then(NoiseSuppression::default),
            gain_controller2: config.gain_control.then(|| GainController2 {
                adaptive_digital: Some(AdaptiveDigital::default()),
                ..GainController2::default()
            }),
            high_pass_filter: config.high_pass_filter.then(HighPassFilter::default),
            ..sonora::Config::default()
        };
        let stream = sonora::StreamConfig::new(SAMPLE_RATE, 1);
        let apm = sonora::AudioProcessing::builder()
            .config(apm_config)
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self { apm, config }
    }

    /// What runs.
    pub fn config(&self) -> ProcessingConfig {
        self.config
    }
}

impl AudioProcessor for WebRtcProcessor {
    fn process_render(&mut self, far_end: &[f32]) -> Result<(), ProcessingError> {
        check_chunks(far_end.len())?;
        let mut out = [0.0f32; CHUNK_SAMPLES];
        for chunk in far_end.chunks_exact(CHUNK_SAMPLES) {
            self.apm.process_render_f32(&[chunk], &mut [&mut out])?;
        }
        Ok(())
    }

    fn process_capture(&mut self, near_end: &mut [f32]) -> Result<(), ProcessingError> {
        check_chunks(near_end.len())?;
        let mut input = [0.0f32; CHUNK_SAMPLES];
        for chunk in near_end.chunks_exact_mut(CHUNK_SAMPLES) {
            input.copy_from_slice(chunk);
            self.apm.process_capture_f32(&[&input], &mut [chunk])?;
        }
        Ok(())
    }

    fn set_stream_delay(&mut self, delay: Duration) {
        // Clamped to 0..=500 ms by the module; clamping is not an error for us.
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        let _clamped = self.apm.set_stream_delay_ms(ms);
    }

    fn name(&self) -> &'static str {
        "webrtc-apm (sonora)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::rms_dbfs;
    use crate::tone::{tone_power_db, SineGenerator};
    use rand::{Rng, SeedableRng};

    const SECOND: usize = SAMPLE_RATE as usize;

    /// Speech-like far-end signal: noise shaped by a 3 Hz syllable envelope.
    fn far_end_signal(seconds: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut lp = 0.0f32;
        (0..seconds * SECOND)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let env = (0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin()).powi(2);
                // Gentle low-pass so it is more voice than hiss.
                lp = 0.7 * lp + 0.3 * rng.gen_range(-1.0f32..1.0);
                0.5 * env * lp
            })
            .collect()
    }

    /// Loudspeaker → room → microphone: 40 ms later, attenuated, with a little reverb tail.
    fn echo_of(far: &[f32]) -> Vec<f32> {
        let delay = 40 * SECOND / 1000;
        (0..far.len())
            .map(|i| {
                let tap = |d: usize, g: f32| if i >= d { g * far[i - d] } else { 0.0 };
                tap(delay, 0.5) + tap(delay + 96, 0.2) + tap(delay + 240, 0.1)
            })
            .collect()
    }

    fn run(p: &mut dyn AudioProcessor, far: &[f32], mic: &[f32]) -> Vec<f32> {
        let mut out = mic.to_vec();
        for (f, m) in far.chunks(960).zip(out.chunks_mut(960)) {
            p.process_render(f).expect("render");
            p.process_capture(m).expect("capture");
        }
        out
    }

    #[test]
    fn pass_through_changes_nothing() {
        let far = far_end_signal(1, 1);
        let mic = echo_of(&far);
        assert_eq!(run(&mut PassThrough, &far, &mic), mic);
    }

    #[test]
    fn synthetic_echo_is_cancelled() {
        let far = far_end_signal(8, 2);
        let mic = echo_of(&far);
        let mut apm = WebRtcProcessor::default();
        let out = run(&mut apm, &far, &mic);
        // After 3 s to converge, compare the echo left in the last 5 s with the echo heard.
        let before = rms_dbfs(&mic[3 * SECOND..]);
        let after = rms_dbfs(&out[3 * SECOND..]);
        eprintln!("echo {before:.1} dBFS → {after:.1} dBFS");
        assert!(before > -35.0, "the test echo is audible: {before}");
        assert!(after < before - 30.0, "echo only reduced from {before} to {after} dBFS");
    }

    #[test]
    fn near_end_speech_survives_echo_cancellation() {
        // Double talk: the local speaker (a 440 Hz tone in bursts) talks over the echo.
        let far = far_end_signal(8, 3);
        let mut mic = echo_of(&far);
        let mut tone = SineGenerator::new(440.0, SAMPLE_RATE, 0.2);
        let mut near = vec![0.0f32; mic.len()];
        for (k, chunk) in near.chunks_mut(SECOND / 4).enumerate() {
            if k >= 16 && k % 2 == 0 {
                tone.fill(chunk); // from 4 s on, 250 ms on / 250 ms off
            }
        }
        for (m, n) in mic.iter_mut().zip(&near) {
            *m += n;
        }
        let config =
            ProcessingConfig { noise_suppression: false, gain_control: false, ..ProcessingConfig::default() };
        let mut apm = WebRtcProcessor::new(config);
        let out = run(&mut apm, &far, &mic);
        let sent = tone_power_db(&near[4 * SECOND..], 440.0, SAMPLE_RATE);
        let kept = tone_power_db(&out[4 * SECOND..], 440.0, SAMPLE_RATE);
        eprintln!("near-end tone {sent:.1} dB → {kept:.1} dB");
        assert!(kept > sent - 10.0, "near-end tone cut from {sent} to {kept} dB");
    }

    #[test]
    fn steady_noise_is_suppressed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let noise: Vec<f32> = (0..4 * SECOND).map(|_| rng.gen_range(-0.05..0.05)).collect();
        let config =
            ProcessingConfig { echo_cancellation: false, gain_control: false, ..ProcessingConfig::default() };
        let mut apm = WebRtcProcessor::new(config);
        let silence = vec![0.0; noise.len()];
        let out = run(&mut apm, &silence, &noise);
        let before = rms_dbfs(&noise[2 * SECOND..]);
        let after = rms_dbfs(&out[2 * SECOND..]);
        eprintln!("noise {before:.1} dBFS → {after:.1} dBFS");
        assert!(after < before - 6.0, "noise only reduced from {before} to {after} dBFS");
    }

    #[test]
    fn quiet_talker_is_brought_up_by_gain_control() {
        let quiet: Vec<f32> = far_end_signal(6, 5).iter().map(|s| s * 0.05).collect();
        let config = ProcessingConfig {
            echo_cancellation: false,
            noise_suppression: false,
            ..ProcessingConfig::default()
        };
        let mut apm = WebRtcProcessor::new(config);
        let silence = vec![0.0; quiet.len()];
        let out = run(&mut apm, &silence, &quiet);
        let before = rms_dbfs(&quiet[4 * SECOND..]);
        let after = rms_dbfs(&out[4 * SECOND..]);
        eprintln!("quiet talker {before:.1} dBFS → {after:.1} dBFS");
        assert!(after > before + 6.0, "gain only went from {before} to {after} dBFS");
    }

    #[test]
    fn frames_must_be_whole_10_ms_chunks() {
        let mut apm = WebRtcProcessor::default();
        let mut odd = vec![0.0; 500];
        assert!(matches!(apm.process_capture(&mut odd), Err(ProcessingError::FrameLength(500))));
        assert!(PassThrough.process_render(&odd).is_err());
        let mut ok = vec![0.0; 960];
        apm.process_capture(&mut ok).expect("20 ms is fine");
        apm.set_stream_delay(Duration::from_secs(2)); // clamped, not an error
    }

    #[test]
    fn processors_are_usable_as_trait_objects_across_threads() {
        fn assert_send<T: Send>(_: &T) {}
        let p: Box<dyn AudioProcessor> = Box::new(WebRtcProcessor::default());
        assert_send(&p);
        assert_eq!(p.name(), "webrtc-apm (sonora)");
    }
}
