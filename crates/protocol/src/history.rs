//! Call history (P8): records, the changes feed a desktop cache syncs from, offline deletes,
//! suggestions and the new-team-meet search.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{AgentRef, Media, MeetView, RoomKind, ScopeKind};

/// Which way a record went. Customer meets: `incoming` (the customer called and you answered),
/// `outgoing` (you called), `missed` (the customer called, nobody answered). Team and internal
/// meets: `incoming` (took part), `outgoing` (started), `invited` (rung, did not join).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum RecordDirection {
    Incoming,
    Outgoing,
    Missed,
    Invited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum CounterpartKind {
    Customer,
    Agent,
    Room,
}

/// Who the record was with: the customer, the other agent (DM) or the room (group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct Counterpart {
    pub kind: CounterpartKind,
    pub id: String,
    /// As it was when the record was written.
    pub name: String,
}

/// One entry of an agent's call history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct CallRecordView {
    pub id: String,
    pub meet_id: String,
    pub direction: RecordDirection,
    pub scope: ScopeKind,
    pub media: Media,
    /// Held in an internal chat: shown with a lock, cannot be started again from the record.
    pub internal: bool,
    pub counterpart: Counterpart,
    /// The user chat (customer and internal meets).
    pub chat_id: Option<String>,
    /// The team room (its info icon opens it).
    pub room_id: Option<String>,
    /// "Invited by {agent}" for `invited` records.
    pub invited_by: Option<AgentRef>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// A missed meet that was called back: "This missed call has already been handled".
    pub handled: bool,
    /// The seq the record was written with; a "delete all" made offline covers the records
    /// with `created_seq` up to the cursor the cache had.
    pub created_seq: i64,
}

/// One change of the feed, in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(tag = "op", rename_all = "snake_case")]
// Plain wire data, mostly upserts: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum RecordChange {
    /// The record is new or changed: store it.
    Upsert { seq: i64, record: CallRecordView },
    /// The record was deleted (tombstone): drop it.
    Delete { seq: i64, id: String },
}

impl RecordChange {
    pub fn seq(&self) -> i64 {
        match self {
            RecordChange::Upsert { seq, .. } | RecordChange::Delete { seq, .. } => *seq,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            RecordChange::Upsert { record, .. } => &record.id,
            RecordChange::Delete { id, .. } => id,
        }
    }
}

/// `GET /api/history/changes?since=&limit=`: the next page of changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct ChangesPage {
    /// The cache's history is not continuous with `since` (tombstones older than it were
    /// forgotten, or it comes from another database): drop every cached record first. The
    /// changes then start from the beginning.
    pub reset: bool,
    pub changes: Vec<RecordChange>,
    /// Ask again with `since = cursor`.
    pub cursor: i64,
    /// More changes wait after `cursor`.
    pub has_more: bool,
}

/// What an offline delete deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeleteTarget {
    Record {
        id: String,
    },
    /// Every record written at or before seq `through` (the cursor the cache had), or every
    /// record when absent. Records written later (the cache had not seen them) stay.
    All {
        #[serde(default)]
        through: Option<i64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct OfflineDelete {
    /// Chosen by the client (e.g. a UUID) when the user deleted; the same key sent again is
    /// applied once.
    pub key: String,
    pub target: DeleteTarget,
}

/// `POST /api/history/deletes`: deletes made while offline, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct DeletesRequest {
    pub deletes: Vec<OfflineDelete>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeleteStatus {
    /// Applied now.
    Applied,
    /// This key was applied before (a retry).
    AlreadyApplied,
    /// Nothing to delete (unknown or already deleted record): the delete holds anyway.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct DeleteResult {
    pub key: String,
    pub status: DeleteStatus,
    /// Records deleted by this key.
    pub deleted: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct DeletesResponse {
    pub results: Vec<DeleteResult>,
}

/// `DELETE /api/history`: how many records were deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct DeleteAllResponse {
    pub deleted: i64,
}

/// `POST /api/history/records/{id}/call`: start a meet again from a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct CallBackResponse {
    pub meet: MeetView,
    /// The record was a missed meet already called back: "This missed call has already been
    /// handled" (the new meet started all the same).
    pub already_handled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct CustomerSuggestion {
    pub customer_id: String,
    pub name: String,
    /// Start the meet here (`{"kind": "user_chat", "chat_id": …}`).
    pub chat_id: String,
    pub last_message_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct AgentSuggestion {
    pub agent: AgentRef,
    /// The DM with them (`{"kind": "room", "room_id": …}`).
    pub room_id: String,
    pub last_message_at: i64,
}

/// `GET /api/history/suggestions`: for an empty history. Each list is empty unless the agent
/// talked with at least 3 customers (native user chats of their own) or exchanged DMs with at
/// least 3 agents in the last 30 days; at most 10 each, latest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct Suggestions {
    pub customers: Vec<CustomerSuggestion>,
    pub agents: Vec<AgentSuggestion>,
}

/// One result of the new-team-meet search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct TeamSearchResult {
    pub kind: RoomKind,
    /// The room to start the meet in; `null` for an agent without a DM yet.
    pub room_id: Option<String>,
    /// The room's name, or for DMs the other agent's name.
    pub name: String,
    /// DMs: the other agent.
    pub agent: Option<AgentRef>,
    /// A meet going on in the room: offer to join it.
    pub ongoing_meet: Option<String>,
}
