//! The reconnect policy of one participant's media connection: when to restart ICE, when to
//! offer afresh, when to give up.
//!
//! **Pure:** no IO, no clock, no async. Time is the `now` handed in; the caller performs the
//! [`Action`]s (the `meetdesk-meet` / str0m manner): feed [`Reconnect::handle`] and
//! [`Reconnect::handle_timeout`], then drain [`Reconnect::poll_action`] and sleep until
//! [`Reconnect::poll_timeout`]. The CLI uses it; the desktop app will too.
//!
//! The policy ([`ReconnectPolicy`], defaults in brackets):
//! - A new connection (its offer answered) gets `connect_timeout` [10 s] to connect; if it does
//!   not (or fails first), it is offered afresh ([`Action::Reoffer`]): what failed may be DTLS,
//!   which an ICE restart cannot mend (webrtc 0.21's DTLS handshake gives up after 7
//!   retransmissions of a flight, which a lossy path can cause), and a fresh connection mends
//!   ICE as well.
//! - A connection that was connected and turns `disconnected` (ICE heard nothing for
//!   [`crate::ICE_DISCONNECTED_TIMEOUT`]) gets `disconnected_grace` [0.5 s] to come back by
//!   itself, then ICE restarts; `failed` or `closed` restarts at once (but never sooner than
//!   `restart_every` after the previous restart).
//! - While it is not connected, restarts repeat: the second `restart_every` [1 s] after the
//!   first, each later wait `backoff` [×1.5] longer, up to `max_restart_every` [4 s]. Each
//!   restart's connectivity checks last [`crate::ICE_CHECK_ATTEMPTS`] ×
//!   [`crate::ICE_CHECK_INTERVAL`] (5 s), longer than the longest wait, so when the link
//!   returns a restart is always checking and the connection is back within a check interval
//!   or two. (webrtc 0.21's ICE restart drops the old candidate pair, so waiting for the old
//!   path alone is not an option once restarted; a new path — another network — needs the
//!   restart anyway.)
//! - The server answering a restart with "no such connection" (it restarted, or dropped it) →
//!   [`Action::Reoffer`]: a fresh connection, with a new `Reconnect` for it.
//! - Not connected for `give_up_after` [30 s] (since it broke, or since it was created) →
//!   [`Action::GiveUp`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::ConnectionState;

/// The timings of the policy. [`ReconnectPolicy::default`] is what meetdesk clients use.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// A new connection that has not connected after this long is offered afresh.
    pub connect_timeout: Duration,
    /// A `disconnected` connection may come back by itself for this long before a restart.
    pub disconnected_grace: Duration,
    /// Wait between the first and the second restart while not connected.
    pub restart_every: Duration,
    /// Each later wait is this many times the one before …
    pub backoff: f64,
    /// … up to this.
    pub max_restart_every: Duration,
    /// Not connected for this long: give up.
    pub give_up_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            connect_timeout: Duration::from_secs(10),
            disconnected_grace: Duration::from_millis(500),
            restart_every: Duration::from_secs(1),
            backoff: 1.5,
            max_restart_every: Duration::from_secs(4),
            give_up_after: Duration::from_secs(30),
        }
    }
}

/// What happened to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The peer connection's state changed.
    State(ConnectionState),
    /// Restart ICE now, whatever the state (the app knows the network changed; diagnostics).
    RestartNow,
    /// The server answered a restart: it has no connection for this device any more.
    ServerLostConnection,
}

/// What the caller should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Restart ICE on this connection (offer with `restart: true`, apply the answer).
    /// `attempt` counts the restarts since it was last connected, from 1.
    RestartIce { attempt: u32 },
    /// Close this connection and offer a fresh one.
    Reoffer(Reoffer),
    /// Stop trying: close it and report the media failed. `ever_connected` tells a connection
    /// that never worked from one that was lost.
    GiveUp { ever_connected: bool },
}

/// Why a fresh offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reoffer {
    /// The server has no connection for this device any more.
    ServerLostConnection,
    /// The connection never connected (in time, or it failed).
    NeverConnected,
}

/// The reconnect state of one connection. See the module docs.
#[derive(Debug, Clone)]
pub struct Reconnect {
    policy: ReconnectPolicy,
    connected: bool,
    ever_connected: bool,
    /// Since when it has not been connected (`None` while connected).
    down_since: Option<Instant>,
    /// The next restart and why.
    restart_at: Option<(Instant, &'static str)>,
    last_restart: Option<Instant>,
    /// Restarts since last connected.
    attempts: u32,
    /// The wait after the next restart, while still not connected.
    next_wait: Duration,
    actions: VecDeque<Action>,
    done: bool,
}

impl Reconnect {
    /// A connection whose offer was just answered, not connected yet.
    pub fn new(policy: ReconnectPolicy, now: Instant) -> Reconnect {
        let next_wait = policy.restart_every;
        let restart_at = Some((now + policy.connect_timeout, "connect timeout"));
        Reconnect {
            policy,
            connected: false,
            ever_connected: false,
            down_since: Some(now),
            restart_at,
            last_restart: None,
            attempts: 0,
            next_wait,
            actions: VecDeque::new(),
            done: false,
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.done {
            return;
        }
        match input {
            Input::State(ConnectionState::Connected) => {
                if !self.connected {
                    self.connected = true;
                    self.ever_connected = true;
                    self.down_since = None;
                    self.restart_at = None;
                    self.attempts = 0;
                    self.next_wait = self.policy.restart_every;
                }
            }
            Input::State(ConnectionState::Disconnected) => {
                if self.connected {
                    self.lost(now);
                    self.schedule(now + self.policy.disconnected_grace, "disconnected grace");
                }
            }
            Input::State(ConnectionState::Failed | ConnectionState::Closed) if !self.ever_connected => {
                self.reoffer(Reoffer::NeverConnected);
            }
            Input::State(ConnectionState::Failed | ConnectionState::Closed) => {
                if self.connected {
                    self.lost(now);
                }
                let soonest = self.last_restart.map_or(now, |t| (t + self.policy.restart_every).max(now));
                self.schedule(soonest, "failed");
            }
            Input::State(_) => {}
            Input::RestartNow => self.restart(now),
            Input::ServerLostConnection => self.reoffer(Reoffer::ServerLostConnection),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        if self.down_since.is_some_and(|since| now >= since + self.policy.give_up_after) {
            self.done = true;
            self.restart_at = None;
            self.actions.push_back(Action::GiveUp { ever_connected: self.ever_connected });
            return;
        }
        if self.restart_at.is_some_and(|(at, _)| at <= now) {
            if self.ever_connected {
                self.restart(now);
            } else {
                self.reoffer(Reoffer::NeverConnected);
            }
        }
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Reconnect::handle_timeout`] is due next, and why.
    pub fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        if self.done {
            return None;
        }
        let give_up = self.down_since.map(|since| (since + self.policy.give_up_after, "give up"));
        match (self.restart_at, give_up) {
            (Some(r), Some(g)) => Some(if g.0 < r.0 { g } else { r }),
            (r, g) => r.or(g),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    /// ICE restarts since the connection was last connected.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn reoffer(&mut self, why: Reoffer) {
        self.done = true;
        self.restart_at = None;
        self.actions.push_back(Action::Reoffer(why));
    }

    fn lost(&mut self, now: Instant) {
        self.connected = false;
        self.down_since = Some(now);
        self.attempts = 0;
        self.next_wait = self.policy.restart_every;
    }

    /// Restart at `at` unless one is due sooner.
    fn schedule(&mut self, at: Instant, why: &'static str) {
        if self.restart_at.is_none_or(|(t, _)| at < t) {
            self.restart_at = Some((at, why));
        }
    }

    fn restart(&mut self, now: Instant) {
        self.attempts += 1;
        self.last_restart = Some(now);
        self.actions.push_back(Action::RestartIce { attempt: self.attempts });
        if self.connected {
            // A restart asked for while connected: nothing to repeat unless it breaks.
            self.restart_at = None;
            return;
        }
        self.restart_at = Some((now + self.next_wait, "restart again"));
        let longer = self.next_wait.mul_f64(self.policy.backoff.max(1.0));
        self.next_wait = longer.min(self.policy.max_restart_every).max(self.policy.restart_every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A machine driven on virtual time: `run_until` fires every deadline up to `t` (ms from
    /// the start) and returns the actions with the time (ms) each was issued at.
    struct Sim {
        t0: Instant,
        r: Reconnect,
    }

    impl Sim {
        fn new() -> Sim {
            let t0 = Instant::now();
            Sim { t0, r: Reconnect::new(ReconnectPolicy::default(), t0) }
        }

        fn at(&self, t: u64) -> Instant {
            self.t0 + ms(t)
        }

        fn state(&mut self, t: u64, s: ConnectionState) -> Vec<(u64, Action)> {
            self.r.handle(self.at(t), Input::State(s));
            self.drain(t)
        }

        fn drain(&mut self, t: u64) -> Vec<(u64, Action)> {
            std::iter::from_fn(|| self.r.poll_action()).map(|a| (t, a)).collect()
        }

        fn run_until(&mut self, t: u64) -> Vec<(u64, Action)> {
            let mut out = Vec::new();
            while let Some((due, _)) = self.r.poll_timeout() {
                if due > self.at(t) {
                    break;
                }
                let now_ms = due.duration_since(self.t0).as_millis() as u64;
                self.r.handle_timeout(due);
                out.extend(self.drain(now_ms));
            }
            out
        }
    }

    fn restart(attempt: u32) -> Action {
        Action::RestartIce { attempt }
    }

    #[test]
    fn a_connection_that_connects_needs_nothing() {
        let mut s = Sim::new();
        assert_eq!(s.r.poll_timeout(), Some((s.at(10_000), "connect timeout")));
        s.state(50, ConnectionState::Connecting);
        assert!(s.state(200, ConnectionState::Connected).is_empty());
        assert!(s.r.is_connected() && s.r.ever_connected());
        assert_eq!(s.r.poll_timeout(), None);
        assert!(s.run_until(120_000).is_empty());
    }

    #[test]
    fn a_connection_that_never_connects_is_offered_afresh_after_the_connect_timeout() {
        let mut s = Sim::new();
        s.state(300, ConnectionState::Connecting);
        assert_eq!(s.run_until(60_000), [(10_000, Action::Reoffer(Reoffer::NeverConnected))]);
        assert_eq!(s.r.poll_timeout(), None, "the fresh connection has its own");
    }

    #[test]
    fn a_connection_that_fails_before_connecting_is_offered_afresh_at_once() {
        let mut s = Sim::new();
        assert_eq!(
            s.state(2_000, ConnectionState::Failed),
            [(2_000, Action::Reoffer(Reoffer::NeverConnected))]
        );
        assert!(s.run_until(60_000).is_empty());
    }

    #[test]
    fn a_disconnect_restarts_after_the_grace_and_repeats_with_backoff_until_connected() {
        let mut s = Sim::new();
        s.state(200, ConnectionState::Connected);
        assert!(s.state(10_000, ConnectionState::Disconnected).is_empty());
        assert_eq!(s.r.poll_timeout(), Some((s.at(10_500), "disconnected grace")));
        let actions = s.run_until(15_000);
        assert_eq!(actions, [(10_500, restart(1)), (11_500, restart(2)), (13_000, restart(3))]);
        // Back at 15.2 s: the schedule stops and the attempts reset.
        s.state(15_200, ConnectionState::Connected);
        assert_eq!((s.r.attempts(), s.r.poll_timeout()), (0, None));
        // A second outage starts from the short wait again.
        s.state(20_000, ConnectionState::Disconnected);
        assert_eq!(s.run_until(21_600), [(20_500, restart(1)), (21_500, restart(2))]);
    }

    #[test]
    fn a_disconnect_that_heals_within_the_grace_restarts_nothing() {
        let mut s = Sim::new();
        s.state(200, ConnectionState::Connected);
        s.state(5_000, ConnectionState::Disconnected);
        s.state(5_300, ConnectionState::Connected);
        assert!(s.run_until(60_000).is_empty());
    }

    #[test]
    fn the_waits_stay_below_the_life_of_a_restarts_checks() {
        let mut s = Sim::new();
        s.state(0, ConnectionState::Connected);
        s.state(1_000, ConnectionState::Disconnected);
        let times: Vec<u64> = s.run_until(30_000).iter().map(|(t, _)| *t).collect();
        let checks = crate::ICE_CHECK_INTERVAL * u32::from(crate::ICE_CHECK_ATTEMPTS);
        for w in times.windows(2) {
            assert!(ms(w[1] - w[0]) < checks, "{times:?}");
        }
    }

    #[test]
    fn failed_restarts_at_once_but_not_in_a_tight_loop() {
        let mut s = Sim::new();
        s.state(100, ConnectionState::Connected);
        s.state(3_000, ConnectionState::Failed);
        assert_eq!(s.run_until(3_000), [(3_000, restart(1))]);
        // It fails again right after the restart: the next one waits for `restart_every`.
        s.state(3_050, ConnectionState::Failed);
        assert_eq!(s.run_until(3_999), []);
        assert_eq!(s.run_until(4_000), [(4_000, restart(2))]);
    }

    #[test]
    fn a_lost_connection_on_the_server_means_a_fresh_offer_and_nothing_more() {
        let mut s = Sim::new();
        s.state(100, ConnectionState::Connected);
        s.state(2_000, ConnectionState::Disconnected);
        assert_eq!(s.run_until(2_500), [(2_500, restart(1))]);
        s.r.handle(s.at(2_520), Input::ServerLostConnection);
        assert_eq!(s.drain(2_520), [(2_520, Action::Reoffer(Reoffer::ServerLostConnection))]);
        assert_eq!(s.r.poll_timeout(), None);
        assert!(s.state(2_600, ConnectionState::Failed).is_empty());
        assert!(s.run_until(60_000).is_empty());
    }

    #[test]
    fn a_restart_asked_for_while_connected_is_not_repeated() {
        let mut s = Sim::new();
        s.state(100, ConnectionState::Connected);
        s.r.handle(s.at(1_500), Input::RestartNow);
        assert_eq!(s.drain(1_500), [(1_500, restart(1))]);
        assert_eq!(s.r.poll_timeout(), None);
        s.state(1_700, ConnectionState::Connecting);
        assert!(s.run_until(60_000).is_empty(), "still connected as far as it knows");
    }

    #[test]
    fn a_lost_connection_is_given_up_after_the_limit_with_ever_connected_set() {
        let mut s = Sim::new();
        s.state(100, ConnectionState::Connected);
        s.state(1_000, ConnectionState::Disconnected);
        let actions = s.run_until(40_000);
        assert_eq!(actions.last(), Some(&(31_000, Action::GiveUp { ever_connected: true })));
        assert!(actions[..actions.len() - 1].iter().all(|(_, a)| matches!(a, Action::RestartIce { .. })));
    }
}
