//! Who may start which meet (P2, P3, P4, P5). Pure functions over facts the server loads.

use serde::{Deserialize, Serialize};

use crate::{Media, MeetId};

/// Channel settings that gate meets (P1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeetSettings {
    pub audio_enabled: bool,
    pub video_enabled: bool,
}

impl MeetSettings {
    fn allows(&self, media: Media) -> Result<(), Refusal> {
        let enabled = match media {
            Media::Audio => self.audio_enabled,
            Media::Video => self.video_enabled,
        };
        if enabled {
            Ok(())
        } else {
            Err(Refusal::MeetsDisabled)
        }
    }
}

/// What the rules need to know about a user chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatFacts {
    pub has_assignee: bool,
    pub input_open: bool,
    /// The chat came from an external messenger (Instagram, WhatsApp, LINE, Kakao, …).
    pub external: bool,
    /// A meet of this chat that has not ended yet.
    pub ongoing_meet: Option<MeetId>,
}

/// Why a meet may not start. Each has a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    MeetsDisabled,
    NoAssignee,
    InputClosed,
    ExternalMessenger,
    NoOperatorSeat,
    NotChatManager,
    NotRoomMember,
    MeetInProgress(MeetId),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MeetsDisabled => "meets_disabled",
            Refusal::NoAssignee => "no_assignee",
            Refusal::InputClosed => "input_closed",
            Refusal::ExternalMessenger => "external_messenger",
            Refusal::NoOperatorSeat => "no_operator_seat",
            Refusal::NotChatManager => "not_chat_manager",
            Refusal::NotRoomMember => "not_room_member",
            Refusal::MeetInProgress(_) => "meet_in_progress",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::MeetsDisabled => "Meets are switched off for this channel.",
            Refusal::NoAssignee => "Nobody is assigned to this chat yet.",
            Refusal::InputClosed => "This chat is not accepting messages right now.",
            Refusal::ExternalMessenger => "Meets are not available in chats from external messengers.",
            Refusal::NoOperatorSeat => "Only agents with an operator seat can meet customers.",
            Refusal::NotChatManager => "Only managers of this chat can start an internal meet.",
            Refusal::NotRoomMember => "Only members of this room can start or join its meet.",
            Refusal::MeetInProgress(_) => "A meet is already going on here; join it instead.",
        }
    }
}

/// P2: may the customer press Meet in this chat? The widget shows the button exactly when this
/// is `Ok`, and the server checks it again on every request.
pub fn customer_may_start(settings: MeetSettings, chat: &ChatFacts, media: Media) -> Result<(), Refusal> {
    settings.allows(media)?;
    if chat.external {
        return Err(Refusal::ExternalMessenger);
    }
    if !chat.has_assignee {
        return Err(Refusal::NoAssignee);
    }
    if !chat.input_open {
        return Err(Refusal::InputClosed);
    }
    ongoing(chat)
}

/// P3: may an agent call the customer of this chat?
pub fn agent_may_call_customer(
    settings: MeetSettings,
    chat: &ChatFacts,
    agent_has_seat: bool,
    media: Media,
) -> Result<(), Refusal> {
    settings.allows(media)?;
    if chat.external {
        return Err(Refusal::ExternalMessenger);
    }
    if !agent_has_seat {
        return Err(Refusal::NoOperatorSeat);
    }
    ongoing(chat)
}

/// P4: may an agent start an internal meet in this chat? Internal meets need no seat: they are
/// between managers.
pub fn agent_may_start_internal(
    settings: MeetSettings,
    is_manager: bool,
    ongoing_internal: Option<MeetId>,
    media: Media,
) -> Result<(), Refusal> {
    settings.allows(media)?;
    if !is_manager {
        return Err(Refusal::NotChatManager);
    }
    match ongoing_internal {
        Some(id) => Err(Refusal::MeetInProgress(id)),
        None => Ok(()),
    }
}

/// P5: may an agent start a meet in a team room? No seat needed; a meet already going on in the
/// room is offered to join instead.
pub fn agent_may_start_team(
    settings: MeetSettings,
    is_member: bool,
    ongoing_room_meet: Option<MeetId>,
    media: Media,
) -> Result<(), Refusal> {
    settings.allows(media)?;
    if !is_member {
        return Err(Refusal::NotRoomMember);
    }
    match ongoing_room_meet {
        Some(id) => Err(Refusal::MeetInProgress(id)),
        None => Ok(()),
    }
}

fn ongoing(chat: &ChatFacts) -> Result<(), Refusal> {
    match &chat.ongoing_meet {
        Some(id) => Err(Refusal::MeetInProgress(id.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: MeetSettings = MeetSettings { audio_enabled: true, video_enabled: true };

    fn good_chat() -> ChatFacts {
        ChatFacts { has_assignee: true, input_open: true, external: false, ongoing_meet: None }
    }

    #[test]
    fn customer_button_needs_all_four_conditions() {
        assert_eq!(customer_may_start(ON, &good_chat(), Media::Audio), Ok(()));
        let off = MeetSettings { audio_enabled: false, video_enabled: false };
        assert_eq!(customer_may_start(off, &good_chat(), Media::Audio), Err(Refusal::MeetsDisabled));
        let c = ChatFacts { has_assignee: false, ..good_chat() };
        assert_eq!(customer_may_start(ON, &c, Media::Audio), Err(Refusal::NoAssignee));
        let c = ChatFacts { input_open: false, ..good_chat() };
        assert_eq!(customer_may_start(ON, &c, Media::Audio), Err(Refusal::InputClosed));
        let c = ChatFacts { external: true, ..good_chat() };
        assert_eq!(customer_may_start(ON, &c, Media::Audio), Err(Refusal::ExternalMessenger));
    }

    #[test]
    fn audio_and_video_switch_separately() {
        let audio_only = MeetSettings { audio_enabled: true, video_enabled: false };
        assert_eq!(customer_may_start(audio_only, &good_chat(), Media::Audio), Ok(()));
        assert_eq!(customer_may_start(audio_only, &good_chat(), Media::Video), Err(Refusal::MeetsDisabled));
    }

    #[test]
    fn agent_needs_a_seat_for_customers_but_not_for_team_meets() {
        assert_eq!(
            agent_may_call_customer(ON, &good_chat(), false, Media::Audio),
            Err(Refusal::NoOperatorSeat)
        );
        assert_eq!(agent_may_start_team(ON, true, None, Media::Audio), Ok(()));
    }

    #[test]
    fn agent_cannot_call_into_external_messenger_chats() {
        let c = ChatFacts { external: true, ..good_chat() };
        assert_eq!(agent_may_call_customer(ON, &c, true, Media::Audio), Err(Refusal::ExternalMessenger));
    }

    #[test]
    fn ongoing_room_meet_is_offered_to_join() {
        let id = MeetId::from("m1");
        assert_eq!(
            agent_may_start_team(ON, true, Some(id.clone()), Media::Audio),
            Err(Refusal::MeetInProgress(id))
        );
        assert_eq!(agent_may_start_team(ON, false, None, Media::Audio), Err(Refusal::NotRoomMember));
    }
}
