//! The inbox's requests (`inbox.rs`) against a real server (in-process, real HTTP on 127.0.0.1,
//! demo data on SQLite), signed in as bob: posting in a chat and its internal chat, the profile,
//! rooms and their messages, the agents, inviting an agent into a meet, and the server's
//! refusals reaching the UI as `CommandError`s with its codes.
#![allow(clippy::unwrap_used)]

use meetdesk_client::api::Api;
use meetdesk_desktop::inbox;
use meetdesk_protocol::{self as p, RoomKind};
use serde_json::json;

async fn signed_in(base: &str, email: &str) -> Api {
    let anon = Api::new(base).unwrap();
    let session: p::SessionResponse =
        anon.post("/api/auth/sign-in", &json!({"email": email, "password": "demo"})).await.unwrap();
    anon.with_token(&session.token)
}

#[tokio::test]
async fn the_inbox_requests_reach_the_server_and_its_refusals_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("server.db").display());
    let mut config = meetdesk_server::Config::new("127.0.0.1:0".parse().unwrap(), database);
    config.demo = true;
    let server = meetdesk_server::start(config).await.unwrap();
    let base = server.url();
    let bob = signed_in(&base, "bob@demo.test").await;

    // A reply in the chat, trimmed; the customer's thread has it.
    let sent = inbox::send_message(&bob, "chat_mina", "  On its way!\nTracking soon.  ").await.unwrap();
    assert_eq!((sent.body.as_str(), sent.internal), ("On its way!\nTracking soon.", false));
    let thread: Vec<p::MessageView> = bob.get("/api/chats/chat_mina/messages").await.unwrap();
    assert!(thread.iter().any(|m| m.id == sent.id));

    // A note in the internal chat: there, and not in the customer's thread.
    let note = inbox::send_internal(&bob, "chat_mina", "VIP: express shipping").await.unwrap();
    assert!(note.internal);
    let internal = inbox::internal_messages(&bob, "chat_mina").await.unwrap();
    assert!(internal.iter().any(|m| m.id == note.id));
    let thread: Vec<p::MessageView> = bob.get("/api/chats/chat_mina/messages").await.unwrap();
    assert!(!thread.iter().any(|m| m.id == note.id));

    // The profile.
    let chat: p::ChatView = bob.get("/api/chats/chat_mina").await.unwrap();
    let mina = inbox::customer(&bob, &chat.customer.id).await.unwrap();
    assert_eq!(mina.name, "Mina Park");
    assert!(mina.email.is_some(), "agents read the customer's e-mail");

    // Rooms: public, private, DMs; none bob is not in.
    let rooms = inbox::rooms(&bob).await.unwrap();
    let kinds: Vec<RoomKind> = rooms.iter().map(|r| r.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| match k {
        RoomKind::Public => 0,
        RoomKind::Private => 1,
        RoomKind::Dm => 2,
    });
    assert_eq!(kinds, sorted, "public groups, private groups, then DMs");
    assert!(rooms.iter().any(|r| r.id == "room_billing"));
    assert!(!rooms.iter().any(|r| r.id == "room_escalations"), "a private group bob is not in");
    let said = inbox::send_room_message(&bob, "room_general", "Standup in 5").await.unwrap();
    let listed = inbox::room_messages(&bob, "room_general").await.unwrap();
    assert_eq!(listed.last().map(|m| &m.id), Some(&said.id));

    // The agents, and an invite into a DM meet once it is answered: Dave is rung, invited by Bob.
    let agents = inbox::agents(&bob).await.unwrap();
    assert_eq!(agents.len(), 4);
    let meet: p::MeetView = bob
        .post("/api/meets", &json!({"target": {"kind": "room", "room_id": "dm_bob_carol"}, "media": "audio"}))
        .await
        .unwrap();
    let e = inbox::invite(&bob, &meet.id, "ag_dave").await.unwrap_err();
    assert_eq!(e.code, "meet_not_active", "nobody answered yet: {e:?}");
    let carol = signed_in(&base, "carol@demo.test").await;
    let _: p::MeetView = carol.post(&format!("/api/meets/{}/accept", meet.id), &json!({})).await.unwrap();
    let invited = inbox::invite(&bob, &meet.id, "ag_dave").await.unwrap();
    let ring = invited.rings.iter().find(|r| r.party.id == "ag_dave").unwrap();
    assert_eq!(ring.status, p::RingStatus::Ringing);
    assert_eq!(ring.invited_by.as_ref().map(|a| a.name.as_str()), Some("Bob Baker"));

    // The server's refusals keep its codes and words.
    let e = inbox::send_message(&bob, "chat_nobody", "hello").await.unwrap_err();
    assert_eq!(e.code, "not_found", "{e:?}");
    let e = inbox::room_messages(&bob, "room_escalations").await.unwrap_err();
    assert_eq!(e.code, "not_found", "another's private room answers like an unknown one: {e:?}");
    let e = inbox::invite(&bob, &meet.id, "ag_nobody").await.unwrap_err();
    assert_eq!(e.code, "not_found", "{e:?}");
    server.shutdown().await;
}
