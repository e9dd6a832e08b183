//! WebRTC for meetdesk, on `webrtc` 0.21 (an async layer over the sans-IO `rtc` crate), for both
//! ends of a meet's audio: the server's SFU answers, clients (the desktop app, tests) offer.
//!
//! # The slot layout
//!
//! Every participant device holds **one** peer connection to the server's media router, made
//! of `1 + MAX_REMOTE` audio m-lines, in this order:
//!
//! | m-line | client direction | carries |
//! |---|---|---|
//! | 0 | `sendrecv` (negotiated to send) | the device's own microphone |
//! | 1 ..= [`MAX_REMOTE`] | `recvonly` | *slot* `0 ..` [`MAX_REMOTE`]`-1`: one other participant each |
//!
//! The server tells each device which participant it put in which slot (the `media_slots`
//! event). A slot freed by someone leaving is reused for the next one; the server keeps the
//! slot's RTP sequence numbers and timestamps continuous across that. With [`MAX_REMOTE`] = 7 a
//! meet carries up to [`MAX_PARTICIPANTS`] = 8 speakers (P6: "at least 8"); all slots are
//! negotiated up front, so joining and leaving never renegotiate.
//!
//! Signalling is not trickled: each side waits for ICE gathering to complete, so the offer and
//! the answer carry all their candidates ([`Peer::set_local_and_gather`]).
//!
//! # Settings every peer gets ([`Peer::new`])
//! - Opus only: 48 kHz, 2 channels in SDP as browsers expect, `minptime=10;useinbandfec=1`,
//!   payload type [`OPUS_PAYLOAD_TYPE`] when we offer (an answer follows the offer's numbers).
//! - The default interceptors (NACK, RTCP reports, TWCC receiver side); the server's end runs
//!   RTCP reports only ([`ServerPeer`]).
//! - mDNS disabled: its default mode opens a multicast socket, which fails on machines without a
//!   multicast route, and loopback candidates must be plain IPs anyway.
//! - UDP bound to one IP ([`PeerConfig::bind_ip`]; a wildcard binds every non-loopback
//!   interface), optional NAT 1:1 public IP (advertised *instead of* the private one), optional
//!   STUN/TURN servers, optionally relay candidates only ([`PeerConfig::relay_only`]);
//!   optionally its port from a fixed range ([`PeerConfig::port_range`], the next free one).
//! - ICE notices a broken path fast and keeps trying long: `disconnected` after
//!   [`ICE_DISCONNECTED_TIMEOUT`] without a STUN message, consent checks every
//!   [`ICE_KEEPALIVE_INTERVAL`], connectivity checks every [`ICE_CHECK_INTERVAL`] for
//!   [`ICE_CHECK_ATTEMPTS`] tries per pair. When to restart ICE is [`reconnect`]'s business.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

mod client;
mod peer;
mod ports;
pub mod reconnect;
mod server;

pub use client::{ClientPeer, Received};
pub use peer::{opus_codec, opus_payload_type, slot_track, Peer, TrackStream};
pub use ports::{PortRange, PortRangeError};
pub use server::{Mic, OnPacket, ServerPeer};

/// RTP packets as sent and received (`rtc::rtp`).
pub use rtc::rtp;
/// Connection states as reported by [`Peer::state`].
pub use webrtc::peer_connection::RTCPeerConnectionState as ConnectionState;

/// Receive slots per peer connection: how many *other* participants one device hears.
pub const MAX_REMOTE: usize = 7;
/// Largest meet whose every participant hears every other one.
pub const MAX_PARTICIPANTS: usize = MAX_REMOTE + 1;
/// Audio m-lines of a meetdesk offer: the microphone plus the slots.
pub const AUDIO_MLINES: usize = 1 + MAX_REMOTE;

/// Opus's payload type in offers made here (browsers use the same number).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;
pub const OPUS_CLOCK_RATE: u32 = 48_000;
/// Opus is always described as 2 channels in SDP (RFC 7587), whatever is actually sent.
pub const OPUS_CHANNELS: u16 = 2;
pub const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";
/// RTP timestamp units in one 20 ms Opus frame.
pub const SAMPLES_PER_20MS: u32 = OPUS_CLOCK_RATE / 50;

/// How long [`Peer::set_local_and_gather`] waits for ICE gathering. Host candidates take
/// milliseconds; STUN/TURN round trips are what this bounds.
pub const GATHER_TIMEOUT: Duration = Duration::from_secs(10);

/// ICE calls a connection `disconnected` after this long without a STUN message from the other
/// side (webrtc's default: 5 s; media does not count). Consent checks go both ways every
/// [`ICE_KEEPALIVE_INTERVAL`], so about eight are due in that time: losing all of them is a
/// broken path, not a lossy one (1 s was too short at 10 % loss on a busy machine).
pub const ICE_DISCONNECTED_TIMEOUT: Duration = Duration::from_secs(2);
/// … and `failed` this long after that (webrtc's default).
pub const ICE_FAILED_TIMEOUT: Duration = Duration::from_secs(25);
/// Consent checks (STUN binding requests) on the selected pair this often (default: 2 s):
/// what tells a link that came back when no media flows yet.
pub const ICE_KEEPALIVE_INTERVAL: Duration = Duration::from_millis(500);
/// Connectivity checks on each candidate pair this often (webrtc's default: 200 ms). The
/// controlling side nominates a pair that answered at its *next* check, so this interval is
/// most of the time from offer/answer to `connected` (~210 ms at 200 ms, ~30 ms at 20 ms).
/// Faster than RFC 8445's default pacing (Ta = 50 ms) but cheap: a meet's connection has one
/// or two pairs, checked only until one is selected …
pub const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// … this many times before the pair counts as failed (default: 7). 5 s of checks outlast
/// the longest wait between two ICE restarts ([`reconnect`]), so a link that returns during
/// an outage always meets a restart that is still checking.
pub const ICE_CHECK_ATTEMPTS: u16 = 250;

/// A STUN or TURN server, as handed to browsers (`RTCIceServer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// Where a peer connection's media sockets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The IP to bind UDP sockets on (port chosen per connection). `0.0.0.0` / `::` bind every
    /// non-loopback interface; `127.0.0.1` binds loopback only (tests).
    pub bind_ip: IpAddr,
    /// NAT 1:1: advertise this IP as the host candidate instead of the bound one (a server
    /// behind a cloud provider's static NAT).
    pub public_ip: Option<IpAddr>,
    pub ice_servers: Vec<IceServer>,
    /// ICE transport policy `relay` (a browser's `iceTransportPolicy: "relay"`): gather and
    /// use only TURN relay candidates, never the bound address. Needs a `turn:` server in
    /// `ice_servers`; an offer without a relay candidate fails with
    /// [`RtcError::NoRelayCandidate`].
    pub relay_only: bool,
    /// Bind the UDP socket on a port of this range (the first free one, from a rotating
    /// start) instead of an ephemeral port: a firewall then opens just the range.
    pub port_range: Option<PortRange>,
}

impl PeerConfig {
    /// Loopback only, no NAT, no STUN/TURN: peers in one machine (tests).
    pub fn loopback() -> PeerConfig {
        PeerConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_ip: None,
            ice_servers: Vec::new(),
            relay_only: false,
            port_range: None,
        }
    }
}

/// What can go wrong here.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("ICE gathering did not complete within {0:?}")]
    GatherTimeout(Duration),
    #[error("no local description after negotiation")]
    NoLocalDescription,
    #[error("the offer does not have meetdesk's slot layout: {0}")]
    BadOffer(String),
    #[error("Opus was not negotiated")]
    NoOpus,
    #[error("a transceiver came without its sender")]
    NoSender,
    #[error("the peer connection did not connect within {timeout:?} (last state: {last})")]
    ConnectTimeout { timeout: Duration, last: ConnectionState },
    #[error("the peer connection failed or closed (state: {0})")]
    ConnectionLost(ConnectionState),
    #[error(
        "relay-only ICE gathered no relay candidate: the TURN server refused the allocation \
         (wrong username or credential?) or did not answer"
    )]
    NoRelayCandidate,
    #[error("no free UDP port in the media port range {0} on {1}")]
    NoFreePort(PortRange, IpAddr),
}

/// The candidate pair ICE selected, as `getStats` names candidate types: `host`, `srflx`,
/// `prflx` or `relay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedPair {
    pub local_type: String,
    pub local_address: String,
    pub remote_type: String,
    pub remote_address: String,
}

pub type Result<T> = std::result::Result<T, RtcError>;

/// Checks that an offer has the slot layout: at least [`AUDIO_MLINES`] audio m-lines, the first
/// one sending, the next [`MAX_REMOTE`] receiving. Other m-lines after them are ignored (they
/// are answered as the stack answers them, and nothing is sent on them).
pub fn validate_offer(sdp: &str) -> Result<()> {
    let desc = webrtc::peer_connection::RTCSessionDescription::offer(sdp.to_owned())
        .map_err(|e| RtcError::BadOffer(format!("unreadable SDP: {e}")))?;
    let parsed = desc.unmarshal().map_err(|e| RtcError::BadOffer(format!("unreadable SDP: {e}")))?;
    let audio: Vec<_> = parsed.media_descriptions.iter().filter(|m| m.media_name.media == "audio").collect();
    if audio.len() < AUDIO_MLINES {
        return Err(RtcError::BadOffer(format!(
            "{} audio m-lines; expected {AUDIO_MLINES} (1 microphone + {MAX_REMOTE} receive slots)",
            audio.len()
        )));
    }
    let direction = |m: &&rtc::sdp::MediaDescription| {
        ["sendrecv", "sendonly", "recvonly", "inactive"]
            .into_iter()
            .find(|d| m.attribute(d).is_some())
            .unwrap_or("sendrecv")
    };
    if !matches!(direction(&audio[0]), "sendrecv" | "sendonly") {
        return Err(RtcError::BadOffer("the first audio m-line must send (the microphone)".into()));
    }
    for (i, m) in audio.iter().enumerate().take(AUDIO_MLINES).skip(1) {
        if !matches!(direction(m), "recvonly" | "sendrecv") {
            return Err(RtcError::BadOffer(format!("audio m-line {i} must receive (slot {})", i - 1)));
        }
    }
    let opus = |m: &&rtc::sdp::MediaDescription| {
        m.attributes.iter().any(|a| {
            a.key == "rtpmap"
                && a.value.as_deref().is_some_and(|v| v.to_ascii_lowercase().contains(" opus/48000"))
        })
    };
    if !audio.iter().take(AUDIO_MLINES).all(opus) {
        return Err(RtcError::NoOpus);
    }
    Ok(())
}
