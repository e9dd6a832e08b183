//! One peer connection with meetdesk's settings, and the events the rest of the code waits for
//! (gathering complete, connection state, remote tracks).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState, RTCIceServer,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::{
    ConnectionState, PeerConfig, Result, RtcError, GATHER_TIMEOUT, OPUS_CHANNELS, OPUS_CLOCK_RATE, OPUS_FMTP,
    OPUS_PAYLOAD_TYPE,
};

/// Opus as meetdesk negotiates it.
pub fn opus_codec() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "audio/opus".to_owned(),
            clock_rate: OPUS_CLOCK_RATE,
            channels: OPUS_CHANNELS,
            sdp_fmtp_line: OPUS_FMTP.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PAYLOAD_TYPE,
    }
}

/// NAT 1:1: names `public` instead of the bound address in every host candidate (and the
/// `c=` lines). Valid while the NAT forwards the public IP's ports to this machine unchanged.
pub(crate) fn advertise(sdp: &str, public: IpAddr) -> String {
    let family = if public.is_ipv4() { "IP4" } else { "IP6" };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (body, end) = match line.find(['\r', '\n']) {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        if body.starts_with("a=candidate:") && body.contains(" typ host") {
            // candidate:<foundation> <component> <transport> <priority> <address> <port> typ host …
            let mut fields: Vec<String> = body.split(' ').map(str::to_owned).collect();
            if let Some(addr) = fields.get_mut(4) {
                *addr = public.to_string();
            }
            out.push_str(&fields.join(" "));
        } else if body.starts_with("c=IN ") {
            out.push_str(&format!("c=IN {family} {public}"));
        } else {
            out.push_str(body);
        }
        out.push_str(end);
    }
    out
}

/// An audio track we write RTP into, with a fixed SSRC.
pub fn slot_track(stream_id: &str, track_id: &str, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.to_owned(),
        track_id.to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: opus_codec().rtp_codec,
            ..Default::default()
        }],
    )))
}

/// The Opus payload type negotiated on a sender (known once the answer is applied).
pub async fn opus_payload_type(sender: &Arc<dyn RtpSender>) -> Option<u8> {
    let params = sender.get_parameters().await.ok()?;
    params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case("audio/opus"))
        .map(|c| c.payload_type)
}

/// Remote tracks as they open (each is read with `TrackRemote::poll`).
pub type TrackStream = mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>;

struct Events {
    /// Armed before each `set_local_description`; fired when gathering completes.
    gathered: StdMutex<Option<oneshot::Sender<()>>>,
    state: watch::Sender<RTCPeerConnectionState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

/// The driver calls these on its own task: they must not block, so they only signal.
struct Handler(Arc<Events>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let waiter = self.0.gathered.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(tx) = waiter {
                let _ = tx.send(());
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "peer connection state");
        self.0.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.0.tracks.send(track);
    }
}

/// A peer connection with meetdesk's settings. Cheap to share behind an `Arc`.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    events: Arc<Events>,
    state: watch::Receiver<RTCPeerConnectionState>,
    public_ip: Option<IpAddr>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("state", &*self.state.borrow()).finish()
    }
}

impl Peer {
    /// Builds a peer connection (Opus, default interceptors, mDNS off, UDP on
    /// `config.bind_ip`), and the stream of remote tracks it will open.
    pub async fn new(config: &PeerConfig) -> Result<(Peer, TrackStream)> {
        let mut media = MediaEngine::default();
        media.register_codec(opus_codec(), RtpCodecKind::Audio)?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?;

        // NAT 1:1 is applied to the SDP we hand out (`advertise`): webrtc 0.21.1 stores
        // `SettingEngineBuilder::with_nat_1to1_ips` but never reads it.
        let settings = SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::Disabled);
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let configuration = RTCConfigurationBuilder::new().with_ice_servers(ice_servers).build();

        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let events = Arc::new(Events { gathered: StdMutex::new(None), state: state_tx, tracks: tracks_tx });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler(Arc::clone(&events))))
            .with_udp_addrs(vec![SocketAddr::new(config.bind_ip, 0)])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        Ok((Peer { pc, events, state, public_ip: config.public_ip }, tracks))
    }

    /// The underlying connection (transceivers, senders, stats).
    pub fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// Applies a local description and waits until ICE gathering completes, so that the
    /// description returned carries every candidate (no trickle). This is the description to
    /// send to the other side: with a NAT 1:1 public IP, its host candidates name that IP.
    pub async fn set_local_and_gather(&self, desc: RTCSessionDescription) -> Result<RTCSessionDescription> {
        let (tx, rx) = oneshot::channel();
        *self.events.gathered.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.pc.set_local_description(desc).await?;
        if tokio::time::timeout(GATHER_TIMEOUT, rx).await.is_err() {
            return Err(RtcError::GatherTimeout(GATHER_TIMEOUT));
        }
        let mut desc = self.pc.local_description().await.ok_or(RtcError::NoLocalDescription)?;
        if let Some(public) = self.public_ip {
            desc.sdp = advertise(&desc.sdp, public);
        }
        Ok(desc)
    }

    /// Answers a remote offer (first or ICE-restart): applies it, creates the answer, gathers,
    /// and returns the answer's SDP.
    pub async fn answer(&self, offer_sdp: &str) -> Result<String> {
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())?;
        self.pc.set_remote_description(offer).await?;
        let answer = self.pc.create_answer(None).await?;
        Ok(self.set_local_and_gather(answer).await?.sdp)
    }

    pub fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// Follows the connection state.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Waits until the connection is `connected`; fails early if it fails or closes.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut state = self.state.clone();
        let wait = async {
            loop {
                let now = *state.borrow_and_update();
                match now {
                    RTCPeerConnectionState::Connected => return Ok(()),
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        return Err(RtcError::ConnectionLost(now))
                    }
                    _ => {}
                }
                if state.changed().await.is_err() {
                    return Err(RtcError::ConnectionLost(*state.borrow()));
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(RtcError::ConnectTimeout { timeout, last: self.state() }),
        }
    }

    /// Closes the connection (idempotent); its UDP sockets and driver task go away.
    pub async fn close(&self) -> Result<()> {
        self.pc.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn advertise_rewrites_host_candidates_and_connection_lines_only() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n\
                   a=candidate:2 1 udp 1694498815 198.51.100.1 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n\
                   a=ice-ufrag:x\r\n";
        let out = advertise(sdp, "203.0.113.7".parse().unwrap());
        assert_eq!(
            out,
            "v=0\r\nc=IN IP4 203.0.113.7\r\na=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host\r\n\
             a=candidate:2 1 udp 1694498815 198.51.100.1 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n\
             a=ice-ufrag:x\r\n"
        );
    }
}
