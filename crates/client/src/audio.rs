//! Where a call's sound comes from and goes to: the devices (cpal, through
//! `meetdesk_media::device`: the default ones or ones picked by name), or WAV files standing
//! in for them.
//!
//! A WAV "microphone" ([`AudioSetup::play`]) and a WAV "speaker" ([`AudioSetup::record`])
//! behave like devices: one thread, paced by a 20 ms timer on absolute deadlines, pushes the
//! next 20 ms of the (looped) file into the microphone ring and takes 20 ms from the speaker
//! ring, exactly what a device callback would do; the rest of the client cannot tell the
//! difference.
//!
//! **Architecture Invariant:** the device side (cpal callbacks, the WAV thread) only pushes to
//! and pops from `meetdesk_media`'s lock-free rings; [`Audio`] is the other end of those
//! rings, worked by a call's media task.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use meetdesk_media::codec::Encoder;
use meetdesk_media::device::{self, DeviceStream};
use meetdesk_media::pipeline::{
    audio_ring, Capture, RingReader, RingWriter, MIC_RING_SAMPLES, SPEAKER_RING_SAMPLES,
};
use meetdesk_media::processing::{AudioProcessor, PassThrough, WebRtcProcessor};
use meetdesk_media::{wav, FRAME_SAMPLES, SAMPLE_RATE};

const TICK: Duration = Duration::from_millis(20);

/// What to open.
#[derive(Debug, Clone, Default)]
pub struct AudioSetup {
    /// Microphone from this WAV (looped), else the default (or `mic_name`) device.
    pub play: Option<PathBuf>,
    /// Speaker into this WAV (written at exit), else the default (or `speaker_name`) device.
    pub record: Option<PathBuf>,
    /// The microphone device's name (exact, or a unique part).
    pub mic_name: Option<String>,
    /// The speaker device's name (exact, or a unique part).
    pub speaker_name: Option<String>,
    /// Echo cancellation, noise suppression and gain control on the microphone. Default: on
    /// for a real microphone, off for a WAV (a test tone would be "suppressed" as noise).
    pub processing: Option<bool>,
}

/// Opening or closing the sound path failed.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // each variant says what failed
pub enum AudioError {
    #[error("reading {path}: {source}")]
    ReadWav { path: PathBuf, source: wav::WavError },
    #[error("{0} holds less than 20 ms of audio")]
    TooShort(PathBuf),
    #[error("writing {path}: {source}")]
    WriteWav { path: PathBuf, source: wav::WavError },
    #[error("opening the microphone: {0}")]
    Microphone(#[source] device::DeviceError),
    #[error("opening the speaker: {0}")]
    Speaker(#[source] device::DeviceError),
    #[error("starting the WAV device thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the WAV device thread panicked")]
    ThreadPanicked,
    #[error(transparent)]
    Codec(#[from] meetdesk_media::codec::CodecError),
}

/// A call's sound path as its media task uses it: the capture pipeline reading the microphone
/// ring, and the rings towards the speaker (and the echo canceller's far-end reference). Held
/// by one [`crate::call::Call`] at a time and handed back when it closes.
pub struct Audio {
    pub(crate) capture: Capture,
    pub(crate) speaker: RingWriter,
    pub(crate) far_end: Option<RingWriter>,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audio").field("capture", &self.capture).finish_non_exhaustive()
    }
}

impl Audio {
    /// A sound path on rings the caller feeds and drains itself (`mic`: 48 kHz mono samples in;
    /// `speaker`: what the call plays), without processing: for tests and embedders with their
    /// own device code.
    pub fn from_rings(mic: RingReader, speaker: RingWriter) -> Result<Audio, AudioError> {
        let capture = Capture::new(mic, Encoder::new()?, Box::new(PassThrough));
        Ok(Audio { capture, speaker, far_end: None })
    }
}

/// The devices (or their WAV stand-ins); they run until [`Devices::finish`].
pub struct Devices {
    fake: Option<FakeDevice>,
    tick0: Option<std::time::SystemTime>,
    _mic: Option<DeviceStream>,
    _speaker: Option<DeviceStream>,
    record: Option<PathBuf>,
}

/// Opens the microphone and speaker (or reads the WAV to play) and builds the capture path.
pub fn open(setup: &AudioSetup) -> Result<(Audio, Devices), AudioError> {
    let (mic_w, mic_r) = audio_ring(MIC_RING_SAMPLES);
    let (spk_w, spk_r) = audio_ring(SPEAKER_RING_SAMPLES);

    let play = match &setup.play {
        Some(path) => {
            let samples = wav::read_mono_48k(path)
                .map_err(|source| AudioError::ReadWav { path: path.clone(), source })?;
            if samples.len() < FRAME_SAMPLES {
                return Err(AudioError::TooShort(path.clone()));
            }
            Some(samples)
        }
        None => None,
    };
    let processing = setup.processing.unwrap_or(play.is_none());

    let (mic_stream, fake_mic) = match play {
        Some(samples) => (None, Some((mic_w, samples))),
        None => {
            let s = device::open_capture(setup.mic_name.as_deref(), mic_w).map_err(AudioError::Microphone)?;
            tracing::info!(device = s.device_name(), "microphone");
            (Some(s), None)
        }
    };
    let (spk_stream, fake_spk) = match &setup.record {
        Some(_) => (None, Some(spk_r)),
        None => {
            let s =
                device::open_playback(setup.speaker_name.as_deref(), spk_r).map_err(AudioError::Speaker)?;
            tracing::info!(device = s.device_name(), "speaker");
            (Some(s), None)
        }
    };
    // The recording is written as it is played, so a meet of any length takes no memory.
    let recorder = match &setup.record {
        Some(path) => Some(
            wav::Recorder::create(path, SAMPLE_RATE)
                .map_err(|source| AudioError::WriteWav { path: path.clone(), source })?,
        ),
        None => None,
    };
    let fake = if fake_mic.is_some() || fake_spk.is_some() {
        Some(FakeDevice::start(fake_mic, fake_spk, recorder)?)
    } else {
        None
    };

    let processor: Box<dyn AudioProcessor> =
        if processing { Box::new(WebRtcProcessor::default()) } else { Box::new(PassThrough) };
    let mut capture = Capture::new(mic_r, Encoder::new()?, processor);
    let mut far_end = None;
    if processing {
        let (w, r) = audio_ring(SPEAKER_RING_SAMPLES);
        capture = capture.with_far_end(r);
        far_end = Some(w);
    }
    let audio = Audio { capture, speaker: spk_w, far_end };
    let tick0 = fake.as_ref().map(|f| f.tick0);
    let devices =
        Devices { fake, tick0, _mic: mic_stream, _speaker: spk_stream, record: setup.record.clone() };
    Ok((audio, devices))
}

impl Devices {
    /// The wall-clock time of the WAV device's tick 0, when a WAV stands in for a device: the
    /// microphone's sample `n` (counted from the start of the looped file) enters the ring and
    /// the recording's sample `n` leaves the speaker ring at tick `n / 960`, i.e. `n / 48` ms
    /// later. With it, what was played and what was recorded go on one clock across
    /// processes.
    pub fn wav_tick0(&self) -> Option<std::time::SystemTime> {
        self.tick0
    }

    /// Stops the devices and completes the recording, if one was asked for.
    pub fn finish(self) -> Result<(), AudioError> {
        let recorded = self.fake.map(FakeDevice::stop).transpose()?.flatten();
        if let (Some(path), Some(recorded)) = (&self.record, recorded) {
            let samples = recorded.map_err(|source| AudioError::WriteWav { path: path.clone(), source })?;
            tracing::info!(path = %path.display(), seconds = samples as f64 / f64::from(SAMPLE_RATE), "recording written");
        }
        Ok(())
    }
}

/// The WAV stand-in for a microphone and/or a speaker: one thread, one 20 ms tick.
struct FakeDevice {
    stop: Arc<AtomicBool>,
    /// Ends with the recording's outcome (samples written), when recording.
    thread: JoinHandle<Option<Result<u64, wav::WavError>>>,
    tick0: std::time::SystemTime,
}

impl FakeDevice {
    fn start(
        mic: Option<(RingWriter, Vec<f32>)>,
        speaker: Option<RingReader>,
        record: Option<wav::Recorder>,
    ) -> Result<FakeDevice, AudioError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // Tick 0, on both clocks (see [`Devices::wav_tick0`]).
        let (start, tick0) = (Instant::now(), std::time::SystemTime::now());
        let thread = std::thread::Builder::new()
            .name("wav-device".into())
            .spawn(move || run_fake(&flag, start, mic, speaker, record))
            .map_err(AudioError::Thread)?;
        Ok(FakeDevice { stop, thread, tick0 })
    }

    /// Stops the thread; returns the recording's outcome, when recording.
    fn stop(self) -> Result<Option<Result<u64, wav::WavError>>, AudioError> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| AudioError::ThreadPanicked)
    }
}

/// The WAV device's thread: one device period per 20 ms tick counted from `start`.
fn run_fake(
    stop: &AtomicBool,
    start: Instant,
    mut mic: Option<(RingWriter, Vec<f32>)>,
    mut speaker: Option<RingReader>,
    mut record: Option<wav::Recorder>,
) -> Option<Result<u64, wav::WavError>> {
    let mut ticks: u32 = 0;
    let mut pos = 0usize;
    let mut frame = vec![0.0f32; FRAME_SAMPLES];
    // The first write error ends the recording (the meet goes on); it is reported at the end.
    let mut failed = None;
    while !stop.load(Ordering::Relaxed) {
        let due = start + TICK * ticks;
        let now = Instant::now();
        if now < due {
            std::thread::sleep((due - now).min(TICK));
            continue;
        }
        // One device period: 20 ms in from the microphone, 20 ms out to the speaker. Late
        // ticks run back to back, as a device catching up would.
        if let Some((ring, samples)) = &mut mic {
            for s in frame.iter_mut() {
                *s = samples[pos];
                pos = (pos + 1) % samples.len();
            }
            ring.push_slice(&frame);
        }
        if let Some(ring) = &mut speaker {
            ring.pop_into(&mut frame);
            if let Some(rec) = &mut record {
                if let Err(e) = rec.write(&frame) {
                    tracing::warn!(error = %e, "the recording could not be written: stopped");
                    failed = Some(e);
                    record = None;
                }
            }
        }
        ticks = ticks.wrapping_add(1);
    }
    match (failed, record) {
        (Some(e), _) => Some(Err(e)),
        (None, Some(rec)) => Some(rec.finish()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// `--record`: the file is written as the speaker plays (it exists from the start, so a
    /// long meet takes no memory), and holds what was played once finished.
    #[test]
    fn a_recording_is_written_as_it_plays() {
        let dir = tempfile::tempdir().unwrap();
        let (mic, rec) = (dir.path().join("mic.wav"), dir.path().join("rec.wav"));
        let tone = meetdesk_media::tone::sine(440.0, SAMPLE_RATE, Duration::from_millis(200), 0.5);
        wav::write_i16(&mic, &tone, SAMPLE_RATE).unwrap();
        let setup = AudioSetup { play: Some(mic), record: Some(rec.clone()), ..AudioSetup::default() };
        let (mut audio, devices) = open(&setup).unwrap();
        assert!(rec.exists(), "created when the devices open, not at the end");
        let played = meetdesk_media::tone::sine(660.0, SAMPLE_RATE, Duration::from_millis(100), 0.5);
        assert_eq!(audio.speaker.push_slice(&played), played.len());
        // The WAV speaker drains the ring one 20 ms tick at a time.
        let deadline = Instant::now() + Duration::from_secs(10);
        while audio.speaker.queued() > 0 {
            assert!(Instant::now() < deadline, "the WAV speaker never read the ring");
            std::thread::yield_now();
        }
        devices.finish().unwrap();
        let back = wav::read_mono_48k(&rec).unwrap();
        // (The sine's first sample is 0: match from its second.)
        let at = back.iter().position(|s| s.abs() > 0.0).unwrap();
        assert_eq!(
            &back[at..at + played.len() - 1],
            &played[1..],
            "what the speaker played, sample for sample"
        );
    }
}
