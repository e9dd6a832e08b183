//! The customer's pages (`/demo`, `/m/{id}`) served from the widget directory, and
//! `POST /api/meets/{id}/link-status`, which the meet page asks on load.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use meetdesk_protocol as p;
use serde_json::{json, Value};

async fn serve(
    widget_dir: &std::path::Path,
    db_dir: &std::path::Path,
    demo: bool,
) -> meetdesk_server::Server {
    let db = format!("sqlite://{}?mode=rwc", db_dir.join("x.db").display());
    let mut config = meetdesk_server::Config::new("127.0.0.1:0".parse().unwrap(), db);
    config.widget_dir = widget_dir.to_owned();
    config.demo = demo;
    meetdesk_server::start(config).await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The headers every page carries.
fn assert_page_headers(res: &reqwest::Response) {
    assert_eq!(header(res, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(header(res, "cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header(res, "x-content-type-options").as_deref(), Some("nosniff"));
    let csp = header(res, "content-security-policy").unwrap();
    for directive in [
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "media-src 'self' blob: mediastream:",
        "img-src 'self' data:",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
}

const DEMO_HTML: &str =
    "<!doctype html><script src=\"/widget/meetdesk-widget.js\" data-channel=\"{{MEETDESK_CHANNEL_KEY}}\"></script>\
     <p>{{MEETDESK_CHANNEL_KEY}}</p>\n";
const MEET_HTML: &str = "<!doctype html><div id=\"meet\">{{MEETDESK_CHANNEL_KEY}}</div>\n";

fn widget_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("demo.html"), DEMO_HTML).unwrap();
    std::fs::write(dir.path().join("meet.html"), MEET_HTML).unwrap();
    dir
}

#[tokio::test]
async fn the_demo_page_has_the_demo_channel_key_and_page_headers() {
    let widget = widget_dir();
    let db = tempfile::tempdir().unwrap();
    let server = serve(widget.path(), db.path(), true).await;
    // The query (a resume link) is for the page's script; the server ignores it.
    let res = reqwest::get(format!("{}/demo?resume=abc.def", server.url())).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_page_headers(&res);
    let body = res.text().await.unwrap();
    let key = meetdesk_server::demo::WIDGET_KEY;
    assert_eq!(body, DEMO_HTML.replace("{{MEETDESK_CHANNEL_KEY}}", key));
    assert!(!body.contains("{{"), "every placeholder replaced: {body}");
    // /api/demo's links point at this page.
    let dir: p::DemoDirectory = common::http::get_ok(&server.url(), None, "/api/demo").await;
    assert!(dir.customers.iter().all(|c| c.link.contains("/demo?resume=")), "{:?}", dir.customers);
    server.shutdown().await;
}

#[tokio::test]
async fn there_is_no_demo_page_outside_demo_mode() {
    let widget = widget_dir();
    let db = tempfile::tempdir().unwrap();
    let server = serve(widget.path(), db.path(), false).await;
    let res = reqwest::get(format!("{}/demo", server.url())).await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn a_meet_link_serves_the_meet_page_as_is_without_referrer_or_framing() {
    let widget = widget_dir();
    let db = tempfile::tempdir().unwrap();
    let server = serve(widget.path(), db.path(), false).await;
    let res = reqwest::get(format!("{}/m/meet_123?t=abc.def", server.url())).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_page_headers(&res);
    assert_eq!(header(&res, "referrer-policy").as_deref(), Some("no-referrer"));
    assert!(header(&res, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(res.text().await.unwrap(), MEET_HTML, "served as is");

    // Read per request: a rebuilt page shows without a restart.
    std::fs::write(widget.path().join("meet.html"), "<!doctype html><p>v2</p>\n").unwrap();
    let body = reqwest::get(format!("{}/m/meet_123", server.url())).await.unwrap().text().await.unwrap();
    assert_eq!(body, "<!doctype html><p>v2</p>\n");
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_built_widget_pages_answer_404_html_saying_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    for widget_dir in [empty.path().to_owned(), empty.path().join("dist")] {
        let server = serve(&widget_dir, db.path(), true).await;
        for path in ["/demo", "/m/meet_123?t=x"] {
            let res = reqwest::get(format!("{}{path}", server.url())).await.unwrap();
            assert_eq!(res.status().as_u16(), 404, "{path}");
            assert_page_headers(&res);
            let body = res.text().await.unwrap();
            assert!(body.contains("not built") && body.contains("npm run build"), "{path}: {body}");
            assert!(body.contains("--widget-dir"), "{body}");
            assert!(!body.contains(&empty.path().display().to_string()), "the directory is not disclosed");
        }
        server.shutdown().await;
    }
}

// ----- link-status ------------------------------------------------------------------------------

/// The follow-up link as the customer's chat shows it.
async fn follow_up_token(t: &TestServer, chat: &str, meet_id: &str) -> String {
    let customer = t.customer(chat).await;
    let (_, msgs) = t.get(Some(&customer.token), &format!("/api/chats/{chat}/messages")).await;
    let m = msgs.as_array().unwrap().iter().find(|m| m["meet_id"] == meet_id).unwrap();
    let link = m["link"].as_str().unwrap();
    assert!(link.contains(&format!("/m/{meet_id}?t=")), "{link}");
    link.split("?t=").nth(1).unwrap().to_owned()
}

/// An agent calls an offline customer (P3): the meet waits for the follow-up link.
async fn offline_meet(t: &TestServer, agent: &common::Client, chat: &str) -> (p::MeetView, String) {
    let meet = t.start_meet(agent, json!({"kind": "user_chat", "chat_id": chat}), "audio").await;
    assert_eq!(meet.state, p::MeetState::WaitingForLink);
    let token = follow_up_token(t, chat, &meet.id).await;
    (meet, token)
}

async fn link_status(t: &TestServer, meet_id: &str, token: &str) -> (u16, Value) {
    t.post(None, &format!("/api/meets/{meet_id}/link-status"), json!({"token": token})).await
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

on_both_databases!(link_status_tells_a_usable_link_without_using_it, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    let (meet, token) = offline_meet(&t, &bob, "chat_mina").await;
    let before = common::http::meet(&t.base, &bob.token, &meet.id).await;

    let (status, body) = link_status(&t, &meet.id, &token).await;
    assert_eq!(status, 200, "{body}");
    let s: p::MeetLinkStatus = serde_json::from_value(body).unwrap();
    assert_eq!((s.meet_id.as_str(), s.caller_name.as_str()), (meet.id.as_str(), "Bob Baker"));
    assert!(s.expires_at > t.now() && s.expires_at <= t.now() + 10 * 60_000, "{}", s.expires_at);
    let (_, doc) = t.get(None, "/api/openapi.json").await;
    assert!(doc["paths"]["/api/meets/{id}/link-status"]["post"].is_object(), "documented");
    assert!(doc["components"]["schemas"]["MeetLinkStatus"].is_object(), "documented");
    // Asking twice changes nothing.
    assert_eq!(link_status(&t, &meet.id, &token).await.0, 200);
    let after = common::http::meet(&t.base, &bob.token, &meet.id).await;
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        serde_json::to_value(&after).unwrap(),
        "the meet is untouched"
    );

    // Refusals, with open-link's codes.
    let mut tampered = token.clone();
    tampered.insert(3, if tampered.as_bytes()[3] == b'A' { 'B' } else { 'A' });
    let (status, err) = link_status(&t, &meet.id, &tampered).await;
    assert_eq!((status, code(&err)), (400, Some("link_invalid")));
    let (status, err) = link_status(&t, &meet.id, "garbage").await;
    assert_eq!((status, code(&err)), (400, Some("link_invalid")));
    let resume = t.server().state.signer.sign(&meetdesk_server::links::LinkClaims::Resume {
        c: "cus_mina".into(),
        h: "chat_mina".into(),
        e: t.now() + 60_000,
    });
    let (status, err) = link_status(&t, &meet.id, &resume).await;
    assert_eq!((status, code(&err)), (400, Some("link_invalid")), "a resume link is not a meet link");
    let (status, err) = link_status(&t, "meet_other", &token).await;
    assert_eq!((status, code(&err)), (400, Some("link_wrong_meet")));
    let unknown = t.server().state.signer.sign(&meetdesk_server::links::LinkClaims::Meet {
        m: "meet_nope".into(),
        c: "cus_mina".into(),
        e: t.now() + 60_000,
    });
    let (status, err) = link_status(&t, "meet_nope", &unknown).await;
    assert_eq!((status, code(&err)), (404, Some("not_found")));
    let (status, err) = t.post(None, &format!("/api/meets/{}/link-status", meet.id), json!({})).await;
    assert_eq!((status, code(&err)), (422, Some("invalid_body")));

    // The link still opens; then it is used.
    let opened: p::CustomerSessionResponse =
        t.post_ok(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": token})).await;
    assert_eq!(opened.meet.as_ref().map(|m| m.state), Some(p::MeetState::Active));
    let (status, err) = link_status(&t, &meet.id, &token).await;
    assert_eq!((status, code(&err)), (409, Some("link_used")));
    // Once the meet is over, that is what it says.
    let (status, _) = t.act(&bob, &meet.id, "hangup").await;
    assert_eq!(status, 200);
    let (status, err) = link_status(&t, &meet.id, &token).await;
    let (open_status, open_err) =
        t.post(None, &format!("/api/meets/{}/open-link", meet.id), json!({"token": token})).await;
    assert_eq!((status, code(&err)), (open_status, Some("meet_ended")));
    assert_eq!(err, open_err, "the same refusal as open-link");
    t.stop().await;
});

on_both_databases!(link_status_tells_a_cancelled_meet_and_an_expired_link, |db| async move {
    let t = TestServer::start(db).await;
    let bob = t.sign_in("bob@demo.test").await;
    // The caller gave up before the customer came.
    let (meet, token) = offline_meet(&t, &bob, "chat_mina").await;
    let (status, _) = t.act(&bob, &meet.id, "hangup").await;
    assert_eq!(status, 200);
    let (status, err) = link_status(&t, &meet.id, &token).await;
    assert_eq!(code(&err), Some("meet_ended"), "{status} {err}");

    // Nobody opened the link in time.
    let alice = t.sign_in("alice@demo.test").await;
    let (meet, token) = offline_meet(&t, &alice, "chat_ivy").await;
    assert_eq!(link_status(&t, &meet.id, &token).await.0, 200);
    t.advance(10 * 60_000);
    let (status, err) = link_status(&t, &meet.id, &token).await;
    assert_eq!((status, code(&err)), (410, Some("link_expired")));
    t.stop().await;
});
