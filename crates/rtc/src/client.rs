//! A participant's side: one microphone track up, [`MAX_REMOTE`] receive slots down.

use std::sync::atomic::{AtomicU16, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::RTCRtpTransceiverId;
use tokio::sync::{mpsc, Mutex};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

use crate::peer::{opus_payload_type, slot_track, Peer, TrackStream};
use crate::{rtp, ConnectionState, PeerConfig, Result, MAX_REMOTE, OPUS_PAYLOAD_TYPE};

/// Packets queued per client before the oldest unread are dropped (≈ 20 s of one stream).
const RECEIVED_QUEUE: usize = 1024;

/// One RTP packet that arrived in a receive slot.
#[derive(Debug, Clone)]
pub struct Received {
    pub slot: usize,
    pub packet: rtp::Packet,
}

/// A participant's peer connection: build it, send [`ClientPeer::offer`] to the server
/// (`POST /api/meets/{id}/media`), apply the answer, then send Opus payloads and read what
/// arrives per slot.
pub struct ClientPeer {
    peer: Peer,
    mic: Arc<TrackLocalStaticRTP>,
    mic_sender: Arc<dyn RtpSender>,
    ssrc: u32,
    seq: AtomicU16,
    /// Negotiated Opus payload type (0 until the answer is applied).
    payload_type: AtomicU8,
    offer: String,
    received: Mutex<mpsc::Receiver<Received>>,
}

impl std::fmt::Debug for ClientPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPeer").field("ssrc", &self.ssrc).field("peer", &self.peer).finish()
    }
}

impl ClientPeer {
    /// Builds the connection in the slot layout and makes the offer (with its candidates).
    pub async fn new(config: &PeerConfig) -> Result<ClientPeer> {
        let (peer, tracks) = Peer::new(config).await?;
        let ssrc = rand::random::<u32>();
        let mic = slot_track("meetdesk-mic", "mic", ssrc);
        let mic_sender = peer.add_sending_track(&mic, RTCRtpTransceiverDirection::Sendrecv).await?;
        let mut slot_ids = Vec::with_capacity(MAX_REMOTE);
        for _ in 0..MAX_REMOTE {
            let t = peer
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
            slot_ids.push(t.id());
        }
        let (tx, rx) = mpsc::channel(RECEIVED_QUEUE);
        tokio::spawn(read_slots(tracks, slot_ids, tx));
        let offer = peer.pc().create_offer(None).await?;
        let offer = peer.set_local_and_gather(offer).await?.sdp;
        Ok(ClientPeer {
            peer,
            mic,
            mic_sender,
            ssrc,
            seq: AtomicU16::new(rand::random()),
            payload_type: AtomicU8::new(0),
            offer,
            received: Mutex::new(rx),
        })
    }

    /// The offer to send to the server.
    pub fn offer(&self) -> &str {
        &self.offer
    }

    /// Applies the server's answer.
    pub async fn accept_answer(&self, sdp: &str) -> Result<()> {
        let answer = RTCSessionDescription::answer(sdp.to_owned())?;
        self.peer.pc().set_remote_description(answer).await?;
        let pt = opus_payload_type(&self.mic_sender).await.unwrap_or(OPUS_PAYLOAD_TYPE);
        self.payload_type.store(pt, Ordering::Relaxed);
        Ok(())
    }

    /// Starts an ICE restart (network change): returns the new offer to send with
    /// `"restart": true`; apply the answer with [`ClientPeer::accept_answer`]. The slots and
    /// the microphone stream stay as they are.
    pub async fn restart_ice(&self) -> Result<String> {
        self.peer.pc().restart_ice().await?;
        let offer = self.peer.pc().create_offer(None).await?;
        Ok(self.peer.set_local_and_gather(offer).await?.sdp)
    }

    /// Sends one Opus payload (one frame, typically 20 ms) with the given RTP timestamp
    /// (48 kHz units). Sequence numbers are this peer's. Fails before the answer is applied
    /// (the track is not bound yet); while not connected, the stack drops the packet.
    pub async fn send_rtp_payload(&self, payload: impl Into<Bytes>, timestamp: u32) -> Result<()> {
        let pt = match self.payload_type.load(Ordering::Relaxed) {
            0 => OPUS_PAYLOAD_TYPE,
            pt => pt,
        };
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: self.seq.fetch_add(1, Ordering::Relaxed),
                timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: payload.into(),
        };
        self.mic.write_rtp(packet).await?;
        Ok(())
    }

    /// The next packet received in any slot (`None` once the connection is gone).
    pub async fn recv(&self) -> Option<Received> {
        self.received.lock().await.recv().await
    }

    /// A packet already received, if any, without waiting.
    pub async fn try_recv(&self) -> Option<Received> {
        self.received.lock().await.try_recv().ok()
    }

    /// This peer's microphone SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn state(&self) -> ConnectionState {
        self.peer.state()
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    pub async fn wait_connected(&self, timeout: std::time::Duration) -> Result<()> {
        self.peer.wait_connected(timeout).await
    }

    pub async fn close(&self) -> Result<()> {
        self.peer.close().await
    }
}

/// Reads every remote track; the first event of each (`OnOpen`) names its receiver, which is
/// the slot's transceiver.
async fn read_slots(mut tracks: TrackStream, slot_ids: Vec<RTCRtpTransceiverId>, tx: mpsc::Sender<Received>) {
    while let Some(track) = tracks.recv().await {
        let slot_ids = slot_ids.clone();
        let tx = tx.clone();
        tokio::spawn(async move { read_track(track, &slot_ids, tx).await });
    }
}

async fn read_track(
    track: Arc<dyn TrackRemote>,
    slot_ids: &[RTCRtpTransceiverId],
    tx: mpsc::Sender<Received>,
) {
    let mut slot = None;
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                let id = RTCRtpTransceiverId::from(init.receiver_id);
                slot = slot_ids.iter().position(|s| *s == id);
                if slot.is_none() {
                    tracing::warn!("a remote track outside the receive slots; ignored");
                }
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let Some(slot) = slot else { continue };
                if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Received { slot, packet }) {
                    return;
                }
            }
            TrackRemoteEvent::OnEnded => return,
            _ => {}
        }
    }
}
