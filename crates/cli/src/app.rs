//! The client's life: sign in (or resume), open the event socket, ring / answer / start a
//! meet, and while this device is a present participant of an active meet, hold a
//! [`meetdesk_client::call::Call`] in it (its media connection: offer → answer, ICE restarts,
//! a fresh offer when the server lost it); leave when the meet ends or this device hangs up.
//! Everything that happens is printed as a JSON line (`out`).
//!
//! One loop ([`App::run`]) reacts to events, the call's events, timers (hang-up, mute, invite)
//! and signals; sound never waits for it (the call runs on its own).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use meetdesk_client::api::Api;
use meetdesk_client::audio::{self, Audio, AudioSetup};
use meetdesk_client::call::{self, Call, CallError, CallEvent, PeerConfig, Reoffer};
use meetdesk_client::events::{self, SocketConfig, SocketMsg};
use meetdesk_protocol::{self as p, EventBody, MeetState};
use serde_json::{json, Value};

use crate::out::{emit, emit_at, now_ms};

/// The event socket: 60 s of silence is a dead connection; reconnects back off up to 5 s.
const SOCKET: SocketConfig = SocketConfig {
    silence_limit: Duration::from_secs(60),
    backoff_min: Duration::from_millis(250),
    backoff_max: Duration::from_secs(5),
};
/// Exit code after SIGINT / SIGTERM.
const INTERRUPTED: u8 = 130;

/// How this client signs in.
pub enum Login {
    Agent { email: String, password: String },
    Customer { link: String },
}

/// What to do once signed in.
#[derive(Debug, Clone)]
pub enum Start {
    /// Wait for rings.
    Wait,
    /// Start a meet (agent).
    Call(p::MeetTarget),
    /// Join a meet going on (agent).
    Join(String),
    /// Press Meet in a chat (customer).
    CustomerMeet { chat_id: Option<String> },
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub answer_auto: bool,
    pub start: Start,
    pub invite: Option<(String, Duration)>,
    pub hangup_after: Option<Duration>,
    pub mute_after: Option<Duration>,
    /// Diagnostics: an ICE restart this long after the media first connected.
    pub ice_restart_after: Option<Duration>,
    pub exit_after_meet: bool,
}

/// A customer link, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Link {
    Resume { token: String },
    Meet { meet_id: String, token: String },
}

fn parse_link(link: &str) -> anyhow::Result<Link> {
    let url = reqwest::Url::parse(link.trim()).with_context(|| format!("{link:?} is not a URL"))?;
    let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if let Some(token) = query("resume").filter(|t| !t.is_empty()) {
        return Ok(Link::Resume { token });
    }
    let segments: Vec<&str> =
        url.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    if let (Some(token), [.., "m", meet_id]) = (query("t").filter(|t| !t.is_empty()), segments.as_slice()) {
        return Ok(Link::Meet { meet_id: (*meet_id).to_owned(), token });
    }
    bail!("{link:?} is neither a resume link (…/demo?resume=TOKEN) nor a meet link (…/m/MEET_ID?t=TOKEN)")
}

/// Who this device is.
#[derive(Debug, Clone)]
enum Who {
    Agent { id: String },
    Customer { id: String, chats: Vec<p::ChatView> },
}

/// Signs in, runs until the meet ends (or forever with `exit_after_meet` off), writes the
/// recording. Returns the exit code. With `audio_clock`, prints the WAV device's tick 0
/// (`audio_clock`, see [`audio::Devices::wav_tick0`]).
pub async fn run(
    server: &str,
    login: Login,
    plan: Plan,
    setup: &AudioSetup,
    audio_clock: bool,
    media_ip: Option<IpAddr>,
    relay_only: bool,
) -> anyhow::Result<u8> {
    let url = reqwest::Url::parse(server).with_context(|| format!("--server {server:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--server {server:?}: expected an http:// or https:// URL");
    }
    // A link is checked before anything is opened.
    let link = match &login {
        Login::Customer { link } => Some(parse_link(link)?),
        Login::Agent { .. } => None,
    };
    let (audio, devices) = audio::open(setup)?;
    if let Some(tick0) = devices.wav_tick0().filter(|_| audio_clock) {
        let unix_us = tick0.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        emit("audio_clock", None, json!({ "tick0_unix_us": unix_us }));
    }
    let result = async {
        let anonymous = Api::new(server)?;
        let (api, device_id, who, opened) = match (login, link) {
            (Login::Agent { email, password }, _) => {
                let s: p::SessionResponse = anonymous
                    .post(
                        "/api/auth/sign-in",
                        &json!({"email": email, "password": password, "device_name": "meetdesk-cli"}),
                    )
                    .await
                    .context("signing in")?;
                (anonymous.with_token(&s.token), s.device_id, Who::Agent { id: s.agent.id }, None)
            }
            (Login::Customer { .. }, Some(Link::Resume { token })) => {
                let s: p::CustomerSessionResponse = anonymous
                    .post("/api/widget/resume", &json!({ "token": token }))
                    .await
                    .context("resuming the chat from the link")?;
                (
                    anonymous.with_token(&s.token),
                    s.device_id,
                    Who::Customer { id: s.customer.id, chats: s.chats },
                    None,
                )
            }
            (Login::Customer { .. }, Some(Link::Meet { meet_id, token })) => {
                let s: p::CustomerSessionResponse = anonymous
                    .post(&format!("/api/meets/{meet_id}/open-link"), &json!({ "token": token }))
                    .await
                    .context("opening the meet link")?;
                let meet = s.meet.context("the server opened the link but sent no meet")?;
                (
                    anonymous.with_token(&s.token),
                    s.device_id,
                    Who::Customer { id: s.customer.id, chats: s.chats },
                    Some(meet),
                )
            }
            (Login::Customer { .. }, None) => bail!("no link"),
        };
        let config: p::MediaConfigView =
            api.get("/api/media/config").await.context("reading the media config")?;
        let mut peer_config = call::peer_config(server, media_ip, config.ice_servers);
        peer_config.relay_only = relay_only;
        let app = App {
            api,
            device_id,
            who,
            plan,
            peer_config,
            audio: Some(audio),
            meet: None,
            opened,
            ready: false,
            rung: HashSet::new(),
            exit: None,
        };
        app.run().await
    }
    .await;
    let finished = devices.finish();
    let code = result?;
    finished?;
    Ok(code)
}

/// The meet this device is in (or calling, or answering).
struct Current {
    id: String,
    view: p::MeetView,
    /// When this device's part in the meet began (answered, joined, or its call answered).
    accepted_at: Option<Instant>,
    was_present: bool,
    /// This device's media in the meet, while it is a present participant of the active meet.
    call: Option<Call>,
    first_connected: Option<Instant>,
    hangup_at: Option<Instant>,
    mute_at: Option<Instant>,
    invite_at: Option<Instant>,
    restart_ice_at: Option<Instant>,
    slots: Vec<p::MediaSlot>,
    /// First audio heard in a slot whose party the server has not named yet: reported (with
    /// the time it was heard) once a `media_slots` event names it.
    pending_audio: Vec<(usize, i64, Value)>,
}

impl Current {
    fn new(view: p::MeetView) -> Current {
        Current {
            id: view.id.clone(),
            view,
            accepted_at: None,
            was_present: false,
            call: None,
            first_connected: None,
            hangup_at: None,
            mute_at: None,
            invite_at: None,
            restart_ice_at: None,
            slots: Vec::new(),
            pending_audio: Vec::new(),
        }
    }

    /// Prints `first_audio` for the slots whose party is known.
    fn report_first_audio(&mut self) {
        let slots = &self.slots;
        let id = &self.id;
        self.pending_audio.retain_mut(|(slot, at_ms, fields)| {
            let Some(s) = slots.iter().find(|s| s.index as usize == *slot) else { return true };
            fields["party"] = party_json(&s.party);
            emit_at("first_audio", *at_ms, Some(id), fields.take());
            false
        });
    }

    fn since_accepted_ms(&self) -> Value {
        self.accepted_at.map_or(Value::Null, |t| json!(t.elapsed().as_millis() as u64))
    }
}

struct App {
    api: Api,
    device_id: String,
    who: Who,
    plan: Plan,
    peer_config: PeerConfig,
    /// The sound path while no call holds it.
    audio: Option<Audio>,
    meet: Option<Current>,
    /// The meet a meet link opened (joined already).
    opened: Option<p::MeetView>,
    ready: bool,
    /// Meets this device was rung for (printed once each).
    rung: HashSet<String>,
    exit: Option<u8>,
}

fn earliest(times: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    times.into_iter().flatten().min()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The next event of the meet's call (pending while there is none).
async fn call_event(meet: &mut Option<Current>) -> CallEvent {
    if let Some(call) = meet.as_mut().and_then(|m| m.call.as_mut()) {
        if let Some(event) = call.next_event().await {
            return event;
        }
    }
    std::future::pending().await
}

/// How far a meet has come: every part only ever grows over a meet's life.
fn progress(view: &p::MeetView) -> [usize; 7] {
    let state = match view.state {
        MeetState::Ringing | MeetState::WaitingForLink => 0,
        MeetState::Active => 1,
        MeetState::Ended | MeetState::Missed => 2,
    };
    [
        state,
        view.participants.len(),
        view.participants.iter().filter(|p| p.left_at.is_some()).count(),
        view.rings.len(),
        view.rings.iter().filter(|r| r.status != p::RingStatus::Ringing).count(),
        usize::from(view.answered_at.is_some()),
        usize::from(view.ended_at.is_some()),
    ]
}

/// An event's view older than the one held (an event written before the answer to this
/// device's own request, delivered after it).
fn is_stale(update: &p::MeetView, held: &p::MeetView) -> bool {
    progress(update).iter().zip(progress(held)).any(|(u, h)| *u < h)
}

fn party_json(p: &p::PartyView) -> Value {
    json!({"kind": p.kind, "id": p.id, "name": p.name})
}

impl App {
    async fn run(mut self) -> anyhow::Result<u8> {
        let token = self.api.token().context("no session")?.to_owned();
        let mut socket = events::spawn(self.api.base(), &token, SOCKET);
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                msg = socket.recv() => match msg {
                    Some(SocketMsg::Event(e)) => self.on_event(*e).await?,
                    Some(SocketMsg::Open) => {}
                    Some(SocketMsg::Reconnecting { after, why }) => {
                        tracing::warn!(after, "event socket dropped ({why}); reconnecting");
                    }
                    Some(SocketMsg::Refused { status }) => {
                        bail!("the event socket was refused ({status}): the session is not valid")
                    }
                    None => bail!("the event socket task stopped"),
                },
                event = call_event(&mut self.meet) => self.on_call_event(event).await?,
                _ = sleep_until(deadline) => self.on_timers().await?,
                _ = tokio::signal::ctrl_c() => return self.interrupted("SIGINT").await,
                _ = sigterm.recv() => return self.interrupted("SIGTERM").await,
            }
            if let Some(code) = self.exit {
                return Ok(code);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let Some(m) = &self.meet else { return None };
        earliest([m.hangup_at, m.mute_at, m.invite_at, m.restart_ice_at])
    }

    fn is_present(&self, view: &p::MeetView) -> bool {
        view.participants.iter().any(|p| p.device_id == self.device_id && p.left_at.is_none())
    }

    // ---- events --------------------------------------------------------------------------

    async fn on_event(&mut self, event: p::Event) -> anyhow::Result<()> {
        match event.body {
            EventBody::Hello { device_id, node_id, .. } if !self.ready => {
                self.ready = true;
                self.signed_in(&device_id, &node_id);
                self.begin().await?;
            }
            EventBody::Ring { meet, deadline } => self.on_ring(meet, deadline).await?,
            EventBody::RingStopped { meet_id, reason, accepted_device } if self.rung.contains(&meet_id) => {
                let here = accepted_device.as_deref() == Some(self.device_id.as_str());
                emit("ring_stopped", Some(&meet_id), json!({"reason": reason, "accepted_here": here}));
            }
            EventBody::MeetUpdated { meet } => {
                if let Some(cur) = &mut self.meet {
                    if cur.id == meet.id && !is_stale(&meet, &cur.view) {
                        cur.view = meet;
                        self.evaluate().await?;
                    }
                }
            }
            EventBody::MediaSlots { meet_id, device_id, slots } if device_id == self.device_id => {
                if let Some(cur) = self.meet.as_mut().filter(|m| m.id == meet_id) {
                    let list: Vec<Value> = slots
                        .iter()
                        .map(|s| json!({"index": s.index, "party": party_json(&s.party)}))
                        .collect();
                    emit("media_slots", Some(&meet_id), json!({ "slots": list }));
                    cur.slots = slots;
                    cur.report_first_audio();
                }
            }
            EventBody::Resync => self.refresh().await?,
            _ => {}
        }
        Ok(())
    }

    fn signed_in(&self, device_id: &str, node_id: &str) {
        let who = match &self.who {
            Who::Agent { id } => json!({"kind": "agent", "id": id}),
            Who::Customer { id, .. } => json!({"kind": "customer", "id": id}),
        };
        emit("signed_in", None, json!({"device_id": device_id, "node_id": node_id, "party": who}));
    }

    /// What to do first, once the event socket is open (so nothing about it is missed).
    async fn begin(&mut self) -> anyhow::Result<()> {
        if let Some(view) = self.opened.take() {
            let mut cur = Current::new(view);
            cur.accepted_at = Some(Instant::now());
            emit("accepted", Some(&cur.id), json!({"how": "open_link"}));
            self.meet = Some(cur);
            return self.evaluate().await;
        }
        let (target, how) = match self.plan.start.clone() {
            Start::Wait => return Ok(()),
            Start::Join(meet_id) => {
                let view: p::MeetView = self
                    .api
                    .post(&format!("/api/meets/{meet_id}/join"), &json!({}))
                    .await
                    .with_context(|| format!("joining meet {meet_id}"))?;
                let mut cur = Current::new(view);
                cur.accepted_at = Some(Instant::now());
                emit("accepted", Some(&cur.id), json!({"how": "join"}));
                self.meet = Some(cur);
                return self.evaluate().await;
            }
            Start::Call(target) => (target, "call"),
            Start::CustomerMeet { chat_id } => {
                let Who::Customer { chats, .. } = &self.who else { bail!("only customers press Meet") };
                let chat_id = match chat_id {
                    Some(id) => id,
                    None => chats
                        .iter()
                        .find(|c| c.customer_meet_button.shown)
                        .or_else(|| chats.first())
                        .map(|c| c.id.clone())
                        .context("this customer has no chat to start a meet in")?,
                };
                (p::MeetTarget::UserChat { chat_id }, "meet_button")
            }
        };
        let view: p::MeetView = self
            .api
            .post("/api/meets", &json!({"target": target, "media": p::Media::Audio}))
            .await
            .context("starting the meet")?;
        emit("started", Some(&view.id), json!({"how": how, "target": target, "state": view.state}));
        self.meet = Some(Current::new(view));
        self.evaluate().await
    }

    async fn on_ring(&mut self, meet: p::MeetView, deadline: i64) -> anyhow::Result<()> {
        if deadline <= now_ms() || !self.rung.insert(meet.id.clone()) {
            return Ok(()); // an old ring replayed after a reconnect, or one printed already
        }
        let invited_by = meet.rings.iter().find_map(|r| r.invited_by.as_ref().map(|a| a.id.clone()));
        emit(
            "ring",
            Some(&meet.id),
            json!({"caller": party_json(&meet.caller), "scope": meet.scope.kind, "deadline": deadline, "invited_by": invited_by}),
        );
        if !self.plan.answer_auto {
            return Ok(());
        }
        if let Some(cur) = &self.meet {
            tracing::info!(busy_with = %cur.id, ring = %meet.id, "in a meet already: not answering");
            return Ok(());
        }
        match self.api.post::<p::MeetView>(&format!("/api/meets/{}/accept", meet.id), &json!({})).await {
            Ok(view) => {
                let mut cur = Current::new(view);
                cur.accepted_at = Some(Instant::now());
                emit("accepted", Some(&cur.id), json!({"how": "accept"}));
                self.meet = Some(cur);
                self.evaluate().await?;
            }
            // Answered elsewhere, cancelled meanwhile: not this device's meet.
            Err(e) => tracing::warn!("could not accept the ring: {e}"),
        }
        Ok(())
    }

    /// Reads the meet again (after a resync, or when the server says it is gone).
    async fn refresh(&mut self) -> anyhow::Result<()> {
        let Some(id) = self.meet.as_ref().map(|m| m.id.clone()) else { return Ok(()) };
        let view: p::MeetView =
            self.api.get(&format!("/api/meets/{id}")).await.context("reading the meet")?;
        if let Some(cur) = &mut self.meet {
            cur.view = view;
        }
        self.evaluate().await
    }

    /// Acts on the meet's state: it ended, this device left, it was answered, media is due.
    async fn evaluate(&mut self) -> anyhow::Result<()> {
        let present = match &self.meet {
            Some(cur) => self.is_present(&cur.view),
            None => return Ok(()),
        };
        let Some(cur) = &mut self.meet else { return Ok(()) };
        if present {
            cur.was_present = true;
        }
        if matches!(cur.view.state, MeetState::Ended | MeetState::Missed) {
            return self.finish(false).await;
        }
        if cur.was_present && !present {
            return self.finish(true).await;
        }
        let active = cur.view.state == MeetState::Active;
        if active && present && cur.accepted_at.is_none() && cur.view.answered_at.is_some() {
            cur.accepted_at = Some(Instant::now());
            emit("accepted", Some(&cur.id), json!({"how": "answered"}));
        }
        if active && present && cur.call.is_none() {
            let audio = self.audio.take().context("the sound path is held by another call")?;
            cur.call = Some(Call::start(self.api.clone(), &cur.id, self.peer_config.clone(), audio));
        }
        Ok(())
    }

    // ---- media ---------------------------------------------------------------------------

    /// Closes the call (taking the sound path back).
    async fn drop_connection(&mut self) -> anyhow::Result<()> {
        let Some(call) = self.meet.as_mut().and_then(|m| m.call.take()) else { return Ok(()) };
        self.audio = Some(call.close().await?);
        Ok(())
    }

    async fn on_call_event(&mut self, event: CallEvent) -> anyhow::Result<()> {
        let Some(cur) = &mut self.meet else { return Ok(()) };
        match event {
            CallEvent::Connected { offer_to_connected, ice_restarts, candidate_pair } => {
                emit(
                    "connected",
                    Some(&cur.id),
                    json!({
                        "offer_to_connected_ms": offer_to_connected.as_millis() as u64,
                        "since_accepted_ms": cur.since_accepted_ms(),
                        "ice_restarts": ice_restarts,
                        "candidate_pair": candidate_pair.map(|p| json!({
                            "local": p.local_type, "local_address": p.local_address,
                            "remote": p.remote_type, "remote_address": p.remote_address,
                        })),
                    }),
                );
                if cur.first_connected.is_none() {
                    let now = Instant::now();
                    cur.first_connected = Some(now);
                    cur.hangup_at = self.plan.hangup_after.map(|d| now + d);
                    cur.mute_at = self.plan.mute_after.map(|d| now + d);
                    cur.invite_at = self.plan.invite.as_ref().map(|(_, d)| now + *d);
                    cur.restart_ice_at = self.plan.ice_restart_after.map(|d| now + d);
                }
            }
            CallEvent::Disconnected { state } => {
                emit("disconnected", Some(&cur.id), json!({"state": state.to_string()}));
            }
            CallEvent::IceRestart { attempt } => {
                emit("ice_restart", Some(&cur.id), json!({"attempt": attempt}));
            }
            CallEvent::Reoffer { why } => {
                let why = match why {
                    Reoffer::ServerLostConnection => "no_media_connection",
                    Reoffer::NeverConnected => "not_connected",
                };
                emit("media_reoffer", Some(&cur.id), json!({ "why": why }));
            }
            CallEvent::FirstAudio { slot, at_ms } => {
                let since_connected = cur.first_connected.map(|t| t.elapsed().as_millis() as u64);
                let fields = json!({
                    "slot": slot,
                    "since_accepted_ms": cur.since_accepted_ms(),
                    "since_connected_ms": since_connected,
                });
                cur.pending_audio.push((slot, at_ms, fields));
                cur.report_first_audio();
            }
            CallEvent::NotInMeet { .. } => return self.refresh().await,
            CallEvent::Failed(e) => {
                if let CallError::CreatePeer(source) = &e {
                    emit("media_failed", Some(&cur.id), json!({ "error": source.to_string() }));
                }
                // Closing waits until the server heard that this meet's media failed.
                if let Err(closing) = self.drop_connection().await {
                    tracing::debug!("closing the failed call: {closing}");
                }
                return Err(e.into());
            }
        }
        Ok(())
    }

    // ---- timers --------------------------------------------------------------------------

    async fn on_timers(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        let due = |t: &mut Option<Instant>| {
            if t.is_some_and(|t| t <= now) {
                *t = None;
                true
            } else {
                false
            }
        };
        let Some(cur) = &mut self.meet else { return Ok(()) };
        if due(&mut cur.mute_at) {
            if let Some(call) = &cur.call {
                call.set_muted(true);
            }
            emit("muted", Some(&cur.id), json!({}));
        }
        if due(&mut cur.invite_at) {
            if let Some((agent_id, _)) = &self.plan.invite {
                let path = format!("/api/meets/{}/invite", cur.id);
                match self.api.post::<p::MeetView>(&path, &json!({ "agent_id": agent_id })).await {
                    Ok(_) => emit("invited", Some(&cur.id), json!({ "agent_id": agent_id })),
                    Err(e) => tracing::warn!("inviting {agent_id} failed: {e}"),
                }
            }
        }
        let Some(cur) = &mut self.meet else { return Ok(()) };
        if due(&mut cur.hangup_at) {
            return self.hang_up().await;
        }
        if due(&mut cur.restart_ice_at) {
            if let Some(call) = &cur.call {
                call.restart_ice();
            }
        }
        Ok(())
    }

    async fn hang_up(&mut self) -> anyhow::Result<()> {
        let Some(cur) = &mut self.meet else { return Ok(()) };
        let path = format!("/api/meets/{}/hangup", cur.id);
        let asked = Instant::now();
        match self.api.post::<p::MeetView>(&path, &json!({})).await {
            Ok(view) => {
                let request_ms = asked.elapsed().as_millis() as u64;
                emit("hung_up", Some(&view.id), json!({"state": view.state, "request_ms": request_ms}));
                cur.view = view;
                self.evaluate().await
            }
            Err(e) if e.status().is_some() => {
                tracing::warn!("hang-up refused: {e}");
                self.refresh().await
            }
            Err(e) => Err(e).context("hanging up"),
        }
    }

    /// This device is out of the meet (it ended, or this device left): close the media and
    /// either exit or wait for the next ring.
    async fn finish(&mut self, left: bool) -> anyhow::Result<()> {
        self.drop_connection().await?;
        let Some(cur) = self.meet.take() else { return Ok(()) };
        emit(
            "ended",
            Some(&cur.id),
            json!({
                "state": cur.view.state,
                "missed_reason": cur.view.missed_reason,
                "left": left,
                "connected_ms": cur.first_connected.map(|t| t.elapsed().as_millis() as u64),
            }),
        );
        if self.plan.exit_after_meet {
            self.exit = Some(0);
        }
        Ok(())
    }

    async fn interrupted(&mut self, signal: &str) -> anyhow::Result<u8> {
        tracing::warn!("{signal}: leaving");
        if let Some(cur) = &self.meet {
            if self.is_present(&cur.view) || cur.view.state == MeetState::Ringing {
                let path = format!("/api/meets/{}/hangup", cur.id);
                let body = json!({});
                let hangup = self.api.post::<p::MeetView>(&path, &body);
                if let Ok(Ok(view)) = tokio::time::timeout(Duration::from_secs(5), hangup).await {
                    emit("hung_up", Some(&view.id), json!({"state": view.state}));
                    if let Some(cur) = &mut self.meet {
                        cur.view = view;
                    }
                }
            }
            self.finish(true).await?;
        }
        Ok(INTERRUPTED)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn links_are_told_apart() {
        assert_eq!(
            parse_link("http://127.0.0.1:8780/demo?resume=abc.def").unwrap(),
            Link::Resume { token: "abc.def".into() }
        );
        assert_eq!(
            parse_link("https://support.example.com/m/mt_123?t=tok").unwrap(),
            Link::Meet { meet_id: "mt_123".into(), token: "tok".into() }
        );
        for bad in
            ["", "not a url", "http://x/demo", "http://x/m/?t=1", "http://x/m/mt_1", "http://x/demo?resume="]
        {
            assert!(parse_link(bad).is_err(), "{bad:?}");
        }
    }
}
