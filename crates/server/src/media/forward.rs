//! The hot path: a participant's microphone packets to every other participant's slot.
//!
//! Each sender's reader (the task polling its microphone track) looks up where its packets go
//! in an `ArcSwap` snapshot of routes — one atomic load per packet, no lock, no database — and
//! hands each receiver a clone through that receiver's bounded queue (`try_send`: a receiver
//! that cannot keep up loses packets, the others do not wait for it). One writer task per
//! receiving device owns that device's slot sequencers, rewrites the headers and writes into
//! the slot's track.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use meetdesk_rtc::{rtp, ConnectionState, ServerPeer, MAX_REMOTE, OPUS_CLOCK_RATE, SAMPLES_PER_20MS};
use tokio::sync::mpsc;

/// Packets queued per receiving device (≈ 0.7 s of 7 streams of 20 ms packets).
pub const FORWARD_QUEUE: usize = 256;

/// One packet on its way into a receiver's slot.
#[derive(Debug)]
pub struct Forward {
    pub slot: usize,
    /// Which sender (a media session: a new one on every fresh offer).
    pub source: u64,
    pub packet: rtp::Packet,
}

/// Where one sender's packets go: a receiver's queue and the slot it hears the sender in.
#[derive(Debug, Clone)]
pub struct Route {
    pub tx: mpsc::Sender<Forward>,
    pub slot: usize,
}

pub type Routes = Arc<ArcSwap<Vec<Route>>>;

/// The per-packet work of a sender's reader.
pub fn fan_out(routes: &Routes, source: u64, packet: rtp::Packet) {
    let routes = routes.load();
    for route in routes.iter() {
        // A full queue drops this packet for that receiver only; a closed one is a receiver
        // being removed (its route goes with the next snapshot).
        let _ = route.tx.try_send(Forward { slot: route.slot, source, packet: packet.clone() });
    }
}

/// Keeps one slot's outgoing RTP stream continuous while the sender in it changes: sequence
/// numbers go on from the last one sent, timestamps from the last one plus the wall-clock time
/// since (at least one frame), and the first packet of a new sender carries the marker bit (a
/// new talk spurt, so the receiver's jitter buffer resynchronises instead of waiting).
#[derive(Debug, Clone)]
pub struct SlotSequencer {
    current: Option<(u64, u32)>,
    seq_delta: u16,
    ts_delta: u32,
    last_seq: u16,
    last_ts: u32,
    last_at: Option<Instant>,
}

impl SlotSequencer {
    pub fn new(first_seq: u16, first_ts: u32) -> SlotSequencer {
        SlotSequencer {
            current: None,
            seq_delta: 0,
            ts_delta: 0,
            last_seq: first_seq.wrapping_sub(1),
            last_ts: first_ts.wrapping_sub(SAMPLES_PER_20MS),
            last_at: None,
        }
    }

    pub fn rewrite(&mut self, source: u64, mut packet: rtp::Packet, now: Instant) -> rtp::Packet {
        let h = &mut packet.header;
        let key = (source, h.ssrc);
        if self.current != Some(key) {
            let elapsed = self.last_at.map_or(0, |t| now.saturating_duration_since(t).as_millis());
            let gap = (elapsed * u128::from(OPUS_CLOCK_RATE) / 1000)
                .clamp(u128::from(SAMPLES_PER_20MS), u128::from(u32::MAX / 4)) as u32;
            self.seq_delta = self.last_seq.wrapping_add(1).wrapping_sub(h.sequence_number);
            self.ts_delta = self.last_ts.wrapping_add(gap).wrapping_sub(h.timestamp);
            self.current = Some(key);
            h.marker = true;
        }
        let seq = h.sequence_number.wrapping_add(self.seq_delta);
        let ts = h.timestamp.wrapping_add(self.ts_delta);
        // Only a newer packet moves the end of the stream (a late one keeps its place).
        if (seq.wrapping_sub(self.last_seq) as i16) > 0 {
            self.last_seq = seq;
            self.last_ts = ts;
        }
        self.last_at = Some(now);
        h.sequence_number = seq;
        h.timestamp = ts;
        packet
    }
}

/// A receiving device's writer: until its queue closes (the device left or the meet ended).
pub async fn write_loop(peer: Arc<ServerPeer>, mut rx: mpsc::Receiver<Forward>) {
    let mut slots: Vec<SlotSequencer> =
        (0..MAX_REMOTE).map(|_| SlotSequencer::new(rand::random(), rand::random())).collect();
    let state = peer.peer().watch_state();
    while let Some(f) = rx.recv().await {
        // `disconnected` still sends: ICE missed its checks for a moment, packets may get through.
        if !matches!(*state.borrow(), ConnectionState::Connected | ConnectionState::Disconnected) {
            continue;
        }
        let Some(seq) = slots.get_mut(f.slot) else { continue };
        let packet = seq.rewrite(f.source, f.packet, Instant::now());
        if let Err(e) = peer.write_slot(f.slot, packet).await {
            tracing::debug!(error = %e, slot = f.slot, "could not forward a packet");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> rtp::Packet {
        rtp::Packet {
            header: rtp::Header {
                version: 2,
                ssrc,
                sequence_number: seq,
                timestamp: ts,
                ..Default::default()
            },
            payload: vec![1, 2, 3].into(),
        }
    }

    #[test]
    fn a_reused_slot_continues_sequence_and_timestamp() {
        let t0 = Instant::now();
        let mut s = SlotSequencer::new(65_534, 4_294_000_000);
        // Sender A: three packets, 20 ms apart; the numbers wrap on the way.
        let mut last = None;
        for i in 0..3u16 {
            let out = s.rewrite(1, pkt(0xA, 500 + i, 10_000 + u32::from(i) * 960), t0);
            assert_eq!(out.header.sequence_number, 65_534u16.wrapping_add(i));
            assert_eq!(out.header.timestamp, 4_294_000_000u32.wrapping_add(u32::from(i) * 960));
            assert_eq!(out.header.marker, i == 0, "marker only on a new sender");
            last = Some(out.header);
        }
        let last = last.unwrap();
        // A late packet of A keeps its own place and does not move the end.
        let late = s.rewrite(1, pkt(0xA, 499, 10_000 - 960), t0);
        assert_eq!(late.header.sequence_number, 65_533);
        // A leaves; B takes the slot 1 s later with its own unrelated numbers.
        let t1 = t0 + Duration::from_secs(1);
        let b = s.rewrite(2, pkt(0xB, 7, 123), t1);
        assert_eq!(b.header.sequence_number, last.sequence_number.wrapping_add(1));
        assert_eq!(b.header.timestamp, last.timestamp.wrapping_add(48_000), "1 s of wall clock");
        assert!(b.header.marker);
        let b2 = s.rewrite(2, pkt(0xB, 8, 123 + 960), t1);
        assert_eq!(b2.header.sequence_number, b.header.sequence_number.wrapping_add(1));
        assert_eq!(b2.header.timestamp, b.header.timestamp.wrapping_add(960));
        assert!(!b2.header.marker);
        // The same session with a new SSRC (a restarted sender) counts as a new stream.
        let b3 = s.rewrite(2, pkt(0xC, 1, 5), t1);
        assert_eq!(b3.header.sequence_number, b2.header.sequence_number.wrapping_add(1));
        assert_eq!(b3.header.timestamp, b2.header.timestamp.wrapping_add(960), "at least one frame");
    }
}
