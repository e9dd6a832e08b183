//! Meets end to end through a real server: P2 (customer presses Meet), P3 (agent calls),
//! P4 (internal), P5 (team), P6 (invite), on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use meetdesk_protocol::{self as p, EventBody, RingStopReason};
use serde_json::json;

/// The follow-up link as the customer's chat shows it.
async fn follow_up_link(t: &TestServer, customer: &common::Client, chat: &str, meet_id: &str) -> String {
    let (_, msgs) = t.get(Some(&customer.token), &format!("/api/chats/{chat}/messages")).await;
    let m = msgs.as_array().unwrap().iter().find(|m| m["meet_id"] == meet_id).unwrap();
    m["link"].as_str().unwrap().to_owned()
}

on_both_databases!(
    customer_press_rings_every_device_of_the_assignee_and_accept_stops_the_others,
    |db| async move {
        let t = TestServer::start(db).await;
        let bob_laptop = t.sign_in("bob@demo.test").await;
        let bob_phone = t.sign_in("bob@demo.test").await;
        let mut laptop = bob_laptop.events().await;
        let mut phone = bob_phone.events().await;
        let mina = t.customer("chat_mina").await;
        let mut mina_events = mina.events().await;

        let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
        assert_eq!(meet.state, p::MeetState::Ringing);
        let ring = laptop.ring(&meet.id).await;
        let EventBody::Ring { deadline, .. } = ring.body else { unreachable!() };
        assert_eq!(deadline, meet.created_at + 120_000, "the ring lasts 120 s");
        phone.ring(&meet.id).await;

        let (status, accepted) = t.act(&bob_phone, &meet.id, "accept").await;
        assert_eq!(status, 200, "{accepted}");
        assert!(accepted["version"].as_i64().unwrap() > meet.version, "every change bumps the version");
        let stop = laptop.ring_stopped(&meet.id).await;
        match stop.body {
            EventBody::RingStopped { reason, accepted_device, .. } => {
                assert_eq!(reason, RingStopReason::Accepted);
                assert_eq!(accepted_device.as_deref(), Some(bob_phone.device_id.as_str()));
            }
            _ => unreachable!(),
        }
        // The laptop's late accept loses the race.
        let (status, err) = t.act(&bob_laptop, &meet.id, "accept").await;
        assert_eq!((status, err["error"]["code"].as_str()), (409, Some("not_ringing")));
        mina_events.meet_state(&meet.id, p::MeetState::Active).await;

        // Hang-up ends it for everybody.
        let (status, _) = t.act(&mina, &meet.id, "hangup").await;
        assert_eq!(status, 200);
        laptop.meet_state(&meet.id, p::MeetState::Ended).await;
        phone.meet_state(&meet.id, p::MeetState::Ended).await;
        t.stop().await;
    }
);

on_both_databases!(decline_is_missed_with_a_reason_only_admins_see, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let alice = t.sign_in("alice@demo.test").await;
    let mut alice_events = alice.events().await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    let (status, view) = t.act(&bob, &meet.id, "decline").await;
    assert_eq!(status, 200);
    assert_eq!(view["state"], "missed");
    assert!(view["missed_reason"].is_null(), "bob is no admin: {view}");

    let admin_view = alice_events.meet_state(&meet.id, p::MeetState::Missed).await;
    assert_eq!(admin_view.missed_reason.as_deref(), Some("declined"));
    let indicator = alice_events.message(|m| m.meet_id.as_deref() == Some(meet.id.as_str())).await;
    assert_eq!(indicator.body, "Missed meet");
    assert_eq!(indicator.missed_reason.as_deref(), Some("declined"), "the admin reads why on the indicator");
    let listed = |token: String| {
        let t = &t;
        let meet_id = meet.id.clone();
        async move {
            let list: Vec<p::MessageView> = t.get_ok(Some(&token), "/api/chats/chat_mina/messages").await;
            list.into_iter().find(|m| m.meet_id.as_deref() == Some(meet_id.as_str())).unwrap()
        }
    };
    assert_eq!(listed(alice.token.clone()).await.missed_reason.as_deref(), Some("declined"));
    assert_eq!(listed(bob.token.clone()).await.missed_reason, None, "agents who are not admins do not");

    // The customer sees "ended", never the reason.
    let seen = mina_events.meet_state(&meet.id, p::MeetState::Ended).await;
    assert!(seen.missed_reason.is_none());
    let note = mina_events.message(|m| m.meet_id.as_deref() == Some(meet.id.as_str())).await;
    assert_eq!(note.body, "Meet ended");
    assert_eq!(note.missed_reason, None);
    t.stop().await;
});

on_both_databases!(an_unanswered_ring_is_missed_at_120_seconds, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mut bob_events = bob.events().await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "video").await;
    bob_events.ring(&meet.id).await;

    t.advance(119_000);
    let (_, view) = t.get(Some(&bob.token), &format!("/api/meets/{}", meet.id)).await;
    assert_eq!(view["state"], "ringing", "still ringing before 120 s");

    t.advance(1_000);
    let stop = bob_events.ring_stopped(&meet.id).await;
    assert!(matches!(stop.body, EventBody::RingStopped { reason: RingStopReason::TimedOut, .. }));
    let missed = bob_events.meet_state(&meet.id, p::MeetState::Missed).await;
    assert!(missed.ended_at.unwrap() >= meet.created_at + 120_000);
    t.stop().await;
});

on_both_databases!(the_customer_button_follows_the_p2_rule, |db| async move {
    let t = TestServer::start(db).await;
    for (chat, code) in [
        ("chat_leo", "no_assignee"),
        ("chat_sara", "input_closed"),
        ("chat_yuki", "external_messenger"),
        ("chat_noah", "external_messenger"),
    ] {
        let c = t.customer(chat).await;
        let (_, view) = t.get(Some(&c.token), &format!("/api/chats/{chat}")).await;
        assert_eq!(view["customer_meet_button"]["shown"], false, "{chat}");
        assert_eq!(view["customer_meet_button"]["reason"], code, "{chat}");
        let (status, err) = t
            .post(
                Some(&c.token),
                "/api/meets",
                json!({"target": {"kind": "user_chat", "chat_id": chat}, "media": "audio"}),
            )
            .await;
        assert_eq!((status, err["error"]["code"].as_str()), (409, Some(code)), "{chat}: {err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Admin switches meets off: refused with meets_disabled; video alone can be off too.
    let alice = t.sign_in("alice@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let (status, _) = t
        .request(
            reqwest::Method::PUT,
            Some(&alice.token),
            "/api/channel/settings",
            Some(json!({"audio_enabled": true, "video_enabled": false})),
        )
        .await;
    assert_eq!(status, 200);
    mina_events.next_where(|e| matches!(e.body, EventBody::SettingsUpdated { .. })).await;
    let (status, err) = t
        .post(
            Some(&mina.token),
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "video"}),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("meets_disabled")));
    // Only admins change settings.
    let bob = t.sign_in("bob@demo.test").await;
    let (status, err) = t
        .request(
            reqwest::Method::PUT,
            Some(&bob.token),
            "/api/channel/settings",
            Some(json!({"audio_enabled": false, "video_enabled": false})),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("admin_only")));
    // The button comes back live when the chat gets an assignee.
    let leo = t.customer("chat_leo").await;
    let mut leo_events = leo.events().await;
    let (status, _) =
        t.post(Some(&bob.token), "/api/chats/chat_leo/assign", json!({"agent_id": "ag_bob"})).await;
    assert_eq!(status, 200);
    let e = leo_events
        .next_where(|e| matches!(&e.body, EventBody::ChatUpdated { chat } if chat.id == "chat_leo"))
        .await;
    let EventBody::ChatUpdated { chat } = e.body else { unreachable!() };
    assert!(chat.customer_meet_button.shown);
    t.stop().await;
});

on_both_databases!(agent_calls_an_online_customer_and_the_widget_rings, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let meet = t.start_meet(&bob, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    mina_events.ring(&meet.id).await;
    let (status, view) = t.act(&mina, &meet.id, "accept").await;
    assert_eq!(status, 200);
    assert_eq!(view["state"], "active");
    // dave has no operator seat: he cannot call customers.
    let dave = t.sign_in("dave@demo.test").await;
    let (status, err) = t
        .post(
            Some(&dave.token),
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_eva"}, "media": "audio"}),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("no_operator_seat")));
    // Nor can anyone call into a chat from an external messenger.
    let (status, err) = t
        .post(
            Some(&bob.token),
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_yuki"}, "media": "audio"}),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("external_messenger")));
    t.stop().await;
});

on_both_databases!(an_offline_customer_gets_a_signed_link_that_opens_that_meet_once, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mut bob_events = bob.events().await;
    let meet = t.start_meet(&bob, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    assert_eq!(meet.state, p::MeetState::WaitingForLink);
    let follow_up = bob_events.message(|m| m.meet_id.as_deref() == Some(meet.id.as_str())).await;
    assert_eq!(follow_up.link, None, "agents see the follow-up, never the customer's link");
    // The customer sees the follow-up in the chat, with the link.
    let mina = t.customer("chat_mina").await;
    let link = follow_up_link(&t, &mina, "chat_mina", &meet.id).await;
    assert!(link.contains(&format!("/m/{}?t=", meet.id)), "{link}");
    // And the outbox holds it for the notifier.
    let mut db_conn = t.server().state.store.conn().await.unwrap();
    let outbox = meetdesk_store::outbox::all(&mut db_conn).await.unwrap();
    drop(db_conn);
    assert!(outbox
        .iter()
        .any(|o| o.body.contains(&link) && o.recipient.as_deref() == Some("mina@example.com")));

    let token = link.split("?t=").nth(1).unwrap().to_owned();
    // Tampered and wrong-meet links are refused with a reason.
    let mut tampered = token.clone();
    tampered.insert(3, if tampered.as_bytes()[3] == b'A' { 'B' } else { 'A' });
    let (status, err) =
        t.post(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": tampered})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("link_invalid")));
    let (status, err) = t.post(None, "/api/meets/meet_other/open-link", json!({"token": token})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("link_wrong_meet")));

    let opened: p::CustomerSessionResponse =
        t.post_ok(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": token})).await;
    assert_eq!(opened.meet.as_ref().map(|m| m.state), Some(p::MeetState::Active));
    bob_events.meet_state(&meet.id, p::MeetState::Active).await;
    // The link session reaches that meet only.
    let (status, _) = t.get(Some(&opened.token), "/api/chats/chat_mina/messages").await;
    assert_eq!(status, 404);
    let (status, _) = t.get(Some(&opened.token), &format!("/api/meets/{}", meet.id)).await;
    assert_eq!(status, 200);
    // Used once.
    let (status, err) =
        t.post(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": token})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("link_used")));
    t.stop().await;
});

on_both_databases!(an_unused_link_expires_and_the_meet_is_missed_offline, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let mut alice_events = alice.events().await;
    let meet = t.start_meet(&alice, json!({"kind": "user_chat", "chat_id": "chat_ivy"}), "audio").await;
    alice_events.message(|m| m.meet_id.as_deref() == Some(meet.id.as_str())).await;
    let ivy = t.customer("chat_ivy").await;
    let link = follow_up_link(&t, &ivy, "chat_ivy", &meet.id).await;
    t.advance(10 * 60_000);
    let missed = alice_events.meet_state(&meet.id, p::MeetState::Missed).await;
    assert_eq!(missed.missed_reason.as_deref(), Some("offline_link_unused"));
    let token = link.split("?t=").nth(1).unwrap().to_owned();
    let (status, err) =
        t.post(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": token})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (410, Some("link_expired")));
    t.stop().await;
});

on_both_databases!(an_internal_meet_rings_managers_and_never_reaches_the_customer, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let bob = t.sign_in("bob@demo.test").await;
    let mut bob_events = bob.events().await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let meet = t.start_meet(&alice, json!({"kind": "internal", "chat_id": "chat_mina"}), "audio").await;
    assert_eq!(meet.scope.kind, p::ScopeKind::Internal);
    bob_events.ring(&meet.id).await;
    t.act(&bob, &meet.id, "accept").await;
    t.act(&bob, &meet.id, "hangup").await;
    t.act(&alice, &meet.id, "hangup").await;
    bob_events.meet_state(&meet.id, p::MeetState::Ended).await;
    // The customer's view: not the meet, not its events.
    let (status, _) = t.get(Some(&mina.token), &format!("/api/meets/{}", meet.id)).await;
    assert_eq!(status, 404);
    let (status, _) = t.get(Some(&mina.token), "/api/chats/chat_mina/internal-messages").await;
    assert_eq!(status, 404);
    // A marker the customer must receive: everything before it was all they got.
    t.post_ok::<p::MessageView>(Some(&bob.token), "/api/chats/chat_mina/messages", json!({"body": "marker"}))
        .await;
    mina_events.message(|m| m.body == "marker").await;
    for e in mina_events.all() {
        let leaked = serde_json::to_string(&e.body).unwrap().contains(&meet.id);
        assert!(!leaked, "customer saw internal meet event: {e:?}");
    }
    t.stop().await;
});

on_both_databases!(team_meets_need_no_seat_and_a_second_press_offers_to_join, |db| async move {
    let t = TestServer::start(db).await;
    let dave = t.sign_in("dave@demo.test").await;
    let alice = t.sign_in("alice@demo.test").await;
    let mut alice_events = alice.events().await;
    // dave has no seat, and calls alice in their DM.
    let meet = t.start_meet(&dave, json!({"kind": "room", "room_id": "dm_alice_dave"}), "audio").await;
    assert_eq!(meet.scope.kind, p::ScopeKind::TeamDm);
    alice_events.ring(&meet.id).await;
    let (status, err) = t
        .post(
            Some(&alice.token),
            "/api/meets",
            json!({"target": {"kind": "room", "room_id": "dm_alice_dave"}, "media": "audio"}),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("meet_in_progress")));
    let (status, _) = t.act(&alice, &meet.id, "join").await;
    assert_eq!(status, 200);
    alice_events.meet_state(&meet.id, p::MeetState::Active).await;

    // A group room: everyone rings; a member who was not rung yet can join the meet going on.
    let bob = t.sign_in("bob@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let mut carol_events = carol.events().await;
    let group = t.start_meet(&bob, json!({"kind": "room", "room_id": "room_general"}), "audio").await;
    assert_eq!(group.scope.kind, p::ScopeKind::TeamGroup);
    assert_eq!(group.rings.len(), 3);
    carol_events.ring(&group.id).await;
    t.act(&carol, &group.id, "accept").await;
    // A private room the agent is not in: invisible.
    let (status, _) = t
        .post(
            Some(&dave.token),
            "/api/meets",
            json!({"target": {"kind": "room", "room_id": "room_escalations"}, "media": "audio"}),
        )
        .await;
    assert_eq!(status, 404);
    t.stop().await;
});

on_both_databases!(an_invited_agent_rings_and_the_record_says_who_invited, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let mut carol_events = carol.events().await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    t.act(&bob, &meet.id, "accept").await;
    // dave has no seat: cannot be invited into a customer meet.
    let (status, err) = t
        .post(Some(&bob.token), &format!("/api/meets/{}/invite", meet.id), json!({"agent_id": "ag_dave"}))
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("no_operator_seat")));
    let (status, _) = t
        .post(Some(&bob.token), &format!("/api/meets/{}/invite", meet.id), json!({"agent_id": "ag_carol"}))
        .await;
    assert_eq!(status, 200);
    let ring = carol_events.ring(&meet.id).await;
    let EventBody::Ring { meet: view, .. } = ring.body else { unreachable!() };
    let carol_ring = view.rings.iter().find(|r| r.party.id == "ag_carol").unwrap();
    assert_eq!(carol_ring.invited_by.as_ref().map(|a| a.name.as_str()), Some("Bob Baker"));
    t.advance(120_000);
    let stop = carol_events.ring_stopped(&meet.id).await;
    assert!(matches!(stop.body, EventBody::RingStopped { reason: RingStopReason::TimedOut, .. }));
    let (_, view) = t.get(Some(&bob.token), &format!("/api/meets/{}", meet.id)).await;
    assert_eq!(view["state"], "active", "the meet goes on");
    let rings = view["rings"].as_array().unwrap();
    let carol_ring = rings.iter().find(|r| r["party"]["id"] == "ag_carol").unwrap();
    assert_eq!(carol_ring["status"], "no_answer");
    assert_eq!(carol_ring["invited_by"]["name"], "Bob Baker");
    t.stop().await;
});

/// The event right after a new socket's `hello`.
async fn first_after_hello(events: &mut common::Events) -> p::Event {
    events.next_where(|_| true).await
}

// P2, P9: every device of the rung agent rings for the whole 120 s, also one whose socket
// opens mid-ring (the app started, a laptop opened, a second device signed in).
on_both_databases!(a_device_that_connects_mid_ring_rings_at_once_until_the_real_deadline, |db| async move {
    let t = TestServer::start(db).await;
    let bob_laptop = t.sign_in("bob@demo.test").await;
    let mut laptop = bob_laptop.events().await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    let ring = laptop.ring(&meet.id).await;
    let EventBody::Ring { deadline, .. } = ring.body else { unreachable!() };

    // 10 s into the ring, bob's phone signs in and opens its socket (no cursor).
    t.advance(10_000);
    let bob_phone = t.sign_in("bob@demo.test").await;
    let mut phone = bob_phone.events().await;
    let first = first_after_hello(&mut phone).await;
    let EventBody::Ring { meet: rung, deadline: phone_deadline } = &first.body else {
        panic!("the phone's first event is not the ring: {first:?}")
    };
    assert_eq!((rung.id.as_str(), *phone_deadline), (meet.id.as_str(), deadline), "the ring's real deadline");
    assert_eq!(first.seq, 0, "outside the log");
    // A socket that resumes (the laptop reconnecting) is told too.
    let mut laptop_again = common::Events::connect(&t.base, &bob_laptop.token, Some(laptop.last_seq)).await;
    laptop_again.ring(&meet.id).await;
    // Not rung: carol's socket, and the caller's own second device.
    let carol = t.sign_in("carol@demo.test").await;
    let mut carol_events = carol.events().await;
    let mina_tab = t.customer("chat_mina").await;
    let mut mina_tab_events = mina_tab.events().await;

    // Accepting on the phone stops the laptop's ring; a socket opened after that never rings.
    let (status, _) = t.act(&bob_phone, &meet.id, "accept").await;
    assert_eq!(status, 200);
    laptop_again.ring_stopped(&meet.id).await;
    carol_events.meet_state(&meet.id, p::MeetState::Active).await;
    mina_tab_events.meet_state(&meet.id, p::MeetState::Active).await;
    for events in [&carol_events, &mina_tab_events] {
        assert!(
            !events.all().iter().any(|e| matches!(e.body, EventBody::Ring { .. })),
            "rings only the rung party: {:?}",
            events.all()
        );
    }
    let mut late = bob_laptop.events().await;
    let bob_second = t.sign_in("bob@demo.test").await;
    let mut second = bob_second.events().await;
    t.act(&mina, &meet.id, "hangup").await;
    for events in [&mut late, &mut second] {
        events.meet_state(&meet.id, p::MeetState::Ended).await;
        assert!(!events.all().iter().any(|e| matches!(e.body, EventBody::Ring { .. })), "{:?}", events.all());
    }
    t.stop().await;
});

// P3, P6: the same for a customer's new page while an agent calls, and for an invited agent.
on_both_databases!(a_customer_page_and_an_invited_agent_opened_mid_ring_ring_at_once, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let call = t.start_meet(&bob, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    let ring = mina_events.ring(&call.id).await;
    let EventBody::Ring { deadline, .. } = ring.body else { unreachable!() };
    t.advance(5_000);
    // The customer opens the shop in a second tab: a new socket of the same session.
    let mut mina_tab = mina.events().await;
    let first = first_after_hello(&mut mina_tab).await;
    assert!(
        matches!(&first.body, EventBody::Ring { meet, deadline: d } if meet.id == call.id && *d == deadline),
        "{first:?}"
    );
    let (status, _) = t.act(&mina, &call.id, "accept").await;
    assert_eq!(status, 200);
    mina_tab.ring_stopped(&call.id).await;

    // Bob invites carol, whose app starts 3 s later.
    let (status, _) = t
        .post(Some(&bob.token), &format!("/api/meets/{}/invite", call.id), json!({"agent_id": "ag_carol"}))
        .await;
    assert_eq!(status, 200);
    t.advance(3_000);
    let carol = t.sign_in("carol@demo.test").await;
    let mut carol_events = carol.events().await;
    let first = first_after_hello(&mut carol_events).await;
    let EventBody::Ring { meet: view, deadline } = &first.body else { panic!("{first:?}") };
    let carol_ring = view.rings.iter().find(|r| r.party.id == "ag_carol").unwrap();
    assert_eq!(carol_ring.invited_by.as_ref().map(|a| a.name.as_str()), Some("Bob Baker"));
    assert!(*deadline > t.now(), "still ringing");
    t.act(&carol, &call.id, "decline").await;
    carol_events.ring_stopped(&call.id).await;
    t.stop().await;
});

// P5: a public group's meet is followed by every agent of the channel (who may see and join
// it), not only its members; a private group's by its members only.
on_both_databases!(
    a_public_rooms_meet_reaches_every_agent_and_a_private_rooms_only_its_members,
    |db| async move {
        let t = TestServer::start(db).await;
        // room_leads (public): alice, bob. room_billing (private): bob, dave.
        let bob = t.sign_in("bob@demo.test").await;
        let carol = t.sign_in("carol@demo.test").await;
        let mut carol_events = carol.events().await;
        let public = t.start_meet(&bob, json!({"kind": "room", "room_id": "room_leads"}), "audio").await;
        carol_events.meet_state(&public.id, p::MeetState::Ringing).await;
        let (status, _) = t.act(&carol, &public.id, "join").await;
        assert_eq!(status, 200, "carol, not a member, may join a public group's meet");
        t.act(&bob, &public.id, "hangup").await;
        t.act(&carol, &public.id, "hangup").await;
        carol_events.meet_state(&public.id, p::MeetState::Ended).await;

        let private = t.start_meet(&bob, json!({"kind": "room", "room_id": "room_billing"}), "audio").await;
        t.act(&bob, &private.id, "hangup").await;
        // A marker after it: carol's socket has seen everything up to here.
        let marker = t.start_meet(&bob, json!({"kind": "room", "room_id": "room_general"}), "audio").await;
        carol_events.ring(&marker.id).await;
        assert!(
            !carol_events
                .all()
                .iter()
                .any(|e| matches!(&e.body, EventBody::MeetUpdated { meet } if meet.id == private.id)),
            "a private group's meet stays with its members"
        );
        t.stop().await;
    }
);

// P5: opening a DM tells both agents' apps (their Team screens list it at once); others hear
// nothing of it, and opening it again says nothing new.
on_both_databases!(opening_a_dm_tells_both_agents_and_nobody_else, |db| async move {
    let t = TestServer::start(db).await;
    // bob and dave have no DM yet (the demo has bob's with alice and carol).
    let bob = t.sign_in("bob@demo.test").await;
    let dave = t.sign_in("dave@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let (mut bob_events, mut dave_events, mut carol_events) =
        (bob.events().await, dave.events().await, carol.events().await);
    let dm: p::RoomView = t.post_ok(Some(&bob.token), "/api/rooms/dm", json!({"agent_id": "ag_dave"})).await;
    for events in [&mut bob_events, &mut dave_events] {
        let e = events.next_where(|e| matches!(e.body, EventBody::RoomUpdated { .. })).await;
        let EventBody::RoomUpdated { room } = e.body else { unreachable!() };
        assert_eq!((room.id.as_str(), room.members.len()), (dm.id.as_str(), 2));
    }
    let again: p::RoomView =
        t.post_ok(Some(&dave.token), "/api/rooms/dm", json!({"agent_id": "ag_bob"})).await;
    assert_eq!(again.id, dm.id);
    let marker: p::MessageView =
        t.post_ok(Some(&bob.token), "/api/rooms/room_general/messages", json!({"body": "marker"})).await;
    for events in [&mut dave_events, &mut carol_events] {
        events.message(|m| m.id == marker.id).await;
    }
    assert_eq!(
        dave_events.all().iter().filter(|e| matches!(e.body, EventBody::RoomUpdated { .. })).count(),
        1,
        "once"
    );
    assert!(!carol_events.all().iter().any(|e| matches!(e.body, EventBody::RoomUpdated { .. })));
    t.stop().await;
});
