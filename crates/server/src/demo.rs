//! `--demo`: an idempotently seeded "Demo" channel with agents, customers in every state the
//! P2 rule cares about, internal notes, team rooms and some meet history.

use meetdesk_meet::{
    AgentId, Callees, ChatId, CustomerId, DeviceId, Input, Media, Meet, MeetId, Millis, Party, Scope, Start,
};
use meetdesk_protocol as p;
use meetdesk_store::accounts::{self, Agent, Channel};
use meetdesk_store::chats::{self, Chat, Customer, Message};
use meetdesk_store::meets::{self, StoredMeet};
use meetdesk_store::{rooms, Store};

use crate::auth;
use crate::links::{LinkClaims, Signer};

pub const CHANNEL_ID: &str = "ch_demo";
pub const WIDGET_KEY: &str = "demo";
pub const PASSWORD: &str = "demo";

/// (id, e-mail, name, role, seat)
pub const AGENTS: &[(&str, &str, &str, &str, bool)] = &[
    ("ag_alice", "alice@demo.test", "Alice Admin", "admin", true),
    ("ag_bob", "bob@demo.test", "Bob Baker", "agent", true),
    ("ag_carol", "carol@demo.test", "Carol Chen", "agent", true),
    ("ag_dave", "dave@demo.test", "Dave Diaz", "agent", false),
];

struct DemoChat {
    customer: (&'static str, &'static str, Option<&'static str>),
    chat_id: &'static str,
    assignee: Option<&'static str>,
    state: &'static str,
    source: &'static str,
    input_open: bool,
}

const CHATS: &[DemoChat] = &[
    // Meet button shown: assigned, input open, native.
    DemoChat {
        customer: ("cus_mina", "Mina Park", Some("mina@example.com")),
        chat_id: "chat_mina",
        assignee: Some("ag_bob"),
        state: "open",
        source: "native",
        input_open: true,
    },
    // No assignee.
    DemoChat {
        customer: ("cus_leo", "Leo Martin", Some("leo@example.com")),
        chat_id: "chat_leo",
        assignee: None,
        state: "open",
        source: "native",
        input_open: true,
    },
    // Input window closed.
    DemoChat {
        customer: ("cus_sara", "Sara Kim", None),
        chat_id: "chat_sara",
        assignee: Some("ag_carol"),
        state: "open",
        source: "native",
        input_open: false,
    },
    // From an external messenger.
    DemoChat {
        customer: ("cus_yuki", "Yuki Tanaka", None),
        chat_id: "chat_yuki",
        assignee: Some("ag_bob"),
        state: "open",
        source: "instagram",
        input_open: true,
    },
    DemoChat {
        customer: ("cus_noah", "Noah Weber", None),
        chat_id: "chat_noah",
        assignee: None,
        state: "open",
        source: "whatsapp",
        input_open: true,
    },
    // Closed and snoozed.
    DemoChat {
        customer: ("cus_omar", "Omar Haddad", Some("omar@example.com")),
        chat_id: "chat_omar",
        assignee: Some("ag_alice"),
        state: "closed",
        source: "native",
        input_open: false,
    },
    DemoChat {
        customer: ("cus_eva", "Eva Rossi", Some("eva@example.com")),
        chat_id: "chat_eva",
        assignee: Some("ag_bob"),
        state: "snoozed",
        source: "native",
        input_open: true,
    },
    // Alice's own customer, for an admin's "mine" view.
    DemoChat {
        customer: ("cus_ivy", "Ivy Chen", Some("ivy@example.com")),
        chat_id: "chat_ivy",
        assignee: Some("ag_alice"),
        state: "open",
        source: "native",
        input_open: true,
    },
];

/// (id, kind, name, members)
const ROOMS: &[(&str, &str, &str, &[&str])] = &[
    ("room_general", "public", "General", &["ag_alice", "ag_bob", "ag_carol", "ag_dave"]),
    ("room_leads", "public", "Support leads", &["ag_alice", "ag_bob"]),
    ("room_escalations", "private", "Escalations", &["ag_alice", "ag_carol"]),
    ("room_billing", "private", "Billing", &["ag_bob", "ag_dave"]),
    ("dm_alice_bob", "dm", "Alice Admin, Bob Baker", &["ag_alice", "ag_bob"]),
    ("dm_bob_carol", "dm", "Bob Baker, Carol Chen", &["ag_bob", "ag_carol"]),
    ("dm_alice_dave", "dm", "Alice Admin, Dave Diaz", &["ag_alice", "ag_dave"]),
    ("dm_carol_dave", "dm", "Carol Chen, Dave Diaz", &["ag_carol", "ag_dave"]),
];

fn msg(
    id: &str,
    chat: Option<&str>,
    room: Option<&str>,
    internal: bool,
    author: (&str, &str),
    body: &str,
    at: i64,
) -> Message {
    Message {
        id: id.into(),
        chat_id: chat.map(Into::into),
        room_id: room.map(Into::into),
        internal,
        author_kind: author.0.into(),
        author_id: Some(author.1.into()),
        body: body.into(),
        meet_id: None,
        link: None,
        created_at: at,
    }
}

/// Seeds the demo channel. Running it again changes nothing.
pub async fn seed(store: &Store, now: i64) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    let fresh = accounts::insert_channel(
        &mut tx,
        &Channel {
            id: CHANNEL_ID.into(),
            name: "Demo".into(),
            widget_key: WIDGET_KEY.into(),
            audio_enabled: true,
            video_enabled: true,
        },
        now,
    )
    .await?;
    if !fresh {
        tx.commit().await?;
        return Ok(());
    }
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(PASSWORD)).await??;
    for (id, email, name, role, seat) in AGENTS {
        let agent = Agent {
            id: (*id).into(),
            channel_id: CHANNEL_ID.into(),
            email: (*email).into(),
            name: (*name).into(),
            password_hash: hash.clone(),
            role: (*role).into(),
            seat: *seat,
        };
        accounts::insert_agent(&mut tx, &agent, now).await?;
    }
    let hour = 3_600_000;
    for (i, c) in CHATS.iter().enumerate() {
        let (cid, name, email) = c.customer;
        let created = now - (i as i64 + 1) * 5 * hour;
        chats::insert_customer(
            &mut tx,
            &Customer {
                id: cid.into(),
                channel_id: CHANNEL_ID.into(),
                name: name.into(),
                email: email.map(Into::into),
            },
            created,
        )
        .await?;
        chats::insert_chat(
            &mut tx,
            &Chat {
                id: c.chat_id.into(),
                channel_id: CHANNEL_ID.into(),
                customer_id: cid.into(),
                assignee_id: c.assignee.map(Into::into),
                state: c.state.into(),
                source: c.source.into(),
                input_open: c.input_open,
                created_at: created,
                updated_at: created + hour,
            },
        )
        .await?;
        let first = name.split(' ').next().unwrap_or(name);
        chats::insert_message(
            &mut tx,
            &msg(
                &format!("msg_{}_1", c.chat_id),
                Some(c.chat_id),
                None,
                false,
                ("customer", cid),
                &format!("Hi, this is {first}. My order hasn't arrived yet."),
                created,
            ),
        )
        .await?;
        if let Some(agent) = c.assignee {
            chats::insert_message(
                &mut tx,
                &msg(
                    &format!("msg_{}_2", c.chat_id),
                    Some(c.chat_id),
                    None,
                    false,
                    ("agent", agent),
                    "Sorry about that! Let me check the tracking for you.",
                    created + 60_000,
                ),
            )
            .await?;
        }
    }
    chats::insert_message(
        &mut tx,
        &msg(
            "msg_mina_int_1",
            Some("chat_mina"),
            None,
            true,
            ("agent", "ag_alice"),
            "Mina is a VIP customer: offer express shipping.",
            now - 40 * hour + 120_000,
        ),
    )
    .await?;
    chats::insert_message(
        &mut tx,
        &msg(
            "msg_mina_int_2",
            Some("chat_mina"),
            None,
            true,
            ("agent", "ag_bob"),
            "Will do. I may call her.",
            now - 40 * hour + 180_000,
        ),
    )
    .await?;
    for (id, kind, name, members) in ROOMS {
        let members: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        rooms::insert_room(
            &mut tx,
            &rooms::Room {
                id: (*id).into(),
                channel_id: CHANNEL_ID.into(),
                kind: (*kind).into(),
                name: (*name).into(),
            },
            &members,
            now - 100 * hour,
        )
        .await?;
        chats::insert_message(
            &mut tx,
            &msg(
                &format!("msg_{id}_1"),
                None,
                Some(id),
                false,
                ("agent", &members[0]),
                "Good morning team!",
                now - 30 * hour,
            ),
        )
        .await?;
        if let Some(second) = members.get(1) {
            chats::insert_message(
                &mut tx,
                &msg(
                    &format!("msg_{id}_2"),
                    None,
                    Some(id),
                    false,
                    ("agent", second),
                    "Morning! Queue looks calm today.",
                    now - 30 * hour + 60_000,
                ),
            )
            .await?;
        }
    }
    // History: a completed meet with Mina and a missed one from Eva.
    let mut done = Meet::start(
        Start {
            id: MeetId("meet_demo_done".into()),
            scope: Scope::UserChat(ChatId("chat_mina".into())),
            media: Media::Audio,
            caller: Party::Customer(CustomerId("cus_mina".into())),
            caller_device: DeviceId("dev_demo_mina".into()),
            callees: Callees::Ring(vec![Party::Agent(AgentId("ag_bob".into()))]),
        },
        Millis(now - 26 * hour),
    );
    let _ = done.handle(
        Millis(now - 26 * hour + 8_000),
        Input::Accept {
            party: Party::Agent(AgentId("ag_bob".into())),
            device: DeviceId("dev_demo_bob".into()),
        },
    );
    let _ = done.handle(
        Millis(now - 26 * hour + 300_000),
        Input::Leave { party: Party::Customer(CustomerId("cus_mina".into())) },
    );
    let mut missed = Meet::start(
        Start {
            id: MeetId("meet_demo_missed".into()),
            scope: Scope::UserChat(ChatId("chat_eva".into())),
            media: Media::Audio,
            caller: Party::Customer(CustomerId("cus_eva".into())),
            caller_device: DeviceId("dev_demo_eva".into()),
            callees: Callees::Ring(vec![Party::Agent(AgentId("ag_bob".into()))]),
        },
        Millis(now - 20 * hour),
    );
    missed.handle_timeout(Millis(now - 20 * hour + meetdesk_meet::RING_TIMEOUT_MS));
    for meet in [done, missed] {
        let mut meet = meet;
        while meet.poll_effect().is_some() {}
        let created = meet.created_at.0;
        meets::insert(
            &mut tx,
            &StoredMeet { channel_id: CHANNEL_ID.into(), node_id: "demo".into(), version: 0, meet },
            created,
        )
        .await?;
    }
    let mut indicator = msg(
        "msg_eva_missed",
        Some("chat_eva"),
        None,
        false,
        ("system", ""),
        crate::views::MISSED_BODY,
        now - 20 * hour + meetdesk_meet::RING_TIMEOUT_MS,
    );
    indicator.author_id = None;
    indicator.meet_id = Some("meet_demo_missed".into());
    chats::insert_message(&mut tx, &indicator).await?;
    tx.commit().await?;
    tracing::info!("demo channel seeded");
    Ok(())
}

/// How long the demo directory's resume links stay valid.
const RESUME_LINK_MS: i64 = 30 * 24 * 3_600_000;

pub async fn directory(
    store: &Store,
    signer: &Signer,
    public_url: &str,
    now: i64,
) -> anyhow::Result<p::DemoDirectory> {
    let mut db = store.conn().await?;
    let agents = AGENTS
        .iter()
        .map(|(_, email, _, role, seat)| p::DemoAgent {
            email: (*email).into(),
            password: PASSWORD.into(),
            role: if *role == "admin" { p::Role::Admin } else { p::Role::Agent },
            seat: *seat,
        })
        .collect();
    let mut customers = Vec::new();
    for c in CHATS {
        let Some(chat) = chats::chat_by_id(&mut db, c.chat_id).await? else { continue };
        let Some(customer) = chats::customer_by_id(&mut db, &chat.customer_id).await? else { continue };
        let assignee = match &chat.assignee_id {
            Some(id) => accounts::agent_by_id(&mut db, id).await?.map(|a| a.email),
            None => None,
        };
        let token = signer.sign(&LinkClaims::Resume {
            c: customer.id.clone(),
            h: chat.id.clone(),
            e: now + RESUME_LINK_MS,
        });
        customers.push(p::DemoCustomer {
            name: customer.name,
            chat_id: chat.id.clone(),
            assignee,
            input_open: chat.input_open,
            source: crate::views::source(&chat.source),
            state: crate::views::chat_state(&chat.state),
            link: format!("{public_url}/demo?resume={token}"),
        });
    }
    Ok(p::DemoDirectory { agents, customers })
}
