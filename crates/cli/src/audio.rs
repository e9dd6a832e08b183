//! Where the sound comes from and goes to: the default devices (cpal, through
//! `meetdesk_media::device`), or WAV files standing in for them.
//!
//! A WAV "microphone" (`--play`) and a WAV "speaker" (`--record`) behave like devices: one
//! thread, paced by a 20 ms timer on absolute deadlines, pushes the next 20 ms of the (looped)
//! file into the microphone ring and takes 20 ms from the speaker ring, exactly what a device
//! callback would do; the rest of the client cannot tell the difference.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
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
    pub mic_name: Option<String>,
    pub speaker_name: Option<String>,
    /// Echo cancellation, noise suppression and gain control on the microphone. Default: on
    /// for a real microphone, off for a WAV (a test tone would be "suppressed" as noise).
    pub processing: Option<bool>,
    /// Print an `audio_clock` line when the WAV device starts (see [`run_fake`]).
    pub audio_clock: bool,
}

/// The call's sound path as the media task uses it: the capture pipeline reading the
/// microphone ring, and the rings towards the speaker (and the echo canceller's far-end
/// reference).
pub struct Audio {
    pub capture: Capture,
    pub speaker: RingWriter,
    pub far_end: Option<RingWriter>,
}

/// The devices (or their WAV stand-ins); they run until [`Devices::finish`].
pub struct Devices {
    fake: Option<FakeDevice>,
    _mic: Option<DeviceStream>,
    _speaker: Option<DeviceStream>,
    record: Option<PathBuf>,
}

/// Opens the microphone and speaker (or reads the WAV to play) and builds the capture path.
pub fn open(setup: &AudioSetup) -> anyhow::Result<(Audio, Devices)> {
    let (mic_w, mic_r) = audio_ring(MIC_RING_SAMPLES);
    let (spk_w, spk_r) = audio_ring(SPEAKER_RING_SAMPLES);

    let play = match &setup.play {
        Some(path) => {
            let samples = wav::read_mono_48k(path).with_context(|| format!("reading {}", path.display()))?;
            if samples.len() < FRAME_SAMPLES {
                anyhow::bail!("{} holds less than 20 ms of audio", path.display());
            }
            Some(samples)
        }
        None => None,
    };
    let processing = setup.processing.unwrap_or(play.is_none());

    let (mic_stream, fake_mic) = match play {
        Some(samples) => (None, Some((mic_w, samples))),
        None => {
            let s =
                device::open_capture(setup.mic_name.as_deref(), mic_w).context("opening the microphone")?;
            tracing::info!(device = s.device_name(), "microphone");
            (Some(s), None)
        }
    };
    let (spk_stream, fake_spk) = match &setup.record {
        Some(_) => (None, Some(spk_r)),
        None => {
            let s =
                device::open_playback(setup.speaker_name.as_deref(), spk_r).context("opening the speaker")?;
            tracing::info!(device = s.device_name(), "speaker");
            (Some(s), None)
        }
    };
    let fake = if fake_mic.is_some() || fake_spk.is_some() {
        Some(FakeDevice::start(fake_mic, fake_spk, setup.record.is_some(), setup.audio_clock)?)
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
    let devices = Devices { fake, _mic: mic_stream, _speaker: spk_stream, record: setup.record.clone() };
    Ok((audio, devices))
}

impl Devices {
    /// Stops the devices and writes the recording, if one was asked for.
    pub fn finish(self) -> anyhow::Result<()> {
        let recording = self.fake.map(FakeDevice::stop).transpose()?;
        if let (Some(path), Some(samples)) = (&self.record, recording) {
            wav::write_f32(path, &samples, SAMPLE_RATE)
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), seconds = samples.len() as f64 / f64::from(SAMPLE_RATE), "recording written");
        }
        Ok(())
    }
}

/// The WAV stand-in for a microphone and/or a speaker: one thread, one 20 ms tick.
struct FakeDevice {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<f32>>,
}

impl FakeDevice {
    fn start(
        mic: Option<(RingWriter, Vec<f32>)>,
        speaker: Option<RingReader>,
        record: bool,
        clock_line: bool,
    ) -> anyhow::Result<FakeDevice> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wav-device".into())
            .spawn(move || run_fake(&flag, mic, speaker, record, clock_line))
            .context("starting the WAV device thread")?;
        Ok(FakeDevice { stop, thread })
    }

    /// Stops the thread; returns what the speaker played (empty unless recording).
    fn stop(self) -> anyhow::Result<Vec<f32>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| anyhow::anyhow!("the WAV device thread panicked"))
    }
}

/// With `clock_line`, prints `audio_clock` with the wall-clock time of tick 0 (`tick0_unix_us`):
/// the microphone's sample `n` (counted from the start of the looped file) enters the ring and
/// the recording's sample `n` leaves the speaker ring at tick `n / 960`, i.e. `n / 48` ms later.
fn run_fake(
    stop: &AtomicBool,
    mut mic: Option<(RingWriter, Vec<f32>)>,
    mut speaker: Option<RingReader>,
    record: bool,
    clock_line: bool,
) -> Vec<f32> {
    let start = Instant::now();
    if clock_line {
        let unix_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        crate::out::emit("audio_clock", None, serde_json::json!({ "tick0_unix_us": unix_us }));
    }
    let mut ticks: u32 = 0;
    let mut pos = 0usize;
    let mut frame = vec![0.0f32; FRAME_SAMPLES];
    let mut recording = Vec::new();
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
            if record {
                recording.extend_from_slice(&frame);
            }
        }
        ticks = ticks.wrapping_add(1);
    }
    recording
}
