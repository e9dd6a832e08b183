//! The media router: an SFU for meets' audio, in memory, per node.
//!
//! Each participant device holds one WebRTC connection to the node that carries its meet
//! (`meets.node_id`: the node that started it). The connection has meetdesk's slot layout
//! ([`meetdesk_rtc`]): the device's microphone up, [`MAX_REMOTE`] receive slots down. The router
//! gives every other participant of the meet a slot in this device's connection, forwards their
//! packets into it unchanged but for the header (slot SSRC, payload type, continuous
//! sequence/timestamp: [`forward`]), and tells the device who is in which slot (`media_slots`
//! event). Nothing is decoded or mixed.
//!
//! State per meet sits behind that meet's own lock, taken only when someone's media joins or
//! leaves; the packet path reads an `ArcSwap` snapshot ([`forward::read_loop`]). Participants'
//! connections close when they leave the meet or it ends ([`MediaRouter::after_transition`],
//! called by `meeting` after the change commits) — and, for changes made on another node (a
//! hang-up sent elsewhere, the deadline sweeper), as soon as their `meet_updated` event reaches
//! this node's dispatcher ([`follow_changes`]), with [`reconcile`] every [`RECONCILE_EVERY`]
//! as the backstop (connections that failed, an event pruned). An offer sent to another node is forwarded here by that node
//! ([`crate::cluster`]); a forwarded offer for a meet this node no longer carries is refused
//! with `wrong_media_node`.

pub mod forward;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use meetdesk_meet::{Effect, Party, Phase};
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_rtc::{IceServer, PeerConfig, RtcError, ServerPeer, MAX_PARTICIPANTS, MAX_REMOTE};
use meetdesk_store::meets::{self, StoredMeet};
use tokio::task::JoinHandle;

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::hub::publish;
use crate::meeting;
use crate::state::AppState;
use crate::views;
use forward::{Outlet, Route, Routes};

/// How often each node compares its media sessions with the meets in the database.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Media settings of this node.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where the server's own peer connections bind, and the NAT 1:1 address they advertise.
    pub peer: PeerConfig,
    /// STUN/TURN servers handed to clients (`GET /api/media/config`); the server itself does
    /// not use them (it is reachable on its host or NAT 1:1 address).
    pub client_ice_servers: Vec<IceServer>,
}

/// Every meet's media on this node.
pub struct MediaRouter {
    settings: MediaSettings,
    meets: StdMutex<HashMap<String, Arc<MeetMedia>>>,
    next_source: AtomicU64,
}

impl std::fmt::Debug for MediaRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaRouter")
            .field("settings", &self.settings)
            .field("meets", &self.meet_count())
            .finish()
    }
}

struct MeetMedia {
    channel_id: String,
    members: tokio::sync::Mutex<Vec<Member>>,
}

/// One participant device's connection.
struct Member {
    party: Party,
    view: p::PartyView,
    device_id: String,
    peer: Arc<ServerPeer>,
    /// Where this member's microphone goes (read by its reader on every packet).
    routes: Routes,
    /// This member as a receiver (other members' routes point here).
    outlet: Arc<Outlet>,
    /// Reads this member's microphone and writes it into the others' slots.
    reader: JoinHandle<()>,
    /// `slots[k]`: whose stream this member hears in slot `k`.
    slots: [Option<Party>; MAX_REMOTE],
}

impl Member {
    /// Stops forwarding to and from this member and closes its connection (in the background:
    /// closing waits up to 100 ms for the driver).
    fn close(self) {
        self.routes.store(Arc::new(Vec::new()));
        self.reader.abort();
        let peer = self.peer;
        tokio::spawn(async move {
            if let Err(e) = peer.close().await {
                tracing::debug!(error = %e, "closing a media connection");
            }
        });
    }

    fn slot_views(&self, members: &[Member]) -> Vec<p::MediaSlot> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let party = s.as_ref()?;
                let view = members.iter().find(|m| &m.party == party)?.view.clone();
                Some(p::MediaSlot { index: i as u32, party: view })
            })
            .collect()
    }
}

/// Recomputes every member's routes from the slot tables.
fn rewire(members: &[Member]) {
    for sender in members {
        let routes: Vec<Route> = members
            .iter()
            .filter(|r| r.party != sender.party)
            .filter_map(|r| {
                let slot = r.slots.iter().position(|s| s.as_ref() == Some(&sender.party))?;
                Some(Route { to: Arc::clone(&r.outlet), slot })
            })
            .collect();
        sender.routes.store(Arc::new(routes));
    }
}

/// Frees the slots that carried `party` in every member's connection.
fn free_slots_of(members: &mut [Member], party: &Party) {
    for m in members.iter_mut() {
        for s in m.slots.iter_mut() {
            if s.as_ref() == Some(party) {
                *s = None;
            }
        }
    }
}

/// What a committed change means for media: who left, and whether the meet ended.
#[derive(Debug, Default, Clone)]
pub struct MediaChange {
    pub left: Vec<Party>,
    pub ended: bool,
}

impl MediaChange {
    pub fn of(effects: &[Effect]) -> MediaChange {
        let mut change = MediaChange::default();
        for e in effects {
            match e {
                Effect::Left { party } => change.left.push(party.clone()),
                Effect::Ended { .. } => change.ended = true,
                _ => {}
            }
        }
        change
    }

    pub fn is_empty(&self) -> bool {
        self.left.is_empty() && !self.ended
    }
}

impl MediaRouter {
    pub fn new(settings: MediaSettings) -> MediaRouter {
        MediaRouter { settings, meets: StdMutex::new(HashMap::new()), next_source: AtomicU64::new(1) }
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    /// Meets with media state on this node.
    pub fn meet_count(&self) -> usize {
        self.meets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Connections open on this node for a meet (tests, diagnostics).
    pub async fn connections(&self, meet_id: &str) -> usize {
        match self.meet(meet_id) {
            Some(m) => m.members.lock().await.len(),
            None => 0,
        }
    }

    fn meet(&self, meet_id: &str) -> Option<Arc<MeetMedia>> {
        self.meets.lock().unwrap_or_else(|e| e.into_inner()).get(meet_id).cloned()
    }

    fn meet_or_insert(&self, meet_id: &str, channel_id: &str) -> Arc<MeetMedia> {
        let mut meets = self.meets.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(meets.entry(meet_id.to_owned()).or_insert_with(|| {
            Arc::new(MeetMedia {
                channel_id: channel_id.to_owned(),
                members: tokio::sync::Mutex::new(Vec::new()),
            })
        }))
    }

    fn forget_if_empty(&self, meet_id: &str, meet: &Arc<MeetMedia>, members: &[Member]) {
        if members.is_empty() {
            let mut meets = self.meets.lock().unwrap_or_else(|e| e.into_inner());
            if meets.get(meet_id).is_some_and(|m| Arc::ptr_eq(m, meet)) {
                meets.remove(meet_id);
            }
        }
    }

    /// The node carrying the media of a meet `who` may see (404 otherwise).
    pub async fn carrying_node(&self, state: &AppState, who: &Principal, meet_id: &str) -> AppResult<String> {
        let mut db = state.store.read_conn().await?;
        let stored = meets::get(&mut db, meet_id).await?.ok_or_else(|| AppError::not_found("meet"))?;
        if !meeting::can_see(&mut db, who, &stored).await? {
            return Err(AppError::not_found("meet"));
        }
        Ok(stored.node_id)
    }

    /// `POST /api/meets/{id}/media`: a present participant's device offers; the router creates
    /// its connection (or, for an ICE restart, reuses it), answers, and gives it and the others
    /// their slots.
    pub async fn offer(
        &self,
        state: &AppState,
        who: &Principal,
        meet_id: &str,
        req: p::MediaOfferRequest,
    ) -> AppResult<p::MediaAnswer> {
        // Refuse early (no state is created for a refused request)…
        let (stored, _) = participant(state, who, meet_id).await?;
        loop {
            let meet = self.meet_or_insert(meet_id, &stored.channel_id);
            let mut members = meet.members.lock().await;
            // A request that held the lock before us may have found the meet's media empty
            // and dropped it from the map: ours would then be lost in an orphan. Start again
            // on the current one.
            if !self.is_current(meet_id, &meet) {
                continue;
            }
            return self.offer_locked(state, who, meet_id, req, &meet, &mut members).await;
        }
    }

    fn is_current(&self, meet_id: &str, meet: &Arc<MeetMedia>) -> bool {
        let meets = self.meets.lock().unwrap_or_else(|e| e.into_inner());
        meets.get(meet_id).is_some_and(|m| Arc::ptr_eq(m, meet))
    }

    async fn offer_locked(
        &self,
        state: &AppState,
        who: &Principal,
        meet_id: &str,
        req: p::MediaOfferRequest,
        meet: &Arc<MeetMedia>,
        members: &mut Vec<Member>,
    ) -> AppResult<p::MediaAnswer> {
        // …and again under the meet's lock: a hang-up committed in between runs its clean-up
        // after this (it waits for the lock), or is seen here.
        let (_, view) = match participant(state, who, meet_id).await {
            Ok(found) => found,
            Err(e) => {
                self.forget_if_empty(meet_id, meet, members);
                return Err(e);
            }
        };
        let party = meeting::party_of(who);
        let device_id = who.device_id().to_owned();

        if let Some(i) = members.iter().position(|m| m.party == party) {
            if req.restart && members[i].device_id == device_id {
                let answer = members[i].peer.answer(&req.sdp).await.map_err(offer_error)?;
                tracing::info!(meet_id, device_id, "media ICE restart answered");
                return Ok(p::MediaAnswer { sdp: answer });
            }
            // A fresh offer (the app reloaded, or another device of a rejoined party): the new
            // connection replaces the old one.
            let old = members.remove(i);
            free_slots_of(members, &party);
            old.close();
        } else if req.restart {
            // An ICE restart keeps the DTLS session, which only the old connection has.
            self.forget_if_empty(meet_id, meet, members);
            return Err(AppError::conflict(
                "no_media_connection",
                "This device has no media connection in this meet to restart; send a fresh offer.",
            ));
        }
        if members.len() >= MAX_PARTICIPANTS {
            return Err(AppError::conflict(
                "media_full",
                format!("This meet already carries the audio of {MAX_PARTICIPANTS} participants."),
            ));
        }

        let routes: Routes = Arc::new(ArcSwap::from_pointee(Vec::new()));
        let source = self.next_source.fetch_add(1, Ordering::Relaxed);
        let (peer, mic) = match ServerPeer::with_mic(&self.settings.peer).await {
            Ok((peer, mic)) => (Arc::new(peer), mic),
            Err(e) => {
                self.forget_if_empty(meet_id, meet, members);
                return Err(AppError::Internal(anyhow::Error::new(e).context("creating a media connection")));
            }
        };
        let answer = match peer.answer(&req.sdp).await {
            Ok(a) => a,
            Err(e) => {
                let _ = peer.close().await;
                self.forget_if_empty(meet_id, meet, members);
                return Err(offer_error(e));
            }
        };
        let outlet = Arc::new(Outlet::new(Arc::clone(&peer)));
        let reader = tokio::spawn(forward::read_loop(mic, Arc::clone(&routes), source));
        let mut member = Member {
            party: party.clone(),
            view,
            device_id: device_id.clone(),
            peer,
            routes,
            outlet,
            reader,
            slots: Default::default(),
        };
        // Everyone hears the newcomer in their first free slot, and the newcomer hears
        // everyone in its own slots, in the order they joined.
        for other in members.iter_mut() {
            if let Some(k) = other.slots.iter().position(Option::is_none) {
                other.slots[k] = Some(party.clone());
            }
            if let Some(k) = member.slots.iter().position(Option::is_none) {
                member.slots[k] = Some(other.party.clone());
            }
        }
        members.push(member);
        rewire(members);
        let all: Vec<usize> = (0..members.len()).collect();
        if let Err(e) = announce(state, meet_id, &meet.channel_id, members, &all).await {
            tracing::error!(error = ?e, meet_id, "could not announce media slots");
        }
        tracing::info!(meet_id, device_id, connections = members.len(), "media connection answered");
        Ok(p::MediaAnswer { sdp: answer })
    }

    /// Applies a committed meet change: closes the connections of those who left (freeing
    /// their slots and telling the others), or of everyone when the meet ended. Never fails
    /// the change it follows: problems are logged.
    pub async fn after_transition(&self, state: &AppState, meet_id: &str, change: &MediaChange) {
        if change.is_empty() {
            return;
        }
        let Some(meet) = self.meet(meet_id) else { return };
        let mut members = meet.members.lock().await;
        if change.ended {
            for m in members.drain(..) {
                m.close();
            }
            tracing::info!(meet_id, "meet ended: media connections closed");
        } else {
            self.remove(state, meet_id, &meet, &mut members, |m| change.left.contains(&m.party)).await;
        }
        self.forget_if_empty(meet_id, &meet, &members);
    }

    /// Removes the members `gone` selects, then re-routes and re-announces the others.
    async fn remove(
        &self,
        state: &AppState,
        meet_id: &str,
        meet: &MeetMedia,
        members: &mut Vec<Member>,
        gone: impl Fn(&Member) -> bool,
    ) {
        let mut removed = Vec::new();
        let mut i = 0;
        while i < members.len() {
            if gone(&members[i]) {
                removed.push(members.remove(i));
            } else {
                i += 1;
            }
        }
        if removed.is_empty() {
            return;
        }
        let before: Vec<_> = members.iter().map(|m| m.slots.clone()).collect();
        for m in &removed {
            free_slots_of(members, &m.party);
        }
        rewire(members);
        for m in removed {
            tracing::info!(meet_id, device_id = %m.device_id, "media connection closed (left)");
            m.close();
        }
        let changed: Vec<usize> = (0..members.len()).filter(|&i| members[i].slots != before[i]).collect();
        if let Err(e) = announce(state, meet_id, &meet.channel_id, members, &changed).await {
            tracing::error!(error = ?e, meet_id, "could not announce media slots");
        }
    }

    /// Compares this node's media with the database: drops connections of participants who
    /// are no longer present (changes made on another node, deadlines) and of meets that
    /// ended. One query for all of this node's meets, on a read connection (never the writer).
    pub async fn reconcile_once(&self, state: &AppState) {
        // The meets held before the query: each was going on when its media started, so one
        // the query does not return has ended since.
        let meets: Vec<(String, Arc<MeetMedia>)> = {
            let map = self.meets.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
        };
        if meets.is_empty() {
            return;
        }
        let ongoing = match state.store.read_conn().await {
            Ok(mut db) => meets::ongoing_on_node(&mut db, &state.node_id).await,
            Err(e) => Err(e),
        };
        let mut ongoing: HashMap<String, StoredMeet> = match ongoing {
            Ok(found) => found.into_iter().map(|s| (s.meet.id.as_str().to_owned(), s)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "media reconcile could not read this node's meets");
                return;
            }
        };
        for (meet_id, meet) in meets {
            let mut members = meet.members.lock().await;
            match ongoing.remove(&meet_id) {
                Some(s) => {
                    // A connection that failed stays: the device may restart ICE on it.
                    let present = |m: &Member| {
                        s.meet.present().any(|p| p.party == m.party && p.device.0 == m.device_id)
                    };
                    self.remove(state, &meet_id, &meet, &mut members, |m| !present(m)).await;
                }
                None => {
                    for m in members.drain(..) {
                        m.close();
                    }
                }
            }
            self.forget_if_empty(&meet_id, &meet, &members);
        }
    }

    /// [`MediaRouter::reconcile_once`] for one meet.
    async fn reconcile_meet(&self, state: &AppState, meet_id: &str) {
        let Some(meet) = self.meet(meet_id) else { return };
        let stored = match state.store.read_conn().await {
            Ok(mut db) => meets::get(&mut db, meet_id).await,
            Err(e) => Err(e),
        };
        let stored = match stored {
            Ok(found) => found.filter(|s| s.node_id == state.node_id && s.meet.phase != Phase::Ended),
            Err(e) => {
                tracing::warn!(error = %e, meet_id, "media reconcile could not read the meet");
                return;
            }
        };
        let mut members = meet.members.lock().await;
        match stored {
            Some(s) => {
                let present =
                    |m: &Member| s.meet.present().any(|p| p.party == m.party && p.device.0 == m.device_id);
                self.remove(state, meet_id, &meet, &mut members, |m| !present(m)).await;
            }
            None => {
                for m in members.drain(..) {
                    m.close();
                }
            }
        }
        self.forget_if_empty(meet_id, &meet, &members);
    }

    /// Closes every connection (server shutdown).
    pub async fn close_all(&self) {
        let meets: Vec<Arc<MeetMedia>> =
            self.meets.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, v)| v).collect();
        for meet in meets {
            for m in meet.members.lock().await.drain(..) {
                m.reader.abort();
                let _ = m.peer.close().await;
            }
        }
    }
}

/// Follows changes to meets this node carries made by any node (a hang-up sent to another
/// node, its sweeper): each `meet_updated` the dispatcher reads for a meet with media here
/// reconciles that meet at once, instead of at the next [`RECONCILE_EVERY`] tick.
pub async fn follow_changes(state: AppState) {
    let mut changes = state.hub.watch_meets();
    while let Some(meet_id) = changes.recv().await {
        if state.media.meet(&meet_id).is_some() {
            state.media.reconcile_meet(&state, &meet_id).await;
        }
    }
}

/// Runs [`MediaRouter::reconcile_once`] every [`RECONCILE_EVERY`].
pub async fn reconcile(state: AppState) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.media.reconcile_once(&state).await;
    }
}

fn offer_error(e: RtcError) -> AppError {
    match e {
        RtcError::BadOffer(why) => {
            AppError::bad_request("bad_offer", format!("The offer was refused: {why}"))
        }
        RtcError::NoOpus => AppError::bad_request("bad_offer", "The offer must offer Opus audio (48 kHz)."),
        RtcError::WebRtc(e) => {
            AppError::bad_request("bad_offer", format!("The offer could not be applied: {e}"))
        }
        e => AppError::Internal(anyhow::Error::new(e).context("answering a media offer")),
    }
}

/// The caller must see the meet, which must be carried by this node and going on, and must
/// take part in it on this very device. Returns the meet and the caller's party view.
async fn participant(
    state: &AppState,
    who: &Principal,
    meet_id: &str,
) -> AppResult<(StoredMeet, p::PartyView)> {
    let mut db = state.store.read_conn().await?;
    let stored = meets::get(&mut db, meet_id).await?.ok_or_else(|| AppError::not_found("meet"))?;
    if !meeting::can_see(&mut db, who, &stored).await? {
        return Err(AppError::not_found("meet"));
    }
    if stored.node_id != state.node_id {
        return Err(AppError::conflict(
            "wrong_media_node",
            format!(
                "This meet's media is carried by server node {}; send the offer to that node.",
                stored.node_id
            ),
        ));
    }
    if stored.meet.phase == Phase::Ended {
        return Err(AppError::new(axum::http::StatusCode::GONE, "ended", "This meet has ended."));
    }
    let party = meeting::party_of(who);
    let Some(me) = stored.meet.present().find(|p| p.party == party) else {
        return Err(AppError::forbidden("not_in_meet", "Answer or join the meet before sending media."));
    };
    if me.device.0 != who.device_id() {
        return Err(AppError::conflict(
            "other_device",
            "You take part in this meet on another device; send media from that device.",
        ));
    }
    let view = views::meet_view(&mut db, &stored).await?;
    let party_view = view
        .participants
        .into_iter()
        .find(|p| p.left_at.is_none() && p.device_id == who.device_id())
        .map(|p| p.party)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("participant without a view")))?;
    Ok((stored, party_view))
}

/// Publishes `media_slots` to the members at `which` (each to its own party, scoped to the
/// meet), in one transaction.
async fn announce(
    state: &AppState,
    meet_id: &str,
    channel_id: &str,
    members: &[Member],
    which: &[usize],
) -> AppResult<()> {
    if which.is_empty() {
        return Ok(());
    }
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    for &i in which {
        let Some(m) = members.get(i) else { continue };
        let body = EventBody::MediaSlots {
            meet_id: meet_id.to_owned(),
            device_id: m.device_id.clone(),
            slots: m.slot_views(members),
        };
        publish(&mut tx, &state.store, channel_id, &meeting::party_audience(&m.party, meet_id), &body, now)
            .await?;
    }
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(())
}
