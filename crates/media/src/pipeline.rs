//! The lock-free hand-off between real-time audio callbacks and the rest of the app, and the
//! two halves of a call's sound path built on it.
//!
//! **Real-time rule.** An audio callback touches only a [`RingWriter`] (microphone) or a
//! [`RingReader`] (speaker): wait-free SPSC ring buffers (`rtrb`) of f32 samples, allocated up
//! front. Pushing and popping takes no lock, allocates nothing and never waits; a full ring
//! drops samples and an empty one plays silence, both counted in [`RingCounters`] (atomics).
//! Everything that may block or allocate — Opus, the jitter buffer, audio processing, the
//! network — runs in [`Capture`] and [`Playback`] on an ordinary thread or task.
//!
//! ```text
//!  mic callback ─RingWriter→ [ring] →RingReader─ Capture::poll_frame → EncodedFrame → peer
//!  peer → Playback::push_packet ... Playback::pump ─RingWriter→ [ring] →RingReader─ speaker callback
//!                                         └─RingWriter→ [far-end ring] →RingReader─ Capture (AEC)
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{CodecError, Decoder, Encoder, DTX_MAX_BYTES, MAX_PACKET_BYTES};
use crate::jitter::{JitterBuffer, JitterStats, PushOutcome};
use crate::level::{Level, LevelMeter};
use crate::processing::{AudioProcessor, ProcessingError};
use crate::{jitter, FRAME_SAMPLES, SAMPLE_RATE};

/// Errors on the capture or playback path.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Echo cancellation / noise suppression failed.
    #[error(transparent)]
    Processing(#[from] ProcessingError),
}

/// Overrun and underrun counts of one ring, and when its reader last read, readable from any
/// thread.
#[derive(Debug)]
pub struct RingCounters {
    dropped: AtomicU64,
    missing: AtomicU64,
    /// When the reader last read: nanoseconds since `epoch`, plus one (0: never).
    read_at_ns: AtomicU64,
    /// How many samples that read took.
    read_len: AtomicU64,
    epoch: Instant,
}

impl RingCounters {
    fn new() -> RingCounters {
        RingCounters {
            dropped: AtomicU64::new(0),
            missing: AtomicU64::new(0),
            read_at_ns: AtomicU64::new(0),
            read_len: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Samples dropped because the ring was full (the reader fell behind).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Samples the reader wanted but the ring was empty (played or taken as silence).
    pub fn missing(&self) -> u64 {
        self.missing.load(Ordering::Relaxed)
    }

    fn note_read(&self, samples: usize, now: Instant) {
        let ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.read_len.store(samples as u64, Ordering::Relaxed);
        self.read_at_ns.store(ns.saturating_add(1), Ordering::Relaxed);
    }

    /// The reader's last read: when, and how many samples.
    fn last_read(&self) -> Option<(Instant, u64)> {
        let at = self.read_at_ns.load(Ordering::Relaxed).checked_sub(1)?;
        Some((self.epoch + Duration::from_nanos(at), self.read_len.load(Ordering::Relaxed)))
    }
}

/// 48 kHz samples as a duration.
fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_nanos(samples.saturating_mul(1_000_000_000) / u64::from(SAMPLE_RATE))
}

/// A lock-free single-producer single-consumer ring of `capacity` samples.
pub fn audio_ring(capacity: usize) -> (RingWriter, RingReader) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity);
    let counters = Arc::new(RingCounters::new());
    (RingWriter { producer, counters: Arc::clone(&counters) }, RingReader { consumer, counters })
}

/// The writing end of an [`audio_ring`]. Real-time safe.
#[derive(Debug)]
pub struct RingWriter {
    producer: rtrb::Producer<f32>,
    counters: Arc<RingCounters>,
}

impl RingWriter {
    /// Push as many samples as fit; the rest are dropped and counted. Returns how many fit.
    pub fn push_slice(&mut self, samples: &[f32]) -> usize {
        let (pushed, rest) = self.producer.push_partial_slice(samples);
        if !rest.is_empty() {
            self.counters.dropped.fetch_add(rest.len() as u64, Ordering::Relaxed);
        }
        pushed.len()
    }

    /// Push one sample; `false` (and counted) when the ring is full.
    pub fn push(&mut self, sample: f32) -> bool {
        if self.producer.push(sample).is_ok() {
            true
        } else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Free space in samples.
    pub fn free(&self) -> usize {
        self.producer.slots()
    }

    /// Samples waiting to be read.
    pub fn queued(&self) -> usize {
        self.producer.buffer().capacity() - self.producer.slots()
    }

    /// The reader is gone (its stream or pipeline was dropped).
    pub fn is_abandoned(&self) -> bool {
        self.producer.is_abandoned()
    }

    /// This ring's counters.
    pub fn counters(&self) -> Arc<RingCounters> {
        Arc::clone(&self.counters)
    }

    /// How long from `now` until a sample pushed now is read, judged by the reader's clock:
    /// a device reads a period's worth at a time, so the read that reaches this sample comes
    /// whole periods (the size of its last read) after its last read. Before the first read,
    /// or when the reader is more than a period late (a stalled or stopped device), the
    /// queued samples as if read continuously.
    pub fn lead(&self, now: Instant) -> Duration {
        read_lead(self.queued() as u64, self.counters.last_read(), now)
    }
}

/// [`RingWriter::lead`], pure: `queued` samples ahead, the reader's last read (when, how many
/// samples), the time.
pub fn read_lead(queued: u64, last_read: Option<(Instant, u64)>, now: Instant) -> Duration {
    let continuous = samples_to_duration(queued);
    let Some((read_at, len)) = last_read.filter(|&(_, len)| len > 0) else { return continuous };
    let period = samples_to_duration(len);
    if now > read_at + 2 * period {
        return continuous;
    }
    let reads = u32::try_from(queued / len + 1).unwrap_or(u32::MAX);
    (read_at + period.saturating_mul(reads)).saturating_duration_since(now)
}

/// The reading end of an [`audio_ring`]. Real-time safe.
#[derive(Debug)]
pub struct RingReader {
    consumer: rtrb::Consumer<f32>,
    counters: Arc<RingCounters>,
}

impl RingReader {
    /// Fill `out` from the ring; what the ring lacks is zero-filled and counted as missing.
    /// Returns the number of real samples.
    pub fn pop_into(&mut self, out: &mut [f32]) -> usize {
        self.counters.note_read(out.len(), Instant::now());
        let (got, rest) = self.consumer.pop_partial_slice(out);
        let n = got.len();
        if !rest.is_empty() {
            rest.fill(0.0);
            self.counters.missing.fetch_add(rest.len() as u64, Ordering::Relaxed);
        }
        n
    }

    /// Fill `out` only if the ring holds all of it; otherwise leave both untouched.
    pub fn pop_exact(&mut self, out: &mut [f32]) -> bool {
        self.consumer.pop_entire_slice(out).is_ok()
    }

    /// Tell the writer's [`RingWriter::lead`] that the reader just read `samples` (48 kHz)
    /// with [`RingReader::pop`]: a device callback taking its period sample by sample calls
    /// it once per callback. ([`RingReader::pop_into`] does it by itself.)
    pub fn note_read(&self, samples: usize) {
        self.counters.note_read(samples, Instant::now());
    }

    /// One sample, or `None` (counted as missing) when empty.
    pub fn pop(&mut self) -> Option<f32> {
        let s = self.consumer.pop().ok();
        if s.is_none() {
            self.counters.missing.fetch_add(1, Ordering::Relaxed);
        }
        s
    }

    /// Samples waiting.
    pub fn available(&self) -> usize {
        self.consumer.slots()
    }

    /// The writer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.consumer.is_abandoned()
    }

    /// This ring's counters.
    pub fn counters(&self) -> Arc<RingCounters> {
        Arc::clone(&self.counters)
    }
}

/// Ring sizes that suit a call: 1 s for the microphone (the encoder thread may stall a
/// little), 200 ms for the speaker and far-end reference.
pub const MIC_RING_SAMPLES: usize = SAMPLE_RATE as usize;
/// See [`MIC_RING_SAMPLES`].
pub const SPEAKER_RING_SAMPLES: usize = SAMPLE_RATE as usize / 5;

/// A shared mute switch: flip it from the UI, the capture path reads it every frame.
#[derive(Debug, Clone, Default)]
pub struct MuteSwitch(Arc<AtomicBool>);

impl MuteSwitch {
    /// Mute or unmute.
    pub fn set(&self, muted: bool) {
        self.0.store(muted, Ordering::Relaxed);
    }

    /// Muted now?
    pub fn is_muted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One encoded 20 ms frame for the peer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Media time of the first sample, 48 kHz ticks counted from 0 (wrapping). The peer adds
    /// its random RTP timestamp offset and assigns sequence numbers.
    pub timestamp: u32,
    /// The Opus packet.
    pub payload: Vec<u8>,
}

impl EncodedFrame {
    /// A DTX packet (silence): the peer may skip sending it, as WebRTC does.
    pub fn is_dtx(&self) -> bool {
        self.payload.len() <= DTX_MAX_BYTES
    }
}

/// The capture side: microphone ring → processing → mute → Opus → [`EncodedFrame`]s.
pub struct Capture {
    mic: RingReader,
    far_end: Option<RingReader>,
    encoder: Encoder,
    processor: Box<dyn AudioProcessor>,
    mute: MuteSwitch,
    meter: LevelMeter,
    frame: Vec<f32>,
    far: Vec<f32>,
    packet: Vec<u8>,
    timestamp: u32,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("processor", &self.processor.name())
            .field("muted", &self.mute.is_muted())
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// A capture path reading the microphone ring.
    pub fn new(mic: RingReader, encoder: Encoder, processor: Box<dyn AudioProcessor>) -> Self {
        Self {
            mic,
            far_end: None,
            encoder,
            processor,
            mute: MuteSwitch::default(),
            meter: LevelMeter::default(),
            frame: vec![0.0; FRAME_SAMPLES],
            far: vec![0.0; FRAME_SAMPLES],
            packet: vec![0; MAX_PACKET_BYTES],
            timestamp: 0,
        }
    }

    /// Read the far-end reference (what the speaker plays) for echo cancellation from this
    /// ring, fed by [`Playback::with_far_end`].
    pub fn with_far_end(mut self, far_end: RingReader) -> Self {
        self.far_end = Some(far_end);
        self
    }

    /// The mute switch, to hand to the UI.
    pub fn mute_switch(&self) -> MuteSwitch {
        self.mute.clone()
    }

    /// Mute (send silence, which the encoder turns into DTX) or unmute.
    pub fn set_muted(&self, muted: bool) {
        self.mute.set(muted);
    }

    /// The microphone level (measured before mute, so the UI can say "you are muted" when
    /// someone talks).
    pub fn level(&self) -> Level {
        self.meter.level()
    }

    /// The encoder, e.g. to tell it the loss the far end reports.
    pub fn encoder_mut(&mut self) -> &mut Encoder {
        &mut self.encoder
    }

    /// Encode the next 20 ms if the microphone ring holds a whole frame; `None` otherwise.
    /// Call until `None` whenever woken (e.g. every 10 ms).
    pub fn poll_frame(&mut self) -> Result<Option<EncodedFrame>, PipelineError> {
        if !self.mic.pop_exact(&mut self.frame) {
            return Ok(None);
        }
        self.meter.update(&self.frame);
        if let Some(far_end) = &mut self.far_end {
            // Silence when the far end has not played anything yet (or fell behind).
            far_end.pop_into(&mut self.far);
            self.processor.process_render(&self.far)?;
        }
        // Processing runs even when muted, so the echo canceller stays adapted.
        self.processor.process_capture(&mut self.frame)?;
        if self.mute.is_muted() {
            self.frame.fill(0.0);
        }
        let n = self.encoder.encode_into(&self.frame, &mut self.packet)?;
        let frame = EncodedFrame { timestamp: self.timestamp, payload: self.packet[..n].to_vec() };
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        Ok(Some(frame))
    }
}

/// How full [`Playback::pump`] keeps the speaker ring: two frames (40 ms).
pub const PLAYBACK_RING_TARGET: usize = 2 * FRAME_SAMPLES;

/// The playout side: RTP payloads → jitter buffer → Opus (with FEC and concealment) →
/// speaker ring.
#[derive(Debug)]
pub struct Playback {
    jitter: JitterBuffer,
    decoder: Decoder,
    speaker: RingWriter,
    far_end: Option<RingWriter>,
    pcm: Vec<f32>,
    ring_target: usize,
    decode_errors: u64,
}

impl Playback {
    /// A playout path writing into the speaker ring.
    pub fn new(jitter: JitterBuffer, decoder: Decoder, speaker: RingWriter) -> Self {
        Self {
            jitter,
            decoder,
            speaker,
            far_end: None,
            pcm: vec![0.0; FRAME_SAMPLES],
            ring_target: PLAYBACK_RING_TARGET,
            decode_errors: 0,
        }
    }

    /// Also copy every decoded frame into this ring, the far-end reference for
    /// [`Capture::with_far_end`].
    pub fn with_far_end(mut self, far_end: RingWriter) -> Self {
        self.far_end = Some(far_end);
        self
    }

    /// Keep this many samples queued for the speaker (default [`PLAYBACK_RING_TARGET`]).
    pub fn with_ring_target(mut self, samples: usize) -> Self {
        self.ring_target = samples.max(FRAME_SAMPLES);
        self
    }

    /// A received RTP packet's sequence number, timestamp and Opus payload.
    pub fn push_packet(&mut self, seq: u16, timestamp: u32, payload: Vec<u8>, now: Instant) -> PushOutcome {
        self.jitter.push(seq, timestamp, payload, now)
    }

    /// Decode into the speaker ring until it holds the ring target. Call every ~10 ms: the
    /// speaker draining the ring paces the jitter buffer. Returns frames written.
    /// A corrupt packet is concealed (and counted in [`Playback::decode_errors`]), never fatal.
    pub fn pump(&mut self, now: Instant) -> usize {
        let mut frames = 0;
        while self.speaker.queued() < self.ring_target && self.speaker.free() >= FRAME_SAMPLES {
            let decision = self.jitter.pop(now);
            let decoded = match &decision {
                jitter::Playout::Frame(p) => self.decoder.decode(p, &mut self.pcm),
                jitter::Playout::Fec(next) => self.decoder.decode_fec(next, &mut self.pcm),
                jitter::Playout::Conceal => self.decoder.conceal(&mut self.pcm),
                jitter::Playout::Empty => {
                    self.pcm.fill(0.0);
                    Ok(FRAME_SAMPLES)
                }
            };
            if decoded.is_err() {
                self.decode_errors += 1;
                tracing::debug!(?decoded, "opus decode failed, concealing");
                if self.decoder.conceal(&mut self.pcm).is_err() {
                    self.pcm.fill(0.0);
                }
            }
            self.speaker.push_slice(&self.pcm);
            if let Some(far_end) = &mut self.far_end {
                far_end.push_slice(&self.pcm);
            }
            frames += 1;
        }
        frames
    }

    /// Jitter buffer statistics.
    pub fn stats(&self) -> JitterStats {
        self.jitter.stats()
    }

    /// Packets that failed to decode.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processing::PassThrough;
    use crate::tone::{detect, SineGenerator};

    #[test]
    fn ring_drops_on_overrun_and_zero_fills_on_underrun() {
        let (mut w, mut r) = audio_ring(4);
        assert_eq!(w.push_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 4);
        assert_eq!(w.counters().dropped(), 2);
        assert!(!w.push(7.0));
        let mut out = [9.0; 6];
        assert_eq!(r.pop_into(&mut out), 4);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
        assert_eq!(r.counters().missing(), 2);
        assert_eq!(r.pop(), None);
        drop(w);
        assert!(r.is_abandoned());
    }

    #[test]
    fn the_lead_follows_the_readers_periods() {
        let t0 = Instant::now();
        let ms = |n: u64| Duration::from_millis(n);
        // Never read: the queue as if read continuously.
        assert_eq!(read_lead(960, None, t0), ms(20));
        // A device reading 20 ms at a time read 5 ms ago and left 0 queued: a sample pushed
        // now goes out with its next read, 15 ms from now …
        let last = Some((t0, 960));
        assert_eq!(read_lead(0, last, t0 + ms(5)), ms(15));
        // … one frame queued: the read after that, 35 ms from now.
        assert_eq!(read_lead(960, last, t0 + ms(5)), ms(35));
        assert_eq!(read_lead(959, last, t0 + ms(5)), ms(15));
        // Late reads: due now (not negative) …
        assert_eq!(read_lead(0, last, t0 + ms(25)), Duration::ZERO);
        // … and a reader more than a period overdue (stalled) counts as continuous.
        assert_eq!(read_lead(480, last, t0 + ms(41)), ms(10));
        // A device reading 10 ms at a time.
        assert_eq!(read_lead(600, Some((t0, 480)), t0 + ms(2)), ms(18));
    }

    #[test]
    fn pop_into_tells_the_writer_when_it_read() {
        let (w, mut r) = audio_ring(4_800);
        let mut out = [0.0; 960];
        assert_eq!(w.lead(Instant::now()), Duration::ZERO, "empty, never read");
        r.pop_into(&mut out);
        let lead = w.lead(Instant::now());
        assert!(lead > Duration::ZERO && lead <= Duration::from_millis(20), "{lead:?}: the next read");
    }

    #[test]
    fn ring_works_across_threads() {
        let (mut w, mut r) = audio_ring(1024);
        let writer = std::thread::spawn(move || {
            let mut sent = 0u32;
            while sent < 100_000 {
                if w.push(sent as f32) {
                    sent += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let mut expected = 0u32;
        while expected < 100_000 {
            if r.available() > 0 {
                let v = r.pop().expect("available");
                assert_eq!(v, expected as f32);
                expected += 1;
            } else {
                std::thread::yield_now();
            }
        }
        writer.join().expect("writer");
    }

    fn capture(ring: RingReader) -> Capture {
        Capture::new(ring, Encoder::new().expect("encoder"), Box::new(PassThrough))
    }

    #[test]
    fn capture_makes_one_frame_per_20_ms_with_running_timestamps() {
        let (mut mic, ring) = audio_ring(MIC_RING_SAMPLES);
        let mut cap = capture(ring);
        let mut tone = vec![0.0; FRAME_SAMPLES * 5 / 2];
        SineGenerator::new(440.0, SAMPLE_RATE, 0.5).fill(&mut tone);
        mic.push_slice(&tone);
        let a = cap.poll_frame().expect("ok").expect("frame 1");
        let b = cap.poll_frame().expect("ok").expect("frame 2");
        assert!(cap.poll_frame().expect("ok").is_none(), "half a frame left");
        assert_eq!((a.timestamp, b.timestamp), (0, 960));
        assert!(!a.is_dtx());
        assert!(cap.level().rms_dbfs > -12.0);
    }

    #[test]
    fn muted_capture_sends_dtx_but_still_meters() {
        let (mut mic, ring) = audio_ring(MIC_RING_SAMPLES);
        let mut cap = capture(ring);
        let switch = cap.mute_switch();
        switch.set(true);
        let mut gen = SineGenerator::new(440.0, SAMPLE_RATE, 0.5);
        let mut frame = vec![0.0; FRAME_SAMPLES];
        let mut dtx = 0;
        for _ in 0..50 {
            gen.fill(&mut frame);
            mic.push_slice(&frame);
            if cap.poll_frame().expect("ok").expect("frame").is_dtx() {
                dtx += 1;
            }
        }
        assert!(dtx >= 30, "{dtx} of 50 muted frames were DTX");
        assert!(cap.level().rms_dbfs > -12.0, "the meter still shows the mic");
        switch.set(false);
        gen.fill(&mut frame);
        mic.push_slice(&frame);
        let unmuted = cap.poll_frame().expect("ok").expect("frame");
        assert!(!unmuted.is_dtx());
    }

    #[test]
    fn tone_survives_capture_network_playback_with_loss() {
        // Microphone → Capture → (10 % loss) → Playback → speaker ring, on simulated time.
        let (mut mic, mic_ring) = audio_ring(MIC_RING_SAMPLES);
        let mut cap = capture(mic_ring);
        let (spk_writer, mut speaker) = audio_ring(SPEAKER_RING_SAMPLES);
        let (far_writer, far_reader) = audio_ring(SPEAKER_RING_SAMPLES);
        let mut play = Playback::new(JitterBuffer::default(), Decoder::new().expect("decoder"), spk_writer)
            .with_far_end(far_writer);
        let t0 = Instant::now();
        let mut gen = SineGenerator::new(1000.0, SAMPLE_RATE, 0.5);
        let mut frame = vec![0.0; FRAME_SAMPLES];
        let mut heard = Vec::new();
        let mut out = vec![0.0; 480];
        let mut seq = 0u16;
        for tick in 0..300u32 {
            // Every 10 ms: the mic callback delivers 10 ms, the speaker callback takes 10 ms.
            let now = t0 + Duration::from_millis(u64::from(tick) * 10);
            gen.fill(&mut frame[..480]);
            mic.push_slice(&frame[..480]);
            while let Some(f) = cap.poll_frame().expect("capture") {
                if seq % 10 != 7 {
                    play.push_packet(seq, f.timestamp, f.payload, now);
                }
                seq = seq.wrapping_add(1);
            }
            play.pump(now);
            speaker.pop_into(&mut out);
            heard.extend_from_slice(&out);
        }
        let stats = play.stats();
        assert!((14..=15).contains(&stats.lost), "{stats:?}");
        assert_eq!(play.decode_errors(), 0);
        let steady = &heard[SAMPLE_RATE as usize / 2..];
        for block in steady.chunks(4800) {
            assert!(detect(block, 1000.0), "1 kHz present in every 100 ms");
        }
        assert!(far_reader.available() > 0, "far-end reference fed");
    }

    #[test]
    fn playback_keeps_the_speaker_ring_at_target_and_plays_silence_when_empty() {
        let (w, r) = audio_ring(SPEAKER_RING_SAMPLES);
        let mut play = Playback::new(JitterBuffer::default(), Decoder::new().expect("decoder"), w);
        let now = Instant::now();
        assert_eq!(play.pump(now), 2);
        assert_eq!(play.pump(now), 0, "ring already at target");
        assert_eq!(r.available(), PLAYBACK_RING_TARGET);
    }

    #[test]
    fn corrupt_packets_are_concealed_not_fatal() {
        let (w, _r) = audio_ring(SPEAKER_RING_SAMPLES);
        let mut play = Playback::new(JitterBuffer::default(), Decoder::new().expect("decoder"), w);
        let t0 = Instant::now();
        play.push_packet(0, 0, vec![0xFB, 0x00], t0);
        play.pump(t0 + Duration::from_millis(30));
        assert_eq!(play.decode_errors(), 1);
    }
}
