//! One device's media in one meet: the connection to the server's SFU and the sound on it.
//!
//! [`Call::start`] takes the sound path ([`Audio`]) and, in a task of its own, holds this
//! device's media connection for as long as the caller keeps the call: offer → the server's
//! answer (`POST /api/meets/{id}/media`), the `meetdesk-rtc` [`ClientPeer`], and what
//! [`meetdesk_rtc::reconnect`] asks for while it runs — ICE restarts on the same connection, a
//! fresh offer when the server lost it or it never connected, giving up. On each connection a
//! media task (`media.rs`) sends the microphone and plays every receive slot. What happens is
//! reported as [`CallEvent`]s ([`Call::next_event`]); [`Call::close`] hands the sound path back.
//!
//! The caller keeps the meet's own life (rings, accept, hang-up, when to start and close a
//! call): the call only knows its meet's id.
//!
//! **Architecture Invariant:** the sound never waits for signalling. HTTP and ICE restarts run
//! in the call's task; the media task only ticks the `meetdesk-media` pipelines; mute and the
//! input level cross between them and the caller through atomics, and the devices' callbacks
//! only touch lock-free rings.

mod media;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meetdesk_media::level::Level;
use meetdesk_media::pipeline::MuteSwitch;
use meetdesk_protocol as p;
use meetdesk_rtc::reconnect::{self, Reconnect, ReconnectPolicy};
use meetdesk_rtc::{ClientPeer, IceServer, RtcError};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use meetdesk_rtc::reconnect::Reoffer;
pub use meetdesk_rtc::{ConnectionState, PeerConfig, SelectedPair};

use self::media::{MediaTask, Note};
use crate::api::{Api, ApiError};
use crate::audio::Audio;

/// Fresh offers (connections) in a row that may fail to connect before the call gives up.
pub const MAX_MEDIA_ATTEMPTS: u32 = 5;
/// The wait before another offer after one the server did not take.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long telling the server that media failed may take.
const MEDIA_FAILED_TIMEOUT: Duration = Duration::from_secs(5);

/// What a call reports, in order.
#[derive(Debug)]
pub enum CallEvent {
    /// The connection is up (the first time, or again after a restart or a fresh offer).
    Connected {
        /// Since the current connection was offered.
        offer_to_connected: Duration,
        /// ICE restarts in this call so far.
        ice_restarts: u32,
        /// The candidate pair ICE selected.
        candidate_pair: Option<SelectedPair>,
    },
    /// A connected connection went down (or a new one failed before it ever connected).
    Disconnected {
        /// `disconnected`, `failed` or `closed`.
        state: ConnectionState,
    },
    /// Restarting ICE on the connection (the policy's `attempt`-th restart of this outage).
    IceRestart {
        /// 1 for the first restart of an outage.
        attempt: u32,
    },
    /// Replacing the connection with a fresh offer.
    Reoffer {
        /// The server lost the connection, or it never connected.
        why: Reoffer,
    },
    /// The first audible packet from a new talker in receive `slot` (which party that is, the
    /// server's `media_slots` event says), at `at_ms` (Unix ms).
    FirstAudio {
        /// The receive slot (`media_slots`' `index`).
        slot: usize,
        /// When it was heard, Unix ms.
        at_ms: i64,
    },
    /// The server answered `ended` or `not_in_meet`: read the meet again, and close the call
    /// if this device is out of it. (The call retries meanwhile.)
    NotInMeet {
        /// The server's error code.
        code: String,
    },
    /// The call gave up, and no event follows. When its media never connected, it now tells
    /// the server so (the meet then ends rather than leave the others waiting):
    /// [`Call::close`] waits for that, and hands the sound path back.
    Failed(CallError),
}

/// Why a call gave up.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // fields: counts and causes
pub enum CallError {
    /// No connection can be made (e.g. relay only and the TURN server refused us).
    #[error("creating the peer connection")]
    CreatePeer(#[source] RtcError),
    /// Offers kept failing.
    #[error("setting up media ({attempts} attempts)")]
    Offer {
        attempts: u32,
        #[source]
        source: OfferError,
    },
    /// Fresh connections kept failing to connect.
    #[error("media did not connect ({0} offers in a row)")]
    NeverConnected(u32),
    /// The connection stayed down (the reconnect policy's limit).
    #[error("the media connection did not come back ({0} ICE restarts)")]
    GaveUp(u32),
    /// The media task panicked (the sound path is lost).
    #[error("the media task failed: {0}")]
    Task(String),
}

/// One offer (fresh or ICE restart) that failed.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // each variant says which step failed
pub enum OfferError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("ICE restart offer")]
    RestartOffer(#[source] RtcError),
    #[error("applying the server's answer")]
    Answer(#[source] RtcError),
}

impl OfferError {
    fn code(&self) -> Option<&str> {
        match self {
            OfferError::Api(e) => e.status().map(|_| e.code()),
            _ => None,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The peer connection's local side for a server at `server_url`: `media_ip` if given, else
/// loopback for a server on loopback (tests, one machine), else every interface; STUN/TURN as
/// the server hands them out (`GET /api/media/config`).
pub fn peer_config(
    server_url: &str,
    media_ip: Option<IpAddr>,
    ice_servers: Vec<p::IceServerView>,
) -> PeerConfig {
    let url = reqwest::Url::parse(server_url).ok();
    let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let bind_ip = media_ip.unwrap_or(match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ok(IpAddr::V6(ip)) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ if host.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    });
    let ice_servers = ice_servers
        .into_iter()
        .map(|s| IceServer { urls: s.urls, username: s.username, credential: s.credential })
        .collect();
    PeerConfig { bind_ip, public_ip: None, ice_servers, relay_only: false, port_range: None }
}

/// The microphone's level, as the media task last measured it (before mute).
#[derive(Debug)]
struct InputLevel([AtomicU32; 4]);

impl InputLevel {
    fn new() -> InputLevel {
        let silent = Level::SILENT;
        let bits = [silent.rms_dbfs, silent.peak_dbfs, silent.smoothed_dbfs, silent.held_peak_dbfs];
        InputLevel(bits.map(|v| AtomicU32::new(v.to_bits())))
    }

    fn set(&self, level: Level) {
        let values = [level.rms_dbfs, level.peak_dbfs, level.smoothed_dbfs, level.held_peak_dbfs];
        for (cell, v) in self.0.iter().zip(values) {
            cell.store(v.to_bits(), Ordering::Relaxed);
        }
    }

    fn get(&self) -> Level {
        let [rms, peak, smoothed, held] =
            [0, 1, 2, 3].map(|i| f32::from_bits(self.0[i].load(Ordering::Relaxed)));
        Level { rms_dbfs: rms, peak_dbfs: peak, smoothed_dbfs: smoothed, held_peak_dbfs: held }
    }
}

enum Cmd {
    RestartIce,
}

/// This device's media in one meet (see the module docs). Dropping it without
/// [`Call::close`] stops the call too, but loses the sound path.
pub struct Call {
    meet_id: String,
    cmd: mpsc::UnboundedSender<Cmd>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    events: mpsc::UnboundedReceiver<CallEvent>,
    mute: MuteSwitch,
    level: Arc<InputLevel>,
    task: JoinHandle<Option<Audio>>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("meet_id", &self.meet_id).field("muted", &self.is_muted()).finish()
    }
}

impl Call {
    /// Starts this device's media in meet `meet_id` (where it must be a present participant)
    /// with `api`'s session, unmuted. Needs a tokio runtime.
    pub fn start(api: Api, meet_id: &str, peer_config: PeerConfig, audio: Audio) -> Call {
        let mute = audio.capture.mute_switch();
        mute.set(false);
        let level = Arc::new(InputLevel::new());
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (notes_tx, notes_rx) = mpsc::unbounded_channel();
        let worker = Worker {
            api,
            meet_id: meet_id.to_owned(),
            peer_config,
            audio: Some(audio),
            conn: None,
            events: events_tx,
            notes: notes_tx,
            level: Arc::clone(&level),
            attempts: 0,
            ice_restarts: 0,
            ever_connected: false,
            retry_at: None,
        };
        let task = tokio::spawn(worker.run(cmd_rx, stop_rx, notes_rx));
        Call { meet_id: meet_id.to_owned(), cmd, stop: Some(stop), events, mute, level, task }
    }

    /// The meet this call is in.
    pub fn meet_id(&self) -> &str {
        &self.meet_id
    }

    /// The next thing that happened; `None` once the call has stopped and all was read.
    /// Cancel-safe (a `select!` branch may drop it).
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Mutes or unmutes the microphone (silence is sent; the level still shows talking).
    pub fn set_muted(&self, muted: bool) {
        self.mute.set(muted);
    }

    /// Muted now?
    pub fn is_muted(&self) -> bool {
        self.mute.is_muted()
    }

    /// The microphone's level (measured before mute), for a meter.
    pub fn input_level(&self) -> Level {
        self.level.get()
    }

    /// Restarts ICE now, as after a network change (then the reconnect policy as usual).
    pub fn restart_ice(&self) {
        let _ = self.cmd.send(Cmd::RestartIce);
    }

    /// Stops sending and playing and closes the connection (after any request in flight);
    /// returns the sound path for the next call.
    pub async fn close(mut self) -> Result<Audio, CallError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Some(audio)) => Ok(audio),
            Ok(None) => Err(CallError::Task("the sound path was lost".to_owned())),
            Err(e) => Err(CallError::Task(e.to_string())),
        }
    }
}

/// One media connection of the call.
struct Conn {
    peer: Arc<ClientPeer>,
    task: Option<MediaTask>,
    state: watch::Receiver<ConnectionState>,
    offered_at: Instant,
    /// As last reported (`Connected` / `Disconnected` events).
    connected: bool,
    /// When to restart ICE, offer afresh or give up.
    reconnect: Reconnect,
}

/// The call's task.
struct Worker {
    api: Api,
    meet_id: String,
    peer_config: PeerConfig,
    /// The sound path while no media task holds it.
    audio: Option<Audio>,
    conn: Option<Conn>,
    events: mpsc::UnboundedSender<CallEvent>,
    notes: mpsc::UnboundedSender<Note>,
    level: Arc<InputLevel>,
    /// Offers since the last time a connection connected.
    attempts: u32,
    ice_restarts: u32,
    ever_connected: bool,
    retry_at: Option<Instant>,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn changed(rx: &mut Option<watch::Receiver<ConnectionState>>) {
    if let Some(rx) = rx {
        if rx.changed().await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

impl Worker {
    async fn run(
        mut self,
        mut cmd_rx: mpsc::UnboundedReceiver<Cmd>,
        mut stop_rx: tokio::sync::oneshot::Receiver<()>,
        mut notes_rx: mpsc::UnboundedReceiver<Note>,
    ) -> Option<Audio> {
        let mut result = self.start_media().await;
        while result.is_ok() {
            let mut state_rx = self.conn.as_ref().map(|c| c.state.clone());
            let reconnect_at = self.conn.as_ref().and_then(|c| c.reconnect.poll_timeout()).map(|(at, _)| at);
            let deadline = [self.retry_at, reconnect_at].into_iter().flatten().min();
            result = tokio::select! {
                _ = &mut stop_rx => break,
                Some(Cmd::RestartIce) = cmd_rx.recv() => {
                    if let Some(conn) = &mut self.conn {
                        conn.reconnect.handle(Instant::now(), reconnect::Input::RestartNow);
                    }
                    self.drive_reconnect().await
                }
                Some(note) = notes_rx.recv() => {
                    match note {
                        Note::FirstAudio { slot, at_ms } => self.report(CallEvent::FirstAudio { slot, at_ms }),
                        Note::PeerClosed => tracing::debug!("the peer connection delivers no more packets"),
                    }
                    Ok(())
                }
                _ = changed(&mut state_rx) => self.on_connection_state().await,
                _ = sleep_until(deadline) => self.on_timers().await,
            };
        }
        if let Err(e) = result {
            let tell_server =
                matches!(e, CallError::CreatePeer(_) | CallError::NeverConnected(_) | CallError::GaveUp(_));
            // Reported first, so that the caller hears why before the meet ends.
            self.report(CallEvent::Failed(e));
            if tell_server {
                self.report_media_failed().await;
            }
        }
        match self.drop_connection().await {
            Ok(()) => self.audio,
            Err(e) => {
                tracing::warn!(meet_id = %self.meet_id, "{e}");
                None
            }
        }
    }

    fn report(&self, event: CallEvent) {
        // The caller may have stopped listening (it is closing the call): nothing to do.
        let _ = self.events.send(event);
    }

    fn media_path(&self) -> String {
        format!("/api/meets/{}/media", self.meet_id)
    }

    /// Tells the server this meet's media failed, when it never connected (so the others are
    /// not left waiting), within [`MEDIA_FAILED_TIMEOUT`].
    /// (`&mut`: the worker holds the sound path, which is `Send` but not `Sync`.)
    async fn report_media_failed(&mut self) {
        if self.ever_connected {
            return;
        }
        let (path, body) = (format!("/api/meets/{}/media-failed", self.meet_id), json!({}));
        let told = self.api.post::<p::MeetView>(&path, &body);
        let _ = tokio::time::timeout(MEDIA_FAILED_TIMEOUT, told).await;
    }

    /// A fresh connection: offer, the server's answer, and the media task on it.
    async fn start_media(&mut self) -> Result<(), CallError> {
        self.attempts += 1;
        self.retry_at = None;
        let offered_at = Instant::now();
        let peer = match ClientPeer::new(&self.peer_config).await {
            Ok(peer) => peer,
            Err(e) => return Err(CallError::CreatePeer(e)),
        };
        let (api, path) = (self.api.clone(), self.media_path());
        let result = async {
            let answer: p::MediaAnswer =
                api.post(&path, &json!({"sdp": peer.offer(), "restart": false})).await?;
            peer.accept_answer(&answer.sdp).await.map_err(OfferError::Answer)?;
            Ok::<(), OfferError>(())
        }
        .await;
        match result {
            Ok(()) => {
                let peer = Arc::new(peer);
                let Some(audio) = self.audio.take() else {
                    return Err(CallError::Task("the sound path is held by another connection".to_owned()));
                };
                let level = Arc::clone(&self.level);
                let task = MediaTask::start(audio, Arc::clone(&peer), self.notes.clone(), level);
                let state = peer.peer().watch_state();
                self.conn = Some(Conn {
                    peer,
                    task: Some(task),
                    state,
                    offered_at,
                    connected: false,
                    reconnect: Reconnect::new(ReconnectPolicy::default(), Instant::now()),
                });
                Ok(())
            }
            Err(e) => {
                let _ = peer.close().await;
                match e.code() {
                    Some(code @ ("ended" | "not_in_meet")) => {
                        self.report(CallEvent::NotInMeet { code: code.to_owned() });
                        self.retry_at = Some(Instant::now() + RETRY_AFTER);
                        Ok(())
                    }
                    _ if self.attempts >= MAX_MEDIA_ATTEMPTS => {
                        Err(CallError::Offer { attempts: self.attempts, source: e })
                    }
                    _ => {
                        let e = anyhow_like(&e);
                        tracing::warn!(meet_id = %self.meet_id, "setting up media failed, retrying: {e}");
                        self.retry_at = Some(Instant::now() + RETRY_AFTER);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Stops the media task (taking the sound path back) and closes the connection.
    async fn drop_connection(&mut self) -> Result<(), CallError> {
        let Some(conn) = self.conn.take() else { return Ok(()) };
        if let Some(task) = conn.task {
            self.audio = Some(task.stop().await.map_err(|e| CallError::Task(e.to_string()))?);
        }
        if let Err(e) = conn.peer.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        Ok(())
    }

    async fn on_connection_state(&mut self) -> Result<(), CallError> {
        let Some(conn) = &mut self.conn else { return Ok(()) };
        let state = *conn.state.borrow_and_update();
        let now = Instant::now();
        match state {
            ConnectionState::Connected if !conn.connected => {
                let pair = conn.peer.peer().selected_pair().await;
                conn.connected = true;
                self.attempts = 0;
                self.ever_connected = true;
                let event = CallEvent::Connected {
                    offer_to_connected: conn.offered_at.elapsed(),
                    ice_restarts: self.ice_restarts,
                    candidate_pair: pair,
                };
                let _ = self.events.send(event);
            }
            ConnectionState::Disconnected | ConnectionState::Failed | ConnectionState::Closed => {
                let was = std::mem::replace(&mut conn.connected, false);
                let first_failure =
                    !conn.reconnect.ever_connected() && state != ConnectionState::Disconnected;
                if was || (first_failure && conn.reconnect.attempts() == 0) {
                    let _ = self.events.send(CallEvent::Disconnected { state });
                }
            }
            _ => {}
        }
        conn.reconnect.handle(now, reconnect::Input::State(state));
        self.drive_reconnect().await
    }

    /// Does what the reconnect policy asks for, until it asks for nothing more.
    async fn drive_reconnect(&mut self) -> Result<(), CallError> {
        loop {
            let Some(conn) = &mut self.conn else { return Ok(()) };
            let Some(action) = conn.reconnect.poll_action() else { return Ok(()) };
            match action {
                reconnect::Action::RestartIce { attempt } => self.restart_ice(attempt).await,
                reconnect::Action::Reoffer(why) => {
                    // The server dropped this device's connection, or it never connected.
                    self.report(CallEvent::Reoffer { why });
                    if self.attempts >= MAX_MEDIA_ATTEMPTS {
                        return Err(CallError::NeverConnected(self.attempts));
                    }
                    self.drop_connection().await?;
                    return self.start_media().await;
                }
                reconnect::Action::GiveUp { .. } => return Err(CallError::GaveUp(self.ice_restarts)),
            }
        }
    }

    /// ICE restart on the same connection. A server that no longer has the connection is
    /// reported to the reconnect policy (which then asks for a fresh offer); other failures
    /// wait for the policy's next restart.
    async fn restart_ice(&mut self, attempt: u32) {
        let Some(conn) = &self.conn else { return };
        self.ice_restarts += 1;
        self.report(CallEvent::IceRestart { attempt });
        let peer = Arc::clone(&conn.peer);
        let (api, path) = (self.api.clone(), self.media_path());
        let result = async move {
            let offer = peer.restart_ice().await.map_err(OfferError::RestartOffer)?;
            let answer: p::MediaAnswer = api.post(&path, &json!({"sdp": offer, "restart": true})).await?;
            peer.accept_answer(&answer.sdp).await.map_err(OfferError::Answer)?;
            Ok::<(), OfferError>(())
        }
        .await;
        let Err(e) = result else { return };
        match e.code() {
            Some("no_media_connection") => {
                if let Some(conn) = &mut self.conn {
                    conn.reconnect.handle(Instant::now(), reconnect::Input::ServerLostConnection);
                }
            }
            Some(code @ ("ended" | "not_in_meet")) => {
                self.report(CallEvent::NotInMeet { code: code.to_owned() });
            }
            _ => tracing::warn!(meet_id = %self.meet_id, "ICE restart failed: {}", anyhow_like(&e)),
        }
    }

    async fn on_timers(&mut self) -> Result<(), CallError> {
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| t <= now) {
            return self.start_media().await;
        }
        let Some(conn) = &mut self.conn else { return Ok(()) };
        if conn.reconnect.poll_timeout().is_some_and(|(at, _)| at <= now) {
            conn.reconnect.handle_timeout(now);
            return self.drive_reconnect().await;
        }
        Ok(())
    }
}

/// An error with its causes, `a: b: c` (as `anyhow`'s `{:#}`), for log lines.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn media_binds_loopback_for_a_local_server() {
        let cfg = peer_config("http://127.0.0.1:1", None, vec![]);
        assert_eq!(cfg.bind_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let cfg = peer_config("http://localhost:1", None, vec![]);
        assert_eq!(cfg.bind_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let cfg = peer_config("http://[::1]:1", None, vec![]);
        assert_eq!(cfg.bind_ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let cfg = peer_config("https://meet.example.com", None, vec![]);
        assert_eq!(cfg.bind_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let cfg = peer_config("https://meet.example.com", Some("10.1.2.3".parse().unwrap()), vec![]);
        assert_eq!(cfg.bind_ip, "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_input_level_crosses_as_it_was_set() {
        let cell = InputLevel::new();
        assert_eq!(cell.get(), Level::SILENT);
        let l = Level { rms_dbfs: -20.5, peak_dbfs: -3.0, smoothed_dbfs: -21.0, held_peak_dbfs: -2.5 };
        cell.set(l);
        assert_eq!(cell.get(), l);
    }

    #[test]
    fn error_chains_read_like_anyhows() {
        let e = CallError::CreatePeer(RtcError::NoFreePort(
            meetdesk_rtc::PortRange::new(1, 2).unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ));
        assert!(anyhow_like(&e).starts_with("creating the peer connection: "), "{}", anyhow_like(&e));
    }
}
