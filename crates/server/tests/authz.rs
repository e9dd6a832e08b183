//! Authorisation of the event stream (`/api/events`): for every event kind and every kind of
//! socket, who receives it, who does not, and what each receiver sees of it (P2–P6).
//!
//! The sockets:
//!
//! | who     | principal                                                        |
//! |---------|------------------------------------------------------------------|
//! | `CusA`  | Mina, customer of chat A (`chat_mina`, assignee Bob)             |
//! | `CusB`  | Eva, customer of chat B (`chat_eva`, assignee Bob)               |
//! | `Link`  | Eva again, but through a meet link: scoped to the meet `L` only  |
//! | `Bob`   | agent with a seat, assignee of A and B                           |
//! | `Carol` | agent with a seat                                                |
//! | `Dave`  | agent without a seat                                             |
//! | `Alice` | admin                                                            |
//!
//! Each step does one thing and lists, per event it causes, exactly who must receive it (and
//! what they must see of it). Absence is proven without sleeping: after the step, "marker"
//! events are caused that each socket must receive (messages in chats A and B, a change of
//! the meet `L`); events on one socket arrive in seq order, so once a socket has its last
//! marker, everything the step sent it has arrived. Every event a socket got since the
//! previous step must then be one the step expects *for that socket*: anything else is a
//! leak and fails the test. Finally every socket is replayed from the log (`?after=`) and
//! must get exactly what it got live: the replay path filters and redacts the same way.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{Client, Events, TestServer};
use meetdesk_protocol::{self as p, Event, EventBody, MeetState, RingStopReason};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    CusA,
    CusB,
    Link,
    Bob,
    Carol,
    Dave,
    Alice,
}

use Who::*;

const AGENTS: [Who; 4] = [Bob, Carol, Dave, Alice];
/// Events of user chat A: its customer and every agent.
const CHAT_A: [Who; 5] = [CusA, Bob, Carol, Dave, Alice];
/// Events of user chat B: its customer's own sessions (not the link session) and every agent.
const CHAT_B: [Who; 5] = [CusB, Bob, Carol, Dave, Alice];
/// Events of the meet `L` (in chat B): chat B's audience plus the session scoped to it.
const MEET_L: [Who; 6] = [CusB, Link, Bob, Carol, Dave, Alice];

const MISSED_BODY: &str = "Missed meet";
const ENDED_BODY: &str = "Meet ended";

impl Who {
    fn is_customer(self) -> bool {
        matches!(self, CusA | CusB | Link)
    }
}

type Pred = Box<dyn Fn(&EventBody) -> bool>;
type Check = Box<dyn Fn(Who, &EventBody)>;

/// One event a step causes: what it is, and exactly who receives it.
struct Expect {
    what: String,
    to: Vec<Who>,
    pred: Pred,
    check: Check,
}

impl Expect {
    fn new(what: &str, to: &[Who], pred: impl Fn(&EventBody) -> bool + 'static) -> Expect {
        Expect { what: what.to_owned(), to: to.to_vec(), pred: Box::new(pred), check: Box::new(|_, _| {}) }
    }

    /// What each receiver must see of it.
    fn seen_as(mut self, check: impl Fn(Who, &EventBody) + 'static) -> Expect {
        self.check = Box::new(check);
        self
    }
}

fn message(id: &str) -> impl Fn(&EventBody) -> bool {
    let id = id.to_owned();
    move |b| matches!(b, EventBody::Message { message } if message.id == id)
}

/// The missed-meet indicator (or any message about the meet).
fn message_about(meet_id: &str) -> impl Fn(&EventBody) -> bool {
    let id = meet_id.to_owned();
    move |b| matches!(b, EventBody::Message { message } if message.meet_id.as_deref() == Some(id.as_str()))
}

fn ring(meet_id: &str) -> impl Fn(&EventBody) -> bool {
    let id = meet_id.to_owned();
    move |b| matches!(b, EventBody::Ring { meet, .. } if meet.id == id)
}

fn ring_stopped(meet_id: &str, reason: RingStopReason) -> impl Fn(&EventBody) -> bool {
    let id = meet_id.to_owned();
    move |b| matches!(b, EventBody::RingStopped { meet_id, reason: r, .. } if *meet_id == id && *r == reason)
}

fn meet_updated(meet_id: &str) -> impl Fn(&EventBody) -> bool {
    let id = meet_id.to_owned();
    move |b| matches!(b, EventBody::MeetUpdated { meet } if meet.id == id)
}

fn chat_updated(chat_id: &'static str) -> impl Fn(&EventBody) -> bool {
    move |b| matches!(b, EventBody::ChatUpdated { chat } if chat.id == chat_id)
}

/// P8: a meet that ends leaves call records; each owner's devices (only theirs) hear of it.
fn history_changed(b: &EventBody) -> bool {
    matches!(b, EventBody::HistoryChanged { .. })
}

fn settings_updated(b: &EventBody) -> bool {
    matches!(b, EventBody::SettingsUpdated { .. })
}

fn meet_of(b: &EventBody) -> &p::MeetView {
    match b {
        EventBody::Ring { meet, .. } | EventBody::MeetUpdated { meet } => meet,
        other => panic!("not a meet event: {other:?}"),
    }
}

/// A meet in `state` as agents see it: customers see `missed` as `ended`; the reason is for
/// the admin only.
fn meet_is(state: MeetState, reason: Option<&'static str>) -> impl Fn(Who, &EventBody) {
    move |who, b| {
        let meet = meet_of(b);
        let state = if who.is_customer() && state == MeetState::Missed { MeetState::Ended } else { state };
        assert_eq!(meet.state, state, "{who:?} sees meet {} in the wrong state", meet.id);
        let reason = if who == Alice { reason } else { None };
        assert_eq!(meet.missed_reason.as_deref(), reason, "{who:?}: missed_reason of meet {}", meet.id);
    }
}

/// The missed-meet indicator: "Missed meet" for agents, "Meet ended" for the customer.
fn indicator(who: Who, b: &EventBody) {
    let EventBody::Message { message } = b else { unreachable!() };
    let body = if who.is_customer() { ENDED_BODY } else { MISSED_BODY };
    assert_eq!(message.body, body, "{who:?}: the missed-meet indicator");
    assert_eq!(message.missed_reason.is_some(), who == Alice, "{who:?}: the reason is for the admin only");
}

/// What no socket may ever see, whatever the event. `secrets` are ids of internal and team
/// messages and meets: no customer event may mention one, not even inside another view.
fn invariants(step: &str, who: Who, link_meet: &str, secrets: &[String], e: &Event) {
    if who.is_customer() {
        let json = serde_json::to_string(&e.body).unwrap();
        for secret in secrets {
            assert!(!json.contains(secret.as_str()), "{step}: {who:?} saw {secret}: {e:?}");
        }
    }
    match &e.body {
        EventBody::Ring { meet, .. } | EventBody::MeetUpdated { meet } => {
            if who.is_customer() {
                assert_eq!(
                    meet.scope.kind,
                    p::ScopeKind::UserChat,
                    "{step}: {who:?} saw a non-user-chat meet"
                );
                assert_ne!(meet.state, MeetState::Missed, "{step}: {who:?} saw `missed`: {e:?}");
                assert_eq!(meet.missed_reason, None, "{step}: {who:?} saw a missed reason: {e:?}");
                for part in meet.participants.iter().filter(|p| p.party.kind == p::PartyKind::Agent) {
                    assert_eq!(part.device_id, "", "{step}: {who:?} saw an agent's device: {e:?}");
                }
            } else if who != Alice {
                assert_eq!(meet.missed_reason, None, "{step}: {who:?} is no admin but saw a reason: {e:?}");
            } else if meet.state == MeetState::Missed {
                assert!(meet.missed_reason.is_some(), "{step}: the admin gets the reason: {e:?}");
            }
        }
        EventBody::Message { message } if who.is_customer() => {
            assert!(!message.internal, "{step}: {who:?} saw an internal message: {e:?}");
            assert_eq!(message.room_id, None, "{step}: {who:?} saw a team-room message: {e:?}");
            assert_ne!(message.body, MISSED_BODY, "{step}: {who:?} saw `Missed meet`: {e:?}");
        }
        EventBody::ChatUpdated { chat } if who.is_customer() => {
            assert_eq!(chat.customer.email, None, "{step}: {who:?} got the e-mail in a chat view: {e:?}");
        }
        EventBody::Hello { .. } | EventBody::Resync => panic!("{step}: {who:?} got a per-connection event"),
        _ => {}
    }
    if who == Link {
        let about_l = match &e.body {
            EventBody::Ring { meet, .. } | EventBody::MeetUpdated { meet } => meet.id == link_meet,
            EventBody::RingStopped { meet_id, .. } => meet_id == link_meet,
            _ => false,
        };
        assert!(about_l, "{step}: the link session got an event not about its meet: {e:?}");
    }
}

/// The cast, their sockets, and the marker machinery.
struct Desk {
    t: TestServer,
    clients: BTreeMap<Who, Client>,
    socks: BTreeMap<Who, Events>,
    /// Per socket: where the current step's events start in `Events::seen`.
    starts: BTreeMap<Who, usize>,
    /// The meet the link session is scoped to (in chat B, kept active throughout).
    link_meet: String,
    carol_in_link_meet: bool,
    round: usize,
    /// Ids no customer may ever see (internal and team messages and meets).
    secrets: Vec<String>,
}

impl Desk {
    fn client(&self, who: Who) -> &Client {
        &self.clients[&who]
    }

    /// Posts a message (user chat, internal chat or room) and returns its id.
    async fn say(&self, who: Who, path: &str, body: &str) -> String {
        let token = self.client(who).token.clone();
        let m: p::MessageView = self.t.post_ok(Some(&token), path, json!({"body": body})).await;
        m.id
    }

    async fn start(&self, who: Who, target: serde_json::Value) -> p::MeetView {
        self.t.start_meet(self.client(who), target, "audio").await
    }

    async fn act(&self, who: Who, meet_id: &str, action: &str) {
        let (status, body) = self.t.act(self.client(who), meet_id, action).await;
        assert_eq!(status, 200, "{who:?} {action} {meet_id}: {body}");
    }

    /// Causes the markers, waits for every socket to get its own, then checks that what each
    /// socket received since the last step is exactly what `expects` says it gets.
    async fn verify(&mut self, step: &str, expects: Vec<Expect>) {
        self.round += 1;
        let n = self.round;
        // Markers, in this order: A (agents, CusA), B (agents, CusB), L (agents, CusB, Link),
        // A again (so that CusA's last marker comes after every other one).
        let a1 = self.say(Bob, "/api/chats/chat_mina/messages", &format!("marker {n} a")).await;
        let b = self.say(Bob, "/api/chats/chat_eva/messages", &format!("marker {n} b")).await;
        let l = self.link_meet.clone();
        let toggle = if self.carol_in_link_meet { "hangup" } else { "join" };
        self.act(Carol, &l, toggle).await;
        self.carol_in_link_meet = !self.carol_in_link_meet;
        let a2 = self.say(Bob, "/api/chats/chat_mina/messages", &format!("marker {n} a again")).await;

        // Bob receives every marker: he tells their seqs.
        let bob = self.socks.get_mut(&Bob).unwrap();
        let is_msg = |id: String| move |e: &Event| message(&id)(&e.body);
        let seq_a1 = bob.next_where(is_msg(a1)).await.seq;
        let seq_b = bob.next_where(is_msg(b)).await.seq;
        let seq_l = bob.next_where(|e| meet_updated(&l)(&e.body)).await.seq;
        let seq_a2 = bob.next_where(is_msg(a2)).await.seq;
        assert!(seq_a1 < seq_b && seq_b < seq_l && seq_l < seq_a2);
        let all_markers = [seq_a1, seq_b, seq_l, seq_a2];

        for (&who, ev) in self.socks.iter_mut() {
            let markers: Vec<i64> = match who {
                CusA => vec![seq_a1, seq_a2],
                CusB => vec![seq_b, seq_l],
                Link => vec![seq_l],
                _ => all_markers.to_vec(),
            };
            let last = *markers.last().unwrap();
            ev.seen_or_next(|e| e.seq == last).await;
            let start = self.starts[&who];
            let window: Vec<Event> = ev.all()[start..].to_vec();
            self.starts.insert(who, ev.all().len());
            assert_eq!(window.last().map(|e| e.seq), Some(last));

            let got: Vec<i64> = window.iter().map(|e| e.seq).filter(|s| all_markers.contains(s)).collect();
            assert_eq!(got, markers, "{step}: {who:?} got the wrong markers; window: {window:#?}");

            let mut counts = vec![0usize; expects.len()];
            for e in &window {
                invariants(step, who, &self.link_meet, &self.secrets, e);
                if all_markers.contains(&e.seq) {
                    continue;
                }
                let hits: Vec<usize> = (0..expects.len()).filter(|&i| (expects[i].pred)(&e.body)).collect();
                assert!(!hits.is_empty(), "{step}: {who:?} received an event no one should get: {e:#?}");
                assert_eq!(hits.len(), 1, "{step}: ambiguous expectations for {e:?}");
                let x = &expects[hits[0]];
                assert!(
                    x.to.contains(&who),
                    "{step}: LEAK: {who:?} received `{}`, which is for {:?} only: {e:#?}",
                    x.what,
                    x.to
                );
                (x.check)(who, &e.body);
                counts[hits[0]] += 1;
            }
            for (x, count) in expects.iter().zip(counts) {
                if x.to.contains(&who) {
                    assert_eq!(
                        count, 1,
                        "{step}: {who:?} must receive `{}` once; window: {window:#?}",
                        x.what
                    );
                }
            }
        }
    }
}

on_both_databases!(every_event_reaches_exactly_its_audience_with_its_redactions, |db| async move {
    let t = TestServer::start(db).await;
    let mut clients = BTreeMap::new();
    for (who, email) in [
        (Bob, "bob@demo.test"),
        (Carol, "carol@demo.test"),
        (Dave, "dave@demo.test"),
        (Alice, "alice@demo.test"),
    ] {
        clients.insert(who, t.sign_in(email).await);
    }

    // The link session (P3): Bob calls Eva while she is offline (no socket of hers yet); she
    // opens the follow-up link and gets a session scoped to that meet. The meet stays active
    // for the whole test, in chat B.
    let link_meet =
        t.start_meet(&clients[&Bob], json!({"kind": "user_chat", "chat_id": "chat_eva"}), "audio").await;
    assert_eq!(link_meet.state, MeetState::WaitingForLink);
    let link_meet = link_meet.id;
    // Agents see the follow-up but not the link: it is the customer's credential.
    let agent_msgs: Vec<p::MessageView> =
        t.get_ok(Some(&clients[&Bob].token), "/api/chats/chat_eva/messages").await;
    let agent_view = agent_msgs.iter().find(|m| m.meet_id.as_deref() == Some(link_meet.as_str())).unwrap();
    assert_eq!(agent_view.link, None);
    let eva = t.customer("chat_eva").await;
    let msgs: Vec<p::MessageView> = t.get_ok(Some(&eva.token), "/api/chats/chat_eva/messages").await;
    let link = msgs.iter().find(|m| m.meet_id.as_deref() == Some(link_meet.as_str())).unwrap();
    let token = link.link.as_deref().unwrap().split("?t=").nth(1).unwrap().to_owned();
    let opened: p::CustomerSessionResponse =
        t.post_ok(None, &format!("/api/meets/{link_meet}/open-link"), json!({"token": token})).await;
    assert_eq!(opened.meet.as_ref().map(|m| m.state), Some(MeetState::Active));
    clients.insert(
        Link,
        Client { token: opened.token, device_id: opened.device_id, agent_id: None, base: t.base.clone() },
    );
    clients.insert(CusA, t.customer("chat_mina").await);
    clients.insert(CusB, t.customer("chat_eva").await);

    let mut socks = BTreeMap::new();
    let mut starts = BTreeMap::new();
    for (&who, client) in &clients {
        let ev = client.events().await;
        starts.insert(who, ev.all().len());
        socks.insert(who, ev);
    }
    let mut d = Desk {
        t,
        clients,
        socks,
        starts,
        link_meet,
        carol_in_link_meet: false,
        round: 0,
        secrets: Vec::new(),
    };

    // Round 0: nothing but markers, so that every socket is registered and in step.
    d.verify("sync", vec![]).await;
    let cursor = d.socks[&Bob].last_seq;

    // ---- Messages -------------------------------------------------------------------------
    let m = d.say(CusA, "/api/chats/chat_mina/messages", "Hello from Mina").await;
    d.verify("the customer writes in chat A", vec![Expect::new("the message", &CHAT_A, message(&m))]).await;

    let m = d.say(Carol, "/api/chats/chat_mina/messages", "Carol here, looking into it").await;
    d.verify("an agent writes in chat A", vec![Expect::new("the message", &CHAT_A, message(&m))]).await;

    let m = d.say(Bob, "/api/chats/chat_mina/internal-messages", "Internal: VIP, be nice").await;
    d.secrets.push(m.clone());
    d.verify(
        "an internal message in chat A (P4)",
        vec![Expect::new("the internal message", &AGENTS, message(&m)).seen_as(|_, b| {
            let EventBody::Message { message } = b else { unreachable!() };
            assert!(message.internal);
        })],
    )
    .await;

    let m = d.say(Carol, "/api/chats/chat_eva/messages", "Hi Eva").await;
    d.verify(
        "an agent writes in chat B (not to Eva's link session)",
        vec![Expect::new("the message", &CHAT_B, message(&m))],
    )
    .await;

    let m = d.say(Alice, "/api/rooms/dm_alice_bob/messages", "Bob, a word?").await;
    d.secrets.push(m.clone());
    d.verify("a DM between Alice and Bob", vec![Expect::new("the DM", &[Alice, Bob], message(&m))]).await;

    let m = d.say(Dave, "/api/rooms/room_billing/messages", "Refund approved").await;
    d.secrets.push(m.clone());
    d.verify("a private room (Bob, Dave)", vec![Expect::new("the message", &[Bob, Dave], message(&m))]).await;

    // A public group reaches every agent of the channel, members or not (Carol and Dave are
    // not in Support leads), and no customer.
    let m = d.say(Bob, "/api/rooms/room_leads/messages", "Standup at 10").await;
    d.secrets.push(m.clone());
    d.verify("a public room", vec![Expect::new("the message", &AGENTS, message(&m))]).await;

    // ---- Chat updates ---------------------------------------------------------------------
    let (status, v) =
        d.t.request(
            reqwest::Method::PATCH,
            Some(&d.client(Carol).token),
            "/api/chats/chat_mina",
            Some(json!({"input_open": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    d.verify(
        "chat A updated",
        vec![Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(|who, b| {
            let EventBody::ChatUpdated { chat } = b else { unreachable!() };
            let email = if who.is_customer() { None } else { Some("mina@example.com") };
            assert_eq!(chat.customer.email.as_deref(), email, "{who:?}: the customer's e-mail");
        })],
    )
    .await;

    let (status, v) =
        d.t.request(
            reqwest::Method::PATCH,
            Some(&d.client(Bob).token),
            "/api/chats/chat_eva",
            Some(json!({"state": "snoozed"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let l = d.link_meet.clone();
    d.verify(
        "chat B updated (not to Eva's link session)",
        vec![Expect::new("chat B", &CHAT_B, chat_updated("chat_eva")).seen_as(move |who, b| {
            let EventBody::ChatUpdated { chat } = b else { unreachable!() };
            assert_eq!(chat.ongoing_meet.as_deref(), Some(l.as_str()), "{who:?}: chat B's ongoing meet");
        })],
    )
    .await;

    // ---- Settings (P1) --------------------------------------------------------------------
    let (status, v) =
        d.t.request(
            reqwest::Method::PUT,
            Some(&d.client(Alice).token),
            "/api/channel/settings",
            Some(json!({"audio_enabled": true, "video_enabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    d.verify(
        "settings updated: every agent and every customer session, not a meet-link session",
        vec![Expect::new("the settings", &[CusA, CusB, Bob, Carol, Dave, Alice], settings_updated)],
    )
    .await;

    // ---- Internal meet (P4): agents only; the ring only for the managers of chat A --------
    // Managers of chat A: those who wrote in it (Alice, Bob, Carol) and the assignee (Bob).
    let meet = d.start(Alice, json!({"kind": "internal", "chat_id": "chat_mina"})).await;
    let i = meet.id.clone();
    d.secrets.push(i.clone());
    d.verify(
        "an internal meet starts",
        vec![
            Expect::new("the ring", &[Bob, Carol], ring(&i)),
            Expect::new("the meet", &AGENTS, meet_updated(&i)).seen_as(meet_is(MeetState::Ringing, None)),
        ],
    )
    .await;
    let (status, v) =
        d.t.request(
            reqwest::Method::PATCH,
            Some(&d.client(Bob).token),
            "/api/chats/chat_mina",
            Some(json!({"state": "open"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    d.verify(
        "chat A updated while its internal meet rings: no trace of that meet",
        vec![Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(|who, b| {
            let EventBody::ChatUpdated { chat } = b else { unreachable!() };
            assert_eq!(chat.ongoing_meet, None, "{who:?}: an internal meet is no ongoing meet of the chat");
            assert!(chat.customer_meet_button.shown, "{who:?}: the internal meet does not block the button");
        })],
    )
    .await;
    d.act(Bob, &i, "decline").await;
    d.verify(
        "Bob declines the internal meet",
        vec![
            Expect::new("Bob's ring stops", &[Bob], ring_stopped(&i, RingStopReason::Declined)),
            Expect::new("the meet", &AGENTS, meet_updated(&i)).seen_as(meet_is(MeetState::Ringing, None)),
        ],
    )
    .await;
    d.act(Carol, &i, "decline").await;
    d.verify(
        "Carol declines too: the internal meet is missed",
        vec![
            Expect::new("their call records", &[Alice, Bob, Carol], history_changed),
            Expect::new("Carol's ring stops", &[Carol], ring_stopped(&i, RingStopReason::Declined)),
            Expect::new("the internal indicator", &AGENTS, message_about(&i)).seen_as(|who, b| {
                indicator(who, b);
                let EventBody::Message { message } = b else { unreachable!() };
                assert!(message.internal);
            }),
            Expect::new("the meet", &AGENTS, meet_updated(&i))
                .seen_as(meet_is(MeetState::Missed, Some("declined"))),
        ],
    )
    .await;

    // ---- User-chat meet started by the customer (P2) --------------------------------------
    let meet = d.start(CusA, json!({"kind": "user_chat", "chat_id": "chat_mina"})).await;
    let m1 = meet.id.clone();
    let ongoing = |want: Option<String>| {
        move |who: Who, b: &EventBody| {
            let EventBody::ChatUpdated { chat } = b else { unreachable!() };
            assert_eq!(chat.ongoing_meet, want, "{who:?}: chat A's ongoing meet");
        }
    };
    d.verify(
        "customer A presses Meet: only the assignee rings",
        vec![
            Expect::new("the ring", &[Bob], ring(&m1)),
            Expect::new("the meet", &CHAT_A, meet_updated(&m1)).seen_as(meet_is(MeetState::Ringing, None)),
            Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(ongoing(Some(m1.clone()))),
        ],
    )
    .await;
    d.act(Bob, &m1, "decline").await;
    d.verify(
        "Bob declines: missed; the reason for the admin, `ended` for the customer",
        vec![
            Expect::new("their call records", &[Bob], history_changed),
            Expect::new("Bob's ring stops", &[Bob], ring_stopped(&m1, RingStopReason::Declined)),
            Expect::new("the indicator", &CHAT_A, message_about(&m1)).seen_as(indicator),
            Expect::new("the meet", &CHAT_A, meet_updated(&m1))
                .seen_as(meet_is(MeetState::Missed, Some("declined"))),
            Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(ongoing(None)),
        ],
    )
    .await;

    // ---- User-chat meet started by an agent, customer online (P3) -------------------------
    let meet = d.start(Bob, json!({"kind": "user_chat", "chat_id": "chat_mina"})).await;
    let m2 = meet.id.clone();
    assert_eq!(meet.state, MeetState::Ringing, "Mina's widget is connected: she is online");
    let bob_device = d.client(Bob).device_id.clone();
    let devices = move |who: Who, b: &EventBody| {
        // Agents see Bob's device; the customer sees none (the invariants check that).
        if !who.is_customer() {
            let meet = meet_of(b);
            let bob = meet.participants.iter().find(|p| p.party.id == "ag_bob").unwrap();
            assert_eq!(bob.device_id, bob_device, "{who:?}");
        }
    };
    let check = devices.clone();
    d.verify(
        "Bob calls customer A: only her widget rings",
        vec![
            Expect::new("his missed record of her is now handled", &[Bob], history_changed),
            Expect::new("the ring", &[CusA], ring(&m2)),
            Expect::new("the meet", &CHAT_A, meet_updated(&m2)).seen_as(move |who, b| {
                meet_is(MeetState::Ringing, None)(who, b);
                check(who, b);
            }),
            Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(ongoing(Some(m2.clone()))),
        ],
    )
    .await;
    d.act(CusA, &m2, "accept").await;
    let mina_device = d.client(CusA).device_id.clone();
    d.verify(
        "customer A accepts",
        vec![
            Expect::new("her ring stops", &[CusA], ring_stopped(&m2, RingStopReason::Accepted)).seen_as(
                move |_, b| {
                    let EventBody::RingStopped { accepted_device, .. } = b else { unreachable!() };
                    assert_eq!(accepted_device.as_deref(), Some(mina_device.as_str()));
                },
            ),
            Expect::new("the meet", &CHAT_A, meet_updated(&m2)).seen_as(move |who, b| {
                meet_is(MeetState::Active, None)(who, b);
                devices(who, b);
            }),
        ],
    )
    .await;
    d.act(CusA, &m2, "hangup").await;
    d.verify(
        "customer A hangs up: ended",
        vec![
            Expect::new("their call records", &[Bob], history_changed),
            Expect::new("the meet", &CHAT_A, meet_updated(&m2)).seen_as(meet_is(MeetState::Ended, None)),
            Expect::new("chat A", &CHAT_A, chat_updated("chat_mina")).seen_as(ongoing(None)),
        ],
    )
    .await;

    // ---- Team meets (P5): members only ----------------------------------------------------
    let meet = d.start(Alice, json!({"kind": "room", "room_id": "dm_alice_bob"})).await;
    let dm = meet.id.clone();
    d.secrets.push(dm.clone());
    d.verify(
        "Alice calls Bob in their DM",
        vec![
            Expect::new("the ring", &[Bob], ring(&dm)),
            Expect::new("the meet", &[Alice, Bob], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Ringing, None)),
        ],
    )
    .await;
    d.act(Bob, &dm, "decline").await;
    d.verify(
        "Bob declines the DM meet: missed",
        vec![
            Expect::new("their call records", &[Alice, Bob], history_changed),
            Expect::new("Bob's ring stops", &[Bob], ring_stopped(&dm, RingStopReason::Declined)),
            Expect::new("the DM indicator", &[Alice, Bob], message_about(&dm)).seen_as(indicator),
            Expect::new("the meet", &[Alice, Bob], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Missed, Some("declined"))),
        ],
    )
    .await;

    let meet = d.start(Carol, json!({"kind": "room", "room_id": "room_escalations"})).await;
    let g = meet.id.clone();
    d.secrets.push(g.clone());
    d.verify(
        "Carol starts a meet in a private room (Alice, Carol)",
        vec![
            Expect::new("the ring", &[Alice], ring(&g)),
            Expect::new("the meet", &[Alice, Carol], meet_updated(&g))
                .seen_as(meet_is(MeetState::Ringing, None)),
        ],
    )
    .await;
    d.act(Carol, &g, "hangup").await;
    d.verify(
        "Carol hangs up before anyone answers: missed, cancelled by caller",
        vec![
            Expect::new("their call records", &[Alice, Carol], history_changed),
            Expect::new("Alice's ring stops", &[Alice], ring_stopped(&g, RingStopReason::Cancelled)),
            Expect::new("the room indicator", &[Alice, Carol], message_about(&g)).seen_as(indicator),
            Expect::new("the meet", &[Alice, Carol], meet_updated(&g))
                .seen_as(meet_is(MeetState::Missed, Some("cancelled_by_caller"))),
        ],
    )
    .await;

    // An agent invited from outside the room (P6) follows the meet, and only the meet: the
    // room's messages stay with its members.
    let meet = d.start(Alice, json!({"kind": "room", "room_id": "dm_alice_bob"})).await;
    let dm = meet.id.clone();
    d.secrets.push(dm.clone());
    d.verify(
        "Alice calls Bob in their DM again",
        vec![
            Expect::new("the ring", &[Bob], ring(&dm)),
            Expect::new("the meet", &[Alice, Bob], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Ringing, None)),
        ],
    )
    .await;
    d.act(Bob, &dm, "accept").await;
    d.verify(
        "Bob accepts the DM meet",
        vec![
            Expect::new("Bob's ring stops", &[Bob], ring_stopped(&dm, RingStopReason::Accepted)),
            Expect::new("the meet", &[Alice, Bob], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Active, None)),
        ],
    )
    .await;
    let (status, v) =
        d.t.post(
            Some(&d.client(Alice).token),
            &format!("/api/meets/{dm}/invite"),
            json!({"agent_id": "ag_carol"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    d.verify(
        "Alice invites Carol (not in the DM) into the DM meet",
        vec![
            Expect::new("Carol's ring", &[Carol], ring(&dm)),
            Expect::new("the meet", &[Alice, Bob, Carol], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Active, None)),
        ],
    )
    .await;
    d.act(Carol, &dm, "accept").await;
    d.verify(
        "Carol accepts",
        vec![
            Expect::new("Carol's ring stops", &[Carol], ring_stopped(&dm, RingStopReason::Accepted)),
            Expect::new("the meet", &[Alice, Bob, Carol], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Active, None)),
        ],
    )
    .await;
    let m = d.say(Bob, "/api/rooms/dm_alice_bob/messages", "Carol can't read this").await;
    d.secrets.push(m.clone());
    d.verify(
        "a DM message while Carol is in the DM's meet",
        vec![Expect::new("the DM", &[Alice, Bob], message(&m))],
    )
    .await;
    d.act(Alice, &dm, "hangup").await;
    d.verify(
        "Alice leaves the DM meet",
        vec![Expect::new("the meet", &[Alice, Bob, Carol], meet_updated(&dm))
            .seen_as(meet_is(MeetState::Active, None))],
    )
    .await;
    d.act(Bob, &dm, "hangup").await;
    d.verify(
        "Bob leaves: the DM meet ends, for Carol too",
        vec![
            Expect::new("their call records", &[Alice, Bob, Carol], history_changed),
            Expect::new("the meet", &[Alice, Bob, Carol], meet_updated(&dm))
                .seen_as(meet_is(MeetState::Ended, None)),
        ],
    )
    .await;

    // ---- The meet-link session's own meet (P3, P6) ----------------------------------------
    let l = d.link_meet.clone();
    let (status, v) = d
        .t
        .post(Some(&d.client(Bob).token), &format!("/api/meets/{l}/invite"), json!({"agent_id": "ag_alice"}))
        .await;
    assert_eq!(status, 200, "{v}");
    d.verify(
        "Bob invites Alice into the link meet",
        vec![
            Expect::new("Alice's ring", &[Alice], ring(&l)).seen_as(|_, b| {
                let ring = meet_of(b).rings.iter().find(|r| r.party.id == "ag_alice").unwrap();
                assert_eq!(ring.invited_by.as_ref().map(|a| a.id.as_str()), Some("ag_bob"));
            }),
            Expect::new("the meet", &MEET_L, meet_updated(&l)).seen_as(meet_is(MeetState::Active, None)),
        ],
    )
    .await;
    d.act(Alice, &l, "decline").await;
    d.verify(
        "Alice declines the invitation",
        vec![
            Expect::new("Alice's ring stops", &[Alice], ring_stopped(&l, RingStopReason::Declined)),
            Expect::new("the meet", &MEET_L, meet_updated(&l)).seen_as(meet_is(MeetState::Active, None)),
        ],
    )
    .await;

    // ---- Replay: resuming from the log gives each socket exactly what it got live ---------
    let live: Vec<(Who, Vec<Event>, i64)> =
        d.socks.iter().map(|(&w, ev)| (w, ev.all().to_vec(), ev.last_seq)).collect();
    for (who, seen, last) in live {
        let client = d.client(who);
        let mut replay = Events::connect(&client.base, &client.token, Some(cursor)).await;
        replay.next_where(|e| e.seq == last).await;
        let as_json = |events: &[Event]| -> Vec<serde_json::Value> {
            events.iter().filter(|e| e.seq > cursor).map(|e| serde_json::to_value(e).unwrap()).collect()
        };
        assert_eq!(as_json(replay.all()), as_json(&seen), "{who:?}: the replay differs from the live stream");
    }
    d.t.stop().await;
});
