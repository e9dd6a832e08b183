//! The Chromium ↔ Chromium call: headless Chromium (Debian's) opens a page served here on
//! 127.0.0.1 (`chromium_page.html`): two `RTCPeerConnection`s in one page, the caller's
//! microphone being Chromium's fake capture device reading the click track; the page records
//! the microphone track and the remote track on one `AudioContext` and posts both back.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::mpsc;

const PAGE: &str = include_str!("chromium_page.html");

/// What the page recorded: the caller's microphone track and the callee's remote track, one
/// timeline, 48 kHz.
pub struct Recorded {
    pub local: Vec<f32>,
    pub remote: Vec<f32>,
    /// From the page: jitter buffer, loss, candidate type, codec.
    pub note: String,
}

enum Msg {
    Local(Vec<f32>),
    Remote(Vec<f32>),
    Done(String),
    Error(String),
}

#[derive(Clone)]
struct Shared {
    page: String,
    tx: mpsc::UnboundedSender<Msg>,
}

fn floats(body: &Bytes) -> Vec<f32> {
    body.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

pub async fn call(chromium: &Path, clicks: &Path, dir: &Path, secs: f64) -> anyhow::Result<Recorded> {
    if !chromium.is_file() {
        bail!("{} not found (apt-get install -y chromium)", chromium.display());
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Shared { page: PAGE.replace("__SECS__", &format!("{secs}")), tx };
    let app = Router::new()
        .route("/", get(|State(s): State<Shared>| async move { Html(s.page) }))
        .route(
            "/local",
            post(|State(s): State<Shared>, b: Bytes| async move {
                let _ = s.tx.send(Msg::Local(floats(&b)));
            }),
        )
        .route(
            "/remote",
            post(|State(s): State<Shared>, b: Bytes| async move {
                let _ = s.tx.send(Msg::Remote(floats(&b)));
            }),
        )
        .route(
            "/done",
            post(|State(s): State<Shared>, b: String| async move {
                let _ = s.tx.send(Msg::Done(b));
            }),
        )
        .route(
            "/error",
            post(|State(s): State<Shared>, b: String| async move {
                let _ = s.tx.send(Msg::Error(b));
            }),
        )
        .layer(DefaultBodyLimit::max(256 << 20))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let log = std::fs::File::create(dir.join("chromium.log"))?;
    let mut child = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
        ])
        .arg(format!("--use-file-for-fake-audio-capture={}", clicks.display()))
        .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", chromium.display()))?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs + 60.0);
    let (mut local, mut remote) = (None, None);
    let result = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Msg::Local(v))) => local = Some(v),
            Ok(Some(Msg::Remote(v))) => remote = Some(v),
            Ok(Some(Msg::Done(note))) => match (local.take(), remote.take()) {
                (Some(local), Some(remote)) => break Ok(Recorded { local, remote, note }),
                _ => break Err(anyhow::anyhow!("the page finished without both recordings")),
            },
            Ok(Some(Msg::Error(e))) => break Err(anyhow::anyhow!("the page failed: {e}")),
            Ok(None) => break Err(anyhow::anyhow!("the page server stopped")),
            Err(_) => {
                break Err(anyhow::anyhow!(
                    "no result from Chromium within {:.0} s (see {})",
                    secs + 60.0,
                    dir.join("chromium.log").display()
                ))
            }
        }
    };
    let _ = child.kill().await;
    server.abort();
    result
}
