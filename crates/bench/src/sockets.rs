//! Client event sockets: the idle crowd (counts frames, spots bench messages without parsing
//! JSON) and the assignee's devices (parse every event, report rings with their arrival time).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use meetdesk_protocol::{Event, EventBody};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bounds every wait for something that must happen (a failure, not a measurement).
pub const WAIT: Duration = Duration::from_secs(60);

/// Bench messages carry `bench-msg-<index>.` in their body.
pub const MARKER: &str = "bench-msg-";

/// Close code the server sends to a socket that fell too far behind.
const CLOSE_LAGGING: u16 = 4008;

/// Opens `/api/events` and waits for the server's `hello` (the socket is registered then).
pub async fn connect(ws_base: &str, token: &str) -> anyhow::Result<Ws> {
    let url = format!("{ws_base}/api/events?token={token}");
    // tungstenite zero-fills its whole read buffer (128 KiB by default) before every read: with
    // thousands of sockets that memset would be most of the benchmark's own CPU.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .context("opening the event socket")?;
    let first = tokio::time::timeout(WAIT, ws.next()).await.context("no hello on the event socket")?;
    match first {
        Some(Ok(Message::Text(t))) if t.as_str().contains(r#""type":"hello""#) => Ok(ws),
        other => bail!("expected a hello event, got {other:?}"),
    }
}

/// Delivery of bench messages to every listening idle socket.
pub struct Tracker {
    epoch: Instant,
    counts: Vec<AtomicU32>,
    started_ns: Vec<AtomicU64>,
    done_ns: Vec<AtomicU64>,
    /// How many sockets must receive a message for it to count as delivered.
    listeners: AtomicU32,
    delivered: AtomicU64,
    /// Messages posted and not yet delivered everywhere (the posters' window).
    pub window: Semaphore,
}

impl Tracker {
    pub fn new(capacity: usize, window: usize) -> Tracker {
        Tracker {
            epoch: Instant::now(),
            counts: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            started_ns: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            done_ns: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            listeners: AtomicU32::new(u32::MAX),
            delivered: AtomicU64::new(0),
            window: Semaphore::new(window),
        }
    }

    pub fn capacity(&self) -> usize {
        self.counts.len()
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn set_listeners(&self, n: usize) {
        self.listeners.store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::SeqCst);
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }

    pub fn mark_started(&self, idx: usize) {
        if let Some(s) = self.started_ns.get(idx) {
            s.store(self.now_ns(), Ordering::SeqCst);
        }
    }

    /// (post started, delivered to the last listener) of a delivered message.
    pub fn span(&self, idx: usize) -> Option<(Duration, Duration)> {
        let start = self.started_ns.get(idx)?.load(Ordering::SeqCst);
        let done = self.done_ns.get(idx)?.load(Ordering::SeqCst);
        (done > 0).then(|| (Duration::from_nanos(start), Duration::from_nanos(done)))
    }

    fn hit(&self, idx: usize) {
        let Some(count) = self.counts.get(idx) else { return };
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.listeners.load(Ordering::SeqCst) {
            if let Some(d) = self.done_ns.get(idx) {
                d.store(self.now_ns().max(1), Ordering::SeqCst);
            }
            self.delivered.fetch_add(1, Ordering::SeqCst);
            self.window.add_permits(1);
        }
    }
}

/// What the idle crowd has received.
pub struct Crowd {
    pub frames: AtomicU64,
    pub closed: AtomicU64,
    pub lagged: AtomicU64,
    pub tracker: Tracker,
}

impl Crowd {
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::SeqCst)
    }
}

fn marker_index(text: &str) -> Option<usize> {
    let at = text.find(MARKER)? + MARKER.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// An idle agent device: counts what arrives; answers nothing.
pub fn spawn_idle(mut ws: Ws, crowd: Arc<Crowd>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    crowd.frames.fetch_add(1, Ordering::SeqCst);
                    if let Some(idx) = marker_index(t.as_str()) {
                        crowd.tracker.hit(idx);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    if frame.is_some_and(|f| u16::from(f.code) == CLOSE_LAGGING) {
                        crowd.lagged.fetch_add(1, Ordering::SeqCst);
                    }
                    crowd.closed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    crowd.closed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
        }
    })
}

/// A ring as one of the assignee's devices saw it.
#[derive(Debug)]
pub struct RingSeen {
    pub device: usize,
    pub meet_id: String,
    pub at: Instant,
}

/// One of the assignee's devices: parses every event and reports rings.
pub fn spawn_assignee(mut ws: Ws, device: usize, rings: mpsc::UnboundedSender<RingSeen>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            let at = Instant::now();
            let Ok(event) = serde_json::from_str::<Event>(t.as_str()) else { continue };
            if let EventBody::Ring { meet, .. } = event.body {
                if rings.send(RingSeen { device, meet_id: meet.id, at }).is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::marker_index;

    #[test]
    fn finds_the_message_index() {
        assert_eq!(marker_index(r#"{"body":"bench-msg-1234.","x":1}"#), Some(1234));
        assert_eq!(marker_index(r#"{"body":"Missed meet"}"#), None);
        assert_eq!(marker_index("bench-msg-"), None);
    }
}
