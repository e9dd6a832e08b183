//! Call records (P8): which agent gets which record of an ended meet. Pure: the server stores
//! what [`records_of`] returns, in the transaction that ends the meet.
//!
//! - Customer meets (user chat): the caller agent gets `Outgoing`; an agent whose device rang
//!   for a customer's call gets `Incoming` when they answered, `Missed` when they did not.
//!   Agents invited into the meet (P6) get `Incoming` when they joined, else `Invited`.
//! - Team meets (group, DM) and internal meets: the caller gets `Outgoing`; every other agent
//!   who took part gets `Incoming`; an agent rung who never joined gets `Invited`, invited by
//!   whoever rang them (the caller for the first rings).
//!
//! Customers get no records; agents who joined a customer meet without being rung (a
//! supervisor dropping in) get none either: P8 lists only the person in charge whose device
//! rang.

use crate::{AgentId, Meet, Party, RingStatus, Scope};

/// Which way a record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Incoming,
    Outgoing,
    Missed,
    Invited,
}

impl Direction {
    pub fn code(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Missed => "missed",
            Direction::Invited => "invited",
        }
    }

    pub fn from_code(code: &str) -> Option<Direction> {
        Some(match code {
            "incoming" => Direction::Incoming,
            "outgoing" => Direction::Outgoing,
            "missed" => Direction::Missed,
            "invited" => Direction::Invited,
            _ => return None,
        })
    }
}

/// One record an ended meet leaves for one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFor {
    pub agent: AgentId,
    pub direction: Direction,
    /// "Invited by {agent}" (P6): set for `Invited` records.
    pub invited_by: Option<AgentId>,
    /// For DMs: the other agent. For customer and internal meets: the customer (when known
    /// from the meet itself; the server fills it from the chat otherwise).
    pub counterpart: Option<Party>,
}

/// The records an ended meet leaves, one per agent at most, in agent order.
pub fn records_of(meet: &Meet) -> Vec<RecordFor> {
    let mut out: Vec<RecordFor> = Vec::new();
    let customer = meet
        .participants
        .iter()
        .map(|p| &p.party)
        .chain(meet.rings.iter().map(|r| &r.party))
        .chain(std::iter::once(&meet.caller))
        .find(|p| matches!(p, Party::Customer(_)))
        .cloned();
    let caller_agent = match &meet.caller {
        Party::Agent(a) => Some(a.clone()),
        Party::Customer(_) => None,
    };
    let mut push = |agent: &AgentId, direction: Direction, invited_by: Option<AgentId>| {
        if out.iter().any(|r| &r.agent == agent) {
            return;
        }
        out.push(RecordFor { agent: agent.clone(), direction, invited_by, counterpart: None });
    };
    if let Some(caller) = &caller_agent {
        push(caller, Direction::Outgoing, None);
    }
    let customer_meet = matches!(meet.scope, Scope::UserChat(_));
    for ring in &meet.rings {
        let Party::Agent(agent) = &ring.party else { continue };
        let joined = ring.status == RingStatus::Accepted || meet.took_part(&ring.party);
        let direction = match (joined, customer_meet, &ring.invited_by) {
            (true, _, _) => Direction::Incoming,
            // The person in charge whose device rang for the customer's call.
            (false, true, None) => Direction::Missed,
            (false, _, _) => Direction::Invited,
        };
        let invited_by = match direction {
            Direction::Invited => ring.invited_by.clone().or_else(|| caller_agent.clone()),
            _ => None,
        };
        push(agent, direction, invited_by);
    }
    if !customer_meet {
        // Team and internal meets: everyone who took part (room members who joined unrung).
        for p in &meet.participants {
            if let Party::Agent(agent) = &p.party {
                push(agent, Direction::Incoming, None);
            }
        }
    }
    for r in &mut out {
        r.counterpart = match &meet.scope {
            Scope::UserChat(_) | Scope::Internal(_) => customer.clone(),
            Scope::TeamDm(_) => dm_counterpart(meet, &r.agent),
            Scope::TeamGroup(_) => None,
        };
    }
    out.sort_by(|a, b| a.agent.cmp(&b.agent));
    out
}

/// The other agent of a DM meet, as seen from `me`.
fn dm_counterpart(meet: &Meet, me: &AgentId) -> Option<Party> {
    std::iter::once(&meet.caller)
        .chain(meet.rings.iter().map(|r| &r.party))
        .chain(meet.participants.iter().map(|p| &p.party))
        .find(|p| matches!(p, Party::Agent(a) if a != me))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Callees, ChatId, CustomerId, DeviceId, Input, Media, MeetId, Millis, RoomId, Start};

    fn agent(s: &str) -> Party {
        Party::Agent(AgentId::from(s))
    }

    fn start(scope: Scope, caller: Party, callees: Vec<Party>) -> Meet {
        Meet::start(
            Start {
                id: MeetId::from("m"),
                scope,
                media: Media::Audio,
                caller,
                caller_device: DeviceId::from("d0"),
                callees: Callees::Ring(callees),
            },
            Millis(0),
        )
    }

    fn dirs(meet: &Meet) -> Vec<(String, Direction, Option<String>)> {
        records_of(meet).into_iter().map(|r| (r.agent.0, r.direction, r.invited_by.map(|a| a.0))).collect()
    }

    #[test]
    fn customer_call_answered_is_incoming_and_unanswered_is_missed() {
        let mina = Party::Customer(CustomerId::from("mina"));
        let mut m = start(Scope::UserChat(ChatId::from("c")), mina.clone(), vec![agent("bob")]);
        m.handle(Millis(1), Input::Accept { party: agent("bob"), device: DeviceId::from("d1") }).ok();
        m.handle(Millis(2), Input::Leave { party: mina.clone() }).ok();
        assert_eq!(dirs(&m), vec![("bob".into(), Direction::Incoming, None)]);
        assert_eq!(records_of(&m)[0].counterpart, Some(mina.clone()));

        let mut m = start(Scope::UserChat(ChatId::from("c")), mina.clone(), vec![agent("bob")]);
        m.handle(Millis(1), Input::Decline { party: agent("bob") }).ok();
        assert_eq!(dirs(&m), vec![("bob".into(), Direction::Missed, None)]);
    }

    #[test]
    fn agent_call_to_a_customer_is_outgoing_whatever_the_outcome() {
        let mina = Party::Customer(CustomerId::from("mina"));
        let mut m = start(Scope::UserChat(ChatId::from("c")), agent("bob"), vec![mina.clone()]);
        m.handle(Millis(1), Input::Leave { party: agent("bob") }).ok();
        assert_eq!(dirs(&m), vec![("bob".into(), Direction::Outgoing, None)]);
        assert_eq!(records_of(&m)[0].counterpart, Some(mina));
    }

    #[test]
    fn team_meets_are_outgoing_incoming_and_invited() {
        let mut m =
            start(Scope::TeamGroup(RoomId::from("r")), agent("alice"), vec![agent("bob"), agent("carol")]);
        m.handle(Millis(1), Input::Accept { party: agent("bob"), device: DeviceId::from("d1") }).ok();
        m.handle(Millis(2), Input::Invite { by: AgentId::from("bob"), agent: AgentId::from("dave") }).ok();
        m.handle_timeout(Millis(200_000));
        m.handle(Millis(200_001), Input::Leave { party: agent("alice") }).ok();
        m.handle(Millis(200_002), Input::Leave { party: agent("bob") }).ok();
        assert_eq!(
            dirs(&m),
            vec![
                ("alice".into(), Direction::Outgoing, None),
                ("bob".into(), Direction::Incoming, None),
                ("carol".into(), Direction::Invited, Some("alice".into())),
                ("dave".into(), Direction::Invited, Some("bob".into())),
            ]
        );
        assert!(records_of(&m).iter().all(|r| r.counterpart.is_none()), "a group's counterpart is its room");
    }

    #[test]
    fn a_dm_record_names_the_other_agent() {
        let mut m = start(Scope::TeamDm(RoomId::from("dm")), agent("alice"), vec![agent("bob")]);
        m.handle(Millis(1), Input::Leave { party: agent("alice") }).ok();
        let recs = records_of(&m);
        assert_eq!(recs[0].counterpart, Some(agent("bob")));
        assert_eq!(recs[1].counterpart, Some(agent("alice")));
        assert_eq!(recs[1].direction, Direction::Invited);
    }

    #[test]
    fn codes_round_trip() {
        for d in [Direction::Incoming, Direction::Outgoing, Direction::Missed, Direction::Invited] {
            assert_eq!(Direction::from_code(d.code()), Some(d));
        }
        assert_eq!(Direction::from_code("x"), None);
    }
}
