//! The meetdesk server: accounts, chats, meets and rings over HTTP and one event WebSocket per
//! device, on SQLite (one machine) or PostgreSQL (several nodes).
//!
//! **Architecture invariant:** meet rules and transitions live in `meetdesk-meet`; this crate
//! loads state, applies inputs, stores the result and performs effects. Every event's audience
//! is decided here when it is written ([`hub::Audience`]), and checked again per socket.

use std::net::SocketAddr;

use anyhow::Context;
use meetdesk_store::{events, Store};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

pub mod auth;
pub mod clock;
pub mod demo;
pub mod error;
mod feed;
pub mod hub;
pub mod links;
mod meeting;
pub mod notifier;
pub mod routes;
pub mod state;
mod tasks;
pub mod views;

use clock::Clock;
use hub::Hub;
use state::{AppState, Inner};

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub database: String,
    pub demo: bool,
    /// Base of links sent to customers; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Send follow-ups by e-mail (lettre URL); otherwise they stay in the outbox table.
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    /// Test-only: shifts the server's clock.
    pub time_offset_ms: i64,
}

impl Config {
    pub fn new(listen: SocketAddr, database: impl Into<String>) -> Config {
        Config {
            listen,
            database: database.into(),
            demo: false,
            public_url: None,
            smtp_url: None,
            smtp_from: None,
            time_offset_ms: 0,
        }
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    serve: JoinHandle<std::io::Result<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Opens the database (running migrations), seeds the demo if asked, binds and serves.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let store = Store::open(&config.database).await.with_context(|| "opening the database".to_string())?;
    let clock = Clock::with_offset(config.time_offset_ms);
    if config.demo {
        demo::seed(&store, clock.now_ms()).await.context("seeding the demo channel")?;
    }
    let key = store
        .secret("link_signing_key", || {
            let (token, _) = auth::new_token();
            token
        })
        .await?;
    let start_after = {
        let mut db = store.conn().await?;
        events::max_id(&mut db).await?
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let state = AppState::new(Inner {
        store: store.clone(),
        hub: std::sync::Arc::new(Hub::new(start_after)),
        clock,
        signer: links::Signer::new(key.as_bytes()),
        node_id: auth::new_id("node"),
        public_url: public_url.trim_end_matches('/').to_owned(),
        demo: config.demo,
        deadlines_changed: Notify::new(),
        outbox_changed: Notify::new(),
    });
    let mut tasks = vec![
        tokio::spawn(std::sync::Arc::clone(&state.hub).run_dispatcher(store.clone())),
        tokio::spawn(tasks::deadlines(state.clone())),
        tokio::spawn(tasks::presence_heartbeat(state.clone())),
        tokio::spawn(tasks::prune_events(state.clone())),
        tokio::spawn(tasks::listen(state.clone())),
    ];
    if let Some(url) = &config.smtp_url {
        let from = config.smtp_from.clone().unwrap_or_else(|| "meetdesk <noreply@localhost>".into());
        let smtp = notifier::SmtpNotifier::new(url, &from).context("configuring SMTP")?;
        tasks.push(tokio::spawn(notifier::run(state.clone(), smtp)));
    }
    let (tx, rx) = oneshot::channel::<()>();
    let app = routes::router(state.clone());
    let serve = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, node_id = %state.node_id, database = state.store.backend().name(), "meetdesk server started");
    Ok(Server { addr, state, shutdown: Some(tx), serve, tasks })
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, stops background work, closes the pool.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let serve = &mut self.serve;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), serve).await;
        for t in &self.tasks {
            t.abort();
        }
        self.state.store.close().await;
    }

    /// Stops everything at once, as a crash would (tests of durability).
    pub fn kill(self) {
        self.serve.abort();
        for t in &self.tasks {
            t.abort();
        }
    }
}
