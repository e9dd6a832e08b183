//! The meet and ring state machine.
//!
//! Sans-IO in the str0m manner: the server feeds inputs with [`Meet::handle`] and deadlines
//! with [`Meet::handle_timeout`], then drains [`Meet::poll_effect`] and performs the effects
//! (send ring events, write the follow-up message, …). [`Meet::poll_timeout`] says when the
//! next deadline is and why. Nothing here reads a clock or does IO.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::time::{Millis, LINK_TTL_MS, RING_TIMEOUT_MS};
use crate::{AgentId, ChatId, CustomerId, DeviceId, MeetId, RoomId};

/// Where a meet happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// With the customer of a user chat.
    UserChat(ChatId),
    /// Between the managers of a user chat (P4); never visible to the customer.
    Internal(ChatId),
    /// A team chat group room (public or private).
    TeamGroup(RoomId),
    /// A team chat direct message between two agents.
    TeamDm(RoomId),
}

impl Scope {
    /// Group meets keep going while anyone is in them; two-party meets end when one side leaves.
    pub fn is_group(&self) -> bool {
        matches!(self, Scope::Internal(_) | Scope::TeamGroup(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Media {
    Audio,
    Video,
}

/// Someone who takes part in or is rung for a meet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Party {
    Agent(AgentId),
    Customer(CustomerId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Rings are out and nobody has answered yet.
    Ringing,
    /// The customer was offline: a follow-up link was sent and the meet waits for it.
    WaitingForLink,
    /// At least one callee answered.
    Active,
    Ended,
}

/// Why a meet ended without being answered (P3). Shown to admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissedReason {
    NoAnswer,
    Declined,
    OfflineLinkUnused,
    CancelledByCaller,
    FailedToConnect,
}

impl MissedReason {
    pub fn code(self) -> &'static str {
        match self {
            MissedReason::NoAnswer => "no_answer",
            MissedReason::Declined => "declined",
            MissedReason::OfflineLinkUnused => "offline_link_unused",
            MissedReason::CancelledByCaller => "cancelled_by_caller",
            MissedReason::FailedToConnect => "failed_to_connect",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Somebody answered; the meet ended when people hung up.
    Completed,
    Missed(MissedReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RingStatus {
    Ringing,
    Accepted,
    Declined,
    NoAnswer,
    /// The meet ended (or was cancelled) while this ring was still going.
    Stopped,
}

/// One invitation: every device of `party` rings until it is answered, declined or times out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ring {
    pub party: Party,
    /// Set for agents invited into an ongoing meet (P6).
    pub invited_by: Option<AgentId>,
    pub started_at: Millis,
    pub deadline: Millis,
    pub status: RingStatus,
    /// The device that accepted; the party's other devices stop ringing.
    pub accepted_device: Option<DeviceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub party: Party,
    pub device: DeviceId,
    pub joined_at: Millis,
    pub left_at: Option<Millis>,
}

/// Why a ring stopped, as the ringing devices are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RingStopReason {
    Accepted,
    Declined,
    TimedOut,
    /// The caller gave up or the meet ended.
    Cancelled,
}

/// What the IO shell must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Ring every device of `party` until `deadline`.
    Ring {
        party: Party,
        deadline: Millis,
        invited_by: Option<AgentId>,
    },
    /// Stop ringing `party`'s devices; `accepted_device` (if any) is the one that answered.
    RingStopped {
        party: Party,
        reason: RingStopReason,
        accepted_device: Option<DeviceId>,
    },
    /// The customer is offline: post a follow-up message with a signed link to this meet.
    FollowUp {
        customer: CustomerId,
        expires_at: Millis,
    },
    Joined {
        party: Party,
        device: DeviceId,
    },
    Left {
        party: Party,
    },
    Ended {
        outcome: Outcome,
    },
}

/// Who the starter rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callees {
    Ring(Vec<Party>),
    /// An agent calls a customer whose widget is not connected (P3).
    OfflineCustomer(CustomerId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub id: MeetId,
    pub scope: Scope,
    pub media: Media,
    pub caller: Party,
    pub caller_device: DeviceId,
    pub callees: Callees,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A device of a rung party answers.
    Accept { party: Party, device: DeviceId },
    /// A rung party declines (from any of its devices).
    Decline { party: Party },
    /// Join a meet that is going on: a room member (P5), or a rung party (same as accepting).
    Join { party: Party, device: DeviceId },
    /// Hang up. The caller hanging up before anyone answered cancels the meet.
    Leave { party: Party },
    /// A participant agent rings one more agent into the meet (P6).
    Invite { by: AgentId, agent: AgentId },
    /// The offline customer opened the follow-up link.
    OpenLink { customer: CustomerId, device: DeviceId },
    /// The media never connected after the meet was answered.
    MediaFailed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetError {
    Ended,
    NotRinging,
    NotParticipant,
    AlreadyParticipant,
    AlreadyRinging,
    NotActive,
    LinkUsed,
    LinkExpired,
    NoLink,
}

impl MeetError {
    pub fn code(&self) -> &'static str {
        match self {
            MeetError::Ended => "meet_ended",
            MeetError::NotRinging => "not_ringing",
            MeetError::NotParticipant => "not_participant",
            MeetError::AlreadyParticipant => "already_participant",
            MeetError::AlreadyRinging => "already_ringing",
            MeetError::NotActive => "meet_not_active",
            MeetError::LinkUsed => "link_used",
            MeetError::LinkExpired => "link_expired",
            MeetError::NoLink => "no_link",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            MeetError::Ended => "This meet has ended.",
            MeetError::NotRinging => {
                "This meet is not ringing for you (it may have been answered on another device)."
            }
            MeetError::NotParticipant => "You are not in this meet.",
            MeetError::AlreadyParticipant => "Already in this meet.",
            MeetError::AlreadyRinging => "This agent is already being rung for this meet.",
            MeetError::NotActive => "Nobody has answered this meet yet.",
            MeetError::LinkUsed => "This meet link has already been used.",
            MeetError::LinkExpired => "This meet link has expired.",
            MeetError::NoLink => "This meet was not sent as a link.",
        }
    }
}

impl std::fmt::Display for MeetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for MeetError {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meet {
    pub id: MeetId,
    pub scope: Scope,
    pub media: Media,
    pub caller: Party,
    pub created_at: Millis,
    pub answered_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub phase: Phase,
    pub outcome: Option<Outcome>,
    pub rings: Vec<Ring>,
    pub participants: Vec<Participant>,
    pub link_expires_at: Option<Millis>,
    pub link_used: bool,
    #[serde(skip)]
    effects: VecDeque<Effect>,
}

impl Meet {
    /// Starts a meet: the caller is in it, the callees ring (or the offline customer gets a link).
    pub fn start(start: Start, now: Millis) -> Meet {
        let mut meet = Meet {
            id: start.id,
            scope: start.scope,
            media: start.media,
            caller: start.caller.clone(),
            created_at: now,
            answered_at: None,
            ended_at: None,
            phase: Phase::Ringing,
            outcome: None,
            rings: Vec::new(),
            participants: Vec::new(),
            link_expires_at: None,
            link_used: false,
            effects: VecDeque::new(),
        };
        meet.add_participant(start.caller, start.caller_device, now);
        match start.callees {
            Callees::Ring(mut parties) => {
                // Ring each party once, and never the caller.
                parties.sort();
                parties.dedup();
                parties.retain(|p| p != &meet.caller);
                for party in parties {
                    meet.ring(party, None, now);
                }
                if meet.rings.is_empty() {
                    // Nobody else to ring (a room where the caller is alone): the meet is open.
                    meet.phase = Phase::Active;
                }
            }
            Callees::OfflineCustomer(customer) => {
                let expires_at = now.plus(LINK_TTL_MS);
                meet.phase = Phase::WaitingForLink;
                meet.link_expires_at = Some(expires_at);
                meet.effects.push_back(Effect::FollowUp { customer, expires_at });
            }
        }
        meet
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Result<(), MeetError> {
        // A deadline that passed before this input is applied first, so a late accept loses.
        self.handle_timeout(now);
        if self.phase == Phase::Ended {
            return Err(match (input, self.outcome) {
                (Input::OpenLink { .. }, Some(Outcome::Missed(MissedReason::OfflineLinkUnused))) => {
                    MeetError::LinkExpired
                }
                _ => MeetError::Ended,
            });
        }
        match input {
            Input::Accept { party, device } => self.accept(party, device, now),
            Input::Decline { party } => self.decline(&party, now),
            Input::Join { party, device } => {
                if self.ringing_index(&party).is_some() {
                    return self.accept(party, device, now);
                }
                if self.is_present(&party) {
                    return Err(MeetError::AlreadyParticipant);
                }
                // While unanswered, a two-party meet is joined only by answering its ring; once it is
                // going on, anyone the server lets in may join (supervisors, invitees).
                let unanswered = matches!(self.phase, Phase::Ringing | Phase::WaitingForLink);
                if self.phase == Phase::WaitingForLink || (unanswered && !self.scope.is_group()) {
                    return Err(MeetError::NotActive);
                }
                self.add_participant(party, device, now);
                self.activate(now);
                Ok(())
            }
            Input::Leave { party } => self.leave(party, now),
            Input::Invite { by, agent } => self.invite(by, agent, now),
            Input::OpenLink { customer, device } => {
                if self.link_expires_at.is_none() {
                    return Err(MeetError::NoLink);
                }
                if self.link_used {
                    return Err(MeetError::LinkUsed);
                }
                self.link_used = true;
                self.add_participant(Party::Customer(customer), device, now);
                self.activate(now);
                Ok(())
            }
            Input::MediaFailed => {
                if self.phase != Phase::Active {
                    return Err(MeetError::NotActive);
                }
                self.end(Outcome::Missed(MissedReason::FailedToConnect), now);
                Ok(())
            }
        }
    }

    /// Applies every deadline at or before `now`. Safe to call at any time, any number of times.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.phase == Phase::Ended {
            return;
        }
        let mut timed_out = Vec::new();
        for ring in &mut self.rings {
            if ring.status == RingStatus::Ringing && ring.deadline <= now {
                ring.status = RingStatus::NoAnswer;
                timed_out.push(ring.party.clone());
            }
        }
        for party in timed_out {
            self.effects.push_back(Effect::RingStopped {
                party,
                reason: RingStopReason::TimedOut,
                accepted_device: None,
            });
        }
        if self.phase == Phase::WaitingForLink && self.link_expires_at.is_some_and(|t| t <= now) {
            self.end(Outcome::Missed(MissedReason::OfflineLinkUnused), now);
            return;
        }
        self.settle_unanswered(now);
    }

    /// The next deadline and what it is for.
    pub fn poll_timeout(&self) -> Option<(Millis, &'static str)> {
        if self.phase == Phase::Ended {
            return None;
        }
        let rings =
            self.rings.iter().filter(|r| r.status == RingStatus::Ringing).map(|r| (r.deadline, "ring"));
        let link = match self.phase {
            Phase::WaitingForLink => self.link_expires_at.map(|t| (t, "follow-up link")),
            _ => None,
        };
        rings.chain(link).min_by_key(|(t, _)| *t)
    }

    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Participants who are in the meet now.
    pub fn present(&self) -> impl Iterator<Item = &Participant> {
        self.participants.iter().filter(|p| p.left_at.is_none())
    }

    pub fn is_present(&self, party: &Party) -> bool {
        self.present().any(|p| &p.party == party)
    }

    /// Parties whose devices ring right now.
    pub fn ringing(&self) -> impl Iterator<Item = &Ring> {
        self.rings.iter().filter(|r| r.status == RingStatus::Ringing)
    }

    /// Did `party` take part at any point?
    pub fn took_part(&self, party: &Party) -> bool {
        self.participants.iter().any(|p| &p.party == party)
    }

    fn accept(&mut self, party: Party, device: DeviceId, now: Millis) -> Result<(), MeetError> {
        let idx = self.ringing_index(&party).ok_or(MeetError::NotRinging)?;
        let ring = &mut self.rings[idx];
        ring.status = RingStatus::Accepted;
        ring.accepted_device = Some(device.clone());
        self.effects.push_back(Effect::RingStopped {
            party: party.clone(),
            reason: RingStopReason::Accepted,
            accepted_device: Some(device.clone()),
        });
        self.add_participant(party, device, now);
        self.activate(now);
        Ok(())
    }

    fn decline(&mut self, party: &Party, now: Millis) -> Result<(), MeetError> {
        let idx = self.ringing_index(party).ok_or(MeetError::NotRinging)?;
        self.rings[idx].status = RingStatus::Declined;
        self.effects.push_back(Effect::RingStopped {
            party: party.clone(),
            reason: RingStopReason::Declined,
            accepted_device: None,
        });
        self.settle_unanswered(now);
        Ok(())
    }

    fn leave(&mut self, party: Party, now: Millis) -> Result<(), MeetError> {
        let Some(p) = self.participants.iter_mut().find(|p| p.party == party && p.left_at.is_none()) else {
            // A party that is only being rung "hangs up" by declining.
            if self.ringing_index(&party).is_some() {
                return self.decline(&party, now);
            }
            return Err(MeetError::NotParticipant);
        };
        p.left_at = Some(now);
        self.effects.push_back(Effect::Left { party: party.clone() });
        let remaining = self.present().count();
        match self.phase {
            Phase::Ringing | Phase::WaitingForLink if remaining == 0 => {
                self.end(Outcome::Missed(MissedReason::CancelledByCaller), now)
            }
            Phase::Active => {
                let customer_left = matches!(party, Party::Customer(_));
                let over =
                    if self.scope.is_group() { remaining == 0 } else { remaining <= 1 || customer_left };
                if over {
                    // A room meet the caller opened alone and left before anyone came in was
                    // never answered: missed (cancelled), not completed.
                    let outcome = match self.answered_at {
                        Some(_) => Outcome::Completed,
                        None => Outcome::Missed(MissedReason::CancelledByCaller),
                    };
                    self.end(outcome, now);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn invite(&mut self, by: AgentId, agent: AgentId, now: Millis) -> Result<(), MeetError> {
        if self.phase != Phase::Active {
            return Err(MeetError::NotActive);
        }
        if !self.is_present(&Party::Agent(by.clone())) {
            return Err(MeetError::NotParticipant);
        }
        let party = Party::Agent(agent);
        if self.is_present(&party) {
            return Err(MeetError::AlreadyParticipant);
        }
        if self.ringing_index(&party).is_some() {
            return Err(MeetError::AlreadyRinging);
        }
        self.ring(party, Some(by), now);
        Ok(())
    }

    fn ring(&mut self, party: Party, invited_by: Option<AgentId>, now: Millis) {
        let deadline = now.plus(RING_TIMEOUT_MS);
        self.rings.push(Ring {
            party: party.clone(),
            invited_by: invited_by.clone(),
            started_at: now,
            deadline,
            status: RingStatus::Ringing,
            accepted_device: None,
        });
        self.effects.push_back(Effect::Ring { party, deadline, invited_by });
    }

    fn add_participant(&mut self, party: Party, device: DeviceId, now: Millis) {
        self.participants.push(Participant {
            party: party.clone(),
            device: device.clone(),
            joined_at: now,
            left_at: None,
        });
        self.effects.push_back(Effect::Joined { party, device });
    }

    /// Someone other than the caller came in: the meet is answered (a room meet started
    /// alone is already Active, and is answered when the first person joins it).
    fn activate(&mut self, now: Millis) {
        self.phase = Phase::Active;
        if self.answered_at.is_none() {
            self.answered_at = Some(now);
        }
    }

    /// While nobody has answered: once no ring is left going, the meet is missed.
    fn settle_unanswered(&mut self, now: Millis) {
        if self.phase != Phase::Ringing || self.rings.is_empty() || self.ringing().next().is_some() {
            return;
        }
        let all_declined = self.rings.iter().all(|r| r.status == RingStatus::Declined);
        let reason = if all_declined { MissedReason::Declined } else { MissedReason::NoAnswer };
        self.end(Outcome::Missed(reason), now);
    }

    fn end(&mut self, outcome: Outcome, now: Millis) {
        if self.phase == Phase::Ended {
            return;
        }
        let mut stopped = Vec::new();
        for ring in &mut self.rings {
            if ring.status == RingStatus::Ringing {
                ring.status = RingStatus::Stopped;
                stopped.push(ring.party.clone());
            }
        }
        for party in stopped {
            self.effects.push_back(Effect::RingStopped {
                party,
                reason: RingStopReason::Cancelled,
                accepted_device: None,
            });
        }
        for p in &mut self.participants {
            if p.left_at.is_none() {
                p.left_at = Some(now);
            }
        }
        self.phase = Phase::Ended;
        self.outcome = Some(outcome);
        self.ended_at = Some(now);
        self.effects.push_back(Effect::Ended { outcome });
    }

    fn ringing_index(&self, party: &Party) -> Option<usize> {
        self.rings.iter().position(|r| &r.party == party && r.status == RingStatus::Ringing)
    }
}
