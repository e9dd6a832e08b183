//! A lossy UDP relay between media clients and a server, for impairment tests and benches.
//!
//! The server binds its media sockets on `upstream_ip` with a fixed port range
//! (`--media-ports`) and advertises `listen_ip` as its NAT 1:1 public IP
//! (`--media-public-ip`). The relay binds `listen_ip` on **every** port of the range; a datagram
//! from a client to `listen_ip:P` leaves through an upstream socket of that client's own (one
//! per client address and port, so the server tells clients apart as it would behind a NAT)
//! towards `upstream_ip:P`, and the server's answers come back to the client from
//! `listen_ip:P`, the address it dialled.
//!
//! Each direction has its own [`Impairment`] — random loss (a seeded RNG), a fixed delay and a
//! uniform jitter on top (so packets overtake each other) — changeable while it runs, and the
//! link can be cut both ways ([`Relay::set_link_up`], [`Relay::drop_link_for`]): a cut link
//! drops everything, including what was already on its way (delayed).
//!
//! Delays are a queue ordered by due time on tokio's clock, served by one task; nothing
//! sleeps to wait for something else.
//!
//! ```no_run
//! # async fn demo() -> Result<(), meetdesk_testkit::relay::RelayError> {
//! use meetdesk_testkit::relay::{Impairment, Relay};
//! use std::time::Duration;
//! let relay = Relay::start_on_free_ports("127.0.0.2".parse().unwrap(), "::1".parse().unwrap(), 16, 7).await?;
//! let (first, last) = relay.ports(); // give the server --media-ports first-last
//! relay.set_impairment(Impairment { loss: 0.1, jitter: Duration::from_millis(40), ..Impairment::default() });
//! let outage = relay.drop_link_for(Duration::from_secs(5));
//! # let _ = (first, last, outage);
//! # Ok(())
//! # }
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest datagram relayed.
const MAX_DATAGRAM: usize = 65_535;
/// Ranges tried by [`Relay::start_on_free_ports`] before it gives up.
const RANGE_ATTEMPTS: usize = 20;
/// Where [`Relay::start_on_free_ports`] looks: below Linux's ephemeral ports (32768–60999),
/// so that sockets bound to port 0 elsewhere rarely sit in the range.
const FREE_RANGE_FLOOR: u16 = 20_000;
const FREE_RANGE_CEILING: u16 = 32_000;

/// What the relay does to the datagrams of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairment {
    /// Chance that a datagram is dropped, 0.0 ..= 1.0.
    pub loss: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
    /// Extra delay per datagram, uniform in `0 ..= jitter`: datagrams may overtake each other.
    pub jitter: Duration,
}

/// A direction through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionStats {
    /// Datagrams that arrived at the relay.
    pub received: u64,
    /// Dropped by the random loss.
    pub lost: u64,
    /// Dropped because the link was down (on arrival, or while delayed).
    pub cut: u64,
    /// Sent on.
    pub forwarded: u64,
}

/// Counters of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStats {
    pub up: DirectionStats,
    pub down: DirectionStats,
}

/// One outage made by [`Relay::drop_link_for`]: when the link went down and when it comes
/// back, on the wall clock (to compare with other processes' timestamps) and on tokio's.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    pub down_at: SystemTime,
    pub up_at: SystemTime,
    pub up_instant: Instant,
}

impl Outage {
    /// Milliseconds since the Unix epoch when the link went down.
    pub fn down_unix_ms(&self) -> i64 {
        unix_ms(self.down_at)
    }

    /// Milliseconds since the Unix epoch when the link comes back.
    pub fn up_unix_ms(&self) -> i64 {
        unix_ms(self.up_at)
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What can go wrong starting a relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("binding the relay on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("an empty port range: {first}-{last}")]
    EmptyRange { first: u16, last: u16 },
    #[error("no range of {count} free UDP ports on {listen_ip} and {upstream_ip} after {attempts} tries")]
    NoFreeRange { count: u16, listen_ip: IpAddr, upstream_ip: IpAddr, attempts: usize },
}

#[derive(Debug, Clone, Copy)]
enum Link {
    Up,
    Down,
    DownUntil(Instant),
}

#[derive(Debug)]
struct Settings {
    impairments: [Impairment; 2],
    link: Link,
    rng: StdRng,
}

#[derive(Debug)]
struct Shared {
    settings: Mutex<Settings>,
    /// The counters, watched by [`Relay::wait_until`].
    stats: watch::Sender<RelayStats>,
    /// Arrival order of delayed datagrams (ties in due time keep it).
    order: AtomicU64,
}

fn of(stats: &mut RelayStats, dir: Direction) -> &mut DirectionStats {
    match dir {
        Direction::Up => &mut stats.up,
        Direction::Down => &mut stats.down,
    }
}

impl Shared {
    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn link_up(&self, now: Instant) -> bool {
        match self.settings().link {
            Link::Up => true,
            Link::Down => false,
            Link::DownUntil(t) => now >= t,
        }
    }

    /// A datagram arrived: `None` to drop it, else the delay before sending it on.
    fn admit(&self, dir: Direction, now: Instant) -> Option<Duration> {
        let decision = if self.link_up(now) {
            let mut s = self.settings();
            let imp = s.impairments[dir.index()];
            if imp.loss > 0.0 && s.rng.gen_bool(imp.loss.clamp(0.0, 1.0)) {
                Err(false)
            } else {
                let jitter_us = imp.jitter.as_micros().min(u128::from(u64::MAX)) as u64;
                let extra = if jitter_us > 0 { s.rng.gen_range(0..=jitter_us) } else { 0 };
                Ok(imp.delay + Duration::from_micros(extra))
            }
        } else {
            Err(true)
        };
        self.stats.send_modify(|s| {
            let d = of(s, dir);
            d.received += 1;
            match decision {
                Ok(_) => {}
                Err(true) => d.cut += 1,
                Err(false) => d.lost += 1,
            }
        });
        decision.ok()
    }

    fn count_cut(&self, dir: Direction) {
        self.stats.send_modify(|s| of(s, dir).cut += 1);
    }

    fn count_forwarded(&self, dir: Direction) {
        self.stats.send_modify(|s| of(s, dir).forwarded += 1);
    }
}

/// Where a datagram goes: a client (through the listening socket) or the server (through that
/// client's connected upstream socket).
#[derive(Debug)]
struct Datagram {
    dir: Direction,
    socket: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    data: Vec<u8>,
}

impl Datagram {
    async fn send(self, shared: &Shared) {
        let sent = match self.to {
            Some(to) => self.socket.send_to(&self.data, to).await,
            None => self.socket.send(&self.data).await,
        };
        // A send can fail when the other end's socket is gone (ICMP unreachable reported
        // late); that datagram is simply lost, as on a network.
        if sent.is_ok() {
            shared.count_forwarded(self.dir);
        }
    }
}

/// A delayed datagram in the queue: ordered by due time, then arrival.
struct Delayed {
    due: Instant,
    order: u64,
    datagram: Datagram,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl Eq for Delayed {}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// The relay; its tasks stop when it is dropped.
#[derive(Debug)]
pub struct Relay {
    shared: Arc<Shared>,
    first: u16,
    last: u16,
    listen_ip: IpAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Relay {
    /// Binds `listen_ip` on every port `first..=last` and relays to `upstream_ip` on the same
    /// ports. No impairment and the link up until told otherwise; `seed` seeds the loss and
    /// jitter draws.
    pub async fn start(
        listen_ip: IpAddr,
        upstream_ip: IpAddr,
        first: u16,
        last: u16,
        seed: u64,
    ) -> Result<Relay, RelayError> {
        if first == 0 || first > last {
            return Err(RelayError::EmptyRange { first, last });
        }
        let mut sockets = Vec::new();
        for port in first..=last {
            let addr = SocketAddr::new(listen_ip, port);
            let socket = UdpSocket::bind(addr).await.map_err(|source| RelayError::Bind { addr, source })?;
            sockets.push((port, Arc::new(socket)));
        }
        let (stats, _) = watch::channel(RelayStats::default());
        let shared = Arc::new(Shared {
            settings: Mutex::new(Settings {
                impairments: [Impairment::default(); 2],
                link: Link::Up,
                rng: StdRng::seed_from_u64(seed),
            }),
            stats,
            order: AtomicU64::new(0),
        });
        let (delay_tx, delay_rx) = mpsc::unbounded_channel();
        let mut tasks = vec![tokio::spawn(delay_line(Arc::clone(&shared), delay_rx))];
        for (port, socket) in sockets {
            let upstream = SocketAddr::new(upstream_ip, port);
            tasks.push(tokio::spawn(serve_port(socket, upstream, Arc::clone(&shared), delay_tx.clone())));
        }
        Ok(Relay { shared, first, last, listen_ip, tasks })
    }

    /// [`Relay::start`] on `count` consecutive ports that are free on `listen_ip` (bound by the
    /// relay) and on `upstream_ip` (probed: the server will bind there), from a random start.
    pub async fn start_on_free_ports(
        listen_ip: IpAddr,
        upstream_ip: IpAddr,
        count: u16,
        seed: u64,
    ) -> Result<Relay, RelayError> {
        let count = count.max(1);
        for _ in 0..RANGE_ATTEMPTS {
            let first = rand::thread_rng().gen_range(FREE_RANGE_FLOOR..FREE_RANGE_CEILING - count);
            let last = first + (count - 1);
            let upstream_free =
                (first..=last).all(|p| std::net::UdpSocket::bind(SocketAddr::new(upstream_ip, p)).is_ok());
            if !upstream_free {
                continue;
            }
            match Relay::start(listen_ip, upstream_ip, first, last, seed).await {
                Ok(relay) => return Ok(relay),
                Err(RelayError::Bind { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RelayError::NoFreeRange { count, listen_ip, upstream_ip, attempts: RANGE_ATTEMPTS })
    }

    /// The first and last port of the range.
    pub fn ports(&self) -> (u16, u16) {
        (self.first, self.last)
    }

    /// The IP clients send to.
    pub fn listen_ip(&self) -> IpAddr {
        self.listen_ip
    }

    /// The same impairment both ways.
    pub fn set_impairment(&self, impairment: Impairment) {
        self.shared.settings().impairments = [impairment; 2];
    }

    /// One direction's impairment.
    pub fn set_direction(&self, dir: Direction, impairment: Impairment) {
        self.shared.settings().impairments[dir.index()] = impairment;
    }

    /// Cuts the link both ways (`false`) or restores it.
    pub fn set_link_up(&self, up: bool) {
        self.shared.settings().link = if up { Link::Up } else { Link::Down };
    }

    /// Cuts the link both ways now, for `length`; it comes back by itself.
    pub fn drop_link_for(&self, length: Duration) -> Outage {
        let (now, wall) = (Instant::now(), SystemTime::now());
        self.shared.settings().link = Link::DownUntil(now + length);
        Outage { down_at: wall, up_at: wall + length, up_instant: now + length }
    }

    pub fn stats(&self) -> RelayStats {
        *self.shared.stats.borrow()
    }

    /// Waits until the counters satisfy `done` (checked on every change); returns them.
    pub async fn wait_until(&self, mut done: impl FnMut(&RelayStats) -> bool) -> RelayStats {
        let mut rx = self.shared.stats.subscribe();
        // The sender lives as long as `self`, so the channel cannot close while we wait.
        let result = rx.wait_for(|s| done(s)).await.map(|s| *s);
        result.unwrap_or_else(|_| self.stats())
    }

    /// Waits until at least `count` datagrams have been forwarded in `dir` since the start.
    pub async fn wait_forwarded(&self, dir: Direction, count: u64) -> RelayStats {
        self.wait_until(|s| match dir {
            Direction::Up => s.up.forwarded >= count,
            Direction::Down => s.down.forwarded >= count,
        })
        .await
    }
}

/// One port: datagrams from clients go up through their own upstream socket.
async fn serve_port(
    listen: Arc<UdpSocket>,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    delay_tx: mpsc::UnboundedSender<Delayed>,
) {
    let mut clients: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut children = Children(Vec::new());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = match listen.recv_from(&mut buf).await {
            Ok(r) => r,
            // An ICMP error for an earlier send (a client gone): not this socket's fault.
            Err(_) => continue,
        };
        let socket = match clients.get(&from) {
            Some(s) => Arc::clone(s),
            None => {
                let Ok(socket) = upstream_socket(upstream).await else { continue };
                let socket = Arc::new(socket);
                children.0.push(tokio::spawn(serve_upstream(
                    Arc::clone(&socket),
                    Arc::clone(&listen),
                    from,
                    Arc::clone(&shared),
                    delay_tx.clone(),
                )));
                clients.insert(from, Arc::clone(&socket));
                socket
            }
        };
        let datagram = Datagram { dir: Direction::Up, socket, to: None, data: buf[..n].to_vec() };
        pass(&shared, &delay_tx, datagram).await;
    }
}

/// The upstream tasks of one port's clients: they stop with the port's task.
struct Children(Vec<JoinHandle<()>>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &self.0 {
            c.abort();
        }
    }
}

/// A client's upstream socket, connected to the server's port (it hears only the server).
async fn upstream_socket(upstream: SocketAddr) -> io::Result<UdpSocket> {
    let any = match upstream.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
    socket.connect(upstream).await?;
    Ok(socket)
}

/// The server's datagrams for one client go back through the port it dialled.
async fn serve_upstream(
    socket: Arc<UdpSocket>,
    listen: Arc<UdpSocket>,
    client: SocketAddr,
    shared: Arc<Shared>,
    delay_tx: mpsc::UnboundedSender<Delayed>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(n) => n,
            // ICMP port unreachable (the server's socket closed): keep listening, it may be
            // an old connection's.
            Err(_) => continue,
        };
        let datagram = Datagram {
            dir: Direction::Down,
            socket: Arc::clone(&listen),
            to: Some(client),
            data: buf[..n].to_vec(),
        };
        pass(&shared, &delay_tx, datagram).await;
    }
}

/// Drops, delays or sends one datagram.
async fn pass(shared: &Shared, delay_tx: &mpsc::UnboundedSender<Delayed>, datagram: Datagram) {
    let now = Instant::now();
    match shared.admit(datagram.dir, now) {
        None => {}
        Some(delay) if delay.is_zero() => datagram.send(shared).await,
        Some(delay) => {
            let order = shared.order.fetch_add(1, Ordering::Relaxed);
            let _ = delay_tx.send(Delayed { due: now + delay, order, datagram });
        }
    }
}

/// Sends delayed datagrams when they are due (dropping them if the link went down meanwhile).
async fn delay_line(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Delayed>) {
    let mut queue: BinaryHeap<Reverse<Delayed>> = BinaryHeap::new();
    loop {
        let next_due = queue.peek().map(|Reverse(d)| d.due);
        tokio::select! {
            item = rx.recv() => match item {
                Some(d) => queue.push(Reverse(d)),
                None => return,
            },
            _ = sleep_until(next_due) => {
                let now = Instant::now();
                while queue.peek().is_some_and(|Reverse(d)| d.due <= now) {
                    let Some(Reverse(d)) = queue.pop() else { break };
                    if shared.link_up(now) {
                        d.datagram.send(&shared).await;
                    } else {
                        shared.count_cut(d.datagram.dir);
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const LISTEN: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const UPSTREAM: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// A failure bound, not a pause.
    const WAIT: Duration = Duration::from_secs(10);

    /// A "server" on `UPSTREAM` at the relay's first port that echoes every datagram, and a
    /// client socket; returns the relay, the client and the address the client dials.
    async fn setup(seed: u64) -> (Relay, UdpSocket, SocketAddr, JoinHandle<()>) {
        let relay = Relay::start_on_free_ports(LISTEN, UPSTREAM, 4, seed).await.unwrap();
        let port = relay.ports().0;
        let server = UdpSocket::bind(SocketAddr::new(UPSTREAM, port)).await.unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(&buf[..n], from).await;
            }
        });
        let client = UdpSocket::bind(SocketAddr::new(UPSTREAM, 0)).await.unwrap();
        (relay, client, SocketAddr::new(LISTEN, port), echo)
    }

    /// Sends `0..n`, one at a time once the relay has taken the previous one (a burst could
    /// overflow the socket buffer, which is loss the relay did not make).
    async fn send_paced(relay: &Relay, client: &UdpSocket, front: SocketAddr, n: u32) {
        let before = relay.stats().up.received;
        for i in 0..n {
            client.send_to(&i.to_be_bytes(), front).await.unwrap();
            let want = before + u64::from(i) + 1;
            tokio::time::timeout(WAIT, relay.wait_until(|s| s.up.received >= want)).await.unwrap();
        }
    }

    async fn recv_n(client: &UdpSocket, n: usize) -> Vec<u32> {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < n {
            let len = tokio::time::timeout(WAIT, client.recv(&mut buf)).await.unwrap().unwrap();
            got.push(u32::from_be_bytes(buf[..len].try_into().unwrap()));
        }
        got
    }

    #[tokio::test]
    async fn datagrams_go_up_and_come_back_from_the_address_dialled() {
        let (relay, client, front, _echo) = setup(1).await;
        let mut buf = [0u8; 64];
        for i in 0..50u32 {
            client.send_to(&i.to_be_bytes(), front).await.unwrap();
            let (n, from) = tokio::time::timeout(WAIT, client.recv_from(&mut buf)).await.unwrap().unwrap();
            assert_eq!(from, front, "answers come from the relay's port");
            assert_eq!(u32::from_be_bytes(buf[..n].try_into().unwrap()), i);
        }
        let s = relay.stats();
        assert_eq!((s.up.forwarded, s.down.forwarded, s.up.lost, s.down.cut), (50, 50, 0, 0));
    }

    /// How many of 1000 datagrams a relay seeded `seed` loses at 30 % up.
    async fn lost_of_1000(seed: u64) -> u64 {
        let (relay, client, front, _echo) = setup(seed).await;
        relay.set_direction(Direction::Up, Impairment { loss: 0.3, ..Impairment::default() });
        send_paced(&relay, &client, front, 1000).await;
        let s = tokio::time::timeout(WAIT, relay.wait_until(|s| s.down.forwarded == s.up.forwarded))
            .await
            .unwrap();
        assert_eq!(s.up.lost + s.up.forwarded, 1000, "{s:?}");
        assert_eq!(s.down.lost, 0, "the other direction is clean: {s:?}");
        s.up.lost
    }

    #[tokio::test]
    async fn loss_drops_about_the_share_asked_and_the_seed_decides_how_many() {
        let lost = lost_of_1000(42).await;
        assert!((230..370).contains(&lost), "30 % of 1000: {lost}");
        assert_eq!(lost_of_1000(42).await, lost, "same seed, same losses");
    }

    #[tokio::test]
    async fn jitter_delays_within_its_bound_and_reorders() {
        let (relay, client, front, _echo) = setup(3).await;
        let imp =
            Impairment { delay: Duration::from_millis(5), jitter: Duration::from_millis(40), loss: 0.0 };
        relay.set_direction(Direction::Down, imp);
        send_paced(&relay, &client, front, 200).await;
        let got = recv_n(&client, 200).await;
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<_>>(), "nothing lost");
        assert_ne!(got, sorted, "up to 40 ms of jitter on datagrams sent back to back reorders some");
    }

    #[tokio::test]
    async fn a_cut_link_drops_both_ways_and_an_outage_ends_by_itself() {
        let (relay, client, front, _echo) = setup(5).await;
        client.send_to(&0u32.to_be_bytes(), front).await.unwrap();
        assert_eq!(recv_n(&client, 1).await, [0]);
        relay.set_link_up(false);
        send_paced(&relay, &client, front, 10).await;
        relay.set_link_up(true);
        client.send_to(&11u32.to_be_bytes(), front).await.unwrap();
        assert_eq!(recv_n(&client, 1).await, [11], "nothing sent while it was down arrives");
        assert_eq!(relay.stats().up.cut, 10);

        // A stream every 10 ms through a 300 ms outage: the first echo is of a datagram sent
        // after the link came back.
        let outage = relay.drop_link_for(Duration::from_millis(300));
        let sender = {
            let client = UdpSocket::bind(SocketAddr::new(UPSTREAM, 0)).await.unwrap();
            client.connect(front).await.unwrap();
            let client = Arc::new(client);
            let c = Arc::clone(&client);
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                loop {
                    tick.tick().await;
                    let sent_after_outage = u32::from(Instant::now() >= outage.up_instant);
                    let _ = c.send(&sent_after_outage.to_be_bytes()).await;
                }
            });
            (client, task)
        };
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, sender.0.recv(&mut buf)).await.unwrap().unwrap();
        sender.1.abort();
        assert_eq!(u32::from_be_bytes(buf[..n].try_into().unwrap()), 1, "sent during the outage, yet echoed");
        assert!(Instant::now() >= outage.up_instant);
        assert_eq!(outage.up_unix_ms() - outage.down_unix_ms(), 300);
    }

    #[tokio::test]
    async fn a_taken_port_or_an_empty_range_is_an_error() {
        let taken = std::net::UdpSocket::bind(SocketAddr::new(LISTEN, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = Relay::start(LISTEN, UPSTREAM, port, port, 0).await.unwrap_err();
        assert!(matches!(err, RelayError::Bind { .. }), "{err}");
        let err = Relay::start(LISTEN, UPSTREAM, 10, 9, 0).await.unwrap_err();
        assert!(matches!(err, RelayError::EmptyRange { first: 10, last: 9 }), "{err}");
    }
}
