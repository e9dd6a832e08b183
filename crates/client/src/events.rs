//! The event socket (`/api/events`), kept open for a session: read in a task, handed over in
//! order, and reconnected with backoff and `?after=<last seq>` when it drops, so nothing is
//! missed and nothing is handed over twice.
//!
//! A reconnect before any logged event (seq 0 so far) has no cursor: it starts from "now", and
//! the caller reads again what it shows (the server's `hello` on every connection says when).

use std::time::Duration;

use futures::StreamExt;
use meetdesk_protocol::{Event, EventBody};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

/// Timings of the socket. The server pings every 20 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// This long without any frame means the connection is dead (a laptop that slept, a
    /// network that changed).
    pub silence_limit: Duration,
    /// The first reconnect's wait; doubled on each failed one …
    pub backoff_min: Duration,
    /// … up to this.
    pub backoff_max: Duration,
}

impl Default for SocketConfig {
    /// 45 s of silence, backoff 250 ms … 10 s (the desktop app's).
    fn default() -> SocketConfig {
        SocketConfig {
            silence_limit: Duration::from_secs(45),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// What the socket task hands over.
#[derive(Debug)]
pub enum SocketMsg {
    /// Connected (again).
    Open,
    /// The next event, in seq order (events without a seq, such as `hello`, as they come).
    Event(Box<Event>),
    /// Dropped; reconnecting after a backoff, resuming after seq `after` (0: from "now").
    Reconnecting {
        /// The last seq handed over (0: none yet).
        after: i64,
        /// Why it dropped (never the URL: it carries the token).
        why: String,
    },
    /// The server refuses this session (HTTP `status`: revoked or expired): no point retrying.
    /// The task has stopped.
    Refused {
        /// 401 or 403.
        status: u16,
    },
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

/// Opens the socket in a tokio task; `base` is the server's http(s) URL. The task ends when
/// the receiver is dropped or the server refuses the session.
pub fn spawn(base: &str, token: &str, config: SocketConfig) -> mpsc::UnboundedReceiver<SocketMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(base.to_owned(), token.to_owned(), config, tx));
    rx
}

/// The socket's loop, for callers that spawn it on their own runtime (Tauri's). Runs until
/// `tx`'s receiver is dropped or the server refuses the session.
pub async fn run(base: String, token: String, config: SocketConfig, tx: mpsc::UnboundedSender<SocketMsg>) {
    let ws = ws_base(base.trim_end_matches('/'));
    let silence = config.silence_limit;
    // The last seq handed over; 0 before any.
    let mut last: i64 = 0;
    let mut backoff = config.backoff_min;
    loop {
        let url = if last > 0 {
            format!("{ws}/api/events?token={token}&after={last}")
        } else {
            format!("{ws}/api/events?token={token}")
        };
        let why = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut socket, _)) => {
                backoff = config.backoff_min;
                if tx.send(SocketMsg::Open).is_err() {
                    return;
                }
                loop {
                    let frame = match tokio::time::timeout(silence, socket.next()).await {
                        Ok(Some(Ok(frame))) => frame,
                        Ok(Some(Err(e))) => break e.to_string(),
                        Ok(None) => break "closed by the server".to_owned(),
                        Err(_) => break format!("nothing received for {silence:?}"),
                    };
                    match frame {
                        Message::Text(text) => match serde_json::from_str::<Event>(&text) {
                            Ok(event) => {
                                if let EventBody::Hello { cursor, .. } = &event.body {
                                    // Nothing seen yet: resume from where this connection starts.
                                    last = last.max(*cursor);
                                }
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
                let _ = tx.send(SocketMsg::Refused { status: resp.status().as_u16() });
                return;
            }
            // Never log the URL: it carries the token.
            Err(e) => e.to_string(),
        };
        if tx.send(SocketMsg::Reconnecting { after: last, why }).is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::result_large_err)]

    use super::*;
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    use tokio_tungstenite::tungstenite::http::StatusCode;

    fn event(seq: i64) -> Message {
        Message::text(format!(r#"{{"seq":{seq},"at":1,"type":"resync"}}"#))
    }

    fn fast() -> SocketConfig {
        SocketConfig {
            silence_limit: Duration::from_secs(5),
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(20),
        }
    }

    /// A fake event server for two connections: records each one's query, sends it
    /// `messages(round)`, then closes the first and holds the second open until the client goes.
    async fn two_rounds(messages: fn(usize) -> Vec<Message>) -> (String, mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (queries_tx, queries) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            for round in 0..2 {
                let (stream, _) = listener.accept().await.unwrap();
                let q = queries_tx.clone();
                let mut ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, resp: Response| {
                    let _ = q.send(req.uri().query().unwrap_or_default().to_owned());
                    Ok(resp)
                })
                .await
                .unwrap();
                for m in messages(round) {
                    ws.send(m).await.unwrap();
                }
                if round == 0 {
                    ws.close(None).await.unwrap();
                } else {
                    while ws.next().await.is_some() {}
                }
            }
        });
        (base, queries)
    }

    #[tokio::test]
    async fn a_dropped_socket_resumes_after_the_last_seq_and_hands_nothing_over_twice() {
        let (base, mut queries) =
            two_rounds(|round| if round == 0 { vec![event(1), event(2)] } else { vec![event(2), event(3)] })
                .await;
        let mut rx = spawn(&base, "tok", fast());
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match rx.recv().await.unwrap() {
                SocketMsg::Event(e) => seen.push(e.seq),
                SocketMsg::Reconnecting { after, .. } => assert_eq!(after, 2),
                SocketMsg::Open => {}
                SocketMsg::Refused { .. } => panic!("refused"),
            }
        }
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(queries.recv().await.unwrap(), "token=tok");
        assert_eq!(queries.recv().await.unwrap(), "token=tok&after=2");
    }

    #[tokio::test]
    async fn a_socket_that_saw_no_event_resumes_from_its_hello_cursor() {
        const HELLO: &str = r#"{"seq":0,"at":1,"type":"hello","device_id":"dev","node_id":"n","cursor":7}"#;
        let (base, mut queries) = two_rounds(|_| vec![Message::text(HELLO)]).await;
        let mut rx = spawn(&base, "tok", fast());
        loop {
            if let SocketMsg::Reconnecting { after, .. } = rx.recv().await.unwrap() {
                assert_eq!(after, 7);
                break;
            }
        }
        assert_eq!(queries.recv().await.unwrap(), "token=tok");
        assert_eq!(queries.recv().await.unwrap(), "token=tok&after=7");
    }

    #[tokio::test]
    async fn a_refused_session_stops_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = tokio_tungstenite::accept_hdr_async(stream, |_: &Request, _: Response| {
                let mut refusal = ErrorResponse::new(None);
                *refusal.status_mut() = StatusCode::UNAUTHORIZED;
                Err(refusal)
            })
            .await;
        });
        let mut rx = spawn(&base, "tok", fast());
        assert!(matches!(rx.recv().await, Some(SocketMsg::Refused { status: 401 })));
        assert!(rx.recv().await.is_none(), "the task ended");
    }

    #[test]
    fn socket_urls_follow_the_server_scheme() {
        assert_eq!(ws_base("https://desk.example"), "wss://desk.example");
        assert_eq!(ws_base("http://127.0.0.1:8780"), "ws://127.0.0.1:8780");
    }
}
