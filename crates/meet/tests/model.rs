//! Reference-state test: random sequences of inputs and time advances are applied both to the
//! real [`Meet`] and to a small reference model written from PRODUCT.md (P2–P6). After every step
//! the two must agree (state, result and effects), and a list of invariants must hold.
//!
//! A "twin" machine receives the same steps but is never serialized; the main machine is
//! round-tripped through serde_json at random points. Both must stay equal at all times.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use meetdesk_meet::{
    AgentId, Callees, ChatId, CustomerId, DeviceId, Effect, Input, Media, Meet, MeetError, MeetId, Millis,
    MissedReason, Outcome, Party, Phase, RingStatus, RingStopReason, RoomId, Scope, Start, LINK_TTL_MS,
    RING_TIMEOUT_MS,
};
use proptest::prelude::*;

const T0: Millis = Millis(1_700_000_000_000);
const AGENTS: usize = 5;

/// Index `0..AGENTS` is an agent, `AGENTS` is the customer.
fn party(i: usize) -> Party {
    if i < AGENTS {
        Party::Agent(agent_id(i))
    } else {
        Party::Customer(customer_id())
    }
}

fn agent_id(i: usize) -> AgentId {
    AgentId(format!("a{i}"))
}

fn customer_id() -> CustomerId {
    CustomerId::from("c0")
}

fn device(i: usize) -> DeviceId {
    DeviceId(format!("d{i}"))
}

// ---------------------------------------------------------------------------------------------
// What to generate
// ---------------------------------------------------------------------------------------------

/// Who starts a meet where, and the callee list the server hands to `Meet::start`. Callee lists
/// are as sloppy as a server might make them: a party may be listed twice, and the caller may be
/// listed too (for instance "every member of the room").
#[derive(Debug, Clone)]
enum Kind {
    /// P2: the customer calls the assignee a1 (normally `[a1]`).
    CustomerCalls(Vec<usize>),
    /// P3: a0 calls the online customer (normally `[customer]`).
    AgentCallsCustomer(Vec<usize>),
    /// P3: a0 calls the offline customer: follow-up link.
    AgentCallsOffline,
    /// P4: a0 calls these managers.
    Internal(Vec<usize>),
    /// P5: a0 calls these room members.
    Group(Vec<usize>),
    /// P5: a0 calls a1 in a DM (normally `[a1]`).
    Dm(Vec<usize>),
}

impl Kind {
    fn caller(&self) -> usize {
        match self {
            Kind::CustomerCalls(_) => AGENTS,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Move time forward; `tick` says whether the shell calls handle_timeout then.
    Advance {
        ms: i64,
        tick: bool,
    },
    /// Move time to the next deadline reported by poll_timeout, plus `offset` (-1 or 0).
    ToDeadline {
        offset: i64,
        tick: bool,
    },
    /// Call handle_timeout(now) again without moving time.
    Tick,
    Accept(usize, usize),
    Decline(usize),
    Join(usize, usize),
    Leave(usize),
    Invite(usize, usize),
    OpenLink(usize),
    MediaFailed,
    /// Leave by the n-th (mod count) party present now: steers runs towards meets that end.
    LeavePresent(usize),
    /// Accept by the n-th (mod count) party ringing now, on device `.1`.
    AcceptRinging(usize, usize),
    /// Persist and reload the main machine (not the twin).
    RoundTrip,
}

fn callee_subset(min: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence(vec![1, 2, 3, 4], min..=4)
}

/// The one callee of a two-party meet; with `min == 0` it may be missing (only reachable through
/// a sloppy list that names nobody but the caller).
fn one_callee(callee: usize, min: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence(vec![callee], min..=1)
}

/// `base` as the server might pass it: usually as is, sometimes with a party repeated or the
/// caller thrown in, in any order.
fn sloppy(base: Vec<usize>, caller: usize) -> impl Strategy<Value = Vec<usize>> {
    let pool: Vec<usize> = base.iter().copied().chain([caller]).collect();
    let extra = prop_oneof![
        3 => Just(Vec::new()),
        2 => proptest::collection::vec(proptest::sample::select(pool), 1..=3),
    ];
    extra.prop_flat_map(move |extra| {
        let mut list = base.clone();
        list.extend(extra);
        Just(list).prop_shuffle()
    })
}

fn kind(min_callees: usize) -> impl Strategy<Value = Kind> {
    let m = min_callees;
    prop_oneof![
        one_callee(1, m).prop_flat_map(|c| sloppy(c, AGENTS)).prop_map(Kind::CustomerCalls),
        one_callee(AGENTS, m).prop_flat_map(|c| sloppy(c, 0)).prop_map(Kind::AgentCallsCustomer),
        Just(Kind::AgentCallsOffline),
        callee_subset(m).prop_flat_map(|c| sloppy(c, 0)).prop_map(Kind::Internal),
        callee_subset(m).prop_flat_map(|c| sloppy(c, 0)).prop_map(Kind::Group),
        one_callee(1, m).prop_flat_map(|c| sloppy(c, 0)).prop_map(Kind::Dm),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let anyone = 0..=AGENTS;
    let agents = 0..AGENTS;
    let dev = 0..3usize;
    // Mostly short steps so that meets live long enough to be joined, left and invited into;
    // sometimes the exact ring and link boundaries.
    let ms = prop_oneof![
        6 => 1..20_000i64,
        1 => Just(1i64),
        1 => Just(RING_TIMEOUT_MS - 1),
        1 => Just(RING_TIMEOUT_MS),
        1 => 20_000..700_000i64,
        1 => Just(LINK_TTL_MS),
    ];
    prop_oneof![
        6 => (ms, any::<bool>()).prop_map(|(ms, tick)| Step::Advance { ms, tick }),
        2 => (prop_oneof![Just(-1i64), Just(0)], any::<bool>())
            .prop_map(|(offset, tick)| Step::ToDeadline { offset, tick }),
        2 => Just(Step::Tick),
        10 => (anyone.clone(), dev.clone()).prop_map(|(p, d)| Step::Accept(p, d)),
        3 => anyone.clone().prop_map(Step::Decline),
        8 => (anyone.clone(), dev.clone()).prop_map(|(p, d)| Step::Join(p, d)),
        8 => anyone.prop_map(Step::Leave),
        6 => (agents.clone(), agents).prop_map(|(by, a)| Step::Invite(by, a)),
        3 => dev.clone().prop_map(Step::OpenLink),
        1 => Just(Step::MediaFailed),
        6 => any::<usize>().prop_map(Step::LeavePresent),
        4 => (any::<usize>(), dev.clone()).prop_map(|(n, d)| Step::AcceptRinging(n, d)),
        3 => Just(Step::RoundTrip),
    ]
}

fn start_of(kind: &Kind) -> Start {
    let ring = |c: &Vec<usize>| Callees::Ring(c.iter().map(|&i| party(i)).collect());
    let (scope, callees) = match kind {
        Kind::CustomerCalls(c) | Kind::AgentCallsCustomer(c) => {
            (Scope::UserChat(ChatId::from("chat")), ring(c))
        }
        Kind::AgentCallsOffline => {
            (Scope::UserChat(ChatId::from("chat")), Callees::OfflineCustomer(customer_id()))
        }
        Kind::Internal(c) => (Scope::Internal(ChatId::from("chat")), ring(c)),
        Kind::Group(c) => (Scope::TeamGroup(RoomId::from("room")), ring(c)),
        Kind::Dm(c) => (Scope::TeamDm(RoomId::from("dm")), ring(c)),
    };
    let caller = party(kind.caller());
    Start { id: MeetId::from("m"), scope, media: Media::Video, caller, caller_device: device(9), callees }
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct RefRing {
    party: Party,
    invited_by: Option<AgentId>,
    started_at: Millis,
    deadline: Millis,
    status: RingStatus,
    accepted_device: Option<DeviceId>,
}

#[derive(Debug, Clone)]
struct Model {
    /// Internal and team group meets go on while anyone is in them.
    group: bool,
    caller: Party,
    phase: Phase,
    outcome: Option<Outcome>,
    created_at: Millis,
    answered_at: Option<Millis>,
    ended_at: Option<Millis>,
    rings: Vec<RefRing>,
    /// Who is in the meet now, in join order, with their device.
    present: Vec<(Party, DeviceId)>,
    /// Every stay ever, for counting.
    stays: usize,
    link_expires_at: Option<Millis>,
    link_used: bool,
    /// Effects expected from the last step, in order.
    out: Vec<Effect>,
}

impl Model {
    fn new(kind: &Kind, now: Millis) -> Model {
        let start = start_of(kind);
        let mut m = Model {
            group: matches!(start.scope, Scope::Internal(_) | Scope::TeamGroup(_)),
            caller: start.caller.clone(),
            phase: Phase::Ringing,
            outcome: None,
            created_at: now,
            answered_at: None,
            ended_at: None,
            rings: Vec::new(),
            present: Vec::new(),
            stays: 0,
            link_expires_at: None,
            link_used: false,
            out: Vec::new(),
        };
        m.enter(start.caller, start.caller_device, now);
        match start.callees {
            Callees::Ring(parties) => {
                // Each listed party rings once, and the caller never rings. (Rings go out in
                // `Party` order: not a product rule, but pinned so effects compare exactly.)
                let callees: BTreeSet<Party> = parties.into_iter().filter(|p| p != &m.caller).collect();
                if callees.is_empty() {
                    // Nobody else to ring (a room where the caller is alone): the meet is open.
                    m.phase = Phase::Active;
                }
                for p in callees {
                    m.ring(p, None, now);
                }
            }
            Callees::OfflineCustomer(customer) => {
                m.phase = Phase::WaitingForLink;
                let expires_at = now.plus(LINK_TTL_MS);
                m.link_expires_at = Some(expires_at);
                m.out.push(Effect::FollowUp { customer, expires_at });
            }
        }
        m
    }

    fn ringing_mut(&mut self, party: &Party) -> Option<&mut RefRing> {
        self.rings.iter_mut().find(|r| &r.party == party && r.status == RingStatus::Ringing)
    }

    fn is_ringing(&self, party: &Party) -> bool {
        self.rings.iter().any(|r| &r.party == party && r.status == RingStatus::Ringing)
    }

    fn is_present(&self, party: &Party) -> bool {
        self.present.iter().any(|(p, _)| p == party)
    }

    fn ring(&mut self, party: Party, invited_by: Option<AgentId>, now: Millis) {
        let deadline = now.plus(RING_TIMEOUT_MS);
        self.out.push(Effect::Ring { party: party.clone(), deadline, invited_by: invited_by.clone() });
        self.rings.push(RefRing {
            party,
            invited_by,
            started_at: now,
            deadline,
            status: RingStatus::Ringing,
            accepted_device: None,
        });
    }

    /// Someone enters the meet. The first non-caller to enter answers it (spec: answered_at is
    /// set iff someone other than the caller joined).
    fn enter(&mut self, party: Party, device: DeviceId, now: Millis) {
        self.out.push(Effect::Joined { party: party.clone(), device: device.clone() });
        if party != self.caller && self.answered_at.is_none() {
            self.answered_at = Some(now);
        }
        if party != self.caller {
            self.phase = Phase::Active;
        }
        self.present.push((party, device));
        self.stays += 1;
    }

    fn stop_ring(
        &mut self,
        party: &Party,
        status: RingStatus,
        reason: RingStopReason,
        dev: Option<DeviceId>,
    ) {
        let ring = self.ringing_mut(party).unwrap();
        ring.status = status;
        ring.accepted_device = dev.clone();
        self.out.push(Effect::RingStopped { party: party.clone(), reason, accepted_device: dev });
    }

    fn finish(&mut self, outcome: Outcome, now: Millis) {
        let still: Vec<Party> =
            self.rings.iter().filter(|r| r.status == RingStatus::Ringing).map(|r| r.party.clone()).collect();
        for p in still {
            self.stop_ring(&p, RingStatus::Stopped, RingStopReason::Cancelled, None);
        }
        self.present.clear();
        self.phase = Phase::Ended;
        self.outcome = Some(outcome);
        self.ended_at = Some(now);
        self.out.push(Effect::Ended { outcome });
    }

    /// Nobody answered and no ring is left: missed, declined only if everyone declined.
    fn check_unanswered(&mut self, now: Millis) {
        if self.phase != Phase::Ringing || self.rings.iter().any(|r| r.status == RingStatus::Ringing) {
            return;
        }
        let reason = if self.rings.iter().all(|r| r.status == RingStatus::Declined) {
            MissedReason::Declined
        } else {
            MissedReason::NoAnswer
        };
        self.finish(Outcome::Missed(reason), now);
    }

    fn timeout(&mut self, now: Millis) {
        if self.phase == Phase::Ended {
            return;
        }
        let due: Vec<Party> = self
            .rings
            .iter()
            .filter(|r| r.status == RingStatus::Ringing && r.deadline <= now)
            .map(|r| r.party.clone())
            .collect();
        for p in due {
            self.stop_ring(&p, RingStatus::NoAnswer, RingStopReason::TimedOut, None);
        }
        if self.phase == Phase::WaitingForLink && self.link_expires_at.is_some_and(|t| t <= now) {
            self.finish(Outcome::Missed(MissedReason::OfflineLinkUnused), now);
        } else {
            self.check_unanswered(now);
        }
    }

    fn accept(&mut self, party: Party, device: DeviceId, now: Millis) -> Result<(), MeetError> {
        if !self.is_ringing(&party) {
            return Err(MeetError::NotRinging);
        }
        self.stop_ring(&party, RingStatus::Accepted, RingStopReason::Accepted, Some(device.clone()));
        self.enter(party, device, now);
        Ok(())
    }

    fn decline(&mut self, party: Party, now: Millis) -> Result<(), MeetError> {
        if !self.is_ringing(&party) {
            return Err(MeetError::NotRinging);
        }
        self.stop_ring(&party, RingStatus::Declined, RingStopReason::Declined, None);
        self.check_unanswered(now);
        Ok(())
    }

    fn input(&mut self, now: Millis, input: Input) -> Result<(), MeetError> {
        self.timeout(now);
        if self.phase == Phase::Ended {
            let link_expired = self.outcome == Some(Outcome::Missed(MissedReason::OfflineLinkUnused));
            return Err(match input {
                Input::OpenLink { .. } if link_expired => MeetError::LinkExpired,
                _ => MeetError::Ended,
            });
        }
        match input {
            Input::Accept { party, device } => self.accept(party, device, now),
            Input::Decline { party } => self.decline(party, now),
            Input::Join { party, device } => {
                if self.is_ringing(&party) {
                    self.accept(party, device, now)
                } else if self.is_present(&party) {
                    Err(MeetError::AlreadyParticipant)
                } else if self.phase == Phase::WaitingForLink {
                    // The offline customer comes in through the link, and nobody else before them.
                    Err(MeetError::NotActive)
                } else if self.phase == Phase::Ringing && !self.group {
                    // Nobody answered a two-party meet: only the party it rings may come in.
                    Err(MeetError::NotActive)
                } else {
                    self.enter(party, device, now);
                    Ok(())
                }
            }
            Input::Leave { party } => {
                if !self.is_present(&party) {
                    return if self.is_ringing(&party) {
                        self.decline(party, now)
                    } else {
                        Err(MeetError::NotParticipant)
                    };
                }
                self.present.retain(|(p, _)| p != &party);
                self.out.push(Effect::Left { party: party.clone() });
                let left = self.present.len();
                if self.phase == Phase::Active {
                    let over =
                        if self.group { left == 0 } else { left <= 1 || matches!(party, Party::Customer(_)) };
                    if over {
                        let outcome = if self.answered_at.is_some() {
                            Outcome::Completed
                        } else {
                            Outcome::Missed(MissedReason::CancelledByCaller)
                        };
                        self.finish(outcome, now);
                    }
                } else if left == 0 {
                    self.finish(Outcome::Missed(MissedReason::CancelledByCaller), now);
                }
                Ok(())
            }
            Input::Invite { by, agent } => {
                let invitee = Party::Agent(agent);
                if self.phase != Phase::Active {
                    Err(MeetError::NotActive)
                } else if !self.is_present(&Party::Agent(by.clone())) {
                    Err(MeetError::NotParticipant)
                } else if self.is_present(&invitee) {
                    Err(MeetError::AlreadyParticipant)
                } else if self.is_ringing(&invitee) {
                    Err(MeetError::AlreadyRinging)
                } else {
                    self.ring(invitee, Some(by), now);
                    Ok(())
                }
            }
            Input::OpenLink { customer, device } => {
                if self.link_expires_at.is_none() {
                    Err(MeetError::NoLink)
                } else if self.link_used {
                    Err(MeetError::LinkUsed)
                } else {
                    self.link_used = true;
                    self.enter(Party::Customer(customer), device, now);
                    Ok(())
                }
            }
            Input::MediaFailed => {
                // Only a meet that is going on can fail to connect.
                if self.phase != Phase::Active {
                    return Err(MeetError::NotActive);
                }
                self.finish(Outcome::Missed(MissedReason::FailedToConnect), now);
                Ok(())
            }
        }
    }

    fn next_deadline(&self) -> Option<Millis> {
        if self.phase == Phase::Ended {
            return None;
        }
        let rings = self.rings.iter().filter(|r| r.status == RingStatus::Ringing).map(|r| r.deadline);
        let link = if self.phase == Phase::WaitingForLink { self.link_expires_at } else { None };
        rings.chain(link).min()
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn drain(meet: &mut Meet) -> Vec<Effect> {
    std::iter::from_fn(|| meet.poll_effect()).collect()
}

/// The machine agrees with the model.
fn assert_matches_model(meet: &Meet, model: &Model) {
    assert_eq!(meet.phase, model.phase, "phase");
    assert_eq!(meet.outcome, model.outcome, "outcome");
    assert_eq!(meet.created_at, model.created_at, "created_at");
    assert_eq!(meet.answered_at, model.answered_at, "answered_at");
    assert_eq!(meet.ended_at, model.ended_at, "ended_at");
    assert_eq!(meet.caller, model.caller, "caller");
    assert_eq!(meet.link_expires_at, model.link_expires_at, "link_expires_at");
    assert_eq!(meet.link_used, model.link_used, "link_used");
    let rings: Vec<RefRing> = meet
        .rings
        .iter()
        .map(|r| RefRing {
            party: r.party.clone(),
            invited_by: r.invited_by.clone(),
            started_at: r.started_at,
            deadline: r.deadline,
            status: r.status,
            accepted_device: r.accepted_device.clone(),
        })
        .collect();
    assert_eq!(rings, model.rings, "rings");
    let present: Vec<(Party, DeviceId)> =
        meet.present().map(|p| (p.party.clone(), p.device.clone())).collect();
    assert_eq!(present, model.present, "present");
    assert_eq!(meet.participants.len(), model.stays, "stays");
    assert_eq!(meet.poll_timeout().map(|(t, _)| t), model.next_deadline(), "poll_timeout");
}

/// Invariants that hold for any meet, whatever the model says.
struct Ledger {
    /// Ring effects not yet matched by a RingStopped, per party.
    open_rings: BTreeMap<Party, i64>,
    ended_effects: usize,
    now: Millis,
}

impl Ledger {
    fn record(&mut self, effects: &[Effect]) {
        for (i, e) in effects.iter().enumerate() {
            assert_eq!(self.ended_effects, 0, "effect {e:?} after Ended");
            match e {
                Effect::Ring { party, deadline, .. } => {
                    assert_eq!(*deadline, self.now.plus(RING_TIMEOUT_MS), "ring deadline");
                    *self.open_rings.entry(party.clone()).or_default() += 1;
                }
                Effect::RingStopped { party, reason, accepted_device } => {
                    let open = self.open_rings.entry(party.clone()).or_default();
                    assert!(*open > 0, "RingStopped for {party:?} without an open Ring");
                    *open -= 1;
                    assert_eq!(accepted_device.is_some(), *reason == RingStopReason::Accepted);
                }
                Effect::Ended { .. } => {
                    self.ended_effects += 1;
                    assert_eq!(i, effects.len() - 1, "Ended is the last effect of its step");
                }
                _ => {}
            }
        }
    }
}

/// `settled`: handle_timeout (or handle) ran at `ledger.now`, so no deadline at or before it is
/// still pending.
fn assert_invariants(meet: &Meet, ledger: &Ledger, settled: bool) {
    let ended = meet.phase == Phase::Ended;
    assert_eq!(ended, meet.outcome.is_some(), "outcome iff ended");
    assert_eq!(ended, meet.ended_at.is_some(), "ended_at iff ended");
    assert_eq!(ledger.ended_effects, usize::from(ended), "exactly one Ended effect iff ended");
    if ended {
        assert!(meet.ringing().next().is_none(), "no ring is Ringing after Ended");
        assert_eq!(meet.present().count(), 0, "nobody is present after Ended");
        assert!(meet.participants.iter().all(|p| p.left_at.is_some_and(|t| Some(t) <= meet.ended_at)));
    }
    // Every Ring effect is matched by exactly one RingStopped when the ring resolves.
    for (party, open) in &ledger.open_rings {
        let ringing = meet.ringing().filter(|r| &r.party == party).count();
        assert_eq!(*open, i64::try_from(ringing).unwrap(), "open Ring effects for {party:?}");
    }
    // answered_at is set iff someone other than the caller joined, and it is when the first of
    // them came in (whether by a ring, a join or the link; also in a meet that started Active).
    let first_other = meet.participants.iter().find(|p| p.party != meet.caller);
    assert_eq!(meet.answered_at.is_some(), first_other.is_some(), "answered_at iff a non-caller joined");
    assert_eq!(
        meet.answered_at,
        first_other.map(|p| p.joined_at),
        "answered_at is the first non-caller's join"
    );
    // The rings of the start (the only ones without invited_by) ring distinct parties, never the
    // caller, all at created_at.
    let mut start_rung: Vec<&Party> =
        meet.rings.iter().filter(|r| r.invited_by.is_none()).map(|r| &r.party).collect();
    assert!(start_rung.iter().all(|p| **p != meet.caller), "the caller was rung at start");
    assert!(meet.rings.iter().filter(|r| r.invited_by.is_none()).all(|r| r.started_at == meet.created_at));
    start_rung.sort();
    let rung = start_rung.len();
    start_rung.dedup();
    assert_eq!(start_rung.len(), rung, "a party was rung twice at start");
    // A meet that rang somebody or sent a link starts unanswered; one that did neither starts
    // Active (a room where the caller is alone).
    let started_open = rung == 0 && meet.link_expires_at.is_none();
    // In a two-party meet that was rung, the first to come in answered the ring (or the link):
    // nobody joins a ringing 1:1 meet from the side.
    let group = matches!(meet.scope, Scope::Internal(_) | Scope::TeamGroup(_));
    if let (false, false, Some(first)) = (group, started_open, first_other) {
        let by_ring = meet.rings.iter().any(|r| {
            r.party == first.party
                && r.invited_by.is_none()
                && r.status == RingStatus::Accepted
                && r.accepted_device.as_ref() == Some(&first.device)
        });
        let by_link = meet.link_used && matches!(first.party, Party::Customer(_));
        assert!(by_ring || by_link, "{first:?} came into an unanswered two-party meet unrung");
    }
    // Failing to connect, or completing, needs a meet that was going on.
    if matches!(meet.outcome, Some(Outcome::Missed(MissedReason::FailedToConnect))) {
        assert!(meet.answered_at.is_some() || started_open, "{:?} of a meet never active", meet.outcome);
    }
    // Completed means somebody answered: a room meet left alone is missed (cancelled).
    if meet.outcome == Some(Outcome::Completed) {
        assert!(meet.answered_at.is_some(), "completed, never answered");
    }
    // ended_at >= answered_at >= created_at.
    if let Some(a) = meet.answered_at {
        assert!(a >= meet.created_at);
        assert!(meet.ended_at.is_none_or(|e| e >= a));
    }
    assert!(meet.ended_at.is_none_or(|e| e >= meet.created_at));
    // poll_timeout is None iff ended or nothing pending; never in the past of an applied tick.
    let pending = meet.ringing().next().is_some() || meet.phase == Phase::WaitingForLink;
    assert_eq!(meet.poll_timeout().is_some(), !ended && pending, "poll_timeout");
    if let Some((_, why)) = meet.poll_timeout() {
        assert!(why == "ring" || why == "follow-up link");
    }
    // Phases and rings fit together.
    if meet.phase == Phase::WaitingForLink {
        assert!(meet.rings.is_empty());
        assert!(!meet.link_used);
    }
    for r in &meet.rings {
        assert_eq!(r.accepted_device.is_some(), r.status == RingStatus::Accepted);
        assert_eq!(r.deadline, r.started_at.plus(RING_TIMEOUT_MS));
        if settled && r.status == RingStatus::Ringing {
            assert!(r.deadline > ledger.now, "a ring past its deadline is still Ringing");
        }
    }
    // Nobody is present twice.
    let mut present: Vec<_> = meet.present().map(|p| p.party.clone()).collect();
    let n = present.len();
    present.sort();
    present.dedup();
    assert_eq!(present.len(), n, "someone is present twice");
}

/// Rules about single inputs, checked without the model. `found` is the meet the input found
/// (deadlines applied, effects of this step still queued), `meet` the meet after it.
fn assert_input_rules(found: &Meet, input: &Input, result: &Result<(), MeetError>, meet: &Meet, now: Millis) {
    let ended = found.phase == Phase::Ended;
    let group = matches!(found.scope, Scope::Internal(_) | Scope::TeamGroup(_));
    match input {
        // Media can only fail in a meet that is going on.
        Input::MediaFailed => {
            let expected = match found.phase {
                Phase::Ended => Err(MeetError::Ended),
                Phase::Active => Ok(()),
                Phase::Ringing | Phase::WaitingForLink => Err(MeetError::NotActive),
            };
            assert_eq!(result, &expected, "media failed in {:?}", found.phase);
        }
        // Joining without being rung: never while the offline customer's link is out, and not
        // while a two-party meet rings; a group meet may be joined while it rings.
        Input::Join { party, .. } if !ended && !found.ringing().any(|r| &r.party == party) => {
            let expected = if found.is_present(party) {
                Err(MeetError::AlreadyParticipant)
            } else if found.phase == Phase::WaitingForLink || (found.phase == Phase::Ringing && !group) {
                Err(MeetError::NotActive)
            } else {
                Ok(())
            };
            assert_eq!(result, &expected, "{party:?} joining in {:?} (group: {group})", found.phase);
        }
        _ => {}
    }
    // A refused input changes nothing and emits nothing (beyond the deadlines it applied).
    if result.is_err() {
        assert_eq!(meet, found, "refused {input:?} ({result:?}) changed the meet");
        return;
    }
    assert!(!ended, "{input:?} accepted by an ended meet");
    // The first non-caller to come in answers the meet, whatever the phase was.
    let newcomers = &meet.participants[found.participants.len()..];
    if found.answered_at.is_none() && newcomers.iter().any(|p| p.party != meet.caller) {
        assert_eq!(meet.answered_at, Some(now), "{input:?} let someone in without answering the meet");
    }
}

/// The input a step feeds to the machine, if any. State-aware steps look at `meet` to pick a party.
fn input_of(step: &Step, meet: &Meet) -> Option<Input> {
    fn nth(mut parties: Vec<Party>, n: usize) -> Option<Party> {
        if parties.is_empty() {
            return None;
        }
        let i = n % parties.len();
        Some(parties.swap_remove(i))
    }
    Some(match *step {
        Step::LeavePresent(n) => {
            Input::Leave { party: nth(meet.present().map(|p| p.party.clone()).collect(), n)? }
        }
        Step::AcceptRinging(n, d) => Input::Accept {
            party: nth(meet.ringing().map(|r| r.party.clone()).collect(), n)?,
            device: device(d),
        },
        Step::Accept(p, d) => Input::Accept { party: party(p), device: device(d) },
        Step::Decline(p) => Input::Decline { party: party(p) },
        Step::Join(p, d) => Input::Join { party: party(p), device: device(d) },
        Step::Leave(p) => Input::Leave { party: party(p) },
        Step::Invite(by, a) => Input::Invite { by: agent_id(by), agent: agent_id(a) },
        Step::OpenLink(d) => Input::OpenLink { customer: customer_id(), device: device(d) },
        Step::MediaFailed => Input::MediaFailed,
        _ => return None,
    })
}

fn run(kind: Kind, steps: Vec<Step>) {
    let mut now = T0;
    let mut meet = Meet::start(start_of(&kind), now);
    let mut twin = meet.clone();
    let mut model = Model::new(&kind, now);
    let mut ledger = Ledger { open_rings: BTreeMap::new(), ended_effects: 0, now };

    let effects = drain(&mut meet);
    assert_eq!(effects, drain(&mut twin));
    assert_eq!(effects, std::mem::take(&mut model.out), "start effects");
    ledger.record(&effects);
    assert_matches_model(&meet, &model);
    assert_invariants(&meet, &ledger, true);

    for step in steps {
        let before = meet.clone();
        let mut result = Ok(());
        let mut ticked = false;
        match &step {
            Step::Advance { ms, tick } => {
                now = now.plus(*ms);
                ticked = *tick;
            }
            Step::ToDeadline { offset, tick } => {
                if let Some((t, _)) = meet.poll_timeout() {
                    now = now.max(t.plus(*offset));
                }
                ticked = *tick;
            }
            Step::Tick => ticked = true,
            Step::RoundTrip => {
                let json = serde_json::to_string(&meet).unwrap();
                let restored: Meet = serde_json::from_str(&json).unwrap();
                assert_eq!(restored, meet, "serde round-trip changes the meet");
                meet = restored;
            }
            _ => {}
        }
        if ticked {
            meet.handle_timeout(now);
            twin.handle_timeout(now);
            model.timeout(now);
        }
        let input = input_of(&step, &meet);
        if let Some(input) = input.clone() {
            // The meet as the input finds it: deadlines up to now applied first.
            let mut found = meet.clone();
            found.handle_timeout(now);
            result = meet.handle(now, input.clone());
            assert_eq!(twin.handle(now, input.clone()), result, "twin result");
            assert_input_rules(&found, &input, &result, &meet, now);
            assert_eq!(model.input(now, input), result, "result of {step:?}");
        }
        ledger.now = now;

        let effects = drain(&mut meet);
        assert_eq!(effects, drain(&mut twin), "twin effects after {step:?}");
        assert_eq!(effects, std::mem::take(&mut model.out), "effects of {step:?}");
        ledger.record(&effects);
        assert_eq!(meet, twin, "round-tripped machine diverged after {step:?}");
        let settled = ticked || input.is_some();
        assert_matches_model(&meet, &model);
        assert_invariants(&meet, &ledger, settled);

        // Once ended, nothing changes.
        if before.phase == Phase::Ended {
            assert_eq!(meet, before, "ended meet changed on {step:?}");
            assert!(effects.is_empty());
            if let Some(input) = input {
                let expected = match input {
                    Input::OpenLink { .. }
                        if before.outcome == Some(Outcome::Missed(MissedReason::OfflineLinkUnused)) =>
                    {
                        MeetError::LinkExpired
                    }
                    _ => MeetError::Ended,
                };
                assert_eq!(result, Err(expected));
            }
        }

        // handle_timeout is idempotent: applying it again at the same time changes nothing.
        if settled {
            let snapshot = meet.clone();
            meet.handle_timeout(now);
            assert_eq!(meet, snapshot, "second handle_timeout changed the meet");
            assert_eq!(drain(&mut meet), vec![], "second handle_timeout emitted effects");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Meets that ring somebody (or send a link).
    #[test]
    fn machine_matches_reference_model(kind in kind(1), steps in proptest::collection::vec(step(), 1..60)) {
        run(kind, steps);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Also room meets started with nobody to ring (they begin Active).
    #[test]
    fn machine_matches_reference_model_including_rooms_started_alone(
        kind in kind(0),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        run(kind, steps);
    }
}

/// Long runs where time moves only to deadlines: every meet ends or settles with nothing due.
#[test]
fn driving_by_deadlines_alone_always_settles() {
    for kind in [
        Kind::CustomerCalls(vec![1]),
        Kind::CustomerCalls(vec![AGENTS, 1, 1]),
        Kind::AgentCallsCustomer(vec![AGENTS]),
        Kind::AgentCallsOffline,
        Kind::Internal(vec![1, 2]),
        Kind::Group(vec![1, 2, 3, 4]),
        Kind::Group(vec![4, 0, 2, 4]),
        Kind::Dm(vec![1]),
        Kind::Dm(vec![0, 1]),
    ] {
        let mut meet = Meet::start(start_of(&kind), T0);
        while let Some((t, _)) = meet.poll_timeout() {
            meet.handle_timeout(t);
        }
        assert_eq!(meet.phase, Phase::Ended, "{kind:?}");
        let expected = match kind {
            Kind::AgentCallsOffline => MissedReason::OfflineLinkUnused,
            _ => MissedReason::NoAnswer,
        };
        assert_eq!(meet.outcome, Some(Outcome::Missed(expected)), "{kind:?}");
    }
}
