//! `meetdesk-server`: one binary; SQLite by default, PostgreSQL for several nodes.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Parser;
use meetdesk_server::Config;

#[derive(Debug, Parser)]
#[command(name = "meetdesk-server", version, about = "meetdesk: voice and video meets inside support chats")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MEETDESK_LISTEN", default_value = "127.0.0.1:8780")]
    listen: SocketAddr,
    /// Database URL: `sqlite://PATH` (the file is created when missing; default: meetdesk.db
    /// in the user's data dir) or `postgres://…` to share one database between several nodes.
    #[arg(long, env = "MEETDESK_DATABASE")]
    database: Option<String>,
    /// Seed (idempotently) the demo channel and serve the demo directory at /api/demo.
    #[arg(long, env = "MEETDESK_DEMO")]
    demo: bool,
    /// Public base URL for links sent to customers (default: http://LISTEN).
    #[arg(long, env = "MEETDESK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Send follow-ups by e-mail, e.g. `smtp://user:pass@mail.example.com:587?tls=required`.
    /// Without it, follow-ups stay in the outbox table.
    #[arg(long, env = "MEETDESK_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender of follow-up e-mails.
    #[arg(long, env = "MEETDESK_SMTP_FROM")]
    smtp_from: Option<String>,
    /// IP the media (WebRTC) UDP sockets bind (default: the listen IP; 0.0.0.0 binds every
    /// non-loopback interface).
    #[arg(long, env = "MEETDESK_MEDIA_IP")]
    media_ip: Option<IpAddr>,
    /// Public IP to advertise for media when the server sits behind a 1:1 NAT (cloud VM).
    #[arg(long, env = "MEETDESK_MEDIA_PUBLIC_IP")]
    media_public_ip: Option<IpAddr>,
    /// UDP ports for media, START-END (e.g. 40000-40999): each connection binds the next free
    /// one, so a firewall opens just this range (default: ephemeral ports).
    #[arg(long, env = "MEETDESK_MEDIA_PORTS", value_name = "START-END")]
    media_ports: Option<meetdesk_rtc::PortRange>,
    /// TURN (or STUN) server URL(s) for clients, comma-separated, e.g.
    /// `turn:turn.example.com:3478?transport=udp`.
    #[arg(long, env = "MEETDESK_TURN_URL")]
    turn_url: Option<String>,
    /// Username for the TURN server (long-term credentials).
    #[arg(long, env = "MEETDESK_TURN_USERNAME")]
    turn_username: Option<String>,
    /// Credential (password) for the TURN server.
    #[arg(long, env = "MEETDESK_TURN_CREDENTIAL", hide_env_values = true)]
    turn_credential: Option<String>,
    /// The built customer widget to serve at /widget/ (default: the source tree's widget/dist).
    #[arg(long, env = "MEETDESK_WIDGET_DIR", value_name = "DIR")]
    widget_dir: Option<std::path::PathBuf>,
    /// The URL other nodes on the same PostgreSQL reach this one at, for node-to-node media
    /// offers (default: http://LISTEN; pass it when listening on 0.0.0.0 or behind NAT).
    #[arg(long, env = "MEETDESK_NODE_URL", value_name = "URL")]
    node_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "MEETDESK_LOG_JSON")]
    log_json: bool,
}

fn default_database() -> anyhow::Result<String> {
    let dir = dirs::data_dir().context("no user data directory; pass --database")?.join("meetdesk");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(format!("sqlite://{}?mode=rwc", dir.join("meetdesk.db").display()))
}

/// Exit code of a server that could not start (bad configuration, database unreachable, port
/// taken): one line on stderr says why; `RUST_BACKTRACE=1` adds the chain and backtrace.
const EXIT_CANNOT_START: u8 = 2;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meetdesk-server: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(EXIT_CANNOT_START);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("meetdesk-server: {e:?}");
            } else {
                eprintln!("meetdesk-server: {e:#}");
            }
            std::process::ExitCode::from(EXIT_CANNOT_START)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The WebRTC stack logs every ICE/DTLS step at info: keep its warnings only.
        tracing_subscriber::EnvFilter::new(
            "info,sqlx=warn,tower_http=info,webrtc=warn,rtc=warn,rtc_ice=warn,rtc_dtls=warn,\
                 rtc_srtp=warn,rtc_interceptor=warn,rtc_sctp=warn,rtc_turn=warn,rtc_stun=warn",
        )
    });
    if args.log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let database = match args.database {
        Some(d) => d,
        None => default_database()?,
    };
    let mut config = Config::new(args.listen, database);
    config.demo = args.demo;
    config.public_url = args.public_url;
    config.smtp_url = args.smtp_url;
    config.smtp_from = args.smtp_from;
    config.media_ip = args.media_ip;
    config.media_public_ip = args.media_public_ip;
    config.media_ports = args.media_ports;
    config.turn_url = args.turn_url;
    config.turn_username = args.turn_username;
    config.turn_credential = args.turn_credential;
    config.node_url = args.node_url;
    if let Some(dir) = args.widget_dir {
        config.widget_dir = dir;
    }
    // Test-only: lets an end-to-end test restart a node "later" without waiting.
    config.time_offset_ms =
        std::env::var("MEETDESK_TEST_TIME_OFFSET_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let server = meetdesk_server::start(config).await?;
    let url = server.url();
    println!("meetdesk server listening on {url}");
    println!("  health:   {url}/healthz");
    println!("  API docs: {url}/api/openapi.json");
    if args.demo {
        println!("  demo:     {url}/api/demo  (agents alice|bob|carol|dave@demo.test, password \"demo\")");
        println!("  shop:     {url}/demo  (a page with the customer widget)");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
