//! The meets of a signed-in session: the rings on this device, and the one meet it calls from
//! or is in — with its media (a [`Call`] on the default microphone and speaker) while this
//! device is a present participant of the active meet.
//!
//! One task owns all of it ([`MeetLoop::run`]): the event socket's meet events, the UI's
//! requests, the call's events and, while something is on screen that moves, a 10 Hz tick (the
//! input level, ring deadlines) come in one at a time, as in the CLI's `app`. Every change goes
//! out as `meet_changed` ([`MeetUiState`]). The sound never waits for this task: the call runs
//! on its own, and the devices live on a thread of their own ([`Sound`]).

use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meetdesk_client::api::Api;
use meetdesk_client::audio::{self, Audio, AudioSetup};
use meetdesk_client::call::{self, Call, CallEvent, PeerConfig};
use meetdesk_protocol::{self as p, Event, EventBody, MeetState, ScopeKind};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::desktop::Emit;
use crate::settings::MeetMedia;
use crate::types::{CallPhase, CallUi, CommandError, DeviceChoice, MeetUiState, RingUi};

/// The level meter's and the ring deadlines' pace.
const TICK: Duration = Duration::from_millis(100);
/// How long an ended meet stays on screen (phase `ended`, with its notice).
const ENDED_SHOWN: Duration = Duration::from_secs(4);

/// What the UI asks of the meet task.
#[derive(Debug, Clone)]
pub enum Request {
    Accept(String),
    Decline(String),
    HangUp,
    SetMuted(bool),
    /// Start a meet (P2–P5; audio).
    Start(p::MeetTarget),
    /// Return a call record (P8): a new meet of its kind with its counterpart.
    CallBack(String),
    /// Join a meet going on (a room's meet, P5).
    Join(String),
}

type Reply = oneshot::Sender<Result<MeetUiState, CommandError>>;

enum Input {
    Event(Box<Event>),
    Request(Request, Reply),
}

/// The handle the controller keeps: requests in, the state as last published out.
#[derive(Clone)]
pub struct Meets {
    tx: mpsc::UnboundedSender<Input>,
    state: Arc<StdMutex<MeetUiState>>,
}

impl Meets {
    /// The handle and the task to spawn (it ends when every handle is gone).
    pub fn start(
        api: Api,
        device_id: String,
        emit: Arc<dyn Emit>,
        media: MeetMedia,
    ) -> (Meets, impl Future<Output = ()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(StdMutex::new(MeetUiState::default()));
        let task = MeetLoop {
            api,
            device_id,
            emit,
            shared: Arc::clone(&state),
            published: MeetUiState::default(),
            rings: Vec::new(),
            cur: None,
            ended: None,
            peer_config: None,
            media,
        };
        (Meets { tx, state }, task.run(rx))
    }

    pub fn state(&self) -> MeetUiState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Hands a socket event over (the meet task reads the ones about meets).
    pub fn event(&self, event: &Event) {
        let relevant = matches!(
            event.body,
            EventBody::Ring { .. }
                | EventBody::RingStopped { .. }
                | EventBody::MeetUpdated { .. }
                | EventBody::Resync
        );
        if relevant {
            let _ = self.tx.send(Input::Event(Box::new(event.clone())));
        }
    }

    pub async fn request(&self, request: Request) -> Result<MeetUiState, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Input::Request(request, reply))
            .map_err(|_| CommandError::new("signed_out", "Not signed in."))?;
        answer.await.map_err(|_| CommandError::new("signed_out", "Not signed in."))?
    }
}

/// The microphone and speaker, open on a thread of their own (cpal streams stay on the thread
/// that made them) until this is dropped. Opened per meet, so the microphone is never held
/// between meets.
struct Sound {
    _stop: std::sync::mpsc::Sender<()>,
    /// A picked device that was gone, so the default is used (the call's notice).
    notice: Option<String>,
}

impl Sound {
    /// Opens the devices (`devices`: the picked microphone and speaker; none: the defaults);
    /// the error is for people (P7: the microphone may be refused).
    async fn open(devices: DeviceChoice, notice: Option<String>) -> Result<(Audio, Sound), String> {
        let setup = AudioSetup {
            mic_name: devices.microphone,
            speaker_name: devices.speaker,
            ..AudioSetup::default()
        };
        let (opened_tx, opened) = oneshot::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("meetdesk-sound".into())
            .spawn(move || match audio::open(&setup) {
                Ok((audio, devices)) => {
                    if opened_tx.send(Ok(audio)).is_ok() {
                        // Until the `Sound` is dropped (the sender goes: `recv` fails).
                        let _ = stopped.recv();
                    }
                    if let Err(e) = devices.finish() {
                        tracing::warn!(error = %e, "closing the sound devices");
                    }
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| format!("starting the sound thread: {e}"))?;
        let audio = opened.await.map_err(|_| "the sound thread stopped".to_owned())??;
        Ok((audio, Sound { _stop: stop, notice }))
    }
}

/// The meet this device calls from or is in.
struct Current {
    view: p::MeetView,
    was_present: bool,
    call: Option<Call>,
    /// The devices (kept open for the whole meet).
    sound: Option<Sound>,
    /// The sound path while no call holds it.
    audio: Option<Audio>,
    /// When the media first connected (Unix ms).
    started_at: Option<i64>,
    reconnecting: bool,
    muted: bool,
    level: f32,
    /// A word about how the meet started ("already handled"), shown while it lasts.
    notice: Option<String>,
}

struct MeetLoop {
    api: Api,
    device_id: String,
    emit: Arc<dyn Emit>,
    /// The microphone permission and the picked devices.
    media: MeetMedia,
    shared: Arc<StdMutex<MeetUiState>>,
    published: MeetUiState,
    rings: Vec<RingUi>,
    cur: Option<Current>,
    /// The meet that just ended, shown until the instant.
    ended: Option<(CallUi, Instant)>,
    peer_config: Option<PeerConfig>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The next event of the meet's call (pending while there is none).
async fn call_event(cur: &mut Option<Current>) -> CallEvent {
    if let Some(call) = cur.as_mut().and_then(|c| c.call.as_mut()) {
        if let Some(event) = call.next_event().await {
            return event;
        }
    }
    std::future::pending().await
}

fn valid_id(id: &str) -> Result<(), CommandError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(CommandError::new("bad_input", "No such meet or chat."));
    }
    Ok(())
}

/// Why a meet ended, in words for the agent (`missed_reason` reaches admins only).
/// What a call-back's answer tells the agent: the server found the missed record handled
/// already (by someone else, moments ago: the cache said otherwise), though the meet started.
fn call_back_notice(res: &p::CallBackResponse) -> Option<String> {
    res.already_handled.then(|| "This missed call has already been handled.".to_owned())
}

fn ended_notice(view: &p::MeetView) -> String {
    match view.missed_reason.as_deref() {
        Some("no_answer") => "No answer.",
        Some("declined") => "Declined.",
        Some("offline_link_unused") => "The customer was offline and did not open the link.",
        Some("cancelled_by_caller") => "Cancelled.",
        Some("failed_to_connect") => "The meet could not connect.",
        _ if view.state == MeetState::Missed => "Missed.",
        _ => "The meet ended.",
    }
    .to_owned()
}

impl MeetLoop {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        loop {
            let tick = self.needs_tick();
            tokio::select! {
                input = rx.recv() => match input {
                    None => break,
                    Some(Input::Event(event)) => self.on_event(*event).await,
                    Some(Input::Request(request, reply)) => {
                        let result = self.on_request(request).await;
                        self.publish();
                        let _ = reply.send(result.map(|()| self.published.clone()));
                    }
                },
                event = call_event(&mut self.cur) => self.on_call_event(event).await,
                _ = tokio::time::sleep(TICK), if tick => self.on_tick(),
            }
            self.publish();
        }
        // Signed out: the call and the devices stop as they drop.
    }

    fn needs_tick(&self) -> bool {
        !self.rings.is_empty() || self.ended.is_some() || self.cur.as_ref().is_some_and(|c| c.call.is_some())
    }

    // ---- the state the UI sees -------------------------------------------------------------

    fn snapshot(&self) -> MeetUiState {
        let call = match &self.cur {
            Some(cur) => Some(self.call_ui(cur, None)),
            None => self.ended.as_ref().map(|(ui, _)| ui.clone()),
        };
        MeetUiState { ringing: self.rings.clone(), call }
    }

    fn call_ui(&self, cur: &Current, ended: Option<String>) -> CallUi {
        let view = &cur.view;
        let phase = if ended.is_some() {
            CallPhase::Ended
        } else if matches!(view.state, MeetState::Ringing | MeetState::WaitingForLink) {
            CallPhase::Calling
        } else if cur.started_at.is_none() {
            CallPhase::Connecting
        } else if cur.reconnecting {
            CallPhase::Reconnecting
        } else {
            CallPhase::Connected
        };
        let mut participants: Vec<String> = Vec::new();
        for part in &view.participants {
            if part.device_id != self.device_id
                && part.left_at.is_none()
                && !participants.contains(&part.party.name)
            {
                participants.push(part.party.name.clone());
            }
        }
        if participants.is_empty() {
            // Calling: whom it rings.
            for ring in view.rings.iter().filter(|r| r.status == p::RingStatus::Ringing) {
                if !participants.contains(&ring.party.name) {
                    participants.push(ring.party.name.clone());
                }
            }
        }
        CallUi {
            meet_id: view.id.clone(),
            phase,
            muted: cur.muted,
            started_at: cur.started_at,
            participants,
            internal: view.scope.kind == ScopeKind::Internal,
            scope: view.scope.kind,
            chat_id: view.scope.chat_id.clone(),
            input_level: if ended.is_some() { 0.0 } else { cur.level },
            notice: ended
                .or_else(|| cur.notice.clone())
                .or_else(|| cur.sound.as_ref().and_then(|s| s.notice.clone())),
        }
    }

    /// Emits `meet_changed` when what the UI sees changed.
    fn publish(&mut self) {
        let now = self.snapshot();
        if now != self.published {
            *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = now.clone();
            self.emit.meet_changed(&now);
            self.published = now;
        }
    }

    // ---- socket events -------------------------------------------------------------------

    async fn on_event(&mut self, event: Event) {
        match event.body {
            EventBody::Ring { meet, deadline } => {
                let known = self.rings.iter().any(|r| r.meet_id == meet.id)
                    || self.cur.as_ref().is_some_and(|c| c.view.id == meet.id);
                // An old ring replayed after a reconnect is over already.
                if deadline > now_ms() && !known {
                    self.rings.push(RingUi {
                        meet_id: meet.id.clone(),
                        caller_name: meet.caller.name.clone(),
                        scope: meet.scope.kind,
                        chat_id: meet.scope.chat_id.clone(),
                        deadline,
                    });
                }
            }
            // Accepted on another device (or here), declined, timed out, cancelled.
            EventBody::RingStopped { meet_id, .. } => self.rings.retain(|r| r.meet_id != meet_id),
            EventBody::MeetUpdated { meet } => {
                if matches!(meet.state, MeetState::Ended | MeetState::Missed | MeetState::Active) {
                    // An answered or finished meet rings no more here (its ring_stopped says
                    // so too; this covers a stop missed while offline).
                    let mine = meet
                        .participants
                        .iter()
                        .any(|p| p.device_id == self.device_id && p.left_at.is_none());
                    if meet.state != MeetState::Active || mine {
                        self.rings.retain(|r| r.meet_id != meet.id);
                    }
                }
                let newer =
                    self.cur.as_ref().is_some_and(|c| c.view.id == meet.id && meet.version > c.view.version);
                if newer {
                    if let Some(cur) = &mut self.cur {
                        cur.view = meet;
                    }
                    self.evaluate().await;
                }
            }
            EventBody::Resync => {
                let now = now_ms();
                self.rings.retain(|r| r.deadline > now);
                self.refresh().await;
            }
            _ => {}
        }
    }

    /// Reads the current meet again (after a resync, or when the server says it is gone).
    async fn refresh(&mut self) {
        let Some(id) = self.cur.as_ref().map(|c| c.view.id.clone()) else { return };
        match self.api.get::<p::MeetView>(&format!("/api/meets/{id}")).await {
            Ok(view) => {
                if let Some(cur) = &mut self.cur {
                    if view.version >= cur.view.version {
                        cur.view = view;
                    }
                }
                self.evaluate().await;
            }
            Err(e) => tracing::warn!(error = %e, "reading the meet again"),
        }
    }

    // ---- requests ------------------------------------------------------------------------

    async fn on_request(&mut self, request: Request) -> Result<(), CommandError> {
        match request {
            Request::Accept(meet_id) => {
                valid_id(&meet_id)?;
                self.not_busy()?;
                let (audio, sound) = self.prepare().await?;
                let view = match self
                    .api
                    .post::<p::MeetView>(&format!("/api/meets/{meet_id}/accept"), &json!({}))
                    .await
                {
                    Ok(view) => view,
                    Err(e) => {
                        if e.status().is_some() {
                            // Answered elsewhere, cancelled, over: it rings no more.
                            self.rings.retain(|r| r.meet_id != meet_id);
                        }
                        return Err(e.into());
                    }
                };
                self.rings.retain(|r| r.meet_id != meet_id);
                self.begin(view, audio, sound).await;
                Ok(())
            }
            Request::Decline(meet_id) => {
                valid_id(&meet_id)?;
                let result =
                    self.api.post::<p::MeetView>(&format!("/api/meets/{meet_id}/decline"), &json!({})).await;
                if result.as_ref().is_ok() || result.as_ref().is_err_and(|e| e.status().is_some()) {
                    self.rings.retain(|r| r.meet_id != meet_id);
                }
                result.map(|_| ()).map_err(Into::into)
            }
            Request::HangUp => {
                let Some(id) = self.cur.as_ref().map(|c| c.view.id.clone()) else { return Ok(()) };
                let result =
                    self.api.post::<p::MeetView>(&format!("/api/meets/{id}/hangup"), &json!({})).await;
                match &result {
                    Ok(view) => {
                        if let Some(cur) = &mut self.cur {
                            if view.version >= cur.view.version {
                                cur.view = view.clone();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "hang-up not confirmed by the server"),
                }
                // This device leaves either way (an unreachable server drops its media soon).
                self.finish(Some("You hung up.".to_owned())).await;
                result.map(|_| ()).map_err(Into::into)
            }
            Request::SetMuted(muted) => {
                let Some(cur) = &mut self.cur else {
                    return Err(CommandError::new("not_in_meet", "Not in a meet."));
                };
                cur.muted = muted;
                if let Some(call) = &cur.call {
                    call.set_muted(muted);
                }
                Ok(())
            }
            Request::Start(target) => {
                let (p::MeetTarget::UserChat { chat_id: id }
                | p::MeetTarget::Internal { chat_id: id }
                | p::MeetTarget::Room { room_id: id }
                | p::MeetTarget::Customer { customer_id: id }) = &target;
                valid_id(id)?;
                self.not_busy()?;
                let (audio, sound) = self.prepare().await?;
                let body = p::StartMeetRequest { target, media: p::Media::Audio };
                let view: p::MeetView = self.api.post("/api/meets", &body).await?;
                self.begin(view, audio, sound).await;
                Ok(())
            }
            Request::CallBack(record_id) => {
                valid_id(&record_id)?;
                self.not_busy()?;
                let (audio, sound) = self.prepare().await?;
                let path = format!("/api/history/records/{record_id}/call");
                let res: p::CallBackResponse = self.api.post(&path, &json!({})).await?;
                let notice = call_back_notice(&res);
                self.begin(res.meet, audio, sound).await;
                if let Some(cur) = &mut self.cur {
                    cur.notice = notice;
                }
                self.publish();
                Ok(())
            }
            Request::Join(meet_id) => {
                valid_id(&meet_id)?;
                self.not_busy()?;
                let (audio, sound) = self.prepare().await?;
                let path = format!("/api/meets/{meet_id}/join");
                let view: p::MeetView = self.api.post(&path, &json!({})).await?;
                self.begin(view, audio, sound).await;
                Ok(())
            }
        }
    }

    fn not_busy(&self) -> Result<(), CommandError> {
        if self.cur.is_some() {
            return Err(CommandError::new("busy", "You are in a meet already: hang up first."));
        }
        Ok(())
    }

    /// Before joining a meet: the media config (once) and the devices (P7: a microphone that
    /// cannot be opened is said before anyone is connected, and the ring stays to retry).
    async fn prepare(&mut self) -> Result<(Audio, Sound), CommandError> {
        // The microphone permission first (P7: `microphone_denied` with the platform's steps).
        let (devices, notice) = self.media.before_meet().await?;
        if self.peer_config.is_none() {
            let config: p::MediaConfigView = self.api.get("/api/media/config").await?;
            self.peer_config = Some(call::peer_config(self.api.base(), None, config.ice_servers));
        }
        Sound::open(devices, notice).await.map_err(|e| {
            CommandError::new(
                "microphone",
                format!(
                    "The microphone or speaker could not be opened ({e}). Check that a microphone \
                     is connected and that meetdesk may use it in the system's privacy settings, \
                     then try again."
                ),
            )
        })
    }

    async fn begin(&mut self, view: p::MeetView, audio: Audio, sound: Sound) {
        self.ended = None;
        self.cur = Some(Current {
            view,
            was_present: false,
            call: None,
            sound: Some(sound),
            audio: Some(audio),
            started_at: None,
            reconnecting: false,
            muted: false,
            level: 0.0,
            notice: None,
        });
        self.evaluate().await;
    }

    /// Acts on the meet's state: it ended, this device left, it is answered and media is due.
    async fn evaluate(&mut self) {
        let device_id = self.device_id.clone();
        let Some(cur) = &mut self.cur else { return };
        let present = cur.view.participants.iter().any(|p| p.device_id == device_id && p.left_at.is_none());
        if present {
            cur.was_present = true;
        }
        if matches!(cur.view.state, MeetState::Ended | MeetState::Missed) {
            let notice = ended_notice(&cur.view);
            return self.finish(Some(notice)).await;
        }
        if cur.was_present && !present {
            return self.finish(Some("You left the meet.".to_owned())).await;
        }
        if cur.view.state == MeetState::Active && present && cur.call.is_none() {
            let (Some(audio), Some(peer_config)) = (cur.audio.take(), self.peer_config.clone()) else {
                tracing::error!("no sound path for the meet's call");
                return;
            };
            let call = Call::start(self.api.clone(), &cur.view.id, peer_config, audio);
            call.set_muted(cur.muted);
            cur.call = Some(call);
        }
    }

    /// This device is out of the meet: close its media, show the end for a moment.
    async fn finish(&mut self, notice: Option<String>) {
        let Some(mut cur) = self.cur.take() else { return };
        if let Some(call) = cur.call.take() {
            if let Err(e) = call.close().await {
                tracing::debug!(error = %e, "closing the call");
            }
        }
        cur.audio = None;
        cur.sound = None; // the devices close
        let ui = self.call_ui(&cur, Some(notice.unwrap_or_else(|| ended_notice(&cur.view))));
        self.ended = Some((ui, Instant::now() + ENDED_SHOWN));
    }

    // ---- the call ------------------------------------------------------------------------

    async fn on_call_event(&mut self, event: CallEvent) {
        let Some(cur) = &mut self.cur else { return };
        match event {
            CallEvent::Connected { offer_to_connected, .. } => {
                tracing::info!(meet = %cur.view.id, ms = offer_to_connected.as_millis() as u64, "media connected");
                cur.started_at.get_or_insert_with(now_ms);
                cur.reconnecting = false;
            }
            CallEvent::Disconnected { .. } | CallEvent::IceRestart { .. } | CallEvent::Reoffer { .. } => {
                cur.reconnecting = cur.started_at.is_some();
            }
            CallEvent::FirstAudio { slot, .. } => tracing::debug!(slot, "first audio"),
            CallEvent::NotInMeet { .. } => self.refresh().await,
            CallEvent::Failed(e) => {
                tracing::warn!(error = %e, "the meet's media failed");
                let id = cur.view.id.clone();
                let notice = format!("The meet's audio failed: {e}.");
                // Closing waits until the server heard that this meet's media failed; then
                // this device leaves.
                if let Some(call) = cur.call.take() {
                    let _ = call.close().await;
                }
                let path = format!("/api/meets/{id}/hangup");
                if let Err(e) = self.api.post::<p::MeetView>(&path, &json!({})).await {
                    tracing::debug!(error = %e, "hang-up after the media failed");
                }
                self.finish(Some(notice)).await;
            }
        }
    }

    fn on_tick(&mut self) {
        let now = now_ms();
        self.rings.retain(|r| r.deadline > now);
        if self.ended.as_ref().is_some_and(|(_, until)| *until <= Instant::now()) {
            self.ended = None;
        }
        if let Some(cur) = &mut self.cur {
            if let Some(call) = &cur.call {
                // 2 % steps: the meter moves, the UI is not flooded with equal values.
                cur.level = (call.input_level().bar() * 50.0).round() / 50.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::permission::{FixedMic, Platform};
    use crate::settings::SettingsStore;
    use crate::types::MicStatus;

    /// A microphone the OS allows (none is opened before the server answers here).
    fn test_media() -> MeetMedia {
        MeetMedia {
            permission: Arc::new(FixedMic(MicStatus::Granted)),
            settings: Arc::new(SettingsStore::in_memory()),
        }
    }

    #[derive(Default)]
    struct Recorded(StdMutex<Vec<MeetUiState>>);

    impl Emit for Recorded {
        fn session_changed(&self, _: &crate::types::SessionState) {}
        fn server_event(&self, _: &Event) {}
        fn meet_changed(&self, state: &MeetUiState) {
            self.0.lock().unwrap().push(state.clone());
        }
    }

    fn party(kind: p::PartyKind, id: &str, name: &str) -> p::PartyView {
        p::PartyView { kind, id: id.into(), name: name.into() }
    }

    fn view(id: &str, state: MeetState, scope: ScopeKind, version: i64) -> p::MeetView {
        p::MeetView {
            id: id.into(),
            scope: p::MeetScopeView { kind: scope, chat_id: Some("chat_mina".into()), room_id: None },
            media: p::Media::Audio,
            state,
            missed_reason: None,
            caller: party(p::PartyKind::Customer, "cus_mina", "Mina Park"),
            participants: vec![p::ParticipantView {
                party: party(p::PartyKind::Customer, "cus_mina", "Mina Park"),
                device_id: "dev_mina".into(),
                joined_at: 1,
                left_at: None,
            }],
            rings: vec![p::RingView {
                party: party(p::PartyKind::Agent, "ag_bob", "Bob Baker"),
                status: p::RingStatus::Ringing,
                invited_by: None,
                deadline: now_ms() + 120_000,
            }],
            created_at: 1,
            answered_at: None,
            ended_at: None,
            node_id: "node".into(),
            version,
        }
    }

    fn event(body: EventBody) -> Event {
        Event { seq: 1, at: now_ms(), body }
    }

    /// The meet task on a server nobody listens on (no request here reaches one).
    fn meets() -> (Meets, Arc<Recorded>) {
        let api = Api::new("http://127.0.0.1:9").unwrap().with_token("t");
        let emit = Arc::new(Recorded::default());
        let (meets, task) = Meets::start(api, "dev_bob".into(), emit.clone(), test_media());
        tokio::spawn(task);
        (meets, emit)
    }

    /// Waits until the task has handled everything sent before (requests queue behind events).
    async fn settle(meets: &Meets) -> MeetUiState {
        let err = meets.request(Request::SetMuted(true)).await.unwrap_err();
        assert_eq!(err.code, "not_in_meet");
        meets.state()
    }

    #[tokio::test]
    async fn rings_come_and_go() {
        let (meets, emit) = meets();
        let ring = view("meet_1", MeetState::Ringing, ScopeKind::UserChat, 1);
        let deadline = now_ms() + 120_000;
        meets.event(&event(EventBody::Ring { meet: ring.clone(), deadline }));
        meets.event(&event(EventBody::Ring { meet: ring.clone(), deadline })); // once
        meets.event(&event(EventBody::Ring {
            meet: view("meet_old", MeetState::Ringing, ScopeKind::Internal, 1),
            deadline: now_ms() - 1, // replayed after a reconnect: over
        }));
        let state = settle(&meets).await;
        assert_eq!(
            state.ringing,
            vec![RingUi {
                meet_id: "meet_1".into(),
                caller_name: "Mina Park".into(),
                scope: ScopeKind::UserChat,
                chat_id: Some("chat_mina".into()),
                deadline,
            }]
        );
        assert_eq!(emit.0.lock().unwrap().last(), Some(&state), "published as meet_changed");

        // Accepted on another device.
        meets.event(&event(EventBody::RingStopped {
            meet_id: "meet_1".into(),
            reason: p::RingStopReason::Accepted,
            accepted_device: Some("dev_bob_laptop".into()),
        }));
        assert!(settle(&meets).await.ringing.is_empty());

        // A ring whose meet ended while this device missed the ring_stopped.
        meets.event(&event(EventBody::Ring {
            meet: view("meet_2", MeetState::Ringing, ScopeKind::TeamDm, 1),
            deadline,
        }));
        assert_eq!(settle(&meets).await.ringing.len(), 1);
        meets.event(&event(EventBody::MeetUpdated {
            meet: view("meet_2", MeetState::Ended, ScopeKind::TeamDm, 2),
        }));
        assert!(settle(&meets).await.ringing.is_empty());
    }

    #[tokio::test]
    async fn a_denied_microphone_is_said_before_anything_starts() {
        let api = Api::new("http://127.0.0.1:9").unwrap().with_token("t");
        let media = MeetMedia {
            permission: Arc::new(FixedMic(MicStatus::Denied)),
            settings: Arc::new(SettingsStore::in_memory()),
        };
        let (meets, task) = Meets::start(api, "dev_bob".into(), Arc::new(Recorded::default()), media);
        tokio::spawn(task);
        let ring = view("meet_1", MeetState::Ringing, ScopeKind::UserChat, 1);
        meets.event(&event(EventBody::Ring { meet: ring, deadline: now_ms() + 120_000 }));
        let err = meets.request(Request::Accept("meet_1".into())).await.unwrap_err();
        assert_eq!(err.code, "microphone_denied", "{err:?}");
        assert!(err.message.contains(Platform::current().steps()), "{}", err.message);
        assert_eq!(meets.state().ringing.len(), 1, "the ring stays: Try again accepts it");
    }

    #[tokio::test]
    async fn hanging_up_without_a_meet_is_fine() {
        let (meets, _) = meets();
        assert_eq!(meets.request(Request::HangUp).await.unwrap(), MeetUiState::default());
        let bad = meets.request(Request::Accept("../x".into())).await.unwrap_err();
        assert_eq!(bad.code, "bad_input");
    }

    #[test]
    fn the_call_panel_follows_the_meet() {
        let api = Api::new("http://127.0.0.1:9").unwrap();
        let emit: Arc<dyn Emit> = Arc::new(Recorded::default());
        let looped = MeetLoop {
            api,
            device_id: "dev_bob".into(),
            emit,
            shared: Arc::default(),
            published: MeetUiState::default(),
            rings: Vec::new(),
            cur: None,
            ended: None,
            peer_config: None,
            media: test_media(),
        };
        let mut cur = Current {
            view: view("meet_1", MeetState::Ringing, ScopeKind::Internal, 1),
            was_present: false,
            call: None,
            sound: None,
            audio: None,
            started_at: None,
            reconnecting: false,
            muted: false,
            level: 0.5,
            notice: None,
        };
        let ui = looped.call_ui(&cur, None);
        assert_eq!(ui.phase, CallPhase::Calling);
        assert!(ui.internal, "internal meets are flagged (orange)");
        assert_eq!(ui.participants, vec!["Mina Park".to_owned()]);

        cur.view.state = MeetState::Active;
        cur.view.participants.push(p::ParticipantView {
            party: party(p::PartyKind::Agent, "ag_bob", "Bob Baker"),
            device_id: "dev_bob".into(),
            joined_at: 2,
            left_at: None,
        });
        assert_eq!(looped.call_ui(&cur, None).phase, CallPhase::Connecting);
        cur.started_at = Some(10);
        let ui = looped.call_ui(&cur, None);
        assert_eq!(ui.phase, CallPhase::Connected);
        assert_eq!(ui.participants, vec!["Mina Park".to_owned()], "not this device");
        cur.reconnecting = true;
        assert_eq!(looped.call_ui(&cur, None).phase, CallPhase::Reconnecting);
        let ended = looped.call_ui(&cur, Some("Declined.".into()));
        assert_eq!(
            (ended.phase, ended.input_level, ended.notice.as_deref()),
            (CallPhase::Ended, 0.0, Some("Declined."))
        );
        // A call-back the server found handled already says so while the meet lasts.
        let res = p::CallBackResponse { meet: cur.view.clone(), already_handled: true };
        cur.notice = call_back_notice(&res);
        assert_eq!(
            looped.call_ui(&cur, None).notice.as_deref(),
            Some("This missed call has already been handled.")
        );
        assert_eq!(call_back_notice(&p::CallBackResponse { already_handled: false, ..res }), None);
    }

    #[test]
    fn end_reasons_read_as_words() {
        let mut v = view("m", MeetState::Missed, ScopeKind::UserChat, 1);
        v.missed_reason = Some("no_answer".into());
        assert_eq!(ended_notice(&v), "No answer.");
        v.missed_reason = None;
        assert_eq!(ended_notice(&v), "Missed.");
        v.state = MeetState::Ended;
        assert_eq!(ended_notice(&v), "The meet ended.");
    }
}
