//! The meet and ring logic of meetdesk, pure and IO-free.
//!
//! **Architecture invariant:** this crate does no IO, reads no clock and spawns nothing; time is
//! always a parameter ([`Millis`]). The server loads a [`Meet`], applies an [`Input`], persists
//! it and performs the drained [`Effect`]s.

mod ids;
mod machine;
pub mod record;
pub mod rule;
mod time;

pub use ids::{AgentId, ChatId, CustomerId, DeviceId, MeetId, RoomId};
pub use machine::{
    Callees, Effect, Input, Media, Meet, MeetError, MissedReason, Outcome, Participant, Party, Phase, Ring,
    RingStatus, RingStopReason, Scope, Start,
};
pub use time::{Millis, LINK_TTL_MS, RING_TIMEOUT_MS};
