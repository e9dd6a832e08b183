//! The event socket (`/api/events`), kept open for a signed-in session: read in a task, handed
//! over in order, reconnected with backoff and `?after=<last seq>` so nothing is missed.

use std::time::Duration;

use futures::StreamExt;
use meetdesk_protocol::Event;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

/// The server pings every 20 s; this long without any frame means the connection is dead
/// (a laptop that slept, a network that changed).
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum SocketMsg {
    /// Connected (again).
    Open,
    Event(Box<Event>),
    /// Dropped; reconnecting after a backoff.
    Reconnecting {
        why: String,
    },
    /// The server refuses this session (revoked or expired): no point retrying.
    Refused,
}

/// `ws(s)://host` for an `http(s)://host` server URL.
pub fn ws_base(base: &str) -> String {
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    }
}

/// Runs until the receiver is dropped or the server refuses the session.
pub async fn run(base: String, token: String, tx: mpsc::UnboundedSender<SocketMsg>) {
    let ws = ws_base(&base);
    // The last seq handed over; 0 before any (a first reconnect then starts from "now", and the
    // UI reloads what it shows).
    let mut last: i64 = 0;
    let mut backoff = BACKOFF_MIN;
    loop {
        let url = if last > 0 {
            format!("{ws}/api/events?token={token}&after={last}")
        } else {
            format!("{ws}/api/events?token={token}")
        };
        let why = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut socket, _)) => {
                backoff = BACKOFF_MIN;
                if tx.send(SocketMsg::Open).is_err() {
                    return;
                }
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
                                        continue; // handed over before the reconnect
                                    }
                                    last = event.seq;
                                }
                                if tx.send(SocketMsg::Event(Box::new(event))).is_err() {
                                    return;
                                }
                            }
                            // An event this version does not know (a newer server): skipped.
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
                let _ = tx.send(SocketMsg::Refused);
                return;
            }
            // Never log the URL: it carries the token.
            Err(e) => e.to_string(),
        };
        if tx.send(SocketMsg::Reconnecting { why }).is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
