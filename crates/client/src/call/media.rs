//! The media task of one peer connection: every 5 ms it encodes what the microphone ring
//! holds and sends it (one Opus frame per 20 ms), and keeps the speaker ring fed with the mix
//! of every receive slot's playout (jitter buffer + Opus decoder per slot); in between it
//! files each received RTP packet into its slot's playout.
//!
//! Latency, per direction on a quiet machine: a captured frame waits up to one tick (5 ms)
//! to be encoded; the receiver's jitter buffer holds it for its target (10 ms on a calm,
//! lossless path; 20 ms after a loss, for FEC) plus the phase between packet arrival and the speaker's reads (0–20 ms
//! with 20 ms frames); then it waits for the speaker to read it. That last wait is kept
//! short by mixing just in time: a frame is decoded and mixed only when the speaker ring's
//! audio would run out within the guard (5–10 ms ahead of the device's read, judged by its
//! read clock, [`RingWriter::lead`](meetdesk_media::pipeline::RingWriter::lead)), so the
//! packet spends that time in the jitter buffer, where it still counts against network
//! jitter, rather than as decoded audio waiting in a ring.
//!
//! Runs as its own task so that signalling (HTTP, ICE restarts) never stalls the sound. The
//! [`Audio`] it works on is handed back by [`MediaTask::stop`], for the next connection. Mute
//! is the capture path's own switch (an atomic, flipped by [`super::Call::set_muted`]); the
//! microphone level goes out through [`InputLevel`] (atomics), so nothing here waits on a lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meetdesk_media::codec::{Decoder, DTX_MAX_BYTES};
use meetdesk_media::jitter::JitterBuffer;
use meetdesk_media::pipeline::{audio_ring, Playback, RingReader, SPEAKER_RING_SAMPLES};
use meetdesk_media::FRAME_SAMPLES;
use meetdesk_rtc::{ClientPeer, ConnectionState, Received, MAX_REMOTE};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::InputLevel;
use crate::audio::Audio;

/// How often the task looks at the microphone ring and the speaker ring: a quarter frame, so
/// a captured frame waits 2.5 ms on average to be sent and the speaker ring is topped up
/// within 5 ms of needing it.
const TICK: Duration = Duration::from_millis(5);
/// Mix the next frame into the speaker ring when a sample pushed now would be read within
/// this long: 10 ms at first, so with [`TICK`] the frame goes in 5–10 ms before the device
/// reads it, and a task running late by up to that does not starve the speaker …
const SPEAKER_GUARD: Duration = Duration::from_millis(10);
/// … 10 ms more each time the speaker found the ring empty while something played (this task
/// was later than the guard: the machine is busier than that), up to 120 ms …
const SPEAKER_GUARD_STEP: Duration = Duration::from_millis(10);
const SPEAKER_GUARD_MAX: Duration = Duration::from_millis(120);
/// … and one step less after this long without running dry.
const SPEAKER_SHRINK_AFTER: Duration = Duration::from_secs(10);

/// What the media task reports.
#[derive(Debug, Clone, Copy)]
pub(super) enum Note {
    /// The first audible (non-DTX) packet in `slot` from a new talker (the first packet ever
    /// in the slot, or the first after a packet with the marker bit: the server marks a new
    /// sender's first packet).
    FirstAudio { slot: usize, at_ms: i64 },
    /// The connection delivers nothing any more (closed).
    PeerClosed,
}

pub(super) struct MediaTask {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Audio>,
}

impl MediaTask {
    pub(super) fn start(
        mut audio: Audio,
        peer: Arc<ClientPeer>,
        notes: mpsc::UnboundedSender<Note>,
        level: Arc<InputLevel>,
    ) -> Self {
        // Microphone audio queued while no connection took it is stale: drop it.
        while let Ok(Some(_)) = audio.capture.poll_frame() {}
        let (stop, stop_rx) = oneshot::channel();
        let handle = tokio::spawn(run(audio, peer, stop_rx, notes, level));
        MediaTask { stop, handle }
    }

    /// Stops sending and playing; returns the sound path.
    pub(super) async fn stop(self) -> Result<Audio, tokio::task::JoinError> {
        let _ = self.stop.send(());
        self.handle.await
    }
}

/// One receive slot's playout: its own jitter buffer and decoder, writing into its own ring
/// that the mixer reads.
struct Slot {
    playback: Playback,
    ring: RingReader,
    /// An audible packet was reported for the current talker.
    heard: bool,
}

impl Slot {
    fn new() -> Result<Slot, meetdesk_media::codec::CodecError> {
        let (w, r) = audio_ring(SPEAKER_RING_SAMPLES);
        // One frame: the mixer pumps right before it takes each frame, so decoding happens
        // just in time and the mixed ring alone holds the speaker's margin.
        let playback =
            Playback::new(JitterBuffer::default(), Decoder::new()?, w).with_ring_target(FRAME_SAMPLES);
        Ok(Slot { playback, ring: r, heard: false })
    }
}

async fn run(
    mut audio: Audio,
    peer: Arc<ClientPeer>,
    mut stop_rx: oneshot::Receiver<()>,
    notes: mpsc::UnboundedSender<Note>,
    level: Arc<InputLevel>,
) -> Audio {
    let mut slots: Vec<Option<Slot>> = (0..MAX_REMOTE).map(|_| None).collect();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ts_offset: u32 = rand::random();
    let mut mix = vec![0.0f32; FRAME_SAMPLES];
    let mut part = vec![0.0f32; FRAME_SAMPLES];
    let mut margin = SpeakerMargin::new(audio.speaker.counters().missing(), Instant::now());
    let mut peer_open = true;
    loop {
        tokio::select! {
            biased;
            _ = &mut stop_rx => break,
            _ = tick.tick() => {
                send_captured(&mut audio, &peer, ts_offset, &level).await;
                let playing = slots.iter().any(Option::is_some);
                let guard = margin.update(audio.speaker.counters().missing(), playing, Instant::now());
                play(&mut audio, &mut slots, &mut mix, &mut part, guard);
            }
            received = peer.recv(), if peer_open => match received {
                Some(r) => receive(r, &mut slots, &notes),
                None => {
                    peer_open = false;
                    let _ = notes.send(Note::PeerClosed);
                }
            },
        }
    }
    for (i, slot) in slots.iter().enumerate() {
        if let Some(slot) = slot {
            let (stats, errors) = (slot.playback.stats(), slot.playback.decode_errors());
            tracing::debug!(slot = i, ?stats, decode_errors = errors, "playout");
        }
    }
    tracing::debug!(guard = ?margin.guard, "speaker margin");
    audio
}

/// The speaker guard, adapting to how late this task runs (see [`SPEAKER_GUARD`]). Pure: the
/// ring's underrun count and the time are handed in.
#[derive(Debug)]
struct SpeakerMargin {
    guard: Duration,
    missing: u64,
    since: Instant,
}

impl SpeakerMargin {
    fn new(missing: u64, now: Instant) -> SpeakerMargin {
        SpeakerMargin { guard: SPEAKER_GUARD, missing, since: now }
    }

    /// The guard for this tick, given the ring's underrun count so far.
    fn update(&mut self, missing: u64, playing: bool, now: Instant) -> Duration {
        let ran_dry = missing > self.missing;
        self.missing = missing;
        if ran_dry && playing {
            self.guard = (self.guard + SPEAKER_GUARD_STEP).min(SPEAKER_GUARD_MAX);
            self.since = now;
        } else if now.duration_since(self.since) >= SPEAKER_SHRINK_AFTER {
            self.guard = self.guard.saturating_sub(SPEAKER_GUARD_STEP).max(SPEAKER_GUARD);
            self.since = now;
        }
        self.guard
    }
}

/// Encodes and sends every whole 20 ms frame the microphone ring holds.
async fn send_captured(audio: &mut Audio, peer: &ClientPeer, ts_offset: u32, level: &InputLevel) {
    loop {
        let polled = audio.capture.poll_frame();
        if matches!(polled, Ok(Some(_))) {
            level.set(audio.capture.level());
        }
        match polled {
            // Not connected (yet, or any more): the stack could not send it; the frame's time
            // passes all the same. `disconnected` still sends: ICE merely missed its checks for
            // a moment (a lossy path), and the packets may well get through.
            Ok(Some(_))
                if !matches!(peer.state(), ConnectionState::Connected | ConnectionState::Disconnected) => {}
            Ok(Some(frame)) => {
                // DTX frames are sent too (1–2 bytes): the receiver then plays silence rather
                // than concealing.
                if let Err(e) =
                    peer.send_rtp_payload(frame.payload, ts_offset.wrapping_add(frame.timestamp)).await
                {
                    tracing::debug!(error = %e, "could not send a frame");
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "capture failed; frame dropped");
                return;
            }
        }
    }
}

/// Files a received packet into its slot's playout.
fn receive(r: Received, slots: &mut [Option<Slot>], notes: &mpsc::UnboundedSender<Note>) {
    let Some(entry) = slots.get_mut(r.slot) else { return };
    if entry.is_none() {
        match Slot::new() {
            Ok(s) => *entry = Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot play slot {}", r.slot);
                return;
            }
        }
    }
    let Some(slot) = entry.as_mut() else { return };
    let h = &r.packet.header;
    if h.marker {
        slot.heard = false;
    }
    if !slot.heard && r.packet.payload.len() > DTX_MAX_BYTES {
        slot.heard = true;
        let _ = notes.send(Note::FirstAudio { slot: r.slot, at_ms: super::now_ms() });
    }
    slot.playback.push_packet(h.sequence_number, h.timestamp, r.packet.payload.to_vec(), Instant::now());
}

/// Mixes every slot's next frame into the speaker ring, just in time: while a sample pushed
/// now would be read within `guard`. What the speaker plays is also the echo canceller's
/// far-end reference.
fn play(audio: &mut Audio, slots: &mut [Option<Slot>], mix: &mut [f32], part: &mut [f32], guard: Duration) {
    let now = Instant::now();
    while audio.speaker.lead(now) < guard && audio.speaker.free() >= FRAME_SAMPLES {
        mix.fill(0.0);
        for slot in slots.iter_mut().flatten() {
            slot.playback.pump(now);
            slot.ring.pop_into(part);
            for (m, p) in mix.iter_mut().zip(part.iter()) {
                *m += *p;
            }
        }
        for m in mix.iter_mut() {
            *m = m.clamp(-1.0, 1.0);
        }
        audio.speaker.push_slice(mix);
        if let Some(far) = &mut audio.far_end {
            far.push_slice(mix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speaker_guard_grows_when_the_ring_runs_dry_while_playing_and_shrinks_slowly() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut m = SpeakerMargin::new(5_000, t0);
        // Before anything plays, an empty ring is normal.
        assert_eq!(m.update(9_000, false, at(10)), SPEAKER_GUARD);
        assert_eq!(m.update(9_000, true, at(20)), SPEAKER_GUARD);
        assert_eq!(m.update(9_480, true, at(30)), SPEAKER_GUARD + SPEAKER_GUARD_STEP);
        for i in 0..20 {
            m.update(10_000 + i * 100, true, at(40 + i * 10));
        }
        assert_eq!(m.update(20_000, true, at(300)), SPEAKER_GUARD_MAX, "capped");
        assert_eq!(m.update(20_000, true, at(10_250)), SPEAKER_GUARD_MAX);
        assert_eq!(m.update(20_000, true, at(10_300)), SPEAKER_GUARD_MAX - SPEAKER_GUARD_STEP);
        assert_eq!(m.update(20_000, true, at(20_300)), SPEAKER_GUARD_MAX - 2 * SPEAKER_GUARD_STEP);
        for k in 3..20 {
            m.update(20_000, true, at(10_300 + k * 10_000));
        }
        assert_eq!(m.guard, SPEAKER_GUARD, "never below the start");
    }
}
