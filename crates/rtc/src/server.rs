//! The server's side of one participant's connection: receives the microphone, sends
//! [`MAX_REMOTE`] slot streams. Routing between participants is the server's business; this
//! only answers offers and moves packets in and out.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::RTCRtpTransceiverId;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

use crate::peer::{opus_payload_type, slot_track, Interceptors, Peer, TrackStream};
use crate::{rtp, validate_offer, ConnectionState, PeerConfig, Result, RtcError, MAX_REMOTE};

/// Called for every RTP packet of the participant's microphone, on the task reading it.
pub type OnPacket = Box<dyn Fn(rtp::Packet) + Send + Sync + 'static>;

/// The participant's microphone: its RTP packets as the stack delivers them, read by the
/// caller's own task ([`Mic::recv`]), so the packet path has no hop of its own in between.
pub struct Mic {
    tracks: TrackStream,
    mic: RTCRtpTransceiverId,
    /// The remote track being read, and whether it opened on the microphone m-line.
    current: Option<(Arc<dyn TrackRemote>, bool)>,
}

impl std::fmt::Debug for Mic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mic").field("reading", &self.current.is_some()).finish()
    }
}

impl Mic {
    /// The next microphone packet. Waits while no track is open; a track opened on another
    /// m-line is drained in the background and ignored. Read it promptly: the stack queues
    /// 256 packets per track (about 5 s of 20 ms audio) and drops what does not fit.
    pub async fn recv(&mut self) -> Option<rtp::Packet> {
        loop {
            let (track, is_mic) = match &mut self.current {
                Some(current) => current,
                None => {
                    let track = self.tracks.recv().await?;
                    self.current.insert((track, false))
                }
            };
            match track.poll().await {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) if *is_mic => return Some(packet),
                Some(TrackRemoteEvent::OnOpen(init)) => {
                    *is_mic = RTCRtpTransceiverId::from(init.receiver_id) == self.mic;
                    if !*is_mic {
                        tracing::warn!("a participant sent a track outside the microphone m-line; ignored");
                        if let Some((other, _)) = self.current.take() {
                            tokio::spawn(async move { while other.poll().await.is_some() {} });
                        }
                    }
                }
                Some(TrackRemoteEvent::OnEnded) | None => self.current = None,
                Some(_) => {}
            }
        }
    }
}

struct Slot {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    /// Negotiated Opus payload type on this m-line (0 until an offer was answered).
    payload_type: AtomicU8,
}

/// The server's end of one participant device's connection.
pub struct ServerPeer {
    peer: Peer,
    slots: Vec<Slot>,
}

impl std::fmt::Debug for ServerPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerPeer").field("peer", &self.peer).finish()
    }
}

impl ServerPeer {
    /// Builds the answering side: one receiving transceiver for the microphone, then one
    /// sending transceiver per slot, so that a slot-layout offer's m-lines match them in order
    /// (the stack pairs a remote `sendrecv` line with a local `recvonly` transceiver, and each
    /// remote `recvonly` line with the next local `sendonly` one). `on_packet` gets the
    /// microphone's packets, on a task of its own.
    pub async fn new(config: &PeerConfig, on_packet: OnPacket) -> Result<ServerPeer> {
        let (peer, mut mic) = ServerPeer::with_mic(config).await?;
        tokio::spawn(async move {
            while let Some(packet) = mic.recv().await {
                on_packet(packet);
            }
        });
        Ok(peer)
    }

    /// As [`ServerPeer::new`], but the caller reads the microphone itself (the SFU's packet
    /// path: one task per sender reads and writes straight into the receivers' slots).
    pub async fn with_mic(config: &PeerConfig) -> Result<(ServerPeer, Mic)> {
        // No TWCC: the SFU estimates no bandwidth, and its feedback (every 100 ms per
        // connection) would be a sixth more packets out than the audio itself.
        let (peer, tracks) = Peer::with_interceptors(config, Interceptors::ReportsOnly).await?;
        let mic = peer
            .pc()
            .add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await?;
        let mut slots = Vec::with_capacity(MAX_REMOTE);
        for i in 0..MAX_REMOTE {
            let ssrc = rand::random::<u32>();
            let track = slot_track("meetdesk", &format!("slot-{i}"), ssrc);
            let sender = peer.add_sending_track(&track, RTCRtpTransceiverDirection::Sendonly).await?;
            slots.push(Slot { track, sender, ssrc, payload_type: AtomicU8::new(0) });
        }
        let mic = Mic { tracks, mic: mic.id(), current: None };
        Ok((ServerPeer { peer, slots }, mic))
    }

    /// Answers an offer (the first one, or an ICE restart on the same connection) after
    /// checking its layout; returns the answer with this side's candidates.
    pub async fn answer(&self, offer_sdp: &str) -> Result<String> {
        validate_offer(offer_sdp)?;
        let answer = self.peer.answer(offer_sdp).await?;
        for slot in &self.slots {
            let pt = opus_payload_type(&slot.sender).await.ok_or(RtcError::NoOpus)?;
            slot.payload_type.store(pt, Ordering::Relaxed);
        }
        Ok(answer)
    }

    /// Sends a packet in a slot, stamped with the slot's SSRC and payload type. Header
    /// extensions and CSRCs of the original sender are dropped (they were negotiated on
    /// another connection). Sequence number, timestamp and marker are the caller's.
    pub async fn write_slot(&self, slot: usize, mut packet: rtp::Packet) -> Result<()> {
        let Some(s) = self.slots.get(slot) else { return Ok(()) };
        let pt = s.payload_type.load(Ordering::Relaxed);
        if pt == 0 {
            return Ok(()); // not negotiated yet
        }
        let h = &mut packet.header;
        h.ssrc = s.ssrc;
        h.payload_type = pt;
        h.padding = false;
        h.extension = false;
        h.extensions.clear();
        h.extensions_padding = 0;
        h.csrc.clear();
        s.track.write_rtp(packet).await?;
        Ok(())
    }

    pub fn slot_ssrc(&self, slot: usize) -> Option<u32> {
        self.slots.get(slot).map(|s| s.ssrc)
    }

    pub fn state(&self) -> ConnectionState {
        self.peer.state()
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    pub async fn close(&self) -> Result<()> {
        self.peer.close().await
    }
}
