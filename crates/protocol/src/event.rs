//! Events pushed over `/api/events`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{ChannelSettings, ChatView, MediaSlot, MeetView, MessageView, RoomView};

/// One event. `seq` increases along the stream; reconnect with `?after=<last seq>` to resume
/// without losing anything.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
pub struct Event {
    pub seq: i64,
    pub at: i64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum RingStopReason {
    Accepted,
    Declined,
    TimedOut,
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// Sent first on every connection.
    Hello {
        device_id: String,
        node_id: String,
        /// The seq after which this connection delivers events. A client that has seen no
        /// event yet reconnects with `?after=` this, and misses nothing in between.
        #[serde(default)]
        cursor: i64,
    },
    /// This device must ring for the meet until `deadline`.
    Ring {
        meet: MeetView,
        deadline: i64,
    },
    /// Stop ringing. `accepted_device` is the device that answered (maybe this one).
    RingStopped {
        meet_id: String,
        reason: RingStopReason,
        accepted_device: Option<String>,
    },
    MeetUpdated {
        meet: MeetView,
    },
    Message {
        message: MessageView,
    },
    ChatUpdated {
        chat: ChatView,
    },
    SettingsUpdated {
        settings: ChannelSettings,
    },
    /// A team room this agent sees was made or changed (a DM opened on first use). Sent to
    /// its members (every channel agent for a public group).
    RoomUpdated {
        room: RoomView,
    },
    /// Who this device hears in which receive slot of its media connection to the meet (sent
    /// to the participant's devices — only `device_id` holds that connection — whenever its
    /// slots change: someone's media joined or left). The full list each time.
    MediaSlots {
        meet_id: String,
        device_id: String,
        slots: Vec<MediaSlot>,
    },
    /// This agent's call history changed (P8): changes up to `cursor` wait in
    /// `GET /api/history/changes`. Sent to the owning agent's devices only.
    HistoryChanged {
        cursor: i64,
    },
    /// The cursor given on reconnect is older than what the server keeps: fetch state again.
    Resync,
}
