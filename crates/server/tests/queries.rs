//! How many SQL statements a request costs, counted from sqlx's own `sqlx::query` events
//! inside the request's span: a list answers in a fixed number of statements whatever its
//! length (no statement per item): the chat list, one chat, a chat's messages. Its own test binary: the tracing subscriber is global.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Db, TestServer};
use meetdesk_store::chats::{self, Chat, Customer};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Counts `sqlx::query` events under an HTTP request's span (tower-http's `request`).
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        if ctx.event_scope(event).is_some_and(|mut scope| scope.any(|span| span.name() == "request")) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Statements {
    /// Statements run by the requests made in `f` (one request at a time).
    async fn during<T>(&self, f: impl std::future::Future<Output = T>) -> (usize, T) {
        let before = self.0.load(Ordering::Relaxed);
        let out = f.await;
        (self.0.load(Ordering::Relaxed) - before, out)
    }
}

/// A list the server answers with (200 expected).
async fn get_list(base: &str, token: &str, path: &str) -> Vec<serde_json::Value> {
    let (status, body) = common::http::call(base, reqwest::Method::GET, Some(token), path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body.as_array().unwrap().clone()
}

/// `n` more chats in the demo channel, assigned to bob.
async fn more_chats(t: &TestServer, from: usize, n: usize) {
    let mut db = t.server().state.store.conn().await.unwrap();
    for k in from..from + n {
        let customer = Customer {
            id: format!("cus_load_{k}"),
            channel_id: "ch_demo".into(),
            name: format!("Load {k}"),
            email: Some(format!("load{k}@example.com")),
        };
        chats::insert_customer(&mut db, &customer, 1).await.unwrap();
        let chat = Chat {
            id: format!("chat_load_{k}"),
            channel_id: "ch_demo".into(),
            customer_id: customer.id,
            assignee_id: Some("ag_bob".into()),
            state: "open".into(),
            source: "native".into(),
            input_open: true,
            created_at: 1,
            updated_at: 1 + k as i64,
        };
        chats::insert_chat(&mut db, &chat).await.unwrap();
    }
}

/// `n` more messages in `chat_id`, from bob and from its customer in turn.
async fn more_messages(t: &TestServer, chat_id: &str, from: usize, n: usize) {
    let mut db = t.server().state.store.conn().await.unwrap();
    let customer = chats::chat_by_id(&mut db, chat_id).await.unwrap().unwrap().customer_id;
    for k in from..from + n {
        let (kind, author) =
            if k % 2 == 0 { ("agent", "ag_bob".to_owned()) } else { ("customer", customer.clone()) };
        let m = chats::Message {
            id: format!("msg_load_{chat_id}_{k}"),
            chat_id: Some(chat_id.into()),
            room_id: None,
            internal: false,
            author_kind: kind.into(),
            author_id: Some(author),
            body: format!("message {k}"),
            meet_id: None,
            link: None,
            created_at: 10 + k as i64,
        };
        chats::insert_message(&mut db, &m).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_lists_and_messages_cost_the_same_few_statements_for_ten_items_or_a_hundred() {
    let statements = Statements::default();
    let filter = tracing_subscriber::EnvFilter::new("warn,sqlx::query=debug,tower_http=debug");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(filter).with(statements.clone()),
    )
    .unwrap();
    for db in [Db::Sqlite, Db::Postgres] {
        let t = TestServer::start(db).await;
        let bob = t.sign_in("bob@demo.test").await;
        let list = || get_list(&t.base, &bob.token, "/api/chats?filter=all");
        let (warm, _) = statements.during(list()).await;
        more_chats(&t, 0, 10).await;
        let (ten, n1) = statements.during(list()).await;
        more_chats(&t, 10, 90).await;
        let (hundred, n2) = statements.during(list()).await;
        assert_eq!(n2.len() - n1.len(), 90, "{db:?}: the list grew");
        eprintln!(
            "{db:?}: GET /api/chats ran {warm} / {ten} / {hundred} statements for {} / {} / {} chats",
            n1.len() - 10,
            n1.len(),
            n2.len()
        );
        assert!(ten > 0, "{db:?}: the counter sees the request's statements");
        assert_eq!(ten, hundred, "{db:?}: no statement per chat");
        assert!(hundred <= 4, "{db:?}: session check, channel, the list: {hundred}");

        // One chat's view (what every chat change sends) is as cheap.
        let (one, _) = statements
            .during(common::http::call(
                &t.base,
                reqwest::Method::GET,
                Some(&bob.token),
                "/api/chats/chat_load_5",
                None,
            ))
            .await;
        assert!(one <= 5, "{db:?}: GET /api/chats/{{id}} (session, the chat, its facts, channel): {one}");

        // A chat's messages: authors (agents and the customer) and indicators come with the list.
        let messages = || get_list(&t.base, &bob.token, "/api/chats/chat_load_5/messages");
        more_messages(&t, "chat_load_5", 0, 5).await;
        let (few, m1) = statements.during(messages()).await;
        more_messages(&t, "chat_load_5", 5, 60).await;
        let (many, m2) = statements.during(messages()).await;
        assert_eq!(m2.len() - m1.len(), 60);
        assert!(
            m2.iter().any(|m| m["author"]["name"] == "Bob Baker")
                && m2.iter().any(|m| m["author"]["name"] == "Load 5")
        );
        eprintln!(
            "{db:?}: GET …/messages ran {few} / {many} statements for {} / {} messages",
            m1.len(),
            m2.len()
        );
        assert_eq!(few, many, "{db:?}: no statement per message");
        t.stop().await;
    }
}
