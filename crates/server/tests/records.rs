//! Call history (P8) through a real server, on SQLite and on PostgreSQL: which agent gets which
//! record, "already handled", internal records, calling again from a record, delete one / all
//! (online and replayed offline with idempotency keys), the changes feed, retention at six
//! months on a controlled clock, suggestions, the team-meet search and authorisation.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, TestServer};
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_server::history::{RETENTION_MS, TOMBSTONE_MS};
use serde_json::json;

/// Every change of `who`'s history after `since`, all pages.
async fn pull(t: &TestServer, who: &Client, since: i64) -> (Vec<p::RecordChange>, i64) {
    let mut changes = Vec::new();
    let mut cursor = since;
    loop {
        let page: p::ChangesPage =
            t.get_ok(Some(&who.token), &format!("/api/history/changes?since={cursor}&limit=2")).await;
        assert!(!page.reset || cursor == since, "reset only on the first page");
        changes.extend(page.changes);
        cursor = page.cursor;
        if !page.has_more {
            return (changes, cursor);
        }
    }
}

/// `who`'s records now (applying the whole feed), newest first.
async fn records(t: &TestServer, who: &Client) -> Vec<p::CallRecordView> {
    let (changes, _) = pull(t, who, 0).await;
    let mut by_id = std::collections::BTreeMap::new();
    for c in changes {
        match c {
            p::RecordChange::Upsert { record, .. } => {
                by_id.insert(record.id.clone(), record);
            }
            p::RecordChange::Delete { id, .. } => {
                by_id.remove(&id);
            }
        }
    }
    let mut out: Vec<_> = by_id.into_values().collect();
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
    out
}

fn mina_chat() -> serde_json::Value {
    json!({"kind": "user_chat", "chat_id": "chat_mina"})
}

async fn ok(t: &TestServer, who: &Client, meet_id: &str, action: &str) {
    let (status, body) = t.act(who, meet_id, action).await;
    assert_eq!(status, 200, "{action}: {body}");
}

/// Mina calls, Bob answers, Mina hangs up.
async fn answered_customer_call(t: &TestServer, bob: &Client, mina: &Client, media: &str) -> p::MeetView {
    let meet = t.start_meet(mina, mina_chat(), media).await;
    ok(t, bob, &meet.id, "accept").await;
    ok(t, mina, &meet.id, "hangup").await;
    meet
}

on_both_databases!(
    customer_meets_leave_incoming_outgoing_and_missed_records_for_the_person_in_charge,
    |db| async move {
        let t = TestServer::start(db).await;
        let bob = t.sign_in("bob@demo.test").await;
        let alice = t.sign_in("alice@demo.test").await;
        let mut bob_events = bob.events().await;
        let mut alice_events = alice.events().await;
        let mina = t.customer("chat_mina").await;
        let mut mina_events = mina.events().await;

        // Mina calls (audio) and Bob, the assignee whose devices rang, answers: incoming.
        let answered = answered_customer_call(&t, &bob, &mina, "audio").await;
        // Mina calls (video) and Bob declines: missed.
        let missed = t.start_meet(&mina, mina_chat(), "video").await;
        ok(&t, &bob, &missed.id, "decline").await;
        let ev = bob_events.next_where(|e| matches!(e.body, EventBody::HistoryChanged { .. })).await;
        assert!(matches!(ev.body, EventBody::HistoryChanged { cursor } if cursor > 0));

        let recs = records(&t, &bob).await;
        assert_eq!(recs.len(), 2, "{recs:#?}");
        let missed_rec = &recs[0];
        assert_eq!((missed_rec.direction, missed_rec.media), (p::RecordDirection::Missed, p::Media::Video));
        assert_eq!(missed_rec.meet_id, missed.id);
        assert!(!missed_rec.handled && !missed_rec.internal);
        let incoming = &recs[1];
        assert_eq!((incoming.direction, incoming.media), (p::RecordDirection::Incoming, p::Media::Audio));
        assert_eq!(incoming.meet_id, answered.id);
        assert_eq!(incoming.started_at, answered.created_at);
        assert_eq!(incoming.scope, p::ScopeKind::UserChat);
        assert_eq!(incoming.chat_id.as_deref(), Some("chat_mina"));
        assert_eq!(
            incoming.counterpart,
            p::Counterpart {
                kind: p::CounterpartKind::Customer,
                id: "cus_mina".into(),
                name: "Mina Park".into()
            }
        );
        assert!(incoming.answered_at.is_some() && incoming.ended_at.is_some());
        assert!(records(&t, &alice).await.is_empty(), "Alice's devices did not ring: no record");

        // Bob calls Mina back (she is offline now: a follow-up link): outgoing, and the missed
        // record becomes "already handled".
        mina_events.close();
        drop(mina_events);
        let call = t.start_meet(&bob, mina_chat(), "audio").await;
        ok(&t, &bob, &call.id, "hangup").await;
        let recs = records(&t, &bob).await;
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].direction, p::RecordDirection::Outgoing);
        assert_eq!(recs[0].counterpart.id, "cus_mina");
        let missed_rec = recs.iter().find(|r| r.meet_id == missed.id).unwrap();
        assert!(missed_rec.handled, "called back");
        assert!(!recs.iter().find(|r| r.meet_id == answered.id).unwrap().handled);

        // Live events went to Bob's devices only: Alice (an admin, same channel) saw none.
        let mut alice_probe = alice.events().await;
        t.post_ok::<p::MessageView>(
            Some(&alice.token),
            "/api/chats/chat_mina/messages",
            json!({"body": "probe"}),
        )
        .await;
        alice_probe.message(|m| m.body == "probe").await;
        alice_events.message(|m| m.body == "probe").await;
        assert!(!alice_events.all().iter().any(|e| matches!(e.body, EventBody::HistoryChanged { .. })));
        t.stop().await;
    }
);

on_both_databases!(team_meets_leave_outgoing_incoming_and_invited_records, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let bob = t.sign_in("bob@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;

    // Support leads (Alice, Bob): Alice starts, Bob answers and invites Carol, who declines.
    let meet = t.start_meet(&alice, json!({"kind": "room", "room_id": "room_leads"}), "audio").await;
    ok(&t, &bob, &meet.id, "accept").await;
    let (status, body) = t
        .post(Some(&bob.token), &format!("/api/meets/{}/invite", meet.id), json!({"agent_id": "ag_carol"}))
        .await;
    assert_eq!(status, 200, "{body}");
    ok(&t, &carol, &meet.id, "decline").await;
    ok(&t, &alice, &meet.id, "hangup").await;
    ok(&t, &bob, &meet.id, "hangup").await;

    let room = p::Counterpart {
        kind: p::CounterpartKind::Room,
        id: "room_leads".into(),
        name: "Support leads".into(),
    };
    let a = records(&t, &alice).await;
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].direction, a[0].scope, &a[0].counterpart),
        (p::RecordDirection::Outgoing, p::ScopeKind::TeamGroup, &room)
    );
    assert_eq!(a[0].room_id.as_deref(), Some("room_leads"), "the info icon opens the room");
    let b = records(&t, &bob).await;
    assert_eq!((b[0].direction, &b[0].counterpart), (p::RecordDirection::Incoming, &room));
    let c = records(&t, &carol).await;
    assert_eq!((c[0].direction, &c[0].counterpart), (p::RecordDirection::Invited, &room));
    assert_eq!(
        c[0].invited_by,
        Some(p::AgentRef { id: "ag_bob".into(), name: "Bob Baker".into() }),
        "Invited by Bob"
    );

    // A DM: Alice calls Bob (video); Bob does not join.
    let dm = t.start_meet(&alice, json!({"kind": "room", "room_id": "dm_alice_bob"}), "video").await;
    ok(&t, &bob, &dm.id, "decline").await;
    let a = records(&t, &alice).await;
    assert_eq!(
        (a[0].direction, a[0].media, a[0].scope),
        (p::RecordDirection::Outgoing, p::Media::Video, p::ScopeKind::TeamDm)
    );
    assert_eq!(
        a[0].counterpart,
        p::Counterpart { kind: p::CounterpartKind::Agent, id: "ag_bob".into(), name: "Bob Baker".into() }
    );
    let b = records(&t, &bob).await;
    assert_eq!((b[0].direction, b[0].meet_id.as_str()), (p::RecordDirection::Invited, dm.id.as_str()));
    assert_eq!(b[0].counterpart.name, "Alice Admin");
    assert_eq!(b[0].invited_by.as_ref().map(|a| a.name.as_str()), Some("Alice Admin"));
    assert_eq!(records(&t, &carol).await.len(), 1, "not in the DM: no record");
    t.stop().await;
});

on_both_databases!(internal_meets_are_flagged_and_cannot_be_returned, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let mut mina_events = mina.events().await;
    let meet = t.start_meet(&bob, json!({"kind": "internal", "chat_id": "chat_mina"}), "audio").await;
    ok(&t, &alice, &meet.id, "accept").await;
    ok(&t, &alice, &meet.id, "hangup").await;
    ok(&t, &bob, &meet.id, "hangup").await;

    let b = records(&t, &bob).await;
    assert_eq!(
        (b[0].direction, b[0].scope, b[0].internal),
        (p::RecordDirection::Outgoing, p::ScopeKind::Internal, true)
    );
    assert_eq!(b[0].counterpart.name, "Mina Park", "the internal chat's customer");
    let a = records(&t, &alice).await;
    assert_eq!((a[0].direction, a[0].internal), (p::RecordDirection::Incoming, true));

    let (status, err) =
        t.post(Some(&bob.token), &format!("/api/history/records/{}/call", b[0].id), json!({})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("internal_not_returnable")), "{err}");
    assert_eq!(err["error"]["message"], "Internal meets cannot be returned.");

    // Nothing of it reached the customer.
    let _ = t
        .post_ok::<p::MessageView>(
            Some(&bob.token),
            "/api/chats/chat_mina/messages",
            json!({"body": "probe"}),
        )
        .await;
    mina_events.message(|m| m.body == "probe").await;
    assert!(!mina_events.all().iter().any(|e| matches!(&e.body, EventBody::HistoryChanged { .. })));
    assert!(!mina_events.all().iter().any(|e| format!("{:?}", e.body).contains(&meet.id)));
    t.stop().await;
});

on_both_databases!(pressing_a_record_calls_the_same_counterpart_in_the_same_media, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let _mina_events = mina.events().await; // online: her widget rings

    let missed = t.start_meet(&mina, mina_chat(), "video").await;
    ok(&t, &bob, &missed.id, "decline").await;
    let rec = records(&t, &bob).await.remove(0);
    let back: p::CallBackResponse =
        t.post_ok(Some(&bob.token), &format!("/api/history/records/{}/call", rec.id), json!({})).await;
    assert!(!back.already_handled);
    assert_eq!((back.meet.media, back.meet.scope.kind), (p::Media::Video, p::ScopeKind::UserChat));
    assert_eq!(back.meet.scope.chat_id.as_deref(), Some("chat_mina"));
    assert_eq!(back.meet.rings[0].party.id, "cus_mina", "the same counterpart rings");
    ok(&t, &bob, &back.meet.id, "hangup").await;

    // Called back once: pressing it again says so, and still starts a meet.
    let again: p::CallBackResponse =
        t.post_ok(Some(&bob.token), &format!("/api/history/records/{}/call", rec.id), json!({})).await;
    assert!(again.already_handled, "This missed call has already been handled");
    assert_ne!(again.meet.id, back.meet.id);
    ok(&t, &bob, &again.meet.id, "hangup").await;

    // A room record while a meet goes on in that room: the start refusal, to join instead.
    let dm = t.start_meet(&alice, json!({"kind": "room", "room_id": "dm_alice_bob"}), "audio").await;
    ok(&t, &alice, &dm.id, "hangup").await;
    let dm_rec = records(&t, &alice).await.remove(0);
    let ongoing = t.start_meet(&bob, json!({"kind": "room", "room_id": "dm_alice_bob"}), "audio").await;
    let (status, err) =
        t.post(Some(&alice.token), &format!("/api/history/records/{}/call", dm_rec.id), json!({})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("meet_in_progress")), "{err}");
    assert_eq!(
        err["error"]["meet_id"].as_str(),
        Some(ongoing.id.as_str()),
        "the refusal names the meet to join"
    );
    let (status, joined) =
        t.post(Some(&alice.token), &format!("/api/meets/{}/accept", ongoing.id), json!({})).await;
    assert_eq!(status, 200, "joining it from the refusal: {joined}");
    let rooms: Vec<p::RoomView> = t.get_ok(Some(&alice.token), "/api/rooms").await;
    let room = rooms.iter().find(|r| r.id == "dm_alice_bob").unwrap();
    assert_eq!(room.ongoing_meet.as_deref(), Some(ongoing.id.as_str()), "the meet to join");
    t.stop().await;
});

on_both_databases!(delete_one_and_delete_all, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let bob_phone = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    for _ in 0..3 {
        answered_customer_call(&t, &bob, &mina, "audio").await;
    }
    let (_, cursor) = pull(&t, &bob, 0).await;
    let recs = records(&t, &bob).await;
    assert_eq!(recs.len(), 3);

    let mut phone_events = bob_phone.events().await;
    let path = format!("/api/history/records/{}", recs[0].id);
    let (status, _) = t.request(reqwest::Method::DELETE, Some(&bob.token), &path, None).await;
    assert_eq!(status, 204);
    phone_events.next_where(|e| matches!(e.body, EventBody::HistoryChanged { .. })).await;
    let (status, err) = t.get(Some(&bob.token), &path).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = t.request(reqwest::Method::DELETE, Some(&bob.token), &path, None).await;
    assert_eq!(status, 204, "deleting again is fine");
    let (changes, cursor) = pull(&t, &bob, cursor).await;
    assert_eq!(changes, vec![p::RecordChange::Delete { seq: cursor, id: recs[0].id.clone() }], "a tombstone");
    assert_eq!(records(&t, &bob).await.len(), 2);

    let (status, body) = t.request(reqwest::Method::DELETE, Some(&bob.token), "/api/history", None).await;
    assert_eq!((status, body["deleted"].as_i64()), (200, Some(2)));
    assert!(records(&t, &bob).await.is_empty());
    let (changes, _) = pull(&t, &bob, cursor).await;
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| matches!(c, p::RecordChange::Delete { .. })));
    t.stop().await;
});

on_both_databases!(offline_deletes_apply_once_per_key_and_spare_unseen_records, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    for _ in 0..3 {
        answered_customer_call(&t, &bob, &mina, "audio").await;
    }
    let (_, seen) = pull(&t, &bob, 0).await;
    let recs = records(&t, &bob).await;
    // A record the offline cache never saw.
    let unseen = answered_customer_call(&t, &bob, &mina, "video").await;

    let req = json!({"deletes": [
        {"key": "k1", "target": {"kind": "record", "id": recs[0].id}},
        {"key": "k2", "target": {"kind": "all", "through": seen}},
        {"key": "k3", "target": {"kind": "record", "id": "rec_unknown"}},
    ]});
    let first: p::DeletesResponse = t.post_ok(Some(&bob.token), "/api/history/deletes", req.clone()).await;
    let statuses: Vec<_> = first.results.iter().map(|r| (r.key.as_str(), r.status, r.deleted)).collect();
    assert_eq!(
        statuses,
        vec![
            ("k1", p::DeleteStatus::Applied, 1),
            ("k2", p::DeleteStatus::Applied, 2),
            ("k3", p::DeleteStatus::NotFound, 0)
        ]
    );
    // The answer was lost; the cache sends the same deletes again.
    let (before, _) = pull(&t, &bob, 0).await;
    let again: p::DeletesResponse = t.post_ok(Some(&bob.token), "/api/history/deletes", req).await;
    assert!(again.results.iter().all(|r| r.status == p::DeleteStatus::AlreadyApplied), "{again:?}");
    assert_eq!(again.results[1].deleted, 2);
    let (after, _) = pull(&t, &bob, 0).await;
    assert_eq!(before, after, "applied once: no new changes");
    let left = records(&t, &bob).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].meet_id, unseen.id, "delete all spares what the cache had not seen");

    let (status, err) = t
        .post(
            Some(&bob.token),
            "/api/history/deletes",
            json!({"deletes": [{"key": "", "target": {"kind": "all"}}]}),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_key")));
    t.stop().await;
});

on_both_databases!(changes_feed_pages_and_resumes_from_its_cursor, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    for _ in 0..5 {
        answered_customer_call(&t, &bob, &mina, "audio").await;
    }
    let page: p::ChangesPage = t.get_ok(Some(&bob.token), "/api/history/changes?limit=2").await;
    assert_eq!((page.changes.len(), page.has_more, page.reset), (2, true, false));
    let (all, cursor) = pull(&t, &bob, 0).await;
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].seq() < w[1].seq()), "in seq order");
    // Warm start: nothing new, then exactly the one change.
    let warm: p::ChangesPage =
        t.get_ok(Some(&bob.token), &format!("/api/history/changes?since={cursor}")).await;
    assert!(warm.changes.is_empty() && !warm.has_more && warm.cursor == cursor);
    let one = answered_customer_call(&t, &bob, &mina, "video").await;
    let (changes, _) = pull(&t, &bob, cursor).await;
    assert_eq!(changes.len(), 1);
    assert!(matches!(&changes[0], p::RecordChange::Upsert { record, .. } if record.meet_id == one.id));
    // A cursor from another database: start over.
    let other: p::ChangesPage = t.get_ok(Some(&bob.token), "/api/history/changes?since=999999999").await;
    assert!(other.reset);
    assert_eq!(other.changes.len(), 6);
    t.stop().await;
});

on_both_databases!(records_are_deleted_at_exactly_six_months, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    answered_customer_call(&t, &bob, &mina, "audio").await;
    let rec = records(&t, &bob).await.remove(0);
    let state = &t.server().state;

    // The sweep at a given server time: kept at exactly six months, gone a millisecond later.
    meetdesk_server::history::sweep(state, rec.started_at + RETENTION_MS).await.unwrap();
    assert_eq!(records(&t, &bob).await.len(), 1, "exactly six months old: kept");
    meetdesk_server::history::sweep(state, rec.started_at + RETENTION_MS + 1).await.unwrap();
    assert!(records(&t, &bob).await.is_empty(), "older than six months: deleted");

    // The sweeper task on the server clock: a new record, then six months and a minute pass.
    answered_customer_call(&t, &bob, &mina, "video").await;
    let (_, cursor) = pull(&t, &bob, 0).await;
    let mut events = bob.events().await;
    t.advance(RETENTION_MS + 60_000);
    state.history_sweep.notify_one();
    events.next_where(|e| matches!(e.body, EventBody::HistoryChanged { cursor: c } if c > cursor)).await;
    let mut db = state.store.conn().await.unwrap();
    assert!(meetdesk_store::records::live(&mut db, "ag_bob").await.unwrap().is_empty());
    drop(db);

    // Thirty days later the tombstones are forgotten: a cache that was behind starts over.
    t.advance(TOMBSTONE_MS + 60_000);
    meetdesk_server::history::sweep(state, t.now()).await.unwrap();
    let bob = t.sign_in("bob@demo.test").await; // the old session expired meanwhile
    let page: p::ChangesPage =
        t.get_ok(Some(&bob.token), &format!("/api/history/changes?since={cursor}")).await;
    assert!(page.reset, "tombstones after {cursor} were forgotten");
    assert!(page.changes.is_empty());
    t.stop().await;
});

/// A new visitor chat assigned to `agent`, where the customer wrote.
async fn customer_chatting_with(t: &TestServer, admin: &Client, agent: &str, name: &str) {
    let s: p::CustomerSessionResponse =
        t.post_ok(None, "/api/widget/visitors", json!({"channel_key": "demo", "name": name})).await;
    let chat = &s.chats[0].id;
    let _: p::ChatView =
        t.post_ok(Some(&admin.token), &format!("/api/chats/{chat}/assign"), json!({"agent_id": agent})).await;
    let _: p::MessageView =
        t.post_ok(Some(&s.token), &format!("/api/chats/{chat}/messages"), json!({"body": "hello"})).await;
}

/// A new agent with a DM with Carol where a message was written `age_ms` ago.
async fn dm_with_carol(t: &TestServer, n: usize, age_ms: i64) {
    use meetdesk_store::{accounts, chats, rooms};
    let mut db = t.server().state.store.conn().await.unwrap();
    let now = t.now();
    let id = format!("ag_x{n:02}");
    let agent = accounts::Agent {
        id: id.clone(),
        channel_id: "ch_demo".into(),
        email: format!("x{n:02}@demo.test"),
        name: format!("Extra {n:02}"),
        password_hash: String::new(),
        role: "agent".into(),
        seat: false,
    };
    accounts::insert_agent(&mut db, &agent, now).await.unwrap();
    let room = rooms::Room {
        id: format!("dm_x{n:02}"),
        channel_id: "ch_demo".into(),
        kind: "dm".into(),
        name: format!("Carol Chen, Extra {n:02}"),
    };
    rooms::insert_room(&mut db, &room, &["ag_carol".to_owned(), id.clone()], now).await.unwrap();
    let m = chats::Message {
        id: format!("msg_x{n:02}"),
        chat_id: None,
        room_id: Some(room.id.clone()),
        internal: false,
        author_kind: "agent".into(),
        author_id: Some(id),
        body: "hi".into(),
        meet_id: None,
        link: None,
        created_at: now - age_ms,
    };
    chats::insert_message(&mut db, &m).await.unwrap();
}

on_both_databases!(suggestions_need_three_and_show_at_most_ten, |db| async move {
    let t = TestServer::start(db).await;
    let alice = t.sign_in("alice@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let suggestions = |t: &TestServer| {
        let token = carol.token.clone();
        let base = t.base.clone();
        async move {
            common::http::get_ok::<p::Suggestions>(&base, Some(&token), "/api/history/suggestions").await
        }
    };
    // Carol's own chats: Sara (demo). A second customer: still fewer than 3.
    customer_chatting_with(&t, &alice, "ag_carol", "Cust 01").await;
    assert!(suggestions(&t).await.customers.is_empty(), "2 customers: no suggestion");
    customer_chatting_with(&t, &alice, "ag_carol", "Cust 02").await;
    let s = suggestions(&t).await;
    assert_eq!(s.customers.len(), 3, "3 customers: all suggested");
    assert_eq!(s.customers[0].name, "Cust 02", "latest first");
    // Someone else's customer does not count.
    customer_chatting_with(&t, &alice, "ag_bob", "Bob's").await;
    for n in 3..=10 {
        customer_chatting_with(&t, &alice, "ag_carol", &format!("Cust {n:02}")).await;
    }
    let s = suggestions(&t).await;
    assert_eq!(s.customers.len(), 10, "11 customers: 10 suggested");
    assert!(s.customers.iter().all(|c| c.name.starts_with("Cust")));
    let c = &s.customers[0];
    let chat: p::ChatView = t.get_ok(Some(&carol.token), &format!("/api/chats/{}", c.chat_id)).await;
    assert_eq!(chat.customer.id, c.customer_id, "the chat to call in");

    // DMs: Carol has Bob and Dave (demo); one more too old to count, then a third.
    assert!(suggestions(&t).await.agents.is_empty());
    dm_with_carol(&t, 0, 31 * 24 * 3_600_000).await;
    assert!(suggestions(&t).await.agents.is_empty(), "a DM older than 30 days does not count");
    dm_with_carol(&t, 1, 60_000).await;
    let s = suggestions(&t).await;
    assert_eq!(s.agents.len(), 3);
    assert_eq!((s.agents[0].agent.name.as_str(), s.agents[0].room_id.as_str()), ("Extra 01", "dm_x01"));
    for n in 2..=9 {
        dm_with_carol(&t, n, 60_000 + n as i64).await;
    }
    assert_eq!(suggestions(&t).await.agents.len(), 10, "11 agents: 10 suggested");
    t.stop().await;
});

on_both_databases!(team_search_orders_public_private_then_dms_alphabetically, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let all: Vec<p::TeamSearchResult> = t.get_ok(Some(&bob.token), "/api/history/search").await;
    let got: Vec<(p::RoomKind, &str, Option<&str>)> =
        all.iter().map(|r| (r.kind, r.name.as_str(), r.room_id.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (p::RoomKind::Public, "General", Some("room_general")),
            (p::RoomKind::Public, "Support leads", Some("room_leads")),
            (p::RoomKind::Private, "Billing", Some("room_billing")),
            (p::RoomKind::Dm, "Alice Admin", Some("dm_alice_bob")),
            (p::RoomKind::Dm, "Carol Chen", Some("dm_bob_carol")),
            (p::RoomKind::Dm, "Dave Diaz", None),
        ],
        "Escalations is private to Alice and Carol"
    );
    for (q, want) in [("AL", vec!["General", "Alice Admin"]), ("dave@", vec!["Dave Diaz"]), ("zzz", vec![])] {
        let some: Vec<p::TeamSearchResult> =
            t.get_ok(Some(&bob.token), &format!("/api/history/search?q={q}")).await;
        let names: Vec<&str> = some.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, want, "{q}: case-insensitive, any part of a name, or an e-mail");
    }
    t.stop().await;
});

on_both_databases!(an_agent_with_no_dm_yet_gets_one_on_first_use_and_can_meet_there, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let dave = t.sign_in("dave@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let dave_in_search =
        |all: Vec<p::TeamSearchResult>| all.into_iter().find(|r| r.name == "Dave Diaz").map(|r| r.room_id);
    let all: Vec<p::TeamSearchResult> = t.get_ok(Some(&bob.token), "/api/history/search").await;
    assert_eq!(dave_in_search(all), Some(None), "listed, with no room yet");

    let room: p::RoomView =
        t.post_ok(Some(&bob.token), "/api/rooms/dm", json!({"agent_id": "ag_dave"})).await;
    assert_eq!(room.kind, p::RoomKind::Dm);
    let members: Vec<&str> = room.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(members, ["ag_bob", "ag_dave"]);
    let again: p::RoomView =
        t.post_ok(Some(&dave.token), "/api/rooms/dm", json!({"agent_id": "ag_bob"})).await;
    assert_eq!(again.id, room.id, "the same two agents always get the same DM");
    let all: Vec<p::TeamSearchResult> = t.get_ok(Some(&bob.token), "/api/history/search").await;
    assert_eq!(dave_in_search(all), Some(Some(room.id.clone())));
    // An existing DM is found, not doubled.
    let old: p::RoomView =
        t.post_ok(Some(&bob.token), "/api/rooms/dm", json!({"agent_id": "ag_carol"})).await;
    assert_eq!(old.id, "dm_bob_carol");
    // Nobody else sees it.
    let carols: Vec<p::RoomView> = t.get_ok(Some(&carol.token), "/api/rooms").await;
    assert!(carols.iter().all(|r| r.id != room.id));

    // A team meet there rings Dave (P5: no seat needed).
    let mut dave_events = dave.events().await;
    let meet = t.start_meet(&bob, json!({"kind": "room", "room_id": room.id}), "audio").await;
    dave_events.ring(&meet.id).await;

    let mina = t.customer("chat_mina").await;
    for (who, body, status, code) in [
        (&bob, json!({"agent_id": "ag_bob"}), 400, "dm_with_self"),
        (&bob, json!({"agent_id": "ag_nobody"}), 404, "not_found"),
        (&mina, json!({"agent_id": "ag_bob"}), 403, "agents_only"),
    ] {
        let (got, err) = t.post(Some(&who.token), "/api/rooms/dm", body).await;
        assert_eq!((got, err["error"]["code"].as_str()), (status, Some(code)), "{err}");
    }
    t.stop().await;
});

on_both_databases!(nobody_else_reaches_an_agents_records, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let mina = t.customer("chat_mina").await;
    answered_customer_call(&t, &bob, &mina, "audio").await;
    let rec = records(&t, &bob).await.remove(0);
    let path = format!("/api/history/records/{}", rec.id);

    assert!(records(&t, &carol).await.is_empty(), "another agent's feed has none of them");
    let (status, _) = t.get(Some(&carol.token), &path).await;
    assert_eq!(status, 404);
    let (status, _) = t.request(reqwest::Method::DELETE, Some(&carol.token), &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = t.post(Some(&carol.token), &format!("{path}/call"), json!({})).await;
    assert_eq!(status, 404);
    let r: p::DeletesResponse = t
        .post_ok(
            Some(&carol.token),
            "/api/history/deletes",
            json!({"deletes": [{"key": "x", "target": {"kind": "record", "id": rec.id}}]}),
        )
        .await;
    assert_eq!(r.results[0].status, p::DeleteStatus::NotFound);
    let (status, _) = t.request(reqwest::Method::DELETE, Some(&carol.token), "/api/history", None).await;
    assert_eq!(status, 200);
    assert_eq!(records(&t, &bob).await.len(), 1, "Bob's record is still there");

    for (method, route) in [
        (reqwest::Method::GET, "/api/history/changes".to_owned()),
        (reqwest::Method::GET, path.clone()),
        (reqwest::Method::DELETE, path.clone()),
        (reqwest::Method::DELETE, "/api/history".to_owned()),
        (reqwest::Method::POST, format!("{path}/call")),
        (reqwest::Method::GET, "/api/history/suggestions".to_owned()),
        (reqwest::Method::GET, "/api/history/search".to_owned()),
    ] {
        let body = (method == reqwest::Method::POST).then(|| json!({}));
        let (status, err) = t.request(method.clone(), Some(&mina.token), &route, body.clone()).await;
        assert_eq!((status, err["error"]["code"].as_str()), (403, Some("agents_only")), "{method} {route}");
        let (status, _) = t.request(method.clone(), None, &route, body).await;
        assert_eq!(status, 401, "{method} {route} without a session");
    }
    let (status, _) = t
        .post(
            Some(&mina.token),
            "/api/history/deletes",
            json!({"deletes": [{"key": "x", "target": {"kind": "all"}}]}),
        )
        .await;
    assert_eq!(status, 403);
    t.stop().await;
});
