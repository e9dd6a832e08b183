//! The playout (jitter) buffer: RTP payloads in, in any order, one 20 ms decision out per
//! [`JitterBuffer::pop`].
//!
//! Pure and IO-free: time is the `now` argument, the buffer never reads a clock.
//!
//! How it decides:
//! - Packets are keyed by their unwrapped RTP timestamp (48 kHz, 960 per frame); sequence
//!   numbers (also unwrapped, so 65535 → 0 is fine) find duplicates and count losses. A
//!   timestamp jump with consecutive sequence numbers is DTX (the sender sent nothing during
//!   silence), not loss.
//! - Playout starts once the first packet has waited the target delay. Each `pop` then plays
//!   the frame at the playout position and advances it by 20 ms.
//! - A missing frame: while the playout delay is below target, *hold* (conceal without
//!   advancing, which adds 20 ms of delay and gives the packet time to arrive); otherwise it
//!   is lost: [`Playout::Fec`] when the following packet is here (Opus rebuilds the lost frame
//!   from it), else [`Playout::Conceal`]. After [`JitterConfig::max_conceal_frames`] missing
//!   frames in a row with nothing to play next, the buffer starts over ([`Playout::Empty`]
//!   until the next packet has waited the target delay).
//! - Target delay: how much later than the earliest packets the late ones arrive. Each packet's
//!   arrival offset (arrival time minus media time) is compared with the smallest offset over
//!   the last [`JitterConfig::window`] packets; the target is the
//!   [`JitterConfig::quantile`] of those excesses, plus a small margin, at least
//!   [`JitterConfig::min_delay`] (see [`jitter_target`]) — or, while nothing was lost in
//!   the window, [`JitterConfig::min_delay_lossless`]. A quantile, not the largest, so that
//!   one stall (a burst of packets held up together) does not raise the delay for the whole
//!   window. It rises at once and falls back towards the measured need by 1/50 of the
//!   difference per packet (at least 2 ms per second), so a calm network is back within
//!   10 ms of the minimum 2.5 s after the jitter left the window; when the playout delay exceeds the target by a
//!   whole frame and the margin, one frame is skipped (at most one per [`POPS_BETWEEN_SKIPS`] pops).
//! - Late packets (their time has been played) and duplicates are dropped and counted.
//!
//! The delay is measured against the time `pop` is called, so call it once per 20 ms of audio
//! paced by the playout device (see [`crate::pipeline::Playback::pump`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::FRAME_SAMPLES;

const FRAME_TS: i64 = FRAME_SAMPLES as i64;
const FRAME_US: i64 = 20_000;
/// Extra delay on top of the observed spread, for pop-timing wobble.
const MARGIN_US: i64 = 5_000;
/// How fast the target delay falls at least: 2 ms per second of packets (40 µs per packet) …
const SHRINK_US_PER_PACKET: i64 = 40;
/// … and otherwise by 1/this of its excess over the measured need per packet (a time constant
/// of 50 packets, 1 s: from 120 ms to within 10 ms of a 20 ms need in 2.5 s of calm).
const SHRINK_DIVISOR: i64 = 50;
/// At most one skipped frame per this many pops (500 ms).
pub const POPS_BETWEEN_SKIPS: u32 = 25;
/// How many recent sequence numbers are remembered to find duplicates.
const RECENT_SEQS: usize = 512;

/// What to play for the next 20 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this payload.
    Frame(Vec<u8>),
    /// The frame is lost but the next packet is here: decode this (the *next*) payload with
    /// FEC to rebuild the lost frame ([`crate::codec::Decoder::decode_fec`]). The next packet
    /// stays in the buffer and is played normally by the following `pop`.
    Fec(Vec<u8>),
    /// Nothing to play: run packet loss concealment ([`crate::codec::Decoder::conceal`]).
    Conceal,
    /// Not playing (nothing received yet, still buffering, or the stream stopped): silence.
    Empty,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered for playout.
    Accepted,
    /// Its time has already been played (or concealed): dropped.
    Late,
    /// Seen before: dropped.
    Duplicate,
}

/// Tuning. [`JitterConfig::default`] suits a meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterConfig {
    /// The target delay never goes below this once a packet was lost in the last
    /// [`JitterConfig::window`] packets (20 ms: one packet of look-ahead, so that the packet
    /// after a lost one is here in time to rebuild it with FEC; 10 ms conceals every isolated
    /// loss instead) …
    pub min_delay: Duration,
    /// … and this while nothing was (10 ms: a clean path needs no look-ahead). A missing
    /// packet is held (the delay grows by a frame) while the delay is below `min_delay`, so
    /// the first late or lost packet is waited for as before.
    pub min_delay_lossless: Duration,
    /// Nor above this (400 ms).
    pub max_delay: Duration,
    /// Packets of jitter history the target is computed from (250 = 5 s).
    pub window: usize,
    /// Which quantile of the window's arrival delays the target covers, in thousandths
    /// (970: all but the latest 3 %, i.e. 7 packets of 250; 1000: every packet).
    pub quantile_permille: u16,
    /// Most packets held; the oldest is dropped beyond this (100 = 2 s).
    pub max_packets: usize,
    /// Missing frames in a row, with nothing to play after them, before starting over
    /// (10 = 200 ms; Opus concealment has faded out by then).
    pub max_conceal_frames: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(20),
            min_delay_lossless: Duration::from_millis(10),
            max_delay: Duration::from_millis(400),
            window: 250,
            quantile_permille: 970,
            max_packets: 100,
            max_conceal_frames: 10,
        }
    }
}

/// Counters and the current delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Packets pushed (including late and duplicate ones).
    pub received: u64,
    /// [`Playout::Frame`]s returned.
    pub played: u64,
    /// [`Playout::Fec`]s returned.
    pub fec_recovered: u64,
    /// [`Playout::Conceal`]s returned (losses, holds and DTX gaps).
    pub concealed: u64,
    /// Sequence numbers that never made it into playout in time.
    pub lost: u64,
    /// Packets that arrived after their time was played.
    pub late: u64,
    /// Packets received twice.
    pub duplicate: u64,
    /// Frames skipped to cut delay, or dropped because the buffer was full.
    pub dropped: u64,
    /// The delay the buffer aims for.
    pub target_delay: Duration,
    /// The playout delay at the last `pop` (behind the earliest-arriving packets).
    pub current_delay: Duration,
    /// How much later than the earliest packets of the window the
    /// [`JitterConfig::quantile_permille`] quantile arrived: the observed jitter.
    pub jitter: Duration,
}

#[derive(Debug)]
struct Packet {
    seq: i64,
    arrival_us: i64,
    payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for packets to have waited `target` since `first_arrival_us`.
    Buffering { first_arrival_us: Option<i64> },
    /// Playing; `next_ts` is the next frame's (unwrapped) RTP timestamp.
    Playing { next_ts: i64 },
}

/// Unwraps a wrapping RTP counter of `BITS` bits into an `i64`, relative to the highest value
/// seen so far.
#[derive(Debug, Default)]
struct Unwrapper<const BITS: u32> {
    highest: Option<i64>,
}

impl<const BITS: u32> Unwrapper<BITS> {
    fn unwrap(&mut self, value: u64) -> i64 {
        let modulus = 1i64 << BITS;
        let value = (value as i64) & (modulus - 1);
        let ext = match self.highest {
            None => value,
            Some(h) => {
                let mut diff = (value - h).rem_euclid(modulus);
                if diff >= modulus / 2 {
                    diff -= modulus;
                }
                h + diff
            }
        };
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }
}

fn ts_to_us(ts: i64) -> i64 {
    // 48 kHz: one tick is 1/48 ms = 125/6 µs.
    ts * 125 / 6
}

fn us_to_duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// The jitter a window of arrival offsets shows (µs): how much later than the window's
/// earliest packet (smallest offset) the `quantile_permille` quantile arrived. `scratch` is
/// reused between calls. 0 for an empty window.
pub fn jitter_of(offsets: impl Iterator<Item = i64>, quantile_permille: u16, scratch: &mut Vec<i64>) -> i64 {
    scratch.clear();
    scratch.extend(offsets);
    let Some(&min) = scratch.iter().min() else { return 0 };
    // The rank of the quantile: with n = 250 and 970 ‰, the 243rd smallest (index 242).
    let n = scratch.len();
    let rank = (n * usize::from(quantile_permille.min(1000))).div_ceil(1000).clamp(1, n) - 1;
    let (_, &mut at, _) = scratch.select_nth_unstable(rank);
    at - min
}

/// The next target delay (µs): `jitter_us` plus [`MARGIN_US`], within `min_us ..= max_us`;
/// at once when that is higher than `current_us`, else falling towards it by 1/50 of the
/// difference per packet, at least 40 µs.
pub fn jitter_target(current_us: i64, jitter_us: i64, min_us: i64, max_us: i64) -> i64 {
    let desired = (jitter_us + MARGIN_US).clamp(min_us, max_us.max(min_us));
    if desired >= current_us {
        desired
    } else {
        let step = ((current_us - desired) / SHRINK_DIVISOR).max(SHRINK_US_PER_PACKET);
        (current_us - step).max(desired)
    }
}

/// The playout buffer for one incoming audio stream (one SSRC; make a new one when the
/// sender restarts its stream).
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<i64, Packet>,
    seqs: Unwrapper<16>,
    timestamps: Unwrapper<32>,
    epoch: Option<Instant>,
    state: State,
    /// Everything before this timestamp has been played or given up.
    played_until: Option<i64>,
    last_played_seq: Option<i64>,
    recent_seqs: VecDeque<i64>,
    offsets: VecDeque<i64>,
    scratch: Vec<i64>,
    base_us: i64,
    spread_us: i64,
    target_us: i64,
    delay_us: i64,
    missing_in_a_row: u32,
    pops_since_skip: u32,
    /// `stats.received` when a packet was last found lost.
    lost_at: Option<u64>,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new(JitterConfig::default())
    }
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        let target_us = config.min_delay_lossless.min(config.min_delay).as_micros() as i64;
        Self {
            config,
            packets: BTreeMap::new(),
            seqs: Unwrapper::default(),
            timestamps: Unwrapper::default(),
            epoch: None,
            state: State::Buffering { first_arrival_us: None },
            played_until: None,
            last_played_seq: None,
            recent_seqs: VecDeque::with_capacity(RECENT_SEQS),
            offsets: VecDeque::new(),
            scratch: Vec::new(),
            base_us: 0,
            spread_us: 0,
            target_us,
            delay_us: 0,
            missing_in_a_row: 0,
            pops_since_skip: 0,
            lost_at: None,
            stats: JitterStats::default(),
        }
    }

    fn micros(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_micros() as i64
    }

    /// Add a received packet: RTP sequence number and timestamp, the Opus payload, and when
    /// it arrived.
    pub fn push(&mut self, seq: u16, timestamp: u32, payload: Vec<u8>, now: Instant) -> PushOutcome {
        let t = self.micros(now);
        let seq = self.seqs.unwrap(u64::from(seq));
        let ts = self.timestamps.unwrap(u64::from(timestamp));
        self.stats.received += 1;

        if self.recent_seqs.contains(&seq) {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        if self.recent_seqs.len() == RECENT_SEQS {
            self.recent_seqs.pop_front();
        }
        self.recent_seqs.push_back(seq);

        // Late packets are evidence of jitter too: record before judging.
        self.observe_arrival(t - ts_to_us(ts));

        if self.played_until.is_some_and(|until| ts < until) {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        if self.packets.len() >= self.config.max_packets.max(1) && self.packets.pop_first().is_some() {
            self.stats.dropped += 1;
        }
        self.packets.insert(ts, Packet { seq, arrival_us: t, payload });
        if let State::Buffering { first_arrival_us: first @ None } = &mut self.state {
            *first = Some(t);
        }
        PushOutcome::Accepted
    }

    fn observe_arrival(&mut self, offset_us: i64) {
        if self.offsets.len() >= self.config.window.max(1) {
            self.offsets.pop_front();
        }
        self.offsets.push_back(offset_us);
        self.base_us = self.offsets.iter().copied().min().unwrap_or(offset_us);
        self.spread_us =
            jitter_of(self.offsets.iter().copied(), self.config.quantile_permille, &mut self.scratch);
        let min_us = self.min_delay_us();
        let max_us = self.config.max_delay.as_micros() as i64;
        self.target_us = jitter_target(self.target_us, self.spread_us, min_us, max_us);
    }

    /// The minimum target now: [`JitterConfig::min_delay`] if a packet was lost in the last
    /// window of packets, else [`JitterConfig::min_delay_lossless`].
    fn min_delay_us(&self) -> i64 {
        let window = self.config.window.max(1) as u64;
        let lossy = self.lost_at.is_some_and(|at| self.stats.received.saturating_sub(at) < window);
        let min = if lossy {
            self.config.min_delay
        } else {
            self.config.min_delay_lossless.min(self.config.min_delay)
        };
        min.as_micros() as i64
    }

    /// What to play for the next 20 ms. Call once per 20 ms of playout.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let t = self.micros(now);
        let next_ts = match self.state {
            State::Buffering { first_arrival_us: None } => return Playout::Empty,
            State::Buffering { first_arrival_us: Some(first) } => {
                if t - first < self.target_us {
                    return Playout::Empty;
                }
                match self.packets.first_key_value() {
                    Some((&ts, _)) => ts,
                    None => {
                        self.state = State::Buffering { first_arrival_us: None };
                        return Playout::Empty;
                    }
                }
            }
            State::Playing { next_ts } => next_ts,
        };
        self.pops_since_skip = self.pops_since_skip.saturating_add(1);
        self.delay_us = t - ts_to_us(next_ts) - self.base_us;

        // The frame due now (a packet may sit off the 20 ms grid after a sender glitch).
        let due = self.packets.range(next_ts..next_ts + FRAME_TS).next().map(|(&ts, _)| ts);
        if let Some(ts) = due {
            return self.play(ts);
        }
        self.missing(next_ts)
    }

    fn play(&mut self, ts: i64) -> Playout {
        let Some(packet) = self.packets.remove(&ts) else {
            return Playout::Empty;
        };
        self.account_seq(packet.seq);
        let mut next = ts + FRAME_TS;
        self.missing_in_a_row = 0;
        self.stats.played += 1;

        // A whole frame (and the margin, for pop-timing wobble) more delay than needed: skip
        // the following frame (not too often), which leaves the delay above the target.
        if self.delay_us >= self.target_us + FRAME_US + MARGIN_US
            && self.pops_since_skip >= POPS_BETWEEN_SKIPS
        {
            if let Some(skipped) = self.packets.remove(&next) {
                self.account_seq(skipped.seq);
                next += FRAME_TS;
                self.stats.dropped += 1;
                self.pops_since_skip = 0;
            }
        }
        self.advance_to(next);
        Playout::Frame(packet.payload)
    }

    fn missing(&mut self, next_ts: i64) -> Playout {
        self.missing_in_a_row += 1;
        let upcoming = self.packets.first_key_value().map(|(&ts, p)| (ts, p.arrival_us));
        let gap_frames = upcoming.map(|(ts, _)| (ts - next_ts) / FRAME_TS);
        let give_up = match gap_frames {
            // Nothing buffered: give up after enough concealment.
            None => self.missing_in_a_row > self.config.max_conceal_frames,
            // A long silence (DTX) or outage before the next packet: start over at it.
            Some(gap) => gap > i64::from(self.config.max_conceal_frames),
        };
        if give_up {
            self.missing_in_a_row = 0;
            self.state = State::Buffering { first_arrival_us: upcoming.map(|(_, arrival)| arrival) };
            return Playout::Empty;
        }

        self.stats.concealed += 1;
        // Below the lossy minimum a missing packet is held, not given up, even on a path that
        // has been clean so far: a late (reordered) packet then still plays, and a lost one
        // leaves the delay at the look-ahead FEC needs.
        let hold_below = self.target_us.max(self.config.min_delay.as_micros() as i64);
        if self.delay_us < hold_below {
            // Hold: conceal without advancing, so the packet has 20 ms more to arrive.
            return Playout::Conceal;
        }
        // Lost. Rebuild it from the next packet's FEC if that one is here and really follows
        // a missing sequence number (not a DTX pause).
        let fec = self.packets.get(&(next_ts + FRAME_TS)).and_then(|next| {
            let follows_gap = self.last_played_seq.is_none_or(|last| next.seq > last + 1);
            follows_gap.then(|| next.payload.clone())
        });
        self.advance_to(next_ts + FRAME_TS);
        match fec {
            Some(payload) => {
                self.stats.concealed -= 1;
                self.stats.fec_recovered += 1;
                Playout::Fec(payload)
            }
            None => Playout::Conceal,
        }
    }

    fn advance_to(&mut self, next_ts: i64) {
        self.state = State::Playing { next_ts };
        self.played_until = Some(next_ts);
        // Anything older than the playout position is now late.
        while let Some(entry) = self.packets.first_entry() {
            if *entry.key() >= next_ts {
                break;
            }
            entry.remove();
            self.stats.late += 1;
        }
    }

    fn account_seq(&mut self, seq: i64) {
        if let Some(last) = self.last_played_seq {
            if seq > last + 1 {
                self.stats.lost += (seq - last - 1) as u64;
                self.lost_at = Some(self.stats.received);
                self.target_us = self.target_us.max(self.min_delay_us());
            }
        }
        if self.last_played_seq.is_none_or(|last| seq > last) {
            self.last_played_seq = Some(seq);
        }
    }

    /// Counters and delays.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_delay: us_to_duration(self.target_us),
            current_delay: us_to_duration(self.delay_us),
            jitter: us_to_duration(self.spread_us),
            ..self.stats
        }
    }

    /// Packets waiting to be played.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// No packets waiting.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A sender emitting one packet every 20 ms, and a receiver popping every 20 ms, both on
    /// simulated time. `delay(i)` is packet i's network delay in ms, `None` when lost.
    struct Sim {
        jb: JitterBuffer,
        t0: Instant,
        seq0: u16,
        ts0: u32,
        log: Vec<Playout>,
    }

    impl Sim {
        fn new(seq0: u16, ts0: u32) -> Self {
            Self { jb: JitterBuffer::default(), t0: Instant::now(), seq0, ts0, log: Vec::new() }
        }

        fn payload(i: u32) -> Vec<u8> {
            i.to_be_bytes().to_vec()
        }

        /// Run `n` packets; pops start at `pop_phase_ms` and continue every 20 ms until
        /// 500 ms after the last send.
        fn run(&mut self, n: u32, pop_phase_ms: u64, delay: impl Fn(u32) -> Option<u64>) {
            let mut events: Vec<(u64, Option<u32>)> = Vec::new(); // (time µs, Some(packet) | None = pop)
            for i in 0..n {
                if let Some(d) = delay(i) {
                    events.push((u64::from(i) * 20_000 + d * 1000, Some(i)));
                }
            }
            let end = u64::from(n) * 20_000 + 500_000;
            let mut t = pop_phase_ms * 1000;
            while t < end {
                events.push((t, None));
                t += 20_000;
            }
            // Packets at the same instant as a pop arrive first.
            events.sort_by_key(|&(t, e)| (t, e.is_none()));
            for (t, e) in events {
                let now = self.t0 + Duration::from_micros(t);
                match e {
                    Some(i) => {
                        let seq = self.seq0.wrapping_add(i as u16);
                        let ts = self.ts0.wrapping_add(i * 960);
                        self.jb.push(seq, ts, Self::payload(i), now);
                    }
                    None => {
                        let p = self.jb.pop(now);
                        self.log.push(p);
                    }
                }
            }
        }

        fn frames(&self) -> Vec<u32> {
            self.log
                .iter()
                .filter_map(|p| match p {
                    Playout::Frame(b) => Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    _ => None,
                })
                .collect()
        }
    }

    #[test]
    fn in_order_stream_plays_every_frame_once_in_order_at_minimum_delay() {
        let mut sim = Sim::new(1000, 5000);
        sim.run(200, 7, |_| Some(30));
        assert_eq!(sim.frames(), (0..200).collect::<Vec<_>>());
        let last_frame = sim.log.iter().rposition(|p| matches!(p, Playout::Frame(_))).expect("frames");
        let during = &sim.log[..last_frame];
        assert!(!during.contains(&Playout::Conceal), "{during:?}");
        let s = sim.jb.stats();
        assert_eq!((s.lost, s.late, s.duplicate, s.dropped), (0, 0, 0, 0));
        assert_eq!(s.target_delay, JitterConfig::default().min_delay_lossless, "nothing lost");
        assert!(s.current_delay <= Duration::from_millis(40), "{s:?}");
        // Starts after buffering, ends empty.
        assert_eq!(sim.log.first(), Some(&Playout::Empty));
        assert_eq!(sim.log.last(), Some(&Playout::Empty));
    }

    #[test]
    fn reordered_pairs_within_the_delay_still_play_in_order() {
        let mut sim = Sim::new(0, 0);
        // Every 4th packet arrives 25 ms late, after its successor.
        sim.run(200, 3, |i| Some(if i % 4 == 1 { 35 } else { 10 }));
        assert_eq!(sim.frames(), (0..200).collect::<Vec<_>>());
        assert_eq!(sim.jb.stats().lost, 0);
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut jb = JitterBuffer::default();
        let t = Instant::now();
        assert_eq!(jb.push(1, 960, vec![1], t), PushOutcome::Accepted);
        assert_eq!(jb.push(1, 960, vec![1], t), PushOutcome::Duplicate);
        assert_eq!(jb.len(), 1);
        assert_eq!(jb.stats().duplicate, 1);
    }

    #[test]
    fn late_packets_are_dropped_and_counted() {
        let mut jb = JitterBuffer::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        jb.push(0, 0, vec![0], at(0));
        jb.push(2, 1920, vec![2], at(40));
        assert_eq!(jb.pop(at(40)), Playout::Frame(vec![0]));
        // Seq 1 is missing, the delay is above target: FEC from seq 2.
        assert_eq!(jb.pop(at(80)), Playout::Fec(vec![2]));
        assert_eq!(jb.push(1, 960, vec![1], at(81)), PushOutcome::Late);
        assert_eq!(jb.pop(at(100)), Playout::Frame(vec![2]));
        let s = jb.stats();
        assert_eq!((s.late, s.lost, s.fec_recovered), (1, 1, 1));
    }

    #[test]
    fn ten_percent_random_loss_is_concealed_or_recovered_with_fec() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let lost: Vec<bool> = (0..1000).map(|_| rng.gen_bool(0.10)).collect();
        let n_lost = lost.iter().filter(|&&l| l).count() as u64;
        let mut sim = Sim::new(0, 0);
        sim.run(1000, 11, |i| (!lost[i as usize]).then_some(20));

        let expected: Vec<u32> = (0..1000).filter(|&i| !lost[i as usize]).collect();
        assert_eq!(sim.frames(), expected, "every received packet plays, in order");
        let s = sim.jb.stats();
        assert_eq!(s.lost, n_lost);
        assert_eq!(s.late, 0);
        // Each lost frame is filled: by FEC when its successor arrived, else concealed.
        assert!(s.fec_recovered + s.concealed >= n_lost, "{s:?}");
        assert!(s.fec_recovered >= n_lost * 7 / 10, "isolated losses use FEC: {s:?}");
        assert_eq!(
            s.target_delay,
            JitterConfig::default().min_delay,
            "loss is not jitter, but needs look-ahead"
        );
    }

    #[test]
    fn forty_ms_jitter_raises_the_delay_and_then_nothing_is_late() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(40);
        let delays: Vec<u64> = (0..1500).map(|_| rng.gen_range(0..=40)).collect();
        let mut sim = Sim::new(0, 0);
        sim.run(1500, 5, |i| Some(10 + delays[i as usize]));

        let s = sim.jb.stats();
        eprintln!("{s:?}");
        assert!(
            s.target_delay >= Duration::from_millis(40) && s.target_delay <= Duration::from_millis(60),
            "{s:?}"
        );
        assert!(s.jitter >= Duration::from_millis(35), "{s:?}");
        // Adapting costs at most a few frames at the start (holds); after that every frame plays.
        assert!(s.late + s.lost <= 5, "{s:?}");
        let frames = sim.frames();
        let tail: Vec<u32> = frames.iter().copied().filter(|&i| i >= 100).collect();
        assert_eq!(tail, (100..1500).collect::<Vec<_>>(), "no loss after adapting");
        assert!(s.current_delay <= Duration::from_millis(120), "{s:?}");
    }

    #[test]
    fn jitter_is_the_quantile_of_arrival_offsets_above_the_earliest() {
        let mut scratch = Vec::new();
        // 100 packets: offsets 1000 + 0, 1, …, 99 ms (in µs).
        let offsets: Vec<i64> = (0..100).map(|i| 1_000_000 + i * 1000).collect();
        assert_eq!(jitter_of(offsets.iter().copied(), 1000, &mut scratch), 99_000, "the largest");
        assert_eq!(jitter_of(offsets.iter().copied(), 970, &mut scratch), 96_000, "97th of 100");
        assert_eq!(jitter_of(offsets.iter().copied(), 500, &mut scratch), 49_000, "the median");
        assert_eq!(jitter_of(std::iter::empty(), 970, &mut scratch), 0);
        assert_eq!(jitter_of(std::iter::once(-5), 970, &mut scratch), 0, "one packet shows no jitter");
    }

    #[test]
    fn target_rises_at_once_and_falls_faster_the_further_it_is_from_the_need() {
        let (min, max) = (20_000, 400_000);
        assert_eq!(jitter_target(20_000, 60_000, min, max), 65_000, "need + margin, at once");
        assert_eq!(jitter_target(20_000, 0, min, max), 20_000, "never below the minimum");
        assert_eq!(jitter_target(20_000, 900_000, min, max), 400_000, "nor above the maximum");
        // Far above the need: 1/50 of the excess per packet.
        assert_eq!(jitter_target(120_000, 0, min, max), 118_000);
        // Close to it: at least 40 µs, and never below the need.
        assert_eq!(jitter_target(20_500, 0, min, max), 20_460);
        assert_eq!(jitter_target(20_020, 0, min, max), 20_000);
        // From 120 ms to within 10 ms of a 20 ms need in 2.5 s of calm (125 packets); the old
        // 2 ms per second would still be at 115 ms.
        let mut t = 120_000;
        for _ in 0..125 {
            t = jitter_target(t, 0, min, max);
        }
        assert!(t <= 30_000, "{t}");
    }

    #[test]
    fn one_stall_does_not_raise_the_delay_for_the_whole_window() {
        // A steady stream; packets 400..405 are held up together (the sender's task stalled
        // for 100 ms) and arrive in one burst.
        let mut sim = Sim::new(0, 0);
        sim.run(600, 7, |i| Some(if (400..405).contains(&i) { 10 + u64::from(405 - i) * 20 } else { 10 }));
        let s = sim.jb.stats();
        assert_eq!(s.target_delay, JitterConfig::default().min_delay, "{s:?}");
        // What the stall held up is concealed; everything after plays.
        let frames = sim.frames();
        let tail: Vec<u32> = frames.iter().copied().filter(|&i| i >= 405).collect();
        assert_eq!(tail, (405..600).collect::<Vec<_>>());
    }

    #[test]
    fn delay_follows_the_jitter_back_down_within_seconds_of_calm() {
        // 5 s of 0–80 ms jitter, then a calm network.
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let delays: Vec<u64> = (0..250).map(|_| rng.gen_range(0..=80)).collect();
        let delay = |i: u32| Some(10 + delays.get(i as usize).copied().unwrap_or(0));
        let mut sim = Sim::new(0, 0);
        sim.run(250, 5, delay);
        let high = sim.jb.stats();
        assert!(high.target_delay >= Duration::from_millis(60), "{high:?}");
        // The jittery packets leave the window at packet 500; 2.5 s later:
        let mut sim = Sim::new(0, 0);
        sim.run(625, 5, delay);
        let s = sim.jb.stats();
        assert!(s.target_delay <= Duration::from_millis(30), "{s:?}");
        assert!(
            s.current_delay <= s.target_delay + Duration::from_millis(25),
            "skipped down after it: {s:?}"
        );
        let frames = sim.frames();
        assert!(frames.windows(2).all(|w| w[0] < w[1]), "monotonic");
    }

    #[test]
    fn delay_shrinks_after_jitter_stops() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let delays: Vec<u64> = (0..3000).map(|i| if i < 500 { rng.gen_range(0..=80) } else { 0 }).collect();
        let mut sim = Sim::new(0, 0);
        sim.run(3000, 5, |i| Some(10 + delays[i as usize]));
        let s = sim.jb.stats();
        assert_eq!(s.target_delay, JitterConfig::default().min_delay_lossless, "{s:?}");
        assert!(s.current_delay <= Duration::from_millis(60), "skipped back down: {s:?}");
        assert!(s.dropped >= 1, "{s:?}");
        let frames = sim.frames();
        assert!(frames.windows(2).all(|w| w[0] < w[1]), "monotonic");
    }

    #[test]
    fn sequence_and_timestamp_wraparound_is_seamless() {
        let mut sim = Sim::new(65_500, u32::MAX - 960 * 10 + 1);
        sim.run(300, 9, |i| Some(if i % 7 == 3 { 45 } else { 15 }));
        assert_eq!(sim.frames(), (0..300).collect::<Vec<_>>());
        let s = sim.jb.stats();
        assert_eq!((s.lost, s.late, s.duplicate), (0, 0, 0));
    }

    #[test]
    fn burst_loss_is_concealed_then_playback_recovers() {
        let mut sim = Sim::new(0, 0);
        // Packets 100..106 lost (120 ms): shorter than the give-up limit.
        sim.run(300, 13, |i| (!(100..106).contains(&i)).then_some(20));
        let frames = sim.frames();
        let expected: Vec<u32> = (0..300).filter(|i| !(100..106).contains(i)).collect();
        assert_eq!(frames, expected);
        let pos99 = sim
            .log
            .iter()
            .position(|p| *p == Playout::Frame(99u32.to_be_bytes().to_vec()))
            .expect("99 played");
        let pos106 = sim
            .log
            .iter()
            .position(|p| *p == Playout::Frame(106u32.to_be_bytes().to_vec()))
            .expect("106 played");
        let between = &sim.log[pos99 + 1..pos106];
        assert!(between.len() >= 6, "{between:?}");
        assert!(between[..5].iter().all(|p| *p == Playout::Conceal), "{between:?}");
        assert!(
            matches!(between.last(), Some(Playout::Fec(_))),
            "the frame before 106 comes from 106's FEC: {between:?}"
        );
        assert_eq!(sim.jb.stats().lost, 6);
    }

    #[test]
    fn long_outage_goes_back_to_buffering_then_recovers() {
        let mut sim = Sim::new(0, 0);
        sim.run(300, 13, |i| (!(100..150).contains(&i)).then_some(20));
        let frames = sim.frames();
        assert!(frames.contains(&150) && frames.contains(&299));
        let pos99 = sim
            .log
            .iter()
            .position(|p| *p == Playout::Frame(99u32.to_be_bytes().to_vec()))
            .expect("99 played");
        let after: Vec<&Playout> = sim.log[pos99 + 1..].iter().take(40).collect();
        let concealed = after.iter().take_while(|p| ***p == Playout::Conceal).count();
        assert!((10..=11).contains(&concealed), "{after:?}");
        assert!(after.contains(&&Playout::Empty), "silence, not endless concealment");
        assert_eq!(sim.jb.stats().lost, 50);
    }

    #[test]
    fn dtx_pause_is_not_loss() {
        // The sender stops sending during silence: timestamps jump, sequence numbers do not.
        // Frames 0..20 are sent, then 1 s of silence (frames 20..70) is not, then 70..100.
        let mut jb = JitterBuffer::default();
        let t0 = Instant::now();
        let sent: Vec<(u16, u32)> =
            (0..20).chain(70..100).enumerate().map(|(seq, f)| (seq as u16, f)).collect();
        let mut log = Vec::new();
        for ms in (0..2500u64).step_by(5) {
            let now = t0 + Duration::from_millis(ms);
            for &(seq, frame) in sent.iter().filter(|(_, f)| u64::from(*f) * 20 + 5 == ms) {
                jb.push(seq, frame * 960, vec![seq as u8], now);
            }
            if ms % 20 == 10 {
                log.push(jb.pop(now));
            }
        }
        let played = log.iter().filter(|p| matches!(p, Playout::Frame(_))).count();
        assert_eq!(played, 50);
        let s = jb.stats();
        assert_eq!((s.lost, s.late), (0, 0), "{s:?}");
        assert!(log.contains(&Playout::Empty), "a long pause is silence, not concealment");
    }

    #[test]
    fn a_loss_raises_the_minimum_for_a_window_of_packets() {
        let config = JitterConfig::default();
        let target_after = |n: u32| {
            let mut sim = Sim::new(0, 0);
            sim.run(n, 7, |i| (i != 100).then_some(10));
            sim.jb.stats().target_delay
        };
        assert_eq!(target_after(100), config.min_delay_lossless, "clean so far");
        assert_eq!(target_after(300), config.min_delay, "a packet was lost");
        // 250 packets after the loss the minimum is back, and the target falls to it.
        assert_eq!(target_after(700), config.min_delay_lossless);
    }

    #[test]
    fn nothing_received_is_empty() {
        let mut jb = JitterBuffer::default();
        let t = Instant::now();
        assert_eq!(jb.pop(t), Playout::Empty);
        assert!(jb.is_empty());
        assert_eq!(
            jb.stats(),
            JitterStats {
                target_delay: JitterConfig::default().min_delay_lossless,
                ..JitterStats::default()
            }
        );
    }

    #[test]
    fn full_buffer_drops_the_oldest() {
        let mut jb = JitterBuffer::new(JitterConfig { max_packets: 5, ..JitterConfig::default() });
        let t = Instant::now();
        for i in 0..8u16 {
            jb.push(i, u32::from(i) * 960, vec![i as u8], t);
        }
        assert_eq!(jb.len(), 5);
        assert_eq!(jb.stats().dropped, 3);
    }
}
