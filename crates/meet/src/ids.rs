//! Identifiers the meet logic refers to. Plain strings chosen by the store.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    )*};
}

id!(
    /// An agent (manager) of a channel.
    AgentId,
    /// A customer of a channel.
    CustomerId,
    /// One signed-in device: an agent session or a customer widget session.
    DeviceId,
    /// A user chat.
    ChatId,
    /// A team chat room (group or DM).
    RoomId,
    /// A meet.
    MeetId,
);
