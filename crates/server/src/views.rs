//! Store rows → wire views, and what each viewer may see of them.

use meetdesk_meet::rule::{self, ChatFacts, MeetSettings};
use meetdesk_meet::{Media, Meet, Outcome, Party, Phase, RingStatus, Scope};
use meetdesk_protocol as p;
use meetdesk_store::accounts::{self, Agent, Channel};
use meetdesk_store::chats::{self, Chat, Customer, ListedChat, Message};
use meetdesk_store::meets::StoredMeet;
use meetdesk_store::{presence, rooms, Db, Result};

use crate::auth::Principal;

/// The body of the missed-meet indicator message. Customers see [`ENDED_BODY`] instead.
pub const MISSED_BODY: &str = "Missed meet";
pub const ENDED_BODY: &str = "Meet ended";

/// A customer counts as online when their widget socket was seen this recently.
pub const ONLINE_WINDOW_MS: i64 = 60_000;

pub fn settings(c: &Channel) -> MeetSettings {
    MeetSettings { audio_enabled: c.audio_enabled, video_enabled: c.video_enabled }
}

pub fn agent_view(a: &Agent) -> p::AgentView {
    p::AgentView {
        id: a.id.clone(),
        email: a.email.clone(),
        name: a.name.clone(),
        role: if a.is_admin() { p::Role::Admin } else { p::Role::Agent },
        seat: a.seat,
    }
}

pub fn agent_ref(a: &Agent) -> p::AgentRef {
    p::AgentRef { id: a.id.clone(), name: a.name.clone() }
}

pub fn media(m: p::Media) -> Media {
    match m {
        p::Media::Audio => Media::Audio,
        p::Media::Video => Media::Video,
    }
}

pub fn chat_state(s: &str) -> p::ChatState {
    match s {
        "snoozed" => p::ChatState::Snoozed,
        "closed" => p::ChatState::Closed,
        _ => p::ChatState::Open,
    }
}

pub fn chat_state_name(s: p::ChatState) -> &'static str {
    match s {
        p::ChatState::Open => "open",
        p::ChatState::Snoozed => "snoozed",
        p::ChatState::Closed => "closed",
    }
}

pub fn source(s: &str) -> p::ChatSource {
    match s {
        "instagram" => p::ChatSource::Instagram,
        "whatsapp" => p::ChatSource::Whatsapp,
        "line" => p::ChatSource::Line,
        "kakao" => p::ChatSource::Kakao,
        _ => p::ChatSource::Native,
    }
}

pub fn source_name(s: p::ChatSource) -> &'static str {
    match s {
        p::ChatSource::Native => "native",
        p::ChatSource::Instagram => "instagram",
        p::ChatSource::Whatsapp => "whatsapp",
        p::ChatSource::Line => "line",
        p::ChatSource::Kakao => "kakao",
    }
}

pub async fn chat_facts(db: &mut Db, chat: &Chat) -> Result<ChatFacts> {
    Ok(ChatFacts {
        has_assignee: chat.assignee_id.is_some(),
        input_open: chat.input_open,
        external: chat.source != "native",
        ongoing_meet: meetdesk_store::meets::ongoing_in_chat(db, &chat.id, false)
            .await?
            .map(meetdesk_meet::MeetId),
    })
}

pub async fn customer_view(db: &mut Db, c: &Customer, now: i64, with_email: bool) -> Result<p::CustomerView> {
    Ok(p::CustomerView {
        id: c.id.clone(),
        name: c.name.clone(),
        email: if with_email { c.email.clone() } else { None },
        online: presence::customer_online(db, &c.id, now - ONLINE_WINDOW_MS).await?,
    })
}

/// The view of one chat: two statements (the chat's facts, its channel), whatever it holds.
/// `chat` is taken as given (it may have just been changed in the caller's transaction).
pub async fn chat_view(db: &mut Db, chat: &Chat, viewer_is_agent: bool, now: i64) -> Result<p::ChatView> {
    let listed = chats::listed(db, chats::ChatList::One(&chat.id), now - ONLINE_WINDOW_MS).await?;
    let channel = accounts::channel_by_id(db, &chat.channel_id).await?;
    let mut facts = listed.into_iter().next().unwrap_or_else(|| ListedChat {
        chat: chat.clone(),
        customer: None,
        customer_online: false,
        assignee_name: None,
        ongoing_meet: None,
    });
    facts.chat = chat.clone();
    Ok(listed_view(&facts, channel.as_ref(), viewer_is_agent))
}

/// The views of a list of chats of one channel: two statements for the whole list (the chats
/// with their facts, and the channel), not a handful per chat.
pub async fn chat_views(
    db: &mut Db,
    channel_id: &str,
    which: chats::ChatList<'_>,
    viewer_is_agent: bool,
    now: i64,
) -> Result<Vec<p::ChatView>> {
    let channel = accounts::channel_by_id(db, channel_id).await?;
    let list = chats::listed(db, which, now - ONLINE_WINDOW_MS).await?;
    Ok(list.iter().map(|l| listed_view(l, channel.as_ref(), viewer_is_agent)).collect())
}

fn listed_view(l: &ListedChat, channel: Option<&Channel>, viewer_is_agent: bool) -> p::ChatView {
    let chat = &l.chat;
    let customer = match &l.customer {
        Some(c) => p::CustomerView {
            id: c.id.clone(),
            name: c.name.clone(),
            email: if viewer_is_agent { c.email.clone() } else { None },
            online: l.customer_online,
        },
        None => {
            p::CustomerView { id: chat.customer_id.clone(), name: String::new(), email: None, online: false }
        }
    };
    let assignee = match (&chat.assignee_id, &l.assignee_name) {
        (Some(id), Some(name)) => Some(p::AgentRef { id: id.clone(), name: name.clone() }),
        _ => None,
    };
    let facts = ChatFacts {
        has_assignee: chat.assignee_id.is_some(),
        input_open: chat.input_open,
        external: chat.source != "native",
        ongoing_meet: l.ongoing_meet.clone().map(meetdesk_meet::MeetId),
    };
    let button = match channel {
        Some(ch) => rule::customer_may_start(settings(ch), &facts, Media::Audio),
        None => Err(rule::Refusal::MeetsDisabled),
    };
    p::ChatView {
        id: chat.id.clone(),
        customer,
        assignee,
        state: chat_state(&chat.state),
        source: source(&chat.source),
        input_open: chat.input_open,
        created_at: chat.created_at,
        updated_at: chat.updated_at,
        customer_meet_button: match button {
            Ok(()) => p::MeetButton { shown: true, reason: None },
            Err(r) => p::MeetButton { shown: false, reason: Some(r.code().to_owned()) },
        },
        ongoing_meet: facts.ongoing_meet.map(|m| m.0),
    }
}

pub async fn message_view(db: &mut Db, m: &Message) -> Result<p::MessageView> {
    let author_name = match (m.author_kind.as_str(), &m.author_id) {
        ("agent", Some(id)) => accounts::agent_by_id(db, id).await?.map(|a| a.name),
        ("customer", Some(id)) => chats::customer_by_id(db, id).await?.map(|c| c.name),
        _ => None,
    };
    let meet_state = match (&m.meet_id, m.author_kind.as_str(), m.body.as_str()) {
        (Some(meet_id), "system", MISSED_BODY) => {
            meetdesk_store::meets::get(db, meet_id).await?.map(|s| s.meet)
        }
        _ => None,
    };
    Ok(build_message_view(m, author_name, meet_state.as_ref()))
}

/// The views of a chat's or a room's messages: one statement for the whole list.
pub async fn message_views(db: &mut Db, which: chats::MessageList<'_>) -> Result<Vec<p::MessageView>> {
    let list = chats::listed_messages(db, which, MISSED_BODY).await?;
    Ok(list
        .into_iter()
        .map(|l| {
            // An indicator's meet, as stored (unreadable: shown without its reason).
            let meet = l.meet_state.as_deref().and_then(|s| serde_json::from_str::<Meet>(s).ok());
            build_message_view(&l.message, l.author_name, meet.as_ref())
        })
        .collect())
}

fn build_message_view(
    m: &Message,
    author_name: Option<String>,
    indicator_meet: Option<&Meet>,
) -> p::MessageView {
    let author = match (m.author_kind.as_str(), &m.author_id) {
        ("agent", Some(id)) => p::Author {
            kind: p::AuthorKind::Agent,
            id: Some(id.clone()),
            name: author_name.unwrap_or_default(),
        },
        ("customer", Some(id)) => p::Author {
            kind: p::AuthorKind::Customer,
            id: Some(id.clone()),
            name: author_name.unwrap_or_default(),
        },
        _ => p::Author { kind: p::AuthorKind::System, id: None, name: "meetdesk".to_owned() },
    };
    // The indicator carries its meet's missed reason (redacted for all but admins).
    let missed_reason = match (author.kind, m.body.as_str(), indicator_meet.and_then(|meet| meet.outcome)) {
        (p::AuthorKind::System, MISSED_BODY, Some(Outcome::Missed(r))) => Some(r.code().to_owned()),
        _ => None,
    };
    p::MessageView {
        id: m.id.clone(),
        chat_id: m.chat_id.clone(),
        room_id: m.room_id.clone(),
        internal: m.internal,
        author,
        body: m.body.clone(),
        meet_id: m.meet_id.clone(),
        link: m.link.clone(),
        missed_reason,
        created_at: m.created_at,
    }
}

async fn party_view(db: &mut Db, party: &Party) -> Result<p::PartyView> {
    Ok(match party {
        Party::Agent(id) => p::PartyView {
            kind: p::PartyKind::Agent,
            id: id.0.clone(),
            name: accounts::agent_by_id(db, &id.0).await?.map(|a| a.name).unwrap_or_default(),
        },
        Party::Customer(id) => p::PartyView {
            kind: p::PartyKind::Customer,
            id: id.0.clone(),
            name: chats::customer_by_id(db, &id.0).await?.map(|c| c.name).unwrap_or_default(),
        },
    })
}

/// The full view (as an admin sees it). Use [`redact_meet`] for other viewers.
pub async fn meet_view(db: &mut Db, stored: &StoredMeet) -> Result<p::MeetView> {
    let m: &Meet = &stored.meet;
    let (kind, chat_id, room_id) = match &m.scope {
        Scope::UserChat(c) => (p::ScopeKind::UserChat, Some(c.0.clone()), None),
        Scope::Internal(c) => (p::ScopeKind::Internal, Some(c.0.clone()), None),
        Scope::TeamGroup(r) => (p::ScopeKind::TeamGroup, None, Some(r.0.clone())),
        Scope::TeamDm(r) => (p::ScopeKind::TeamDm, None, Some(r.0.clone())),
    };
    let (state, missed_reason) = match (m.phase, m.outcome) {
        (Phase::Ringing, _) => (p::MeetState::Ringing, None),
        (Phase::WaitingForLink, _) => (p::MeetState::WaitingForLink, None),
        (Phase::Active, _) => (p::MeetState::Active, None),
        (Phase::Ended, Some(Outcome::Missed(r))) => (p::MeetState::Missed, Some(r.code().to_owned())),
        (Phase::Ended, _) => (p::MeetState::Ended, None),
    };
    let mut participants = Vec::with_capacity(m.participants.len());
    for part in &m.participants {
        participants.push(p::ParticipantView {
            party: party_view(db, &part.party).await?,
            device_id: part.device.0.clone(),
            joined_at: part.joined_at.0,
            left_at: part.left_at.map(|t| t.0),
        });
    }
    let mut rings = Vec::with_capacity(m.rings.len());
    for r in &m.rings {
        let invited_by = match &r.invited_by {
            Some(a) => accounts::agent_by_id(db, &a.0).await?.as_ref().map(agent_ref),
            None => None,
        };
        rings.push(p::RingView {
            party: party_view(db, &r.party).await?,
            status: match r.status {
                RingStatus::Ringing => p::RingStatus::Ringing,
                RingStatus::Accepted => p::RingStatus::Accepted,
                RingStatus::Declined => p::RingStatus::Declined,
                RingStatus::NoAnswer => p::RingStatus::NoAnswer,
                RingStatus::Stopped => p::RingStatus::Stopped,
            },
            invited_by,
            deadline: r.deadline.0,
        });
    }
    Ok(p::MeetView {
        id: m.id.0.clone(),
        scope: p::MeetScopeView { kind, chat_id, room_id },
        media: match m.media {
            Media::Audio => p::Media::Audio,
            Media::Video => p::Media::Video,
        },
        state,
        missed_reason,
        caller: party_view(db, &m.caller).await?,
        participants,
        rings,
        created_at: m.created_at.0,
        answered_at: m.answered_at.map(|t| t.0),
        ended_at: m.ended_at.map(|t| t.0),
        node_id: stored.node_id.clone(),
        version: stored.version,
    })
}

/// What `viewer` may see of a meet: missed reasons are for admins; customers see a missed
/// meet as ended, and nothing of agents' devices.
pub fn redact_meet(view: &mut p::MeetView, viewer: &Principal) {
    if !viewer.is_admin() {
        view.missed_reason = None;
    }
    if let Principal::Customer { .. } = viewer {
        if view.state == p::MeetState::Missed {
            view.state = p::MeetState::Ended;
        }
        for part in &mut view.participants {
            if part.party.kind == p::PartyKind::Agent {
                part.device_id = String::new();
            }
        }
    }
}

/// Customers read the missed-meet indicator as "Meet ended"; only admins see why it was missed;
/// agents never see the follow-up link itself (it is the customer's credential for that meet).
pub fn redact_message(view: &mut p::MessageView, viewer: &Principal) {
    if !viewer.is_admin() {
        view.missed_reason = None;
    }
    match viewer {
        Principal::Customer { .. } => {
            if view.author.kind == p::AuthorKind::System && view.body == MISSED_BODY {
                view.body = ENDED_BODY.to_owned();
            }
        }
        Principal::Agent { .. } => view.link = None,
    }
}

/// Applies the viewer's redactions to an event body.
pub fn redact_event(body: &mut p::EventBody, viewer: &Principal) {
    match body {
        p::EventBody::Ring { meet, .. } | p::EventBody::MeetUpdated { meet } => redact_meet(meet, viewer),
        p::EventBody::Message { message } => redact_message(message, viewer),
        p::EventBody::ChatUpdated { chat } => {
            if let Principal::Customer { .. } = viewer {
                chat.customer.email = None;
            }
        }
        _ => {}
    }
}

pub async fn room_view(db: &mut Db, room: &rooms::Room) -> Result<p::RoomView> {
    let mut members = Vec::new();
    for id in rooms::members(db, &room.id).await? {
        if let Some(a) = accounts::agent_by_id(db, &id).await? {
            members.push(agent_ref(&a));
        }
    }
    Ok(p::RoomView {
        id: room.id.clone(),
        kind: match room.kind.as_str() {
            "public" => p::RoomKind::Public,
            "private" => p::RoomKind::Private,
            _ => p::RoomKind::Dm,
        },
        name: room.name.clone(),
        members,
        ongoing_meet: meetdesk_store::meets::ongoing_in_room(db, &room.id).await?,
    })
}
