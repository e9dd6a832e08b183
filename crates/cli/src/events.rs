//! The event socket (`/api/events`), kept open: read in a task, handed over in order, and
//! reconnected with `?after=<last seq>` when it drops, so nothing is missed.

use std::time::Duration;

use futures::StreamExt;
use meetdesk_protocol::Event;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

/// The server pings every 20 s; this long without any frame means the connection is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the socket task hands over.
#[derive(Debug)]
pub enum SocketMsg {
    Event(Box<Event>),
    /// The socket dropped; reconnecting (resuming after `after`).
    Reconnecting {
        after: i64,
        why: String,
    },
    /// The server refuses this session: no point retrying.
    Fatal(String),
}

/// Opens the socket in the background. `base` is the server's http(s) URL.
pub fn spawn(base: &str, token: &str) -> mpsc::UnboundedReceiver<SocketMsg> {
    let ws_base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(ws_base, token.to_owned(), tx));
    rx
}

async fn run(ws_base: String, token: String, tx: mpsc::UnboundedSender<SocketMsg>) {
    // The last seq handed over; 0 before any (then a reconnect starts from "now").
    let mut last: i64 = 0;
    let mut backoff = BACKOFF_MIN;
    loop {
        let url = if last > 0 {
            format!("{ws_base}/api/events?token={token}&after={last}")
        } else {
            format!("{ws_base}/api/events?token={token}")
        };
        let why = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut socket, _)) => {
                backoff = BACKOFF_MIN;
                loop {
                    let frame = match tokio::time::timeout(SILENCE_LIMIT, socket.next()).await {
                        Ok(Some(Ok(frame))) => frame,
                        Ok(Some(Err(e))) => break e.to_string(),
                        Ok(None) => break "closed by the server".to_owned(),
                        Err(_) => break format!("nothing received for {SILENCE_LIMIT:?}"),
                    };
                    match frame {
                        Message::Text(text) => match serde_json::from_str::<Event>(&text) {
                            Ok(event) => {
                                if event.seq > 0 {
                                    if event.seq <= last {
                                        continue; // already handed over before a reconnect
                                    }
                                    last = event.seq;
                                }
                                if tx.send(SocketMsg::Event(Box::new(event))).is_err() {
                                    return;
                                }
                            }
                            // An event this client does not know (a newer server): skip it.
                            Err(e) => tracing::debug!(error = %e, "unreadable event skipped"),
                        },
                        Message::Close(frame) => {
                            break frame
                                .map_or("closed".to_owned(), |f| format!("closed: {} {}", f.code, f.reason))
                        }
                        _ => {}
                    }
                }
            }
            Err(tungstenite::Error::Http(resp)) if matches!(resp.status().as_u16(), 401 | 403) => {
                let _ = tx.send(SocketMsg::Fatal(format!(
                    "the event socket was refused ({}): the session is not valid",
                    resp.status()
                )));
                return;
            }
            Err(e) => e.to_string(),
        };
        if tx.send(SocketMsg::Reconnecting { after: last, why }).is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
