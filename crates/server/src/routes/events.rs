//! `/api/events`: one WebSocket per device. The server sends JSON [`p::Event`]s; `seq` is the
//! cursor to resume from (`?after=<seq>`) after a reconnect, on any node.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_store::{events, meets, presence};
use serde::Deserialize;
use tracing::Instrument;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult, Query};
use crate::hub::LoggedEvent;
use crate::meeting;
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events_socket))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// The session token (browsers cannot set headers on a WebSocket).
    #[serde(default)]
    token: Option<String>,
    /// Resume after this `seq`; events the client missed are replayed first.
    #[serde(default)]
    after: Option<i64>,
}

/// Close code sent to a socket that fell too far behind; the client reconnects with `after`.
pub const CLOSE_LAGGING: u16 = 4008;

/// Read chunk of an event socket (larger messages still arrive, in several reads).
const READ_BUFFER: usize = 4 * 1024;

/// The event stream (WebSocket upgrade).
#[utoipa::path(get, path = "/api/events", params(EventsQuery),
    responses((status = 101, description = "WebSocket of `Event` JSON messages"), (status = 401, body = p::ErrorBody)))]
async fn events_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = q.token.or(header_token).ok_or_else(|| {
        AppError::unauthorized("missing_token", "Pass the session token as ?token= or a Bearer header.")
    })?;
    let (principal, _) = auth::authenticate(&state, &token).await?;
    let ws = ws.map_err(|_| AppError::bad_request("websocket_required", "This route is a WebSocket."))?;
    if q.after.is_some_and(|a| a < 0) {
        return Err(AppError::bad_request("invalid_query", "after is a non-negative seq."));
    }
    let span = tracing::info_span!("events", device_id = %principal.device_id());
    // Clients only send pongs and a close, so a small read buffer is plenty; tungstenite's
    // default (128 KiB, zero-filled on every read) cost ~130 KiB of memory per idle socket.
    let ws = ws.read_buffer_size(READ_BUFFER);
    Ok(ws.on_upgrade(move |socket| run_socket(state, Arc::new(principal), q.after, socket).instrument(span)))
}

async fn send(socket: &mut WebSocket, event: &p::Event) -> bool {
    match serde_json::to_string(event) {
        Ok(json) => socket.send(Message::Text(json.into())).await.is_ok(),
        Err(_) => true,
    }
}

fn visible(event: &LoggedEvent, who: &Principal) -> Option<p::Event> {
    if !event.audience.admits(who.channel_id(), &event.channel_id, who) {
        return None;
    }
    let mut body = event.body.clone();
    views::redact_event(&mut body, who);
    Some(p::Event { seq: event.seq, at: event.at, body })
}

async fn run_socket(state: AppState, who: Arc<Principal>, after: Option<i64>, mut socket: WebSocket) {
    let device = who.device_id().to_owned();
    // Read the cursor before registering, then replay from the log: nothing falls in between.
    let mut last = after.unwrap_or_else(|| state.hub.dispatched());
    let mut sub = state.hub.register(Arc::clone(&who));
    let (agent_id, customer_id) = match who.as_ref() {
        Principal::Agent { agent, .. } => (Some(agent.id.as_str()), None),
        Principal::Customer { customer_id, .. } => (None, Some(customer_id.as_str())),
    };
    if let Ok(mut db) = state.store.conn().await {
        let _ =
            presence::upsert(&mut db, &device, &state.node_id, agent_id, customer_id, state.clock.now_ms())
                .await;
    }
    let hello = p::Event {
        seq: 0,
        at: state.clock.now_ms(),
        body: EventBody::Hello { device_id: device.clone(), node_id: state.node_id.clone(), cursor: last },
    };
    // The replay first, then the rings going on now: a replayed `ring_stopped` of an older ring
    // of the same meet (a re-invite) can never come after — and cancel — the current one.
    if send(&mut socket, &hello).await
        && replay(&state, &who, &mut last, after.is_some(), &mut socket).await
        && pending_rings(&state, &who, &mut socket).await
    {
        live(&who, &mut sub, &mut last, &mut socket).await;
    }
    drop(sub);
    if let Ok(mut db) = state.store.conn().await {
        let _ = presence::remove(&mut db, &device, &state.node_id).await;
    }
}

/// Rings this device joins mid-way (P2, P9: every device of a rung party rings until the
/// deadline): a `ring` event, outside the log (`seq` 0), per ring going on for the caller's
/// party, with its real deadline. Read after the cursor, so a ring that stops from now on is
/// followed by its `ring_stopped`; one that starts from now on comes again through the log
/// (clients take a ring they hold as the same ring). Returns false when the socket is gone.
async fn pending_rings(state: &AppState, who: &Principal, socket: &mut WebSocket) -> bool {
    let party = meeting::party_of(who);
    let found = async {
        let mut db = state.store.read_conn().await?;
        let mut rings = Vec::new();
        for stored in meets::ringing_in_channel(&mut db, who.channel_id()).await? {
            let Some(ring) = stored.meet.ringing().find(|r| r.party == party) else { continue };
            let deadline = ring.deadline.0;
            let body = EventBody::Ring { meet: views::meet_view(&mut db, &stored).await?, deadline };
            let audience = meeting::party_audience(&party, stored.meet.id.as_str());
            rings.push(LoggedEvent {
                seq: 0,
                at: state.clock.now_ms(),
                channel_id: stored.channel_id,
                audience,
                body,
            });
        }
        Ok::<_, meetdesk_store::StoreError>(rings)
    };
    let rings = match found.await {
        Ok(rings) => rings,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the rings pending for a new socket");
            return true;
        }
    };
    for ring in rings {
        if let Some(event) = visible(&ring, who) {
            if !send(socket, &event).await {
                return false;
            }
        }
    }
    true
}

/// Sends what the client missed. Returns false when the socket is gone.
async fn replay(
    state: &AppState,
    who: &Principal,
    last: &mut i64,
    resuming: bool,
    socket: &mut WebSocket,
) -> bool {
    if resuming {
        let oldest = match state.store.read_conn().await {
            Ok(mut db) => events::min_id(&mut db).await.unwrap_or(0),
            Err(_) => 0,
        };
        if oldest > *last + 1 {
            // Pruned past the client's cursor: it must refetch its state.
            let resync = p::Event { seq: 0, at: state.clock.now_ms(), body: EventBody::Resync };
            if !send(socket, &resync).await {
                return false;
            }
            *last = oldest - 1;
        }
    }
    loop {
        let batch = match state.store.read_conn().await {
            Ok(mut db) => events::after(&mut db, *last, 500).await,
            Err(e) => Err(e),
        };
        let Ok(batch) = batch else { return false };
        let done = batch.len() < 500;
        for stored in batch {
            let seq = stored.id;
            if let Some(event) = LoggedEvent::parse(stored).and_then(|e| visible(&e, who)) {
                if !send(socket, &event).await {
                    return false;
                }
            }
            *last = seq;
        }
        if done {
            return true;
        }
    }
}

async fn live(who: &Principal, sub: &mut crate::hub::Subscription, last: &mut i64, socket: &mut WebSocket) {
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
    loop {
        tokio::select! {
            event = sub.rx.recv() => match event {
                Some(event) => {
                    if event.seq <= *last {
                        continue;
                    }
                    *last = event.seq;
                    if let Some(out) = visible(&event, who) {
                        if !send(socket, &out).await {
                            return;
                        }
                    }
                }
                None => {
                    let frame = CloseFrame { code: CLOSE_LAGGING, reason: "lagging; resume with ?after=".into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
