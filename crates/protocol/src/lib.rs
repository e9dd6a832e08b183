//! Wire types of meetdesk: HTTP JSON bodies and WebSocket events.
//!
//! **API boundary:** every type here is serialised on the wire and described in the OpenAPI
//! document (`utoipa::ToSchema`). Domain logic lives elsewhere; these are plain data.
//! Times are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

mod event;
mod history;
pub use event::{Event, EventBody, RingStopReason};
pub use history::*;

/// Every error answer: an HTTP status plus this body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case.
    pub code: String,
    /// For people.
    pub message: String,
    /// `meet_in_progress`: the meet going on there, to offer joining it instead (P5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meet_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct AgentView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Operator seat: only agents with one take meets with customers.
    pub seat: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    /// Shown in the list of signed-in devices, e.g. "Alice's laptop".
    #[serde(default)]
    pub device_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct SessionResponse {
    /// Bearer token for `Authorization: Bearer …` and the event socket.
    pub token: String,
    /// This device; rings and "answered elsewhere" refer to it.
    pub device_id: String,
    pub expires_at: i64,
    pub agent: AgentView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct Me {
    pub agent: AgentView,
    pub device_id: String,
    pub channel: ChannelView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub settings: ChannelSettings,
}

/// P1: one switch for both, or audio and video separately. Admins only may change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    pub audio_enabled: bool,
    pub video_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    /// Visible to agents only; empty for customers' own view of others (never sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their widget is connected right now.
    pub online: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChatState {
    Open,
    Snoozed,
    Closed,
}

/// Where a user chat came from: the native widget or an external messenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChatSource {
    Native,
    Instagram,
    Whatsapp,
    Line,
    Kakao,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct AgentRef {
    pub id: String,
    pub name: String,
}

/// Whether the customer's Meet button shows (P2), and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct MeetButton {
    pub shown: bool,
    /// The refusal code when hidden (`meets_disabled`, `no_assignee`, `input_closed`,
    /// `external_messenger`, `meet_in_progress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct ChatView {
    pub id: String,
    pub customer: CustomerView,
    pub assignee: Option<AgentRef>,
    pub state: ChatState,
    pub source: ChatSource,
    pub input_open: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The customer-side Meet button rule (P2), evaluated by the server.
    pub customer_meet_button: MeetButton,
    /// A meet of this chat that has not ended.
    pub ongoing_meet: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct UpdateChatRequest {
    #[serde(default)]
    pub state: Option<ChatState>,
    #[serde(default)]
    pub input_open: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// `null` unassigns the chat.
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Agent,
    Customer,
    /// Written by meetdesk itself (meet follow-ups, missed-meet notes).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct Author {
    pub kind: AuthorKind,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct MessageView {
    pub id: String,
    /// Set for user-chat and internal-chat messages.
    pub chat_id: Option<String>,
    /// Set for team-room messages.
    pub room_id: Option<String>,
    /// Internal-chat message: managers only.
    pub internal: bool,
    pub author: Author,
    pub body: String,
    /// A meet this message is about (follow-up link, missed-meet indicator).
    pub meet_id: Option<String>,
    /// A link to open (the follow-up message's meet link).
    pub link: Option<String>,
    /// The missed-meet indicator's reason (admins only): `no_answer`, `declined`,
    /// `offline_link_unused`, `cancelled_by_caller`, `failed_to_connect`.
    #[serde(default)]
    pub missed_reason: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Public,
    Private,
    Dm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct RoomView {
    pub id: String,
    pub kind: RoomKind,
    pub name: String,
    pub members: Vec<AgentRef>,
    pub ongoing_meet: Option<String>,
}

/// `POST /api/rooms/dm`: the DM with another agent of the channel (created on first use).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct DmRequest {
    pub agent_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    Audio,
    Video,
}

/// What a new meet is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MeetTarget {
    /// Agent calls the customer of a user chat (P3), or the customer presses Meet (P2).
    UserChat { chat_id: String },
    /// Managers of a user chat (P4).
    Internal { chat_id: String },
    /// A team group room or DM (P5).
    Room { room_id: String },
    /// From a customer's profile: a new user chat with them, and the meet in it (P3).
    Customer { customer_id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct StartMeetRequest {
    pub target: MeetTarget,
    pub media: Media,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub agent_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    UserChat,
    Internal,
    TeamGroup,
    TeamDm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct MeetScopeView {
    pub kind: ScopeKind,
    pub chat_id: Option<String>,
    pub room_id: Option<String>,
}

/// A meet as its viewer may see it. Customers see a missed meet as `ended`, and only admins
/// see `missed_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum MeetState {
    Ringing,
    WaitingForLink,
    Active,
    Ended,
    Missed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Agent,
    Customer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct PartyView {
    pub kind: PartyKind,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct ParticipantView {
    pub party: PartyView,
    pub device_id: String,
    pub joined_at: i64,
    pub left_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum RingStatus {
    Ringing,
    Accepted,
    Declined,
    NoAnswer,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct RingView {
    pub party: PartyView,
    pub status: RingStatus,
    /// "Invited by {agent}" (P6).
    pub invited_by: Option<AgentRef>,
    pub deadline: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct MeetView {
    pub id: String,
    pub scope: MeetScopeView,
    pub media: Media,
    pub state: MeetState,
    /// Admins only: `no_answer`, `declined`, `offline_link_unused`, `cancelled_by_caller`,
    /// `failed_to_connect`.
    pub missed_reason: Option<String>,
    pub caller: PartyView,
    pub participants: Vec<ParticipantView>,
    pub rings: Vec<RingView>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// The server node whose media router carries this meet.
    pub node_id: String,
    /// Grows with every change: a client keeps the view with the highest version (events and
    /// HTTP answers can arrive in either order).
    pub version: i64,
}

/// An anonymous visitor opens the widget: a customer and a new chat are created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct VisitorRequest {
    /// The channel's public widget key.
    pub channel_key: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Resume a customer's chat from a signed link (demo directory, follow-ups).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct CustomerSessionResponse {
    pub token: String,
    pub device_id: String,
    pub expires_at: i64,
    pub customer: CustomerView,
    pub chats: Vec<ChatView>,
    /// Set when the session is scoped to one meet (opened from a meet link).
    pub meet: Option<MeetView>,
}

/// Open the meet a signed follow-up link points at.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct OpenLinkRequest {
    pub token: String,
}

/// `POST /api/meets/{id}/link-status`: what opening a meet link would do, without opening it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct MeetLinkStatus {
    pub meet_id: String,
    /// The calling agent's display name ("" if none).
    pub caller_name: String,
    /// When the link stops working.
    pub expires_at: i64,
}

/// `POST /api/meets/{id}/media`: a participant device's WebRTC offer. Non-trickle: the SDP
/// carries its ICE candidates. Layout: 1 audio m-line sending the microphone, then 7 `recvonly`
/// audio m-lines (the receive slots, see `media_slots`), Opus.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct MediaOfferRequest {
    pub sdp: String,
    /// An ICE-restart offer on the device's existing connection (after a network change):
    /// the server keeps the connection and its slots. Without one, a new connection replaces
    /// any the device had.
    #[serde(default)]
    pub restart: bool,
}

/// The server's answer, carrying its candidates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct MediaAnswer {
    pub sdp: String,
}

/// Who is heard in one receive slot of a device's connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct MediaSlot {
    /// 0-based: slot `i` is the `(i + 2)`-th audio m-line of the device's offer.
    pub index: u32,
    pub party: PartyView,
}

/// A STUN or TURN server for the client's peer connection (browser `RTCIceServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
pub struct IceServerView {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// `GET /api/media/config`: what a client needs to build its peer connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct MediaConfigView {
    pub ice_servers: Vec<IceServerView>,
    /// Receive slots to offer (`recvonly` m-lines after the microphone's).
    pub receive_slots: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct Health {
    pub status: String,
    pub node_id: String,
    pub database: String,
}

/// `GET /api/demo`: only in `--demo` mode.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct DemoDirectory {
    pub agents: Vec<DemoAgent>,
    pub customers: Vec<DemoCustomer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct DemoAgent {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub seat: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct DemoCustomer {
    pub name: String,
    pub chat_id: String,
    /// The assignee's e-mail, or null.
    pub assignee: Option<String>,
    pub input_open: bool,
    /// `native` or the messenger's name.
    pub source: ChatSource,
    pub state: ChatState,
    /// Signed link that resumes this customer's chat in the widget.
    pub link: String,
}
