//! The hot path: a participant's microphone packets to every other participant's slot.
//!
//! One task per sender ([`read_loop`]) reads its microphone from the stack and writes each
//! packet straight into every receiver's slot: it looks up where its packets go in an
//! `ArcSwap` snapshot of routes (no lock, no database), rewrites the header with the
//! receiving slot's sequencer (a mutex per receiving device, held for the rewrite only) and
//! hands the packet to that connection's driver. No queue or task of ours in between: each
//! forwarded packet wakes the sender's driver, this reader and the receiver's driver, nothing
//! else. A receiver's driver queue (256 events) full holds up this sender's reader, whose own
//! queue in the stack (256 packets, ~5 s) then drops; a driver that far behind means the node
//! is out of CPU, which no queue of ours would fix.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use meetdesk_rtc::{rtp, ConnectionState, Mic, ServerPeer, MAX_REMOTE, OPUS_CLOCK_RATE, SAMPLES_PER_20MS};

/// A receiving device: its connection and its slots' sequencers.
pub struct Outlet {
    peer: Arc<ServerPeer>,
    slots: StdMutex<Vec<SlotSequencer>>,
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet").field("peer", &self.peer).finish()
    }
}

impl Outlet {
    pub fn new(peer: Arc<ServerPeer>) -> Outlet {
        let slots = (0..MAX_REMOTE).map(|_| SlotSequencer::new(rand::random(), rand::random())).collect();
        Outlet { peer, slots: StdMutex::new(slots) }
    }

    /// Rewrites `packet` for `slot` and writes it into the connection.
    async fn forward(&self, slot: usize, source: u64, packet: rtp::Packet) {
        // `disconnected` still sends: ICE missed its checks for a moment, packets may get through.
        if !matches!(self.peer.state(), ConnectionState::Connected | ConnectionState::Disconnected) {
            return;
        }
        let packet = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let Some(seq) = slots.get_mut(slot) else { return };
            seq.rewrite(source, packet, Instant::now())
        };
        if let Err(e) = self.peer.write_slot(slot, packet).await {
            tracing::debug!(error = %e, slot, "could not forward a packet");
        }
    }
}

/// Where one sender's packets go: a receiving device and the slot it hears the sender in.
#[derive(Debug, Clone)]
pub struct Route {
    pub to: Arc<Outlet>,
    pub slot: usize,
}

pub type Routes = Arc<ArcSwap<Vec<Route>>>;

/// A sender's reader: until its connection goes (or the task is aborted when it leaves).
/// `source` names the media session (a new one on every fresh offer).
pub async fn read_loop(mut mic: Mic, routes: Routes, source: u64) {
    while let Some(mut packet) = mic.recv().await {
        // Header extensions and CSRCs were negotiated on the sender's connection and are
        // dropped on the way out anyway; dropping them here makes each clone below a
        // reference count on the payload, not an allocation.
        let h = &mut packet.header;
        h.extension = false;
        h.extensions.clear();
        h.extensions_padding = 0;
        h.csrc.clear();
        let routes = routes.load_full();
        for route in routes.iter() {
            route.to.forward(route.slot, source, packet.clone()).await;
        }
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
