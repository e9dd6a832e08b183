//! The meetdesk server: accounts, chats, meets and rings over HTTP and one event WebSocket per
//! device, on SQLite (one machine) or PostgreSQL (several nodes).
//!
//! **Architecture invariant:** meet rules and transitions live in `meetdesk-meet`; this crate
//! loads state, applies inputs, stores the result and performs effects. Every event's audience
//! is decided here when it is written ([`hub::Audience`]), and checked again per socket.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use meetdesk_store::{events, Store};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

pub mod auth;
pub mod clock;
pub mod cluster;
pub mod demo;
pub mod error;
mod feed;
pub mod history;
pub mod hub;
pub mod links;
pub mod media;
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
    /// IP the media (WebRTC) UDP sockets bind; defaults to the listen IP (a wildcard binds
    /// every non-loopback interface).
    pub media_ip: Option<IpAddr>,
    /// NAT 1:1: the public IP advertised for media instead of `media_ip`.
    pub media_public_ip: Option<IpAddr>,
    /// Bind media sockets on ports of this range only (one port per connection; a firewall
    /// opens the range). Default: ephemeral ports.
    pub media_ports: Option<meetdesk_rtc::PortRange>,
    /// TURN (or STUN) server URLs handed to clients, comma-separated.
    pub turn_url: Option<String>,
    pub turn_username: Option<String>,
    pub turn_credential: Option<String>,
    /// The built customer widget served at `/widget/*` (default: the repository's
    /// `widget/dist`, as resolved when the server was compiled).
    pub widget_dir: std::path::PathBuf,
    /// The base URL other nodes reach this one at (node-to-node media offers). Default:
    /// `http://<listen>`, with a wildcard listen IP replaced by 127.0.0.1 (one machine).
    pub node_url: Option<String>,
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
            media_ip: None,
            media_public_ip: None,
            media_ports: None,
            turn_url: None,
            turn_username: None,
            turn_credential: None,
            widget_dir: default_widget_dir(),
            node_url: None,
        }
    }

    /// The media router's settings from this configuration.
    pub fn media_settings(&self) -> media::MediaSettings {
        let client_ice_servers = match &self.turn_url {
            Some(urls) => vec![meetdesk_rtc::IceServer {
                urls: urls.split(',').map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect(),
                username: self.turn_username.clone(),
                credential: self.turn_credential.clone(),
            }],
            None => Vec::new(),
        };
        media::MediaSettings {
            peer: meetdesk_rtc::PeerConfig {
                bind_ip: self.media_ip.unwrap_or(self.listen.ip()),
                public_ip: self.media_public_ip,
                ice_servers: Vec::new(),
                relay_only: false,
                port_range: self.media_ports,
            },
            client_ice_servers,
        }
    }
}

/// The repository's `widget/dist`, resolved at compile time (a development build run from its
/// checkout serves the widget built there; installed servers pass `--widget-dir`).
pub fn default_widget_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../widget/dist")
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
    let store = Store::open(&config.database).await?;
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
    let node_url = config.node_url.clone().unwrap_or_else(|| {
        let mut reach = addr;
        if reach.ip().is_unspecified() {
            reach.set_ip(IpAddr::from([127, 0, 0, 1]));
            if store.backend() == meetdesk_store::Backend::Postgres {
                tracing::warn!("listening on every interface: other nodes will look for this one at http://{reach}; pass --node-url");
            }
        }
        format!("http://{reach}")
    });
    let node_key = store
        .secret("node_signing_key", || {
            let (token, _) = auth::new_token();
            token
        })
        .await?;
    let node_id = auth::new_id("node");
    let cluster = cluster::Cluster::new(node_url, node_key.as_bytes())?;
    {
        let mut db = store.conn().await?;
        meetdesk_store::nodes::beat(&mut db, &node_id, cluster.url(), clock.now_ms()).await?;
    }
    let state = AppState::new(Inner {
        store: store.clone(),
        hub: std::sync::Arc::new(Hub::new(start_after)),
        clock,
        signer: links::Signer::new(key.as_bytes()),
        node_id,
        cluster,
        public_url: public_url.trim_end_matches('/').to_owned(),
        demo: config.demo,
        deadlines_changed: Notify::new(),
        outbox_changed: Notify::new(),
        history_sweep: Notify::new(),
        media: media::MediaRouter::new(config.media_settings()),
        widget_dir: config.widget_dir.clone(),
    });
    if !routes::assets::is_built(&config.widget_dir) {
        tracing::warn!(dir = %config.widget_dir.display(), "the customer widget is not built there: /widget/* answers 404 widget_not_built");
    }
    let mut tasks = vec![
        tokio::spawn(std::sync::Arc::clone(&state.hub).run_dispatcher(store.clone())),
        tokio::spawn(tasks::deadlines(state.clone())),
        tokio::spawn(tasks::presence_heartbeat(state.clone())),
        tokio::spawn(tasks::prune_events(state.clone())),
        tokio::spawn(tasks::record_retention(state.clone())),
        tokio::spawn(tasks::listen(state.clone())),
        tokio::spawn(media::reconcile(state.clone())),
        tokio::spawn(media::follow_changes(state.clone())),
        tokio::spawn(cluster::beat(state.clone())),
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
        self.state.media.close_all().await;
        // Other nodes take this one's meets over at their next offer, without waiting for
        // its beats to stop.
        if let Ok(mut db) = self.state.store.conn().await {
            let _ = meetdesk_store::nodes::remove(&mut db, &self.state.node_id).await;
        }
        self.state.store.close().await;
    }

    /// Stops everything at once, as a crash would (tests of durability): no more requests,
    /// background work or beats, and the media connections gone (their sockets closed).
    /// Connections already accepted are the caller's to cut (a crash would close them).
    pub fn kill(self) {
        self.serve.abort();
        for t in &self.tasks {
            t.abort();
        }
        let state = self.state;
        tokio::spawn(async move { state.media.close_all().await });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn media_settings_follow_the_listen_ip_and_hand_turn_to_clients() {
        let mut c = Config::new("0.0.0.0:8780".parse().unwrap(), "sqlite://x");
        let m = c.media_settings();
        assert_eq!(m.peer.bind_ip, "0.0.0.0".parse::<IpAddr>().unwrap(), "wildcard: every interface");
        assert!(m.client_ice_servers.is_empty() && m.peer.ice_servers.is_empty());
        c.media_ip = Some("10.0.0.5".parse().unwrap());
        c.media_public_ip = Some("203.0.113.7".parse().unwrap());
        c.media_ports = Some("40000-40999".parse().unwrap());
        c.turn_url = Some("turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349".into());
        c.turn_username = Some("u".into());
        c.turn_credential = Some("p".into());
        let m = c.media_settings();
        assert_eq!(m.peer.bind_ip, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(m.peer.public_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(m.peer.port_range, Some(meetdesk_rtc::PortRange::new(40000, 40999).unwrap()));
        assert_eq!(
            m.client_ice_servers,
            vec![meetdesk_rtc::IceServer {
                urls: vec![
                    "turn:turn.example.com:3478?transport=udp".into(),
                    "turns:turn.example.com:5349".into()
                ],
                username: Some("u".into()),
                credential: Some("p".into()),
            }]
        );
        assert!(m.peer.ice_servers.is_empty(), "the server itself does not relay");
    }
}
