//! One peer connection with meetdesk's settings, and the events the rest of the code waits for
//! (gathering complete, connection state, remote tracks).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState, RTCIceServer,
    RTCIceTransportPolicy, RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

use crate::{
    ConnectionState, PeerConfig, PortRange, Result, RtcError, SelectedPair, GATHER_TIMEOUT,
    ICE_CHECK_ATTEMPTS, ICE_CHECK_INTERVAL, ICE_DISCONNECTED_TIMEOUT, ICE_FAILED_TIMEOUT,
    ICE_KEEPALIVE_INTERVAL, OPUS_CHANNELS, OPUS_CLOCK_RATE, OPUS_FMTP, OPUS_PAYLOAD_TYPE,
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

/// Which interceptors a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interceptors {
    /// webrtc's defaults: NACK, RTCP reports, TWCC receiver side (feedback every 100 ms).
    Default,
    /// RTCP sender/receiver reports only, and no TWCC header extension in the SDP: the SFU
    /// (it estimates no bandwidth and, for Opus, nobody negotiates NACK).
    ReportsOnly,
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
    relay_only: bool,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("state", &*self.state.borrow()).finish()
    }
}

impl Peer {
    /// Builds a peer connection (Opus, default interceptors, mDNS off, UDP on
    /// `config.bind_ip`, on a port of `config.port_range` when set), and the stream of remote
    /// tracks it will open. Fails with [`RtcError::NoFreePort`] when every port of the range
    /// is taken.
    pub async fn new(config: &PeerConfig) -> Result<(Peer, TrackStream)> {
        Peer::with_interceptors(config, Interceptors::Default).await
    }

    /// As [`Peer::new`], with the interceptors given.
    pub(crate) async fn with_interceptors(
        config: &PeerConfig,
        interceptors: Interceptors,
    ) -> Result<(Peer, TrackStream)> {
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let events = Arc::new(Events { gathered: StdMutex::new(None), state: state_tx, tracks: tracks_tx });
        let pc = match config.port_range {
            None => build(config, &events, 0, interceptors).await?,
            Some(range) => build_in_range(config, &events, range, interceptors).await?,
        };
        Ok((Peer { pc, events, state, public_ip: config.public_ip, relay_only: config.relay_only }, tracks))
    }

    /// The underlying connection (transceivers, senders, stats).
    pub fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// Adds a transceiver that sends `track` (`direction`: sendrecv or sendonly) and returns
    /// its sender.
    pub async fn add_sending_track(
        &self,
        track: &Arc<TrackLocalStaticRTP>,
        direction: RTCRtpTransceiverDirection,
    ) -> Result<Arc<dyn RtpSender>> {
        let init = RTCRtpTransceiverInit { direction, streams: vec![], send_encodings: vec![] };
        let transceiver =
            self.pc.add_transceiver_from_track(Arc::clone(track) as Arc<dyn TrackLocal>, Some(init)).await?;
        transceiver.sender().await?.ok_or(RtcError::NoSender)
    }

    /// Applies a local description and waits until ICE gathering completes, so that the
    /// description returned carries every candidate (no trickle). This is the description to
    /// send to the other side: with a NAT 1:1 public IP, its host candidates name that IP.
    /// Relay only, it fails with [`RtcError::NoRelayCandidate`] when TURN gave no candidate
    /// (gathering completes all the same when the allocation is refused).
    pub async fn set_local_and_gather(&self, desc: RTCSessionDescription) -> Result<RTCSessionDescription> {
        let (tx, rx) = oneshot::channel();
        *self.events.gathered.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.pc.set_local_description(desc).await?;
        if tokio::time::timeout(GATHER_TIMEOUT, rx).await.is_err() {
            return Err(RtcError::GatherTimeout(GATHER_TIMEOUT));
        }
        let mut desc = self.pc.local_description().await.ok_or(RtcError::NoLocalDescription)?;
        if self.relay_only
            && !desc.sdp.lines().any(|l| l.starts_with("a=candidate:") && l.contains(" typ relay"))
        {
            return Err(RtcError::NoRelayCandidate);
        }
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

    /// The candidate pair ICE selected (`None` before it selected one). Every m-line shares
    /// one transport (BUNDLE), so the first sender's or receiver's transport tells.
    pub async fn selected_pair(&self) -> Option<SelectedPair> {
        let transport = match self.pc.get_senders().await.first() {
            Some(sender) => sender.transport().await.ok().flatten(),
            None => None,
        };
        let transport = match transport {
            Some(t) => t,
            None => self.pc.get_receivers().await.first()?.transport().await.ok().flatten()?,
        };
        let pair = transport.ice_transport().get_selected_candidate_pair().await.ok().flatten()?;
        let (local, remote) = (pair.local(), pair.remote());
        Some(SelectedPair {
            local_type: local.typ.to_string(),
            local_address: format!("{}:{}", local.address, local.port),
            remote_type: remote.typ.to_string(),
            remote_address: format!("{}:{}", remote.address, remote.port),
        })
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

/// Builds the connection with meetdesk's settings, its UDP socket on `config.bind_ip:port` (0:
/// an ephemeral port).
async fn build(
    config: &PeerConfig,
    events: &Arc<Events>,
    port: u16,
    interceptors: Interceptors,
) -> Result<Arc<dyn PeerConnection>> {
    let mut media = MediaEngine::default();
    media.register_codec(opus_codec(), RtpCodecKind::Audio)?;
    let registry = match interceptors {
        Interceptors::Default => register_default_interceptors(Registry::new(), &mut media)?,
        Interceptors::ReportsOnly => configure_rtcp_reports(Registry::new()),
    };

    // NAT 1:1 is applied to the SDP we hand out (`advertise`): webrtc 0.21.1 stores
    // `SettingEngineBuilder::with_nat_1to1_ips` but never reads it.
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_ice_timeouts(
            Some(ICE_DISCONNECTED_TIMEOUT),
            Some(ICE_FAILED_TIMEOUT),
            Some(ICE_KEEPALIVE_INTERVAL),
        )
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_CHECK_ATTEMPTS));
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    let policy = if config.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
    let configuration = RTCConfigurationBuilder::new()
        .with_ice_servers(ice_servers)
        .with_ice_transport_policy(policy)
        .build();

    let pc = PeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_media_engine(media)
        .with_setting_engine(settings.build())
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler(Arc::clone(events))))
        .with_udp_addrs(vec![SocketAddr::new(config.bind_ip, port)])
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// Where the next search of a port range starts (an offset into the range), so that
/// consecutive connections do not probe the same taken ports first.
static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);

/// Builds the connection on the first free port of `range`. A port is probed with a plain bind
/// first (cheap, and the stack would log an error for each taken one); one taken between the
/// probe and the stack's own bind fails the build, and the next port is tried.
async fn build_in_range(
    config: &PeerConfig,
    events: &Arc<Events>,
    range: PortRange,
    interceptors: Interceptors,
) -> Result<Arc<dyn PeerConnection>> {
    let mut races = 0;
    for port in range.rotated(NEXT_PORT.load(Ordering::Relaxed)) {
        if std::net::UdpSocket::bind(SocketAddr::new(config.bind_ip, port)).is_err() {
            continue;
        }
        match build(config, events, port, interceptors).await {
            Ok(pc) => {
                NEXT_PORT.store(usize::from(port - range.start()) + 1, Ordering::Relaxed);
                return Ok(pc);
            }
            // Three races in a row are no race: the build itself fails.
            Err(e) if races >= 2 => return Err(e),
            Err(e) => {
                races += 1;
                tracing::debug!(port, error = %e, "media port taken meanwhile; trying the next");
            }
        }
    }
    Err(RtcError::NoFreePort(range, config.bind_ip))
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
