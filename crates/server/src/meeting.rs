//! Meets as the server runs them: load the pure state machine, apply an input, store it with
//! a compare-and-swap, and perform its effects (events, follow-up messages, outbox) in the
//! same transaction.

use meetdesk_meet::rule;
use meetdesk_meet::{
    AgentId, Callees, ChatId, CustomerId, DeviceId, Effect, Input, Meet, MeetId, Outcome, Party, RoomId,
    Scope, Start,
};
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_store::chats::{self, Chat, Message};
use meetdesk_store::meets::{self, StoredMeet};
use meetdesk_store::{accounts, outbox, presence, rooms, Db};

use crate::auth::{new_id, Principal};
use crate::error::{AppError, AppResult};
use crate::feed;
use crate::hub::{publish, Audience};
use crate::links::LinkClaims;
use crate::media::MediaChange;
use crate::state::AppState;
use crate::views::{self, MISSED_BODY, ONLINE_WINDOW_MS};

/// What a participant does to a meet.
#[derive(Debug, Clone)]
pub enum Action {
    Accept,
    Decline,
    Join,
    Hangup,
    Invite(String),
    MediaFailed,
}

pub(crate) fn party_of(p: &Principal) -> Party {
    match p {
        Principal::Agent { agent, .. } => Party::Agent(AgentId(agent.id.clone())),
        Principal::Customer { customer_id, .. } => Party::Customer(CustomerId(customer_id.clone())),
    }
}

/// The audience of a meet's own events (meet updated).
async fn meet_audience(db: &mut Db, stored: &StoredMeet) -> meetdesk_store::Result<Audience> {
    let meet_id = Some(stored.meet.id.0.clone());
    Ok(match &stored.meet.scope {
        Scope::UserChat(chat) => {
            let customer = chats::chat_by_id(db, &chat.0).await?.map(|c| c.customer_id);
            Audience {
                channel_agents: true,
                customers: customer.into_iter().collect(),
                meet_id,
                ..Audience::default()
            }
        }
        Scope::Internal(_) => Audience { channel_agents: true, meet_id, ..Audience::default() },
        Scope::TeamGroup(room) | Scope::TeamDm(room) => {
            // Whoever sees the room's messages (every channel agent for a public group, the
            // members otherwise), and the agents rung for or in the meet though not members
            // (invited, P6): they may see it (`can_see`) and must follow it to its end.
            let mut audience = match rooms::room_by_id(db, &room.0).await? {
                Some(room) => feed::room_audience(db, &room).await?,
                None => Audience::default(),
            };
            let rung = stored.meet.rings.iter().map(|r| &r.party);
            for party in rung.chain(stored.meet.participants.iter().map(|p| &p.party)) {
                if let Party::Agent(a) = party {
                    if !audience.channel_agents && !audience.agents.contains(&a.0) {
                        audience.agents.push(a.0.clone());
                    }
                }
            }
            Audience { meet_id, ..audience }
        }
    })
}

/// The audience of one party's events about a meet (rings, media slots).
pub(crate) fn party_audience(party: &Party, meet_id: &str) -> Audience {
    let meet_id = Some(meet_id.to_owned());
    match party {
        Party::Agent(a) => Audience { agents: vec![a.0.clone()], meet_id, ..Audience::default() },
        Party::Customer(c) => Audience { customers: vec![c.0.clone()], meet_id, ..Audience::default() },
    }
}

/// May `viewer` see this meet at all? (Otherwise it answers 404, revealing nothing.)
pub async fn can_see(db: &mut Db, viewer: &Principal, stored: &StoredMeet) -> meetdesk_store::Result<bool> {
    if viewer.channel_id() != stored.channel_id {
        return Ok(false);
    }
    Ok(match (viewer, &stored.meet.scope) {
        (Principal::Customer { customer_id, meet_scope, .. }, Scope::UserChat(chat)) => {
            let own = chats::chat_by_id(db, &chat.0).await?.is_some_and(|c| &c.customer_id == customer_id);
            own && meet_scope.as_ref().is_none_or(|m| m == &stored.meet.id.0)
        }
        (Principal::Customer { .. }, _) => false,
        (Principal::Agent { .. }, Scope::UserChat(_) | Scope::Internal(_)) => true,
        (Principal::Agent { agent, .. }, Scope::TeamGroup(room) | Scope::TeamDm(room)) => {
            room_access(db, &room.0, &agent.id).await?
                || stored.meet.took_part(&Party::Agent(AgentId(agent.id.clone())))
                || stored.meet.rings.iter().any(|r| r.party == Party::Agent(AgentId(agent.id.clone())))
        }
    })
}

async fn room_access(db: &mut Db, room_id: &str, agent_id: &str) -> meetdesk_store::Result<bool> {
    let Some(room) = rooms::room_by_id(db, room_id).await? else { return Ok(false) };
    Ok(room.kind == "public" || rooms::members(db, room_id).await?.iter().any(|m| m == agent_id))
}

pub async fn view_for(db: &mut Db, stored: &StoredMeet, viewer: &Principal) -> AppResult<p::MeetView> {
    let mut view = views::meet_view(db, stored).await?;
    views::redact_meet(&mut view, viewer);
    Ok(view)
}

/// Starts a meet (P2–P5) after checking the rules.
pub async fn start(state: &AppState, who: &Principal, req: p::StartMeetRequest) -> AppResult<p::MeetView> {
    let now = state.clock.now();
    let media = views::media(req.media);
    let mut tx = state.store.begin().await?;
    let channel = accounts::channel_by_id(&mut tx, who.channel_id())
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    let settings = views::settings(&channel);
    let caller = party_of(who);
    let caller_device = DeviceId(who.device_id().to_owned());

    let (scope, callees) = match (who, req.target) {
        (Principal::Customer { customer_id, meet_scope, .. }, p::MeetTarget::UserChat { chat_id }) => {
            if meet_scope.is_some() {
                return Err(AppError::forbidden("link_session", "A meet link opens that meet only."));
            }
            let chat = own_chat(&mut tx, &chat_id, customer_id).await?;
            let facts = views::chat_facts(&mut tx, &chat).await?;
            rule::customer_may_start(settings, &facts, media)?;
            let assignee = chat.assignee_id.clone().ok_or(rule::Refusal::NoAssignee)?;
            (Scope::UserChat(ChatId(chat.id)), Callees::Ring(vec![Party::Agent(AgentId(assignee))]))
        }
        (Principal::Customer { .. }, _) => {
            return Err(AppError::forbidden(
                "agents_only",
                "Customers can only start a meet in their own chat.",
            ))
        }
        (Principal::Agent { agent, .. }, target) => {
            let chat = match &target {
                p::MeetTarget::UserChat { chat_id } => {
                    Some(agent_chat(&mut tx, chat_id, &agent.channel_id).await?)
                }
                p::MeetTarget::Customer { customer_id } => {
                    let customer = chats::customer_by_id(&mut tx, customer_id)
                        .await?
                        .filter(|c| c.channel_id == agent.channel_id)
                        .ok_or_else(|| AppError::not_found("customer"))?;
                    if !agent.seat {
                        return Err(rule::Refusal::NoOperatorSeat.into());
                    }
                    let chat = Chat {
                        id: new_id("chat"),
                        channel_id: agent.channel_id.clone(),
                        customer_id: customer.id,
                        assignee_id: Some(agent.id.clone()),
                        state: "open".into(),
                        source: "native".into(),
                        input_open: true,
                        created_at: now.0,
                        updated_at: now.0,
                    };
                    chats::insert_chat(&mut tx, &chat).await?;
                    Some(chat)
                }
                _ => None,
            };
            match (target, chat) {
                (p::MeetTarget::UserChat { .. } | p::MeetTarget::Customer { .. }, Some(chat)) => {
                    let facts = views::chat_facts(&mut tx, &chat).await?;
                    rule::agent_may_call_customer(settings, &facts, agent.seat, media)?;
                    let online =
                        presence::customer_online(&mut tx, &chat.customer_id, now.0 - ONLINE_WINDOW_MS)
                            .await?;
                    let customer = CustomerId(chat.customer_id.clone());
                    let callees = if online {
                        Callees::Ring(vec![Party::Customer(customer)])
                    } else {
                        Callees::OfflineCustomer(customer)
                    };
                    (Scope::UserChat(ChatId(chat.id)), callees)
                }
                (p::MeetTarget::Internal { chat_id }, _) => {
                    let chat = agent_chat(&mut tx, &chat_id, &agent.channel_id).await?;
                    let ongoing = meets::ongoing_in_chat(&mut tx, &chat.id, true).await?.map(MeetId);
                    rule::agent_may_start_internal(settings, true, ongoing, media)?;
                    let mut managers = chats::agents_in_chat(&mut tx, &chat.id).await?;
                    managers.extend(chat.assignee_id.clone());
                    managers.sort();
                    managers.dedup();
                    managers.retain(|m| m != &agent.id);
                    let ring = managers.into_iter().map(|a| Party::Agent(AgentId(a))).collect();
                    (Scope::Internal(ChatId(chat.id)), Callees::Ring(ring))
                }
                (p::MeetTarget::Room { room_id }, _) => {
                    let room = rooms::room_by_id(&mut tx, &room_id)
                        .await?
                        .filter(|r| r.channel_id == agent.channel_id)
                        .ok_or_else(|| AppError::not_found("room"))?;
                    let access = room_access(&mut tx, &room.id, &agent.id).await?;
                    if !access {
                        return Err(AppError::not_found("room"));
                    }
                    let ongoing = meets::ongoing_in_room(&mut tx, &room.id).await?.map(MeetId);
                    rule::agent_may_start_team(settings, access, ongoing, media)?;
                    let members = rooms::members(&mut tx, &room.id).await?;
                    let ring = members
                        .into_iter()
                        .filter(|m| m != &agent.id)
                        .map(|a| Party::Agent(AgentId(a)))
                        .collect();
                    let scope = if room.kind == "dm" {
                        Scope::TeamDm(RoomId(room.id))
                    } else {
                        Scope::TeamGroup(RoomId(room.id))
                    };
                    (scope, Callees::Ring(ring))
                }
                _ => return Err(AppError::not_found("chat")),
            }
        }
    };

    let meet =
        Meet::start(Start { id: MeetId(new_id("meet")), scope, media, caller, caller_device, callees }, now);
    let mut stored =
        StoredMeet { channel_id: channel.id.clone(), node_id: state.node_id.clone(), version: 0, meet };
    let effects = drain(&mut stored.meet);
    if !meets::insert(&mut tx, &stored, now.0).await? {
        let ongoing = match &stored.meet.scope {
            Scope::UserChat(c) => meets::ongoing_in_chat(&mut tx, &c.0, false).await?,
            Scope::Internal(c) => meets::ongoing_in_chat(&mut tx, &c.0, true).await?,
            Scope::TeamGroup(r) | Scope::TeamDm(r) => meets::ongoing_in_room(&mut tx, &r.0).await?,
        };
        return Err(rule::Refusal::MeetInProgress(MeetId(ongoing.unwrap_or_default())).into());
    }
    perform(&mut tx, state, &stored, effects, true).await?;
    let view = view_for(&mut tx, &stored, who).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    after_commit(state);
    tracing::info!(meet_id = %stored.meet.id, "meet started");
    Ok(view)
}

async fn own_chat(db: &mut Db, chat_id: &str, customer_id: &str) -> AppResult<Chat> {
    chats::chat_by_id(db, chat_id)
        .await?
        .filter(|c| c.customer_id == customer_id)
        .ok_or_else(|| AppError::not_found("chat"))
}

async fn agent_chat(db: &mut Db, chat_id: &str, channel_id: &str) -> AppResult<Chat> {
    chats::chat_by_id(db, chat_id)
        .await?
        .filter(|c| c.channel_id == channel_id)
        .ok_or_else(|| AppError::not_found("chat"))
}

fn drain(meet: &mut Meet) -> Vec<Effect> {
    std::iter::from_fn(|| meet.poll_effect()).collect()
}

fn after_commit(state: &AppState) {
    state.hub.wake();
    state.deadlines_changed.notify_one();
    state.outbox_changed.notify_one();
}

/// Applies `input` to the stored meet with optimistic concurrency (retrying when another
/// writer changed it meanwhile), performs the effects and commits.
pub async fn transition(state: &AppState, meet_id: &str, input: Input) -> AppResult<StoredMeet> {
    for _ in 0..8 {
        let now = state.clock.now();
        let mut tx = state.store.begin().await?;
        let mut stored = meets::get(&mut tx, meet_id).await?.ok_or_else(|| AppError::not_found("meet"))?;
        let before = stored.meet.clone();
        let result = stored.meet.handle(now, input.clone());
        let effects = drain(&mut stored.meet);
        if stored.meet == before {
            // Nothing changed (a refused input): nothing to store.
            result?;
            return Ok(stored);
        }
        if !meets::update(&mut tx, &stored, now.0).await? {
            continue;
        }
        stored.version += 1;
        let media = MediaChange::of(&effects);
        perform(&mut tx, state, &stored, effects, false).await?;
        tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
        after_commit(state);
        state.media.after_transition(state, meet_id, &media).await;
        // An input can be refused after a deadline it applied first (a late accept): the
        // timeout is stored, the caller still gets the refusal.
        result?;
        return Ok(stored);
    }
    Err(AppError::conflict("busy", "The meet changed too often; try again."))
}

/// Applies every passed deadline of one meet (the sweeper).
pub async fn expire(state: &AppState, meet_id: &str) -> AppResult<()> {
    for _ in 0..8 {
        let now = state.clock.now();
        let mut tx = state.store.begin().await?;
        let Some(mut stored) = meets::get(&mut tx, meet_id).await? else { return Ok(()) };
        let before = stored.meet.clone();
        stored.meet.handle_timeout(now);
        let effects = drain(&mut stored.meet);
        if stored.meet == before {
            // Another node got there first (or nothing was due): nothing to write or announce.
            return Ok(());
        }
        if !meets::update(&mut tx, &stored, now.0).await? {
            continue;
        }
        stored.version += 1;
        let media = MediaChange::of(&effects);
        perform(&mut tx, state, &stored, effects, false).await?;
        tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
        after_commit(state);
        state.media.after_transition(state, meet_id, &media).await;
        return Ok(());
    }
    Err(AppError::conflict("busy", "The meet changed too often; try again."))
}

/// A participant acts on a meet.
pub async fn act(state: &AppState, who: &Principal, meet_id: &str, action: Action) -> AppResult<p::MeetView> {
    {
        // Checks on facts that do not change with the meet's state; the connection is
        // released before the transaction (SQLite runs one connection).
        let mut db = state.store.conn().await?;
        let stored = meets::get(&mut db, meet_id).await?.ok_or_else(|| AppError::not_found("meet"))?;
        if !can_see(&mut db, who, &stored).await? {
            return Err(AppError::not_found("meet"));
        }
        check_action(&mut db, who, &stored, &action).await?;
    }
    let stored = transition(state, meet_id, input_for(who, action)?).await?;
    let mut db = state.store.conn().await?;
    view_for(&mut db, &stored, who).await
}

async fn check_action(db: &mut Db, who: &Principal, stored: &StoredMeet, action: &Action) -> AppResult<()> {
    let meet = &stored.meet;
    let party = party_of(who);
    let rung = meet.rings.iter().any(|r| r.party == party);
    match (action, who) {
        (Action::Join, Principal::Agent { agent, .. }) if !rung && !meet.took_part(&party) => {
            match &meet.scope {
                Scope::UserChat(_) if !agent.seat => Err(rule::Refusal::NoOperatorSeat.into()),
                Scope::TeamGroup(r) | Scope::TeamDm(r) if !room_access(db, &r.0, &agent.id).await? => {
                    Err(rule::Refusal::NotRoomMember.into())
                }
                _ => Ok(()),
            }
        }
        (Action::Join, Principal::Customer { .. }) if !rung && !meet.took_part(&party) => {
            Err(AppError::forbidden("not_invited", "This meet did not ring for you."))
        }
        (Action::Invite(agent_id), Principal::Agent { agent, .. }) => {
            let invitee = accounts::agent_by_id(db, agent_id)
                .await?
                .filter(|a| a.channel_id == agent.channel_id)
                .ok_or_else(|| AppError::not_found("agent"))?;
            if matches!(meet.scope, Scope::UserChat(_)) && !invitee.seat {
                return Err(rule::Refusal::NoOperatorSeat.into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn input_for(who: &Principal, action: Action) -> AppResult<Input> {
    let party = party_of(who);
    let device = DeviceId(who.device_id().to_owned());
    Ok(match action {
        Action::Accept => Input::Accept { party, device },
        Action::Decline => Input::Decline { party },
        Action::Join => Input::Join { party, device },
        Action::Hangup => Input::Leave { party },
        Action::MediaFailed => Input::MediaFailed,
        Action::Invite(agent) => {
            let Party::Agent(by) = party else {
                return Err(AppError::forbidden("agents_only", "Only agents can invite."));
            };
            Input::Invite { by, agent: AgentId(agent) }
        }
    })
}

/// Performs the effects of one change, then announces the meet's new state.
async fn perform(
    db: &mut Db,
    state: &AppState,
    stored: &StoredMeet,
    effects: Vec<Effect>,
    started: bool,
) -> AppResult<()> {
    let now = state.clock.now_ms();
    let channel = stored.channel_id.as_str();
    let meet = &stored.meet;
    let view = views::meet_view(db, stored).await?;
    let mut ended = false;
    for effect in effects {
        match effect {
            Effect::Ring { party, deadline, .. } => {
                let body = EventBody::Ring { meet: view.clone(), deadline: deadline.0 };
                publish(db, &state.store, channel, &party_audience(&party, &meet.id.0), &body, now).await?;
            }
            Effect::RingStopped { party, reason, accepted_device } => {
                let body = EventBody::RingStopped {
                    meet_id: meet.id.0.clone(),
                    reason: match reason {
                        meetdesk_meet::RingStopReason::Accepted => p::RingStopReason::Accepted,
                        meetdesk_meet::RingStopReason::Declined => p::RingStopReason::Declined,
                        meetdesk_meet::RingStopReason::TimedOut => p::RingStopReason::TimedOut,
                        meetdesk_meet::RingStopReason::Cancelled => p::RingStopReason::Cancelled,
                    },
                    accepted_device: accepted_device.map(|d| d.0),
                };
                publish(db, &state.store, channel, &party_audience(&party, &meet.id.0), &body, now).await?;
            }
            Effect::FollowUp { customer, expires_at } => {
                follow_up(db, state, stored, &customer, expires_at.0).await?;
            }
            Effect::Ended { outcome } => {
                ended = true;
                if let Outcome::Missed(reason) = outcome {
                    tracing::info!(meet_id = %meet.id, reason = reason.code(), "meet missed");
                    missed_indicator(db, state, stored).await?;
                } else {
                    tracing::info!(meet_id = %meet.id, "meet ended");
                }
            }
            Effect::Joined { .. } | Effect::Left { .. } => {}
        }
    }
    let audience = meet_audience(db, stored).await?;
    publish(db, &state.store, channel, &audience, &EventBody::MeetUpdated { meet: view }, now).await?;
    // Call records (P8): a callback marks missed meets handled; an ended meet leaves records.
    if started {
        crate::history::meet_started(db, state, stored).await?;
    }
    if ended {
        crate::history::meet_ended(db, state, stored).await?;
    }
    if started || ended {
        if let Scope::UserChat(chat) = &meet.scope {
            if let Some(chat) = chats::chat_by_id(db, &chat.0).await? {
                feed::chat_updated(db, state, &chat).await?;
            }
        }
    }
    Ok(())
}

/// P3: the customer is offline — a follow-up message in the chat with a signed link, and the
/// same through the channel's notifier (outbox).
async fn follow_up(
    db: &mut Db,
    state: &AppState,
    stored: &StoredMeet,
    customer: &CustomerId,
    expires_at: i64,
) -> AppResult<()> {
    let Scope::UserChat(chat_id) = &stored.meet.scope else { return Ok(()) };
    let Some(chat) = chats::chat_by_id(db, &chat_id.0).await? else { return Ok(()) };
    let token = state.signer.sign(&LinkClaims::Meet {
        m: stored.meet.id.0.clone(),
        c: customer.0.clone(),
        e: expires_at,
    });
    let link = format!("{}/m/{}?t={}", state.public_url, stored.meet.id.0, token);
    let caller = match &stored.meet.caller {
        Party::Agent(a) => accounts::agent_by_id(db, &a.0).await?.map(|a| a.name).unwrap_or_default(),
        Party::Customer(_) => String::new(),
    };
    let body = format!(
        "{caller} would like to talk with you. Open the link to join the meet (valid for 10 minutes)."
    );
    let now = state.clock.now_ms();
    let message = Message {
        id: new_id("msg"),
        chat_id: Some(chat.id.clone()),
        room_id: None,
        internal: false,
        author_kind: "system".into(),
        author_id: None,
        body: body.clone(),
        meet_id: Some(stored.meet.id.0.clone()),
        link: Some(link.clone()),
        created_at: now,
    };
    feed::post(db, state, &chat.channel_id, &message, &feed::chat_audience(&chat)).await?;
    let recipient = chats::customer_by_id(db, &customer.0).await?.and_then(|c| c.email);
    outbox::insert(
        db,
        &outbox::OutboxItem {
            id: new_id("out"),
            channel_id: chat.channel_id.clone(),
            kind: "meet_follow_up".into(),
            recipient,
            subject: format!("{caller} would like to talk with you"),
            body: format!("{body}\n\n{link}\n"),
            created_at: now,
            attempts: 0,
        },
    )
    .await?;
    Ok(())
}

/// The missed-meet indicator in the chat, room or internal chat where the meet happened.
async fn missed_indicator(db: &mut Db, state: &AppState, stored: &StoredMeet) -> AppResult<()> {
    let now = state.clock.now_ms();
    let base = Message {
        id: new_id("msg"),
        chat_id: None,
        room_id: None,
        internal: false,
        author_kind: "system".into(),
        author_id: None,
        body: MISSED_BODY.into(),
        meet_id: Some(stored.meet.id.0.clone()),
        link: None,
        created_at: now,
    };
    match &stored.meet.scope {
        Scope::UserChat(c) | Scope::Internal(c) => {
            let Some(chat) = chats::chat_by_id(db, &c.0).await? else { return Ok(()) };
            let internal = matches!(stored.meet.scope, Scope::Internal(_));
            let audience = if internal { feed::internal_audience() } else { feed::chat_audience(&chat) };
            let m = Message { chat_id: Some(chat.id.clone()), internal, ..base };
            feed::post(db, state, &chat.channel_id, &m, &audience).await?;
        }
        Scope::TeamGroup(r) | Scope::TeamDm(r) => {
            let Some(room) = rooms::room_by_id(db, &r.0).await? else { return Ok(()) };
            let audience = feed::room_audience(db, &room).await?;
            let m = Message { room_id: Some(room.id.clone()), ..base };
            feed::post(db, state, &room.channel_id, &m, &audience).await?;
        }
    }
    Ok(())
}
