//! Call history (P8): records written when a meet ends (in its transaction), "already
//! handled" when a missed customer is called back, the changes feed the desktop cache syncs
//! from, deletes (online and replayed offline ones), starting a meet again from a record,
//! suggestions for an empty history, the new-team-meet search, and retention.
//!
//! Every record change announces `history_changed {cursor}` to the owning agent only.

use std::collections::BTreeMap;

use meetdesk_meet::record::{records_of, Direction};
use meetdesk_meet::{Party, Scope};
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_store::accounts::{self, Agent};
use meetdesk_store::meets::{self, StoredMeet};
use meetdesk_store::records::{self, CallRecord};
use meetdesk_store::{chats, rooms, suggest, Db};

use crate::auth::{new_id, Principal};
use crate::error::{AppError, AppResult};
use crate::hub::{publish, Audience};
use crate::state::AppState;

const DAY_MS: i64 = 24 * 3_600_000;
/// Records are kept 6 months (P8), taken as 183 days: no record younger than six calendar
/// months is ever deleted (the longest six months run 184 days, so a record may outlive its six
/// months by at most a day).
pub const RETENTION_MS: i64 = 183 * DAY_MS;
/// Tombstones are kept this long after the delete; a cache that did not sync meanwhile pulls
/// everything again (`reset`).
pub const TOMBSTONE_MS: i64 = 30 * DAY_MS;
/// Idempotency keys of offline deletes are remembered this long.
pub const DELETE_KEY_MS: i64 = 30 * DAY_MS;
/// Suggestions look this far back (P8).
pub const SUGGEST_WINDOW_MS: i64 = 30 * DAY_MS;
/// At least this many distinct customers (or agents) before any is suggested…
pub const SUGGEST_MIN: usize = 3;
/// …and at most this many.
pub const SUGGEST_MAX: i64 = 10;
/// Records the retention sweeper deletes per transaction.
pub const SWEEP_BATCH: i64 = 200;
/// Changes per page: default and most.
pub const DEFAULT_PAGE: i64 = 1000;
pub const MAX_PAGE: i64 = 5000;
/// Offline deletes per request, and the longest idempotency key.
pub const MAX_DELETES: usize = 500;
pub const MAX_KEY_LEN: usize = 100;

/// The message of a record from an internal chat pressed to call again (P8).
pub const INTERNAL_NOT_RETURNABLE: &str = "Internal meets cannot be returned.";

fn direction(code: &str) -> p::RecordDirection {
    match Direction::from_code(code) {
        Some(Direction::Outgoing) => p::RecordDirection::Outgoing,
        Some(Direction::Missed) => p::RecordDirection::Missed,
        Some(Direction::Invited) => p::RecordDirection::Invited,
        Some(Direction::Incoming) | None => p::RecordDirection::Incoming,
    }
}

fn scope_kind(code: &str) -> p::ScopeKind {
    match code {
        "internal" => p::ScopeKind::Internal,
        "team_group" => p::ScopeKind::TeamGroup,
        "team_dm" => p::ScopeKind::TeamDm,
        _ => p::ScopeKind::UserChat,
    }
}

/// A stored record as the wire shows it.
pub fn record_view(r: &CallRecord) -> p::CallRecordView {
    p::CallRecordView {
        id: r.id.clone(),
        meet_id: r.meet_id.clone(),
        direction: direction(&r.direction),
        scope: scope_kind(&r.scope_kind),
        media: if r.media == "video" { p::Media::Video } else { p::Media::Audio },
        internal: r.scope_kind == "internal",
        counterpart: p::Counterpart {
            kind: match r.counterpart_kind.as_str() {
                "agent" => p::CounterpartKind::Agent,
                "room" => p::CounterpartKind::Room,
                _ => p::CounterpartKind::Customer,
            },
            id: r.counterpart_id.clone(),
            name: r.counterpart_name.clone(),
        },
        chat_id: r.chat_id.clone(),
        room_id: r.room_id.clone(),
        invited_by: match (&r.invited_by_id, &r.invited_by_name) {
            (Some(id), name) => Some(p::AgentRef { id: id.clone(), name: name.clone().unwrap_or_default() }),
            (None, _) => None,
        },
        started_at: r.started_at,
        answered_at: r.answered_at,
        ended_at: r.ended_at,
        handled: r.handled,
        created_seq: r.created_seq,
    }
}

/// A record's wire JSON, stored with it ([`records::Render`]) and sent as it is by the feed.
pub fn record_body(r: &CallRecord) -> meetdesk_store::Result<String> {
    serde_json::to_string(&record_view(r))
        .map_err(|e| meetdesk_store::StoreError::Corrupt(format!("call record {}: {e}", r.id)))
}

/// The JSON of a [`p::ChangesPage`], written directly: each record's stored body is spliced in
/// as it is (checked to be JSON), not decoded and encoded again.
pub fn changes_page_json(
    reset: bool,
    rows: &[records::FeedRow],
    cursor: i64,
    has_more: bool,
) -> AppResult<String> {
    let mut out = String::with_capacity(
        64 + rows.iter().map(|r| 48 + r.body.as_ref().map_or(r.id.len(), String::len)).sum::<usize>(),
    );
    out.push_str(if reset { r#"{"reset":true,"changes":["# } else { r#"{"reset":false,"changes":["# });
    for (k, row) in rows.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        match &row.body {
            Some(body) => {
                serde_json::from_str::<serde::de::IgnoredAny>(body).map_err(|e| {
                    meetdesk_store::StoreError::Corrupt(format!("call record {}: {e}", row.id))
                })?;
                out.push_str(r#"{"op":"upsert","seq":"#);
                out.push_str(&row.seq.to_string());
                out.push_str(r#","record":"#);
                out.push_str(body);
            }
            None => {
                out.push_str(r#"{"op":"delete","seq":"#);
                out.push_str(&row.seq.to_string());
                out.push_str(r#","id":"#);
                out.push_str(&serde_json::Value::from(row.id.as_str()).to_string());
            }
        }
        out.push('}');
    }
    out.push_str(&format!(r#"],"cursor":{cursor},"has_more":{has_more}}}"#));
    Ok(out)
}

/// Tells the owner's devices (only theirs) that their history changed up to `cursor`.
async fn announce(
    db: &mut Db,
    state: &AppState,
    channel_id: &str,
    agent_id: &str,
    cursor: i64,
) -> AppResult<()> {
    let audience = Audience::agents([agent_id.to_owned()]);
    publish(
        db,
        &state.store,
        channel_id,
        &audience,
        &EventBody::HistoryChanged { cursor },
        state.clock.now_ms(),
    )
    .await?;
    Ok(())
}

async fn agent_name(db: &mut Db, id: &str) -> meetdesk_store::Result<String> {
    Ok(accounts::agent_by_id(db, id).await?.map(|a| a.name).unwrap_or_default())
}

/// The records an ended meet leaves (P8), written in the transaction that ended it.
pub(crate) async fn meet_ended(db: &mut Db, state: &AppState, stored: &StoredMeet) -> AppResult<()> {
    let meet = &stored.meet;
    let (scope_kind, chat_id, room_id) = match &meet.scope {
        Scope::UserChat(c) => ("user_chat", Some(c.0.clone()), None),
        Scope::Internal(c) => ("internal", Some(c.0.clone()), None),
        Scope::TeamGroup(r) => ("team_group", None, Some(r.0.clone())),
        Scope::TeamDm(r) => ("team_dm", None, Some(r.0.clone())),
    };
    let chat = match &chat_id {
        Some(c) => chats::chat_by_id(db, c).await?,
        None => None,
    };
    let room = match &room_id {
        Some(r) => rooms::room_by_id(db, r).await?,
        None => None,
    };
    let room_counterpart = || {
        (
            "room",
            room_id.clone().unwrap_or_default(),
            room.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
        )
    };
    for rf in records_of(meet) {
        let customer = match (&rf.counterpart, &chat) {
            (Some(Party::Customer(c)), _) => Some(c.0.clone()),
            (None, Some(chat)) if chat_id.is_some() => Some(chat.customer_id.clone()),
            _ => None,
        };
        let (kind, id, name) = match (&meet.scope, &rf.counterpart, customer) {
            (Scope::TeamGroup(_), _, _) => room_counterpart(),
            (_, Some(Party::Agent(a)), _) => ("agent", a.0.clone(), agent_name(db, &a.0).await?),
            (_, _, Some(c)) => {
                let name = chats::customer_by_id(db, &c).await?.map(|c| c.name).unwrap_or_default();
                ("customer", c, name)
            }
            _ => room_counterpart(),
        };
        let invited_by_name = match &rf.invited_by {
            Some(a) => Some(agent_name(db, &a.0).await?),
            None => None,
        };
        let new = CallRecord {
            id: new_id("rec"),
            channel_id: stored.channel_id.clone(),
            agent_id: rf.agent.0.clone(),
            meet_id: meet.id.0.clone(),
            direction: rf.direction.code().to_owned(),
            scope_kind: scope_kind.to_owned(),
            media: match meet.media {
                meetdesk_meet::Media::Audio => "audio".to_owned(),
                meetdesk_meet::Media::Video => "video".to_owned(),
            },
            chat_id: chat_id.clone(),
            room_id: room_id.clone(),
            counterpart_kind: kind.to_owned(),
            counterpart_id: id,
            counterpart_name: name,
            invited_by_id: rf.invited_by.map(|a| a.0),
            invited_by_name,
            started_at: meet.created_at.0,
            answered_at: meet.answered_at.map(|t| t.0),
            ended_at: meet.ended_at.map(|t| t.0),
            handled: false,
            created_seq: 0,
            seq: 0,
            deleted_at: None,
        };
        if let Some(written) = records::insert(db, state.store.backend(), &new, record_body).await? {
            announce(db, state, &written.channel_id, &written.agent_id, written.seq).await?;
        }
    }
    Ok(())
}

/// An agent calls a customer: the customer's missed meets count as handled (P8), for every
/// agent who has one.
pub(crate) async fn meet_started(db: &mut Db, state: &AppState, stored: &StoredMeet) -> AppResult<()> {
    let (Scope::UserChat(chat), Party::Agent(_)) = (&stored.meet.scope, &stored.meet.caller) else {
        return Ok(());
    };
    let Some(chat) = chats::chat_by_id(db, &chat.0).await? else { return Ok(()) };
    let changed =
        records::mark_handled(db, state.store.backend(), &stored.channel_id, &chat.customer_id, record_body)
            .await?;
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for r in &changed {
        last.insert(r.agent_id.clone(), r.seq);
    }
    for (agent, seq) in last {
        announce(db, state, &stored.channel_id, &agent, seq).await?;
    }
    Ok(())
}

/// One page of an agent's changes after `since`: the JSON of a [`p::ChangesPage`].
pub async fn changes_page(
    state: &AppState,
    agent: &Agent,
    since: i64,
    limit: Option<i64>,
) -> AppResult<String> {
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let mut db = state.store.conn().await?;
    // Read the counter first: every seq up to it is committed (seqs are taken under a lock
    // held to commit), so the rows read next include all of them.
    let current = records::current_seq(&mut db).await?;
    let horizon = records::horizon(&mut db, &agent.id).await?;
    let reset = since < 0 || since > current || (since > 0 && since < horizon);
    let from = if reset { 0 } else { since };
    let mut rows = records::feed(&mut db, &agent.id, from, limit + 1, record_body).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let last = rows.last().map_or(from, |r| r.seq);
    let cursor = if has_more { last } else { last.max(current) };
    changes_page_json(reset, &rows, cursor, has_more)
}

/// One record of the agent's (404 for anyone else's, and for deleted ones).
pub async fn get(state: &AppState, agent: &Agent, id: &str) -> AppResult<p::CallRecordView> {
    let mut db = state.store.conn().await?;
    let r = records::get(&mut db, id)
        .await?
        .filter(|r| r.agent_id == agent.id && r.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("record"))?;
    Ok(record_view(&r))
}

/// Deletes one record of the agent's. Deleting it again is fine; someone else's is 404.
pub async fn delete_one(state: &AppState, agent: &Agent, id: &str) -> AppResult<()> {
    let mut tx = state.store.begin().await?;
    let found = records::get(&mut tx, id).await?.filter(|r| r.agent_id == agent.id);
    if found.is_none() {
        return Err(AppError::not_found("record"));
    }
    let now = state.clock.now_ms();
    if let Some(r) = records::delete_one(&mut tx, state.store.backend(), &agent.id, id, now).await? {
        announce(&mut tx, state, &r.channel_id, &agent.id, r.seq).await?;
    }
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(())
}

/// Deletes all the agent's records (written at or before seq `through`, when given).
pub async fn delete_all(state: &AppState, agent: &Agent, through: Option<i64>) -> AppResult<i64> {
    let mut tx = state.store.begin().await?;
    let now = state.clock.now_ms();
    let (n, _, last) = records::delete_all(&mut tx, state.store.backend(), &agent.id, through, now).await?;
    if n > 0 {
        announce(&mut tx, state, &agent.channel_id, &agent.id, last).await?;
    }
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(n)
}

/// Deletes made offline, replayed in order; each key is applied once.
pub async fn apply_offline(
    state: &AppState,
    agent: &Agent,
    req: p::DeletesRequest,
) -> AppResult<p::DeletesResponse> {
    if req.deletes.len() > MAX_DELETES {
        return Err(AppError::bad_request(
            "too_many_deletes",
            format!("At most {MAX_DELETES} deletes per request."),
        ));
    }
    if req.deletes.iter().any(|d| d.key.is_empty() || d.key.len() > MAX_KEY_LEN) {
        return Err(AppError::bad_request(
            "invalid_key",
            format!("An idempotency key has 1 to {MAX_KEY_LEN} bytes."),
        ));
    }
    let backend = state.store.backend();
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    // Taken first, so two replays of the same key (a lost response retried) apply it once.
    records::lock(&mut tx, backend).await?;
    let mut results = Vec::with_capacity(req.deletes.len());
    let mut last = None;
    for d in req.deletes {
        if let Some(deleted) = records::applied_delete(&mut tx, &agent.id, &d.key).await? {
            results.push(p::DeleteResult { key: d.key, status: p::DeleteStatus::AlreadyApplied, deleted });
            continue;
        }
        let deleted = match &d.target {
            p::DeleteTarget::Record { id } => {
                match records::delete_one(&mut tx, backend, &agent.id, id, now).await? {
                    Some(r) => {
                        last = Some(r.seq);
                        1
                    }
                    None => 0,
                }
            }
            p::DeleteTarget::All { through } => {
                let (n, _, l) = records::delete_all(&mut tx, backend, &agent.id, *through, now).await?;
                if n > 0 {
                    last = Some(l);
                }
                n
            }
        };
        records::remember_delete(&mut tx, &agent.id, &d.key, deleted, now).await?;
        let status = if deleted > 0 || matches!(d.target, p::DeleteTarget::All { .. }) {
            p::DeleteStatus::Applied
        } else {
            p::DeleteStatus::NotFound
        };
        results.push(p::DeleteResult { key: d.key, status, deleted });
    }
    if let Some(cursor) = last {
        announce(&mut tx, state, &agent.channel_id, &agent.id, cursor).await?;
    }
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(p::DeletesResponse { results })
}

/// Pressing a record: a new meet of the same kind with the same counterpart (P8), through the
/// same start path (and refusals) as `POST /api/meets`.
pub async fn call_back(state: &AppState, who: &Principal, id: &str) -> AppResult<p::CallBackResponse> {
    let agent = who.agent()?;
    let record = {
        let mut db = state.store.conn().await?;
        records::get(&mut db, id)
            .await?
            .filter(|r| r.agent_id == agent.id && r.deleted_at.is_none())
            .ok_or_else(|| AppError::not_found("record"))?
    };
    let target = match (record.scope_kind.as_str(), &record.chat_id, &record.room_id) {
        ("internal", _, _) => {
            return Err(AppError::conflict("internal_not_returnable", INTERNAL_NOT_RETURNABLE))
        }
        ("user_chat", Some(chat_id), _) => p::MeetTarget::UserChat { chat_id: chat_id.clone() },
        (_, _, Some(room_id)) => p::MeetTarget::Room { room_id: room_id.clone() },
        _ => return Err(AppError::not_found("record")),
    };
    let media = if record.media == "video" { p::Media::Video } else { p::Media::Audio };
    let already_handled = record.direction == "missed" && record.handled;
    let meet = crate::meeting::start(state, who, p::StartMeetRequest { target, media }).await?;
    Ok(p::CallBackResponse { meet, already_handled })
}

/// Suggestions for an empty history (P8).
pub async fn suggestions(state: &AppState, agent: &Agent) -> AppResult<p::Suggestions> {
    let since = state.clock.now_ms() - SUGGEST_WINDOW_MS;
    let mut db = state.store.conn().await?;
    let mut customers =
        suggest::recent_customers(&mut db, &agent.channel_id, &agent.id, since, SUGGEST_MAX).await?;
    if customers.len() < SUGGEST_MIN {
        customers.clear();
    }
    let mut agents =
        suggest::recent_dm_agents(&mut db, &agent.channel_id, &agent.id, since, SUGGEST_MAX).await?;
    if agents.len() < SUGGEST_MIN {
        agents.clear();
    }
    Ok(p::Suggestions {
        customers: customers
            .into_iter()
            .map(|c| p::CustomerSuggestion {
                customer_id: c.customer_id,
                name: c.name,
                chat_id: c.chat_id,
                last_message_at: c.last_at,
            })
            .collect(),
        agents: agents
            .into_iter()
            .map(|a| p::AgentSuggestion {
                agent: p::AgentRef { id: a.agent_id, name: a.name },
                room_id: a.room_id,
                last_message_at: a.last_at,
            })
            .collect(),
    })
}

/// The new-team-meet search (P8): rooms the agent can see and agents, matching `q` (any part
/// of a name, or an agent's e-mail; case-insensitive), ordered public groups, private groups,
/// then DMs (one per agent), each alphabetically.
pub async fn search(state: &AppState, agent: &Agent, q: &str) -> AppResult<Vec<p::TeamSearchResult>> {
    let q = q.trim().to_lowercase();
    let matches = |s: &str| q.is_empty() || s.to_lowercase().contains(&q);
    let mut db = state.store.conn().await?;
    let mut out: Vec<(u8, String, p::TeamSearchResult)> = Vec::new();
    for room in rooms::rooms_for_agent(&mut db, &agent.channel_id, &agent.id).await? {
        let kind = match room.kind.as_str() {
            "public" => p::RoomKind::Public,
            "private" => p::RoomKind::Private,
            _ => continue,
        };
        if !matches(&room.name) {
            continue;
        }
        let ongoing = meets::ongoing_in_room(&mut db, &room.id).await?;
        let rank = if kind == p::RoomKind::Public { 0 } else { 1 };
        out.push((
            rank,
            room.name.to_lowercase(),
            p::TeamSearchResult {
                kind,
                room_id: Some(room.id),
                name: room.name,
                agent: None,
                ongoing_meet: ongoing,
            },
        ));
    }
    let dms: BTreeMap<String, String> = suggest::dms_of(&mut db, &agent.channel_id, &agent.id)
        .await?
        .into_iter()
        .map(|(r, a)| (a, r))
        .collect();
    for other in accounts::agents_of_channel(&mut db, &agent.channel_id).await? {
        if other.id == agent.id || !(matches(&other.name) || matches(&other.email)) {
            continue;
        }
        let room_id = dms.get(&other.id).cloned();
        let ongoing = match &room_id {
            Some(r) => meets::ongoing_in_room(&mut db, r).await?,
            None => None,
        };
        out.push((
            2,
            other.name.to_lowercase(),
            p::TeamSearchResult {
                kind: p::RoomKind::Dm,
                room_id,
                name: other.name.clone(),
                agent: Some(p::AgentRef { id: other.id, name: other.name }),
                ongoing_meet: ongoing,
            },
        ));
    }
    out.sort_by(|a, b| (a.0, &a.1, &a.2.name).cmp(&(b.0, &b.1, &b.2.name)));
    Ok(out.into_iter().map(|(_, _, r)| r).collect())
}

/// One step of retention at `now`: a batch of records older than [`RETENTION_MS`] becomes
/// tombstones (their owners are told), or else a batch of old tombstones is forgotten, and old
/// idempotency keys, and a batch of records from before stored bodies gets theirs. Returns
/// whether a full batch was done (more may wait).
pub async fn sweep(state: &AppState, now: i64) -> AppResult<bool> {
    let backend = state.store.backend();
    let mut tx = state.store.begin().await?;
    let (owners, first, last) =
        records::expire_batch(&mut tx, backend, now - RETENTION_MS, SWEEP_BATCH, now).await?;
    for (agent, channel) in &owners {
        announce(&mut tx, state, channel, agent, last).await?;
    }
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    if !owners.is_empty() {
        state.hub.wake();
        let n = last - first + 1;
        tracing::info!(records = n, "call records past retention deleted");
        return Ok(n == SWEEP_BATCH);
    }
    let mut tx = state.store.begin().await?;
    let purged = records::purge_tombstones(&mut tx, now - TOMBSTONE_MS, SWEEP_BATCH).await?;
    records::prune_delete_keys(&mut tx, now - DELETE_KEY_MS).await?;
    let filled = records::fill_bodies(&mut tx, SWEEP_BATCH, record_body).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    Ok(purged as i64 == SWEEP_BATCH || filled as i64 == SWEEP_BATCH)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_page_written_directly_is_the_json_of_a_changes_page() {
        let r = CallRecord {
            id: "rec_\"1\"".into(),
            channel_id: "ch".into(),
            agent_id: "ag".into(),
            meet_id: "m".into(),
            direction: "invited".into(),
            scope_kind: "team_group".into(),
            media: "video".into(),
            chat_id: None,
            room_id: Some("room".into()),
            counterpart_kind: "room".into(),
            counterpart_id: "room".into(),
            counterpart_name: "Süd \\ team".into(),
            invited_by_id: Some("ag2".into()),
            invited_by_name: Some("Ann".into()),
            started_at: 1,
            answered_at: None,
            ended_at: Some(3),
            handled: false,
            created_seq: 7,
            seq: 8,
            deleted_at: None,
        };
        let rows = [
            records::FeedRow { seq: 8, id: r.id.clone(), body: Some(record_body(&r).unwrap()) },
            records::FeedRow { seq: 9, id: "rec_\u{1}".into(), body: None },
        ];
        for (reset, has_more) in [(false, true), (true, false)] {
            let typed = p::ChangesPage {
                reset,
                changes: vec![
                    p::RecordChange::Upsert { seq: 8, record: record_view(&r) },
                    p::RecordChange::Delete { seq: 9, id: "rec_\u{1}".into() },
                ],
                cursor: 9,
                has_more,
            };
            let json = changes_page_json(reset, &rows, 9, has_more).unwrap();
            assert_eq!(json, serde_json::to_string(&typed).unwrap(), "byte for byte");
        }
        let empty = changes_page_json(false, &[], 4, false).unwrap();
        let typed = p::ChangesPage { reset: false, changes: Vec::new(), cursor: 4, has_more: false };
        assert_eq!(empty, serde_json::to_string(&typed).unwrap());
        let bad = [records::FeedRow { seq: 1, id: "x".into(), body: Some("{\"id\":".into()) }];
        assert!(changes_page_json(false, &bad, 1, false).is_err(), "a broken body is an error, not bad JSON");
    }
}
