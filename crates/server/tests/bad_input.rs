//! Bad input gets a 4xx with a machine-readable code and a human message; nothing panics and
//! nothing stored is lost.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Db, TestServer};
use meetdesk_store::accounts::{self, Agent, Channel};
use serde_json::{json, Value};

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

async fn raw(
    t: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = t.http.request(method.parse().unwrap(), format!("{}{}", t.base, path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_get_clear_errors() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let tok = Some(bob.token.as_str());
    let json_ct = Some("application/json");
    let (s, b) = raw(&t, "POST", "/api/chats/chat_mina/messages", tok, json_ct, b"{not json".to_vec()).await;
    assert_error(s, &b, 400, "invalid_json");
    let (s, b) =
        raw(&t, "POST", "/api/chats/chat_mina/messages", tok, None, br#"{"body":"x"}"#.to_vec()).await;
    assert_error(s, &b, 415, "unsupported_media_type");
    let (s, b) = t.post(tok, "/api/chats/chat_mina/messages", json!({"body": 42})).await;
    assert_error(s, &b, 422, "invalid_body");
    let (s, b) = t.post(tok, "/api/chats/chat_mina/messages", json!({"body": "hi", "extra": true})).await;
    assert_error(s, &b, 422, "invalid_body");
    let (s, b) = t.post(tok, "/api/chats/chat_mina/messages", json!({"body": "   "})).await;
    assert_error(s, &b, 400, "empty_message");
    let (s, b) = t.post(tok, "/api/meets", json!({"target": {"kind": "nowhere"}, "media": "audio"})).await;
    assert_error(s, &b, 422, "invalid_body");
    let (s, b) = t
        .post(
            tok,
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "hologram"}),
        )
        .await;
    assert_error(s, &b, 422, "invalid_body");
    let (s, b) = t.get(tok, "/api/chats?filter=everything").await;
    assert_error(s, &b, 400, "invalid_filter");
    let (s, b) = t.get(tok, "/api/events").await;
    assert_error(s, &b, 400, "websocket_required");
    let (s, b) = raw(&t, "DELETE", "/api/chats", tok, None, Vec::new()).await;
    assert_error(s, &b, 405, "method_not_allowed");
    let (s, b) = t.get(tok, "/api/nothing-here").await;
    assert_error(s, &b, 404, "not_found");
    t.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_nothing_is_stored() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let before: Vec<Value> = t.get_ok(Some(&bob.token), "/api/chats/chat_mina/messages").await;
    let huge = format!(r#"{{"body":"{}"}}"#, "a".repeat(200 * 1024));
    let (s, b) = raw(
        &t,
        "POST",
        "/api/chats/chat_mina/messages",
        Some(&bob.token),
        Some("application/json"),
        huge.into_bytes(),
    )
    .await;
    assert_error(s, &b, 413, "payload_too_large");
    let (s, b) =
        t.post(Some(&bob.token), "/api/chats/chat_mina/messages", json!({"body": "a".repeat(10_001)})).await;
    assert_error(s, &b, 400, "message_too_long");
    let after: Vec<Value> = t.get_ok(Some(&bob.token), "/api/chats/chat_mina/messages").await;
    assert_eq!(before, after, "refused input stores nothing");
    t.stop().await;
}

#[tokio::test]
async fn tokens_that_are_missing_wrong_expired_or_signed_out_are_refused() {
    let t = TestServer::start(Db::Sqlite).await;
    let (s, b) = t.get(None, "/api/chats").await;
    assert_error(s, &b, 401, "missing_token");
    let (s, b) = t.get(Some("not-a-token"), "/api/chats").await;
    assert_error(s, &b, 401, "invalid_token");
    let (s, b) =
        t.post(None, "/api/auth/sign-in", json!({"email": "bob@demo.test", "password": "wrong"})).await;
    assert_error(s, &b, 401, "bad_credentials");
    let (s, b) =
        t.post(None, "/api/auth/sign-in", json!({"email": "nobody@demo.test", "password": "demo"})).await;
    assert_error(s, &b, 401, "bad_credentials");

    // Signing out one device revokes that token only.
    let laptop = t.sign_in("bob@demo.test").await;
    let phone = t.sign_in("bob@demo.test").await;
    let (s, _) = t.post(Some(&laptop.token), "/api/auth/sign-out", json!({})).await;
    assert_eq!(s, 204);
    let (s, b) = t.get(Some(&laptop.token), "/api/me").await;
    assert_error(s, &b, 401, "revoked_token");
    let (s, _) = t.get(Some(&phone.token), "/api/me").await;
    assert_eq!(s, 200);

    // Tokens expire (30 days for agents).
    t.advance(30 * 24 * 3_600_000);
    let (s, b) = t.get(Some(&phone.token), "/api/me").await;
    assert_error(s, &b, 401, "expired_token");
    t.stop().await;
}

#[tokio::test]
async fn tampered_links_and_unknown_or_foreign_ids_are_refused() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let tok = Some(bob.token.as_str());
    for bad in ["", "abc", "abc.def", "eyJrIjoicmVzdW1lIn0.AAAA"] {
        let (s, b) = t.post(None, "/api/widget/resume", json!({"token": bad})).await;
        assert_error(s, &b, 400, "link_invalid");
    }
    for path in ["/api/chats/nope", "/api/meets/nope", "/api/customers/nope", "/api/rooms/nope/messages"] {
        let (s, b) = t.get(tok, path).await;
        assert_error(s, &b, 404, "not_found");
    }
    // Another channel's chat is invisible: 404, exactly like an unknown id.
    let mut db = t.server().state.store.conn().await.unwrap();
    let other = Channel {
        id: "ch_other".into(),
        name: "Other".into(),
        widget_key: "other".into(),
        audio_enabled: true,
        video_enabled: true,
    };
    accounts::insert_channel(&mut db, &other, 0).await.unwrap();
    let agent = Agent {
        id: "ag_other".into(),
        channel_id: "ch_other".into(),
        email: "eve@other.test".into(),
        name: "Eve".into(),
        password_hash: meetdesk_server::auth::hash_password("demo").unwrap(),
        role: "admin".into(),
        seat: true,
    };
    accounts::insert_agent(&mut db, &agent, 0).await.unwrap();
    drop(db);
    let eve = t.sign_in("eve@other.test").await;
    let eve_tok = Some(eve.token.as_str());
    for path in [
        "/api/chats/chat_mina",
        "/api/chats/chat_mina/messages",
        "/api/customers/cus_mina",
        "/api/rooms/room_general/messages",
    ] {
        let (s, b) = t.get(eve_tok, path).await;
        assert_error(s, &b, 404, "not_found");
    }
    let (s, b) = t
        .post(
            eve_tok,
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "audio"}),
        )
        .await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = t.post(eve_tok, "/api/chats/chat_mina/assign", json!({"agent_id": "ag_other"})).await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = t.post(tok, "/api/chats/chat_mina/assign", json!({"agent_id": "ag_other"})).await;
    assert_error(s, &b, 404, "not_found");
    let (_, chat) = t.get(tok, "/api/chats/chat_mina").await;
    assert_eq!(chat["assignee"]["id"], "ag_bob", "nothing changed");
    t.stop().await;
}

#[tokio::test]
async fn customers_cannot_reach_agent_only_routes_or_other_chats() {
    let t = TestServer::start(Db::Sqlite).await;
    let mina = t.customer("chat_mina").await;
    let tok = Some(mina.token.as_str());
    for path in ["/api/agents", "/api/customers", "/api/rooms", "/api/me"] {
        let (s, b) = t.get(tok, path).await;
        assert_error(s, &b, 403, "agents_only");
    }
    for path in
        ["/api/chats/chat_eva", "/api/chats/chat_eva/messages", "/api/chats/chat_mina/internal-messages"]
    {
        let (s, b) = t.get(tok, path).await;
        assert_error(s, &b, 404, "not_found");
    }
    let (s, b) = t
        .post(
            tok,
            "/api/meets",
            json!({"target": {"kind": "room", "room_id": "room_general"}, "media": "audio"}),
        )
        .await;
    assert_error(s, &b, 403, "agents_only");
    let (s, b) = t
        .post(
            tok,
            "/api/meets",
            json!({"target": {"kind": "user_chat", "chat_id": "chat_eva"}, "media": "audio"}),
        )
        .await;
    assert_error(s, &b, 404, "not_found");
    let chats: Vec<Value> = t.get_ok(tok, "/api/chats").await;
    assert_eq!(chats.len(), 1, "a customer lists only their own chats");
    t.stop().await;
}
