//! Behaviour tests of the meet + ring state machine with virtual time (PRODUCT.md P2–P6).
//!
//! Every test starts at `T0` and moves time by hand: the machine never reads a clock.
#![allow(clippy::unwrap_used)]

use meetdesk_meet::{
    AgentId, Callees, ChatId, CustomerId, DeviceId, Effect, Input, Media, Meet, MeetError, MeetId, Millis,
    MissedReason, Outcome, Party, Phase, RingStatus, RingStopReason, RoomId, Scope, Start, LINK_TTL_MS,
    RING_TIMEOUT_MS,
};

/// An arbitrary wall-clock start, far from zero so that "ms since start" and "epoch ms" differ.
const T0: Millis = Millis(1_700_000_000_000);

fn at(ms: i64) -> Millis {
    T0.plus(ms)
}

fn agent(name: &str) -> Party {
    Party::Agent(AgentId::from(name))
}

fn customer(name: &str) -> Party {
    Party::Customer(CustomerId::from(name))
}

fn dev(name: &str) -> DeviceId {
    DeviceId::from(name)
}

fn aid(name: &str) -> AgentId {
    AgentId::from(name)
}

fn user_chat() -> Scope {
    Scope::UserChat(ChatId::from("chat-1"))
}

fn team_group() -> Scope {
    Scope::TeamGroup(RoomId::from("room-1"))
}

fn internal() -> Scope {
    Scope::Internal(ChatId::from("chat-1"))
}

fn team_dm() -> Scope {
    Scope::TeamDm(RoomId::from("dm-1"))
}

fn start(scope: Scope, caller: Party, callees: Callees) -> Meet {
    Meet::start(
        Start {
            id: MeetId::from("meet-1"),
            scope,
            media: Media::Audio,
            caller,
            caller_device: dev("caller-device"),
            callees,
        },
        T0,
    )
}

fn drain(meet: &mut Meet) -> Vec<Effect> {
    std::iter::from_fn(|| meet.poll_effect()).collect()
}

/// P2: the customer presses Meet; the assignee `agent-1` rings. Start effects drained.
fn customer_calls_agent() -> Meet {
    let mut meet = start(user_chat(), customer("cust"), Callees::Ring(vec![agent("agent-1")]));
    drain(&mut meet);
    meet
}

/// P3: agent `agent-1` calls the online customer. Start effects drained.
fn agent_calls_customer() -> Meet {
    let mut meet = start(user_chat(), agent("agent-1"), Callees::Ring(vec![customer("cust")]));
    drain(&mut meet);
    meet
}

/// P3: agent `agent-1` calls the offline customer. Start effects drained.
fn agent_calls_offline_customer() -> Meet {
    let mut meet = start(user_chat(), agent("agent-1"), Callees::OfflineCustomer(CustomerId::from("cust")));
    drain(&mut meet);
    meet
}

/// P5: `lead` starts a meet in a group room; `a`, `b` and `c` ring. Start effects drained.
fn group_meet(scope: Scope) -> Meet {
    let mut meet = start(scope, agent("lead"), Callees::Ring(vec![agent("a"), agent("b"), agent("c")]));
    drain(&mut meet);
    meet
}

/// P6: a 1:1 user chat meet the agent answered; start and answer effects drained.
fn answered_customer_meet() -> Meet {
    let mut meet = customer_calls_agent();
    meet.handle(at(5_000), Input::Accept { party: agent("agent-1"), device: dev("desk") }).unwrap();
    drain(&mut meet);
    meet
}

fn ring_of<'a>(meet: &'a Meet, party: &Party) -> &'a meetdesk_meet::Ring {
    meet.rings.iter().rev().find(|r| &r.party == party).unwrap()
}

fn stopped(party: Party, reason: RingStopReason) -> Effect {
    Effect::RingStopped { party, reason, accepted_device: None }
}

fn present_parties(meet: &Meet) -> Vec<Party> {
    meet.present().map(|p| p.party.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------------------------

#[test]
fn start_puts_the_caller_in_and_rings_each_callee_for_120_seconds() {
    let mut meet = start(user_chat(), customer("cust"), Callees::Ring(vec![agent("agent-1")]));
    assert_eq!(meet.phase, Phase::Ringing);
    assert_eq!(meet.created_at, T0);
    assert_eq!(meet.answered_at, None);
    assert_eq!(meet.ended_at, None);
    assert_eq!(meet.outcome, None);
    assert!(meet.is_present(&customer("cust")));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Joined { party: customer("cust"), device: dev("caller-device") },
            Effect::Ring { party: agent("agent-1"), deadline: at(RING_TIMEOUT_MS), invited_by: None },
        ]
    );
    let ring = ring_of(&meet, &agent("agent-1"));
    assert_eq!(ring.status, RingStatus::Ringing);
    assert_eq!(ring.started_at, T0);
    assert_eq!(ring.deadline, at(120_000));
    assert_eq!(ring.invited_by, None);
    assert_eq!(ring.accepted_device, None);
}

#[test]
fn ring_timeout_and_link_ttl_are_the_documented_values() {
    assert_eq!(RING_TIMEOUT_MS, 120_000);
    assert_eq!(LINK_TTL_MS, 600_000);
}

#[test]
fn room_meet_with_nobody_to_ring_starts_active_with_no_deadline() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![]));
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.poll_timeout(), None);
    assert_eq!(drain(&mut meet), vec![Effect::Joined { party: agent("lead"), device: dev("caller-device") }]);
}

// ---------------------------------------------------------------------------------------------
// P2: the ring lasts up to 120 seconds
// ---------------------------------------------------------------------------------------------

#[test]
fn customer_ring_is_missed_at_exactly_120_seconds() {
    let mut meet = customer_calls_agent();

    meet.handle_timeout(at(119_999));
    assert_eq!(meet.phase, Phase::Ringing);
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::Ringing);
    assert_eq!(drain(&mut meet), vec![]);

    meet.handle_timeout(at(120_000));
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(meet.ended_at, Some(at(120_000)));
    assert_eq!(meet.answered_at, None);
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::NoAnswer);
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(agent("agent-1"), RingStopReason::TimedOut),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::NoAnswer) },
        ]
    );
    // The customer is no longer in the meet: "the customer sees the meet as ended".
    assert_eq!(meet.present().count(), 0);
    assert_eq!(meet.poll_timeout(), None);
}

#[test]
fn agent_ring_to_online_customer_is_missed_at_120_seconds_too() {
    let mut meet = agent_calls_customer();
    assert_eq!(meet.poll_timeout(), Some((at(120_000), "ring")));
    meet.handle_timeout(at(120_000));
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(customer("cust"), RingStopReason::TimedOut),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::NoAnswer) },
        ]
    );
}

#[test]
fn handle_timeout_before_the_deadline_changes_nothing() {
    let mut meet = customer_calls_agent();
    let before = meet.clone();
    for ms in [0, 1, 60_000, 119_999] {
        meet.handle_timeout(at(ms));
    }
    assert_eq!(meet, before);
    assert_eq!(drain(&mut meet), vec![]);
}

#[test]
fn handle_timeout_is_idempotent() {
    let mut meet = customer_calls_agent();
    meet.handle_timeout(at(120_000));
    let effects = drain(&mut meet);
    assert_eq!(effects.len(), 2);
    let after_first = meet.clone();
    meet.handle_timeout(at(120_000));
    meet.handle_timeout(at(500_000));
    assert_eq!(meet, after_first);
    assert_eq!(drain(&mut meet), vec![]);
}

#[test]
fn accept_one_millisecond_before_the_deadline_wins() {
    let mut meet = customer_calls_agent();
    meet.handle(at(119_999), Input::Accept { party: agent("agent-1"), device: dev("desk") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.answered_at, Some(at(119_999)));
    drain(&mut meet);
    meet.handle_timeout(at(120_000));
    meet.handle_timeout(at(10 * 60_000));
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(drain(&mut meet), vec![]);
}

#[test]
fn accept_on_one_device_stops_the_ring_for_the_others() {
    let mut meet = customer_calls_agent();
    meet.handle(at(3_000), Input::Accept { party: agent("agent-1"), device: dev("laptop") }).unwrap();

    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.answered_at, Some(at(3_000)));
    let ring = ring_of(&meet, &agent("agent-1"));
    assert_eq!(ring.status, RingStatus::Accepted);
    assert_eq!(ring.accepted_device, Some(dev("laptop")));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::RingStopped {
                party: agent("agent-1"),
                reason: RingStopReason::Accepted,
                accepted_device: Some(dev("laptop")),
            },
            Effect::Joined { party: agent("agent-1"), device: dev("laptop") },
        ]
    );
    let agent_in = meet.present().find(|p| p.party == agent("agent-1")).unwrap();
    assert_eq!(agent_in.device, dev("laptop"));
    assert_eq!(agent_in.joined_at, at(3_000));
    assert_eq!(meet.poll_timeout(), None);
}

#[test]
fn second_accept_from_another_device_loses_the_race() {
    let mut meet = customer_calls_agent();
    meet.handle(at(3_000), Input::Accept { party: agent("agent-1"), device: dev("laptop") }).unwrap();
    drain(&mut meet);
    let before = meet.clone();

    let err = meet.handle(at(3_001), Input::Accept { party: agent("agent-1"), device: dev("desktop") });
    assert_eq!(err, Err(MeetError::NotRinging));
    assert_eq!(meet, before);
    assert_eq!(drain(&mut meet), vec![]);
    assert_eq!(ring_of(&meet, &agent("agent-1")).accepted_device, Some(dev("laptop")));
    assert_eq!(meet.present().filter(|p| p.party == agent("agent-1")).count(), 1);
}

#[test]
fn second_accept_in_the_same_millisecond_also_loses() {
    let mut meet = customer_calls_agent();
    meet.handle(at(3_000), Input::Accept { party: agent("agent-1"), device: dev("laptop") }).unwrap();
    assert_eq!(
        meet.handle(at(3_000), Input::Accept { party: agent("agent-1"), device: dev("phone") }),
        Err(MeetError::NotRinging)
    );
}

#[test]
fn late_accept_after_deadline_is_refused() {
    let mut meet = customer_calls_agent();
    // The shell never got to call handle_timeout: the accept itself arrives after the deadline.
    let err = meet.handle(at(120_000), Input::Accept { party: agent("agent-1"), device: dev("desk") });
    assert_eq!(err, Err(MeetError::Ended));
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(meet.answered_at, None);
    assert!(!meet.took_part(&agent("agent-1")));
    // The deadline is applied before the refused input: the devices stop ringing as timed out.
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(agent("agent-1"), RingStopReason::TimedOut),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::NoAnswer) },
        ]
    );
}

#[test]
fn late_accept_in_a_group_meet_already_answered_is_not_ringing() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    drain(&mut meet);
    let err = meet.handle(at(130_000), Input::Accept { party: agent("b"), device: dev("b1") });
    assert_eq!(err, Err(MeetError::NotRinging));
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(ring_of(&meet, &agent("b")).status, RingStatus::NoAnswer);
    assert!(!meet.is_present(&agent("b")));
}

#[test]
fn accept_by_a_party_that_was_never_rung_is_not_ringing() {
    let mut meet = customer_calls_agent();
    let before = meet.clone();
    assert_eq!(
        meet.handle(at(1_000), Input::Accept { party: agent("stranger"), device: dev("x") }),
        Err(MeetError::NotRinging)
    );
    assert_eq!(meet, before);
}

// ---------------------------------------------------------------------------------------------
// P3: declined, cancelled, failed
// ---------------------------------------------------------------------------------------------

#[test]
fn decline_in_a_one_to_one_meet_is_missed_declined() {
    let mut meet = customer_calls_agent();
    meet.handle(at(4_000), Input::Decline { party: agent("agent-1") }).unwrap();
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::Declined)));
    assert_eq!(meet.ended_at, Some(at(4_000)));
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::Declined);
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(agent("agent-1"), RingStopReason::Declined),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::Declined) },
        ]
    );
}

#[test]
fn customer_declining_an_agent_call_is_missed_declined() {
    let mut meet = agent_calls_customer();
    meet.handle(at(4_000), Input::Decline { party: customer("cust") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::Declined)));
}

#[test]
fn decline_twice_is_refused() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Decline { party: agent("a") }).unwrap();
    assert_eq!(meet.handle(at(1_001), Input::Decline { party: agent("a") }), Err(MeetError::NotRinging));
    assert_eq!(
        meet.handle(at(1_002), Input::Accept { party: agent("a"), device: dev("a1") }),
        Err(MeetError::NotRinging)
    );
}

#[test]
fn callee_hanging_up_while_ringing_declines() {
    let mut meet = customer_calls_agent();
    meet.handle(at(4_000), Input::Leave { party: agent("agent-1") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::Declined)));
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::Declined);
}

#[test]
fn caller_hangs_up_while_ringing_cancels_the_meet() {
    let mut meet = customer_calls_agent();
    meet.handle(at(10_000), Input::Leave { party: customer("cust") }).unwrap();
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::CancelledByCaller)));
    assert_eq!(meet.ended_at, Some(at(10_000)));
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::Stopped);
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Left { party: customer("cust") },
            stopped(agent("agent-1"), RingStopReason::Cancelled),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::CancelledByCaller) },
        ]
    );
    assert_eq!(meet.poll_timeout(), None);
    // The original deadline passing later changes nothing.
    let ended = meet.clone();
    meet.handle_timeout(at(120_000));
    assert_eq!(meet, ended);
}

#[test]
fn caller_hanging_up_a_group_ring_stops_every_ring() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Decline { party: agent("a") }).unwrap();
    drain(&mut meet);
    meet.handle(at(2_000), Input::Leave { party: agent("lead") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::CancelledByCaller)));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Left { party: agent("lead") },
            stopped(agent("b"), RingStopReason::Cancelled),
            stopped(agent("c"), RingStopReason::Cancelled),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::CancelledByCaller) },
        ]
    );
    assert!(meet.ringing().next().is_none());
}

#[test]
fn leave_by_someone_not_in_the_meet_is_refused() {
    let mut meet = customer_calls_agent();
    let before = meet.clone();
    assert_eq!(meet.handle(at(1), Input::Leave { party: agent("stranger") }), Err(MeetError::NotParticipant));
    assert_eq!(meet, before);
}

#[test]
fn media_failed_after_answer_is_missed_failed_to_connect() {
    let mut meet = answered_customer_meet();
    meet.handle(at(20_000), Input::MediaFailed).unwrap();
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::FailedToConnect)));
    assert_eq!(meet.answered_at, Some(at(5_000)));
    assert_eq!(meet.ended_at, Some(at(20_000)));
    assert_eq!(
        drain(&mut meet),
        vec![Effect::Ended { outcome: Outcome::Missed(MissedReason::FailedToConnect) }]
    );
    // Everybody is out, with the end time.
    assert!(meet.participants.iter().all(|p| p.left_at == Some(at(20_000))));
}

#[test]
fn media_failed_stops_rings_still_going() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    drain(&mut meet);
    meet.handle(at(2_000), Input::MediaFailed).unwrap();
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(agent("b"), RingStopReason::Cancelled),
            stopped(agent("c"), RingStopReason::Cancelled),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::FailedToConnect) },
        ]
    );
}

#[test]
fn media_failed_before_the_meet_is_going_on_is_not_active() {
    for mut meet in [customer_calls_agent(), agent_calls_offline_customer(), group_meet(internal())] {
        let before = meet.clone();
        assert_eq!(meet.handle(at(1_000), Input::MediaFailed), Err(MeetError::NotActive));
        assert_eq!(meet, before);
        assert_eq!(drain(&mut meet), vec![]);
    }
}

#[test]
fn missed_reason_codes_are_stable() {
    assert_eq!(MissedReason::NoAnswer.code(), "no_answer");
    assert_eq!(MissedReason::Declined.code(), "declined");
    assert_eq!(MissedReason::OfflineLinkUnused.code(), "offline_link_unused");
    assert_eq!(MissedReason::CancelledByCaller.code(), "cancelled_by_caller");
    assert_eq!(MissedReason::FailedToConnect.code(), "failed_to_connect");
}

#[test]
fn meet_error_codes_are_distinct_and_have_messages() {
    let all = [
        MeetError::Ended,
        MeetError::NotRinging,
        MeetError::NotParticipant,
        MeetError::AlreadyParticipant,
        MeetError::AlreadyRinging,
        MeetError::NotActive,
        MeetError::LinkUsed,
        MeetError::LinkExpired,
        MeetError::NoLink,
    ];
    let mut codes: Vec<_> = all.iter().map(MeetError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    for e in &all {
        assert!(!e.message().is_empty());
        assert_eq!(e.to_string(), e.message());
    }
}

// ---------------------------------------------------------------------------------------------
// P3: offline customer and the follow-up link
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_customer_gets_a_follow_up_link_and_nobody_rings() {
    let mut meet = start(user_chat(), agent("agent-1"), Callees::OfflineCustomer(CustomerId::from("cust")));
    assert_eq!(meet.phase, Phase::WaitingForLink);
    assert_eq!(meet.link_expires_at, Some(at(LINK_TTL_MS)));
    assert!(!meet.link_used);
    assert!(meet.rings.is_empty());
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Joined { party: agent("agent-1"), device: dev("caller-device") },
            Effect::FollowUp { customer: CustomerId::from("cust"), expires_at: at(600_000) },
        ]
    );
    assert_eq!(meet.poll_timeout(), Some((at(600_000), "follow-up link")));
}

#[test]
fn opening_the_link_makes_the_meet_active() {
    let mut meet = agent_calls_offline_customer();
    meet.handle(at(60_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("browser") })
        .unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert!(meet.link_used);
    assert_eq!(meet.answered_at, Some(at(60_000)));
    assert!(meet.is_present(&customer("cust")));
    assert_eq!(drain(&mut meet), vec![Effect::Joined { party: customer("cust"), device: dev("browser") }]);
    assert_eq!(meet.poll_timeout(), None);
    // The link deadline no longer matters once the customer is in.
    meet.handle_timeout(at(3_600_000));
    assert_eq!(meet.phase, Phase::Active);
}

#[test]
fn link_opened_one_millisecond_before_expiry_still_works() {
    let mut meet = agent_calls_offline_customer();
    meet.handle(at(599_999), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") })
        .unwrap();
    assert_eq!(meet.phase, Phase::Active);
}

#[test]
fn link_reused_is_refused_with_link_used() {
    let mut meet = agent_calls_offline_customer();
    meet.handle(at(60_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b1") })
        .unwrap();
    drain(&mut meet);
    let before = meet.clone();
    let err =
        meet.handle(at(61_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b2") });
    assert_eq!(err, Err(MeetError::LinkUsed));
    assert_eq!(meet, before);
}

#[test]
fn link_after_ten_minutes_is_expired_and_the_meet_is_missed_offline_link_unused() {
    let mut meet = agent_calls_offline_customer();
    let err =
        meet.handle(at(600_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") });
    assert_eq!(err, Err(MeetError::LinkExpired));
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::OfflineLinkUnused)));
    assert_eq!(meet.ended_at, Some(at(600_000)));
    assert!(!meet.link_used);
    assert!(!meet.took_part(&customer("cust")));
    assert_eq!(
        drain(&mut meet),
        vec![Effect::Ended { outcome: Outcome::Missed(MissedReason::OfflineLinkUnused) }]
    );
}

#[test]
fn unused_link_ends_the_meet_at_its_deadline_without_any_input() {
    let mut meet = agent_calls_offline_customer();
    meet.handle_timeout(at(599_999));
    assert_eq!(meet.phase, Phase::WaitingForLink);
    meet.handle_timeout(at(600_000));
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::OfflineLinkUnused)));
    assert_eq!(meet.poll_timeout(), None);
    drain(&mut meet);
    // Opening the link afterwards says it expired, even much later.
    let err =
        meet.handle(at(86_400_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") });
    assert_eq!(err, Err(MeetError::LinkExpired));
}

#[test]
fn open_link_on_a_meet_that_was_rung_is_no_link() {
    let mut meet = agent_calls_customer();
    let err =
        meet.handle(at(1_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") });
    assert_eq!(err, Err(MeetError::NoLink));
    assert_eq!(meet.phase, Phase::Ringing);
}

#[test]
fn caller_cancelling_while_waiting_for_the_link_is_cancelled_by_caller() {
    let mut meet = agent_calls_offline_customer();
    meet.handle(at(30_000), Input::Leave { party: agent("agent-1") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::CancelledByCaller)));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Left { party: agent("agent-1") },
            Effect::Ended { outcome: Outcome::Missed(MissedReason::CancelledByCaller) },
        ]
    );
    // The link now leads to an ended meet (not an "expired" one).
    let err =
        meet.handle(at(31_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") });
    assert_eq!(err, Err(MeetError::Ended));
}

#[test]
fn nobody_can_join_or_be_invited_while_waiting_for_the_link() {
    let mut meet = agent_calls_offline_customer();
    let before = meet.clone();
    assert_eq!(
        meet.handle(at(1_000), Input::Join { party: agent("other"), device: dev("o") }),
        Err(MeetError::NotActive)
    );
    assert_eq!(
        meet.handle(at(1_000), Input::Join { party: customer("cust"), device: dev("o") }),
        Err(MeetError::NotActive)
    );
    assert_eq!(
        meet.handle(at(1_000), Input::Invite { by: aid("agent-1"), agent: aid("other") }),
        Err(MeetError::NotActive)
    );
    assert_eq!(
        meet.handle(at(1_000), Input::Accept { party: customer("cust"), device: dev("o") }),
        Err(MeetError::NotRinging)
    );
    assert_eq!(meet, before);
}

#[test]
fn customer_who_came_through_the_link_ends_the_meet_by_leaving() {
    let mut meet = agent_calls_offline_customer();
    meet.handle(at(60_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") })
        .unwrap();
    meet.handle(at(90_000), Input::Leave { party: customer("cust") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Completed));
    assert_eq!(meet.ended_at, Some(at(90_000)));
}

// ---------------------------------------------------------------------------------------------
// P4, P5: group meets
// ---------------------------------------------------------------------------------------------

#[test]
fn group_meet_rings_every_member() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![agent("a"), agent("b")]));
    let effects = drain(&mut meet);
    assert_eq!(
        effects,
        vec![
            Effect::Joined { party: agent("lead"), device: dev("caller-device") },
            Effect::Ring { party: agent("a"), deadline: at(120_000), invited_by: None },
            Effect::Ring { party: agent("b"), deadline: at(120_000), invited_by: None },
        ]
    );
    assert_eq!(meet.ringing().count(), 2);
}

#[test]
fn one_accept_makes_a_group_meet_active_while_other_rings_keep_going_until_their_deadline() {
    for scope in [team_group(), internal()] {
        let mut meet = group_meet(scope.clone());
        meet.handle(at(2_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
        assert_eq!(meet.phase, Phase::Active, "{scope:?}");
        assert_eq!(meet.answered_at, Some(at(2_000)));
        assert_eq!(
            drain(&mut meet),
            vec![
                Effect::RingStopped {
                    party: agent("a"),
                    reason: RingStopReason::Accepted,
                    accepted_device: Some(dev("a1")),
                },
                Effect::Joined { party: agent("a"), device: dev("a1") },
            ]
        );
        let ringing: Vec<_> = meet.ringing().map(|r| r.party.clone()).collect();
        assert_eq!(ringing, vec![agent("b"), agent("c")]);
        assert_eq!(meet.poll_timeout(), Some((at(120_000), "ring")));

        meet.handle_timeout(at(119_999));
        assert_eq!(meet.ringing().count(), 2);
        meet.handle_timeout(at(120_000));
        assert_eq!(meet.ringing().count(), 0);
        assert_eq!(meet.phase, Phase::Active);
        assert_eq!(meet.outcome, None);
        assert_eq!(
            drain(&mut meet),
            vec![
                stopped(agent("b"), RingStopReason::TimedOut),
                stopped(agent("c"), RingStopReason::TimedOut)
            ]
        );
        assert_eq!(meet.poll_timeout(), None);
    }
}

#[test]
fn another_member_can_still_accept_a_group_meet_after_the_first() {
    let mut meet = group_meet(team_group());
    meet.handle(at(2_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(50_000), Input::Accept { party: agent("b"), device: dev("b1") }).unwrap();
    // answered_at is the first answer.
    assert_eq!(meet.answered_at, Some(at(2_000)));
    assert_eq!(present_parties(&meet), vec![agent("lead"), agent("a"), agent("b")]);
}

#[test]
fn group_meet_declined_by_everyone_is_missed_declined() {
    for scope in [team_group(), internal()] {
        let mut meet = group_meet(scope);
        meet.handle(at(1_000), Input::Decline { party: agent("a") }).unwrap();
        meet.handle(at(2_000), Input::Decline { party: agent("b") }).unwrap();
        assert_eq!(meet.phase, Phase::Ringing);
        drain(&mut meet);
        meet.handle(at(3_000), Input::Decline { party: agent("c") }).unwrap();
        assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::Declined)));
        assert_eq!(meet.ended_at, Some(at(3_000)));
        assert_eq!(
            drain(&mut meet),
            vec![
                stopped(agent("c"), RingStopReason::Declined),
                Effect::Ended { outcome: Outcome::Missed(MissedReason::Declined) },
            ]
        );
    }
}

#[test]
fn group_meet_with_some_declines_and_some_timeouts_is_missed_no_answer() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Decline { party: agent("a") }).unwrap();
    meet.handle(at(2_000), Input::Decline { party: agent("b") }).unwrap();
    drain(&mut meet);
    meet.handle_timeout(at(120_000));
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(
        drain(&mut meet),
        vec![
            stopped(agent("c"), RingStopReason::TimedOut),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::NoAnswer) },
        ]
    );
}

#[test]
fn group_meet_where_the_last_open_ring_is_declined_after_others_timed_out_is_no_answer() {
    // All rings start together, so they time out together; a late decline loses to the deadline.
    let mut meet = group_meet(team_group());
    let err = meet.handle(at(120_000), Input::Decline { party: agent("a") });
    assert_eq!(err, Err(MeetError::Ended));
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
}

#[test]
fn group_meet_ends_only_when_the_last_participant_leaves() {
    for scope in [team_group(), internal()] {
        let mut meet = group_meet(scope.clone());
        meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
        meet.handle(at(2_000), Input::Accept { party: agent("b"), device: dev("b1") }).unwrap();
        drain(&mut meet);

        // The caller leaving does not end a group meet.
        meet.handle(at(10_000), Input::Leave { party: agent("lead") }).unwrap();
        assert_eq!(meet.phase, Phase::Active, "{scope:?}");
        meet.handle(at(20_000), Input::Leave { party: agent("a") }).unwrap();
        assert_eq!(meet.phase, Phase::Active, "{scope:?}");
        assert_eq!(present_parties(&meet), vec![agent("b")]);
        drain(&mut meet);

        meet.handle(at(30_000), Input::Leave { party: agent("b") }).unwrap();
        assert_eq!(meet.phase, Phase::Ended);
        assert_eq!(meet.outcome, Some(Outcome::Completed));
        assert_eq!(meet.ended_at, Some(at(30_000)));
        assert_eq!(
            drain(&mut meet),
            vec![
                Effect::Left { party: agent("b") },
                stopped(agent("c"), RingStopReason::Cancelled),
                Effect::Ended { outcome: Outcome::Completed },
            ]
        );
        let left: Vec<_> = meet.participants.iter().map(|p| p.left_at).collect();
        assert_eq!(left, vec![Some(at(10_000)), Some(at(20_000)), Some(at(30_000))]);
    }
}

#[test]
fn leaving_twice_is_refused() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(2_000), Input::Leave { party: agent("a") }).unwrap();
    assert_eq!(meet.handle(at(3_000), Input::Leave { party: agent("a") }), Err(MeetError::NotParticipant));
}

// ---------------------------------------------------------------------------------------------
// Two-party meets
// ---------------------------------------------------------------------------------------------

#[test]
fn one_to_one_meet_ends_when_either_side_leaves() {
    for leaver in [agent("lead"), agent("peer")] {
        let mut meet = start(team_dm(), agent("lead"), Callees::Ring(vec![agent("peer")]));
        meet.handle(at(1_000), Input::Accept { party: agent("peer"), device: dev("p1") }).unwrap();
        drain(&mut meet);
        meet.handle(at(61_000), Input::Leave { party: leaver.clone() }).unwrap();
        assert_eq!(meet.phase, Phase::Ended, "{leaver:?}");
        assert_eq!(meet.outcome, Some(Outcome::Completed));
        assert_eq!(meet.ended_at, Some(at(61_000)));
        assert_eq!(
            drain(&mut meet),
            vec![Effect::Left { party: leaver.clone() }, Effect::Ended { outcome: Outcome::Completed }]
        );
        assert!(meet.participants.iter().all(|p| p.left_at == Some(at(61_000))));
    }
}

#[test]
fn customer_meet_ends_when_either_side_leaves() {
    for leaver in [customer("cust"), agent("agent-1")] {
        let mut meet = answered_customer_meet();
        meet.handle(at(30_000), Input::Leave { party: leaver.clone() }).unwrap();
        assert_eq!(meet.outcome, Some(Outcome::Completed), "{leaver:?}");
    }
}

#[test]
fn user_chat_meet_ends_when_the_customer_leaves_even_with_several_agents_in_it() {
    let mut meet = answered_customer_meet();
    meet.handle(at(6_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    meet.handle(at(7_000), Input::Accept { party: agent("agent-2"), device: dev("d2") }).unwrap();
    drain(&mut meet);
    assert_eq!(meet.present().count(), 3);
    meet.handle(at(8_000), Input::Leave { party: customer("cust") }).unwrap();
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Completed));
}

#[test]
fn user_chat_meet_goes_on_when_one_of_two_agents_leaves() {
    let mut meet = answered_customer_meet();
    meet.handle(at(6_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    meet.handle(at(7_000), Input::Accept { party: agent("agent-2"), device: dev("d2") }).unwrap();
    meet.handle(at(8_000), Input::Leave { party: agent("agent-1") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(present_parties(&meet), vec![customer("cust"), agent("agent-2")]);
    meet.handle(at(9_000), Input::Leave { party: agent("agent-2") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Completed));
}

// ---------------------------------------------------------------------------------------------
// P6: invite
// ---------------------------------------------------------------------------------------------

#[test]
fn a_present_agent_invites_and_the_invitee_rings_with_invited_by() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    assert_eq!(
        drain(&mut meet),
        vec![Effect::Ring {
            party: agent("agent-2"),
            deadline: at(130_000),
            invited_by: Some(aid("agent-1"))
        }]
    );
    let ring = ring_of(&meet, &agent("agent-2"));
    assert_eq!(ring.invited_by, Some(aid("agent-1")));
    assert_eq!(ring.started_at, at(10_000));
    assert_eq!(ring.deadline, at(130_000));
    assert_eq!(ring.status, RingStatus::Ringing);
    assert_eq!(meet.poll_timeout(), Some((at(130_000), "ring")));
}

#[test]
fn only_present_agents_can_invite() {
    let mut meet = answered_customer_meet();
    let before = meet.clone();
    // Never in the meet.
    assert_eq!(
        meet.handle(at(10_000), Input::Invite { by: aid("stranger"), agent: aid("agent-2") }),
        Err(MeetError::NotParticipant)
    );
    assert_eq!(meet, before);

    // Was in the meet but left (group meet, so it goes on).
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(2_000), Input::Leave { party: agent("lead") }).unwrap();
    assert_eq!(
        meet.handle(at(3_000), Input::Invite { by: aid("lead"), agent: aid("z") }),
        Err(MeetError::NotParticipant)
    );
    // Still being rung is not being present.
    assert_eq!(
        meet.handle(at(3_000), Input::Invite { by: aid("b"), agent: aid("z") }),
        Err(MeetError::NotParticipant)
    );
    meet.handle(at(3_000), Input::Invite { by: aid("a"), agent: aid("z") }).unwrap();
}

#[test]
fn invite_before_anyone_answered_is_not_active() {
    let mut meet = customer_calls_agent();
    assert_eq!(
        meet.handle(at(1_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }),
        Err(MeetError::NotActive)
    );
    let mut meet = group_meet(team_group());
    assert_eq!(
        meet.handle(at(1_000), Input::Invite { by: aid("lead"), agent: aid("z") }),
        Err(MeetError::NotActive)
    );
}

#[test]
fn inviting_someone_present_or_already_ringing_is_refused() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    drain(&mut meet);
    let before = meet.clone();
    assert_eq!(
        meet.handle(at(11_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }),
        Err(MeetError::AlreadyRinging)
    );
    assert_eq!(
        meet.handle(at(11_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-1") }),
        Err(MeetError::AlreadyParticipant)
    );
    assert_eq!(meet, before);
}

#[test]
fn invitee_who_times_out_gets_no_answer_while_the_meet_stays_active() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    drain(&mut meet);
    meet.handle_timeout(at(129_999));
    assert_eq!(ring_of(&meet, &agent("agent-2")).status, RingStatus::Ringing);
    meet.handle_timeout(at(130_000));
    assert_eq!(ring_of(&meet, &agent("agent-2")).status, RingStatus::NoAnswer);
    assert_eq!(ring_of(&meet, &agent("agent-2")).invited_by, Some(aid("agent-1")));
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.outcome, None);
    assert_eq!(drain(&mut meet), vec![stopped(agent("agent-2"), RingStopReason::TimedOut)]);
    assert!(!meet.took_part(&agent("agent-2")));
    // The invitee can be invited again afterwards.
    meet.handle(at(140_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    assert_eq!(meet.ringing().count(), 1);
}

#[test]
fn invitee_who_declines_leaves_the_meet_active() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    drain(&mut meet);
    meet.handle(at(11_000), Input::Decline { party: agent("agent-2") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(ring_of(&meet, &agent("agent-2")).status, RingStatus::Declined);
    assert_eq!(drain(&mut meet), vec![stopped(agent("agent-2"), RingStopReason::Declined)]);
}

#[test]
fn invitee_who_accepts_becomes_a_participant() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    drain(&mut meet);
    meet.handle(at(20_000), Input::Accept { party: agent("agent-2"), device: dev("d2") }).unwrap();
    assert!(meet.is_present(&agent("agent-2")));
    assert!(meet.took_part(&agent("agent-2")));
    assert_eq!(meet.answered_at, Some(at(5_000)), "answered_at stays the first answer");
    let ring = ring_of(&meet, &agent("agent-2"));
    assert_eq!(ring.status, RingStatus::Accepted);
    assert_eq!(ring.accepted_device, Some(dev("d2")));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::RingStopped {
                party: agent("agent-2"),
                reason: RingStopReason::Accepted,
                accepted_device: Some(dev("d2")),
            },
            Effect::Joined { party: agent("agent-2"), device: dev("d2") },
        ]
    );
}

#[test]
fn meet_ending_while_an_invitee_rings_cancels_that_ring() {
    let mut meet = answered_customer_meet();
    meet.handle(at(10_000), Input::Invite { by: aid("agent-1"), agent: aid("agent-2") }).unwrap();
    drain(&mut meet);
    meet.handle(at(20_000), Input::Leave { party: customer("cust") }).unwrap();
    assert_eq!(ring_of(&meet, &agent("agent-2")).status, RingStatus::Stopped);
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::Left { party: customer("cust") },
            stopped(agent("agent-2"), RingStopReason::Cancelled),
            Effect::Ended { outcome: Outcome::Completed },
        ]
    );
}

#[test]
fn invitee_ring_deadlines_are_independent_of_the_first_rings() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(60_000), Input::Invite { by: aid("a"), agent: aid("z") }).unwrap();
    // b and c still ring until 120 s; z until 180 s.
    assert_eq!(meet.poll_timeout(), Some((at(120_000), "ring")));
    meet.handle_timeout(at(120_000));
    assert_eq!(meet.poll_timeout(), Some((at(180_000), "ring")));
    let ringing: Vec<_> = meet.ringing().map(|r| r.party.clone()).collect();
    assert_eq!(ringing, vec![agent("z")]);
    meet.handle_timeout(at(180_000));
    assert_eq!(meet.poll_timeout(), None);
    assert_eq!(meet.phase, Phase::Active);
}

// ---------------------------------------------------------------------------------------------
// P5: joining an ongoing room meet
// ---------------------------------------------------------------------------------------------

#[test]
fn room_member_joins_an_ongoing_room_meet_without_a_ring() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    drain(&mut meet);
    meet.handle(at(5_000), Input::Join { party: agent("late"), device: dev("l1") }).unwrap();
    assert!(meet.is_present(&agent("late")));
    assert!(!meet.rings.iter().any(|r| r.party == agent("late")));
    assert_eq!(drain(&mut meet), vec![Effect::Joined { party: agent("late"), device: dev("l1") }]);
    assert_eq!(meet.answered_at, Some(at(1_000)));
}

#[test]
fn joining_while_being_rung_is_the_same_as_accepting() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Join { party: agent("b"), device: dev("b1") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.answered_at, Some(at(1_000)));
    let ring = ring_of(&meet, &agent("b"));
    assert_eq!(ring.status, RingStatus::Accepted);
    assert_eq!(ring.accepted_device, Some(dev("b1")));
    assert_eq!(
        drain(&mut meet),
        vec![
            Effect::RingStopped {
                party: agent("b"),
                reason: RingStopReason::Accepted,
                accepted_device: Some(dev("b1")),
            },
            Effect::Joined { party: agent("b"), device: dev("b1") },
        ]
    );
}

#[test]
fn joining_twice_is_already_participant() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Join { party: agent("b"), device: dev("b1") }).unwrap();
    drain(&mut meet);
    let before = meet.clone();
    assert_eq!(
        meet.handle(at(2_000), Input::Join { party: agent("b"), device: dev("b2") }),
        Err(MeetError::AlreadyParticipant)
    );
    assert_eq!(
        meet.handle(at(2_000), Input::Join { party: agent("lead"), device: dev("x") }),
        Err(MeetError::AlreadyParticipant)
    );
    assert_eq!(meet, before);
}

#[test]
fn a_participant_who_left_a_group_meet_can_join_again() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(2_000), Input::Leave { party: agent("a") }).unwrap();
    meet.handle(at(3_000), Input::Join { party: agent("a"), device: dev("a2") }).unwrap();
    assert!(meet.is_present(&agent("a")));
    // Both stays are kept, so call duration can be computed per stay.
    let stays: Vec<_> = meet
        .participants
        .iter()
        .filter(|p| p.party == agent("a"))
        .map(|p| (p.joined_at, p.left_at))
        .collect();
    assert_eq!(stays, vec![(at(1_000), Some(at(2_000))), (at(3_000), None)]);
}

#[test]
fn nobody_joins_a_ringing_two_party_meet_without_being_rung() {
    let dm = {
        let mut meet = start(team_dm(), agent("agent-1"), Callees::Ring(vec![agent("agent-2")]));
        drain(&mut meet);
        meet
    };
    for mut meet in [customer_calls_agent(), agent_calls_customer(), dm] {
        let before = meet.clone();
        assert_eq!(
            meet.handle(at(1_000), Input::Join { party: agent("other"), device: dev("o1") }),
            Err(MeetError::NotActive),
            "{:?}",
            meet.scope
        );
        assert_eq!(meet, before);
        assert_eq!(drain(&mut meet), vec![]);
    }
}

#[test]
fn the_rung_party_can_still_join_a_ringing_two_party_meet() {
    let mut meet = customer_calls_agent();
    meet.handle(at(1_000), Input::Join { party: agent("agent-1"), device: dev("desk") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    assert_eq!(meet.answered_at, Some(at(1_000)));
    assert_eq!(ring_of(&meet, &agent("agent-1")).status, RingStatus::Accepted);
}

#[test]
fn a_ringing_group_meet_can_be_joined_by_someone_not_rung() {
    for scope in [team_group(), internal()] {
        let mut meet = group_meet(scope);
        meet.handle(at(1_000), Input::Join { party: agent("late"), device: dev("l1") }).unwrap();
        assert_eq!(meet.phase, Phase::Active);
        assert_eq!(meet.answered_at, Some(at(1_000)));
        assert_eq!(meet.ringing().count(), 3, "the other rings keep going");
        assert_eq!(drain(&mut meet), vec![Effect::Joined { party: agent("late"), device: dev("l1") }]);
    }
}

#[test]
fn someone_joining_a_room_meet_started_alone_keeps_it_going_until_the_last_leaves() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![]));
    drain(&mut meet);
    meet.handle(at(1_000), Input::Join { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(2_000), Input::Leave { party: agent("lead") }).unwrap();
    assert_eq!(meet.phase, Phase::Active);
    meet.handle(at(3_000), Input::Leave { party: agent("a") }).unwrap();
    assert_eq!(meet.outcome, Some(Outcome::Completed));
}

// P5, P8: nobody came; the caller's leaving cancels it (a missed meet in the records).
#[test]
fn a_room_meet_left_alone_is_missed_cancelled_not_completed() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![]));
    assert_eq!(meet.phase, Phase::Active);
    meet.handle(at(1_000), Input::Invite { by: aid("lead"), agent: aid("a") }).unwrap();
    meet.handle(at(5_000), Input::Leave { party: agent("lead") }).unwrap();
    assert_eq!(meet.phase, Phase::Ended);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::CancelledByCaller)));
    assert_eq!(meet.answered_at, None);
    assert!(meet.ringing().next().is_none(), "the invite's ring stopped with it");
}

#[test]
fn someone_joining_a_room_meet_started_alone_answers_it() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![]));
    meet.handle(at(1_000), Input::Join { party: agent("a"), device: dev("a1") }).unwrap();
    assert_eq!(meet.answered_at, Some(at(1_000)));
}

#[test]
fn invitee_accepting_a_room_meet_started_alone_answers_it() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![]));
    meet.handle(at(1_000), Input::Invite { by: aid("lead"), agent: aid("a") }).unwrap();
    meet.handle(at(2_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    assert_eq!(meet.answered_at, Some(at(2_000)));
}

#[test]
fn room_member_list_that_includes_the_caller_does_not_ring_the_caller() {
    // The server rings "the room's members" (P5); forgetting to leave the caller out is easy.
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![agent("lead"), agent("a")]));
    assert!(meet.ringing().all(|r| r.party != agent("lead")));
    let _ = meet.handle(at(1_000), Input::Accept { party: agent("lead"), device: dev("other") });
    assert_eq!(meet.present().filter(|p| p.party == agent("lead")).count(), 1);
    assert_eq!(meet.answered_at, None);
}

#[test]
fn duplicate_callees_ring_each_party_once() {
    let mut meet = start(team_group(), agent("lead"), Callees::Ring(vec![agent("a"), agent("a")]));
    assert_eq!(meet.ringing().count(), 1);
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    assert_eq!(
        meet.handle(at(1_001), Input::Accept { party: agent("a"), device: dev("a2") }),
        Err(MeetError::NotRinging)
    );
}

// ---------------------------------------------------------------------------------------------
// After the end
// ---------------------------------------------------------------------------------------------

#[test]
fn every_input_after_the_end_is_refused_and_changes_nothing() {
    let mut meet = answered_customer_meet();
    meet.handle(at(30_000), Input::Leave { party: customer("cust") }).unwrap();
    drain(&mut meet);
    let ended = meet.clone();
    let inputs = [
        Input::Accept { party: agent("agent-1"), device: dev("d") },
        Input::Decline { party: agent("agent-1") },
        Input::Join { party: agent("agent-1"), device: dev("d") },
        Input::Leave { party: agent("agent-1") },
        Input::Invite { by: aid("agent-1"), agent: aid("agent-2") },
        Input::OpenLink { customer: CustomerId::from("cust"), device: dev("d") },
        Input::MediaFailed,
    ];
    for input in inputs {
        assert_eq!(meet.handle(at(31_000), input.clone()), Err(MeetError::Ended), "{input:?}");
        assert_eq!(meet, ended);
        assert_eq!(drain(&mut meet), vec![]);
    }
    meet.handle_timeout(at(1_000_000));
    assert_eq!(meet, ended);
    assert_eq!(meet.poll_timeout(), None);
}

// ---------------------------------------------------------------------------------------------
// poll_timeout
// ---------------------------------------------------------------------------------------------

#[test]
fn poll_timeout_returns_the_earliest_deadline_and_its_reason() {
    let mut meet = customer_calls_agent();
    assert_eq!(meet.poll_timeout(), Some((at(120_000), "ring")));

    let meet_link = agent_calls_offline_customer();
    assert_eq!(meet_link.poll_timeout(), Some((at(600_000), "follow-up link")));

    meet.handle(at(1_000), Input::Accept { party: agent("agent-1"), device: dev("d") }).unwrap();
    assert_eq!(meet.poll_timeout(), None, "active meet with nothing ringing has no deadline");
    meet.handle(at(40_000), Input::Invite { by: aid("agent-1"), agent: aid("x") }).unwrap();
    meet.handle(at(20_000 + 40_000), Input::Invite { by: aid("agent-1"), agent: aid("y") }).unwrap();
    assert_eq!(meet.poll_timeout(), Some((at(160_000), "ring")));
    meet.handle(at(70_000), Input::Decline { party: agent("x") }).unwrap();
    assert_eq!(meet.poll_timeout(), Some((at(180_000), "ring")));
    meet.handle(at(80_000), Input::Leave { party: customer("cust") }).unwrap();
    assert_eq!(meet.poll_timeout(), None, "ended meet has no deadline");
}

#[test]
fn driving_the_meet_by_poll_timeout_alone_reaches_the_missed_state() {
    let mut meet = group_meet(internal());
    let mut steps = 0;
    while let Some((deadline, _)) = meet.poll_timeout() {
        meet.handle_timeout(deadline);
        steps += 1;
        assert!(steps < 10);
    }
    assert_eq!(steps, 1);
    assert_eq!(meet.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(meet.ended_at, Some(at(120_000)));
}

// ---------------------------------------------------------------------------------------------
// Restart: the meet is persisted between inputs
// ---------------------------------------------------------------------------------------------

fn restart(meet: &Meet) -> Meet {
    let json = serde_json::to_string(meet).unwrap();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn restart_mid_ring_then_deadline_is_missed_exactly_as_without_restart() {
    let mut kept = customer_calls_agent();
    kept.handle_timeout(at(45_000));
    let mut restored = restart(&kept);
    assert_eq!(restored, kept);
    assert_eq!(restored.poll_timeout(), Some((at(120_000), "ring")));

    let (deadline, _) = restored.poll_timeout().unwrap();
    restored.handle_timeout(deadline);
    kept.handle_timeout(deadline);
    assert_eq!(restored.outcome, Some(Outcome::Missed(MissedReason::NoAnswer)));
    assert_eq!(restored.ended_at, Some(at(120_000)));
    let restored_effects = drain(&mut restored);
    assert_eq!(restored_effects, drain(&mut kept));
    assert_eq!(
        restored_effects,
        vec![
            stopped(agent("agent-1"), RingStopReason::TimedOut),
            Effect::Ended { outcome: Outcome::Missed(MissedReason::NoAnswer) },
        ]
    );
    assert_eq!(restored, kept);
}

#[test]
fn restart_mid_ring_then_accept_works_as_without_restart() {
    let mut meet = group_meet(team_group());
    meet.handle(at(1_000), Input::Accept { party: agent("a"), device: dev("a1") }).unwrap();
    meet.handle(at(2_000), Input::Invite { by: aid("a"), agent: aid("z") }).unwrap();
    drain(&mut meet);
    let mut restored = restart(&meet);
    for m in [&mut meet, &mut restored] {
        m.handle(at(3_000), Input::Accept { party: agent("z"), device: dev("z1") }).unwrap();
        m.handle_timeout(at(120_000));
    }
    assert_eq!(drain(&mut restored), drain(&mut meet));
    assert_eq!(restored, meet);
    assert!(restored.is_present(&agent("z")));
}

#[test]
fn restart_while_waiting_for_the_link_keeps_the_link_rules() {
    let meet = agent_calls_offline_customer();
    let mut a = restart(&meet);
    assert_eq!(a.poll_timeout(), Some((at(600_000), "follow-up link")));
    a.handle(at(1_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") }).unwrap();
    let mut a = restart(&a);
    assert_eq!(
        a.handle(at(2_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") }),
        Err(MeetError::LinkUsed)
    );
    let mut b = restart(&meet);
    b.handle_timeout(at(600_000));
    let mut b = restart(&b);
    assert_eq!(
        b.handle(at(700_000), Input::OpenLink { customer: CustomerId::from("cust"), device: dev("b") }),
        Err(MeetError::LinkExpired)
    );
}

#[test]
fn serialized_meet_does_not_carry_undrained_effects() {
    // Documented surprise: effects are #[serde(skip)]; the shell must drain before persisting.
    let meet = start(user_chat(), customer("cust"), Callees::Ring(vec![agent("agent-1")]));
    let mut restored = restart(&meet);
    assert_eq!(restored.poll_effect(), None);
    assert_ne!(restored, meet, "PartialEq compares the pending effects too");
}
