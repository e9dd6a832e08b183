//! When the desktop app rings outside its window (P9): the OS notification, the tray icon and
//! the ring sound, decided from the meet task's state ([`MeetUiState`], as published with
//! `meet_changed`) and whether the window is on screen. Pure: what it decides goes out through
//! [`RingOutput`] (`ring_os.rs` in the app, a recorder in the tests); time is a parameter.
//!
//! The rules:
//! - a ring is *active* from when it first shows up in `ringing` until it leaves it (accepted
//!   here or on another device, declined, cancelled, timed out on the server) or
//!   [`RING_CAP`] after it began here, whichever is first;
//! - each active ring has a notification while the window is not on screen (hidden to the
//!   tray or minimised); showing the window closes them (the ring card is there);
//! - the tray shows the ringing icon while any ring is active;
//! - the ring sound plays while any ring is active and this device is not in a meet.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::types::{CallPhase, MeetUiState, RingUi};

/// The longest this device rings for one meet (P2: up to 120 s), whatever the server says.
pub const RING_CAP: Duration = Duration::from_secs(120);

/// The OS side of ringing.
pub trait RingOutput: Send + 'static {
    /// Shows a notification for a ring (with Accept and Decline where the platform can).
    fn show_notice(&mut self, ring: &RingUi);
    /// Closes the ring's notification.
    fn close_notice(&mut self, meet_id: &str);
    fn sound(&mut self, on: bool);
    fn tray_ringing(&mut self, ringing: bool);
    /// Returns once what was asked is done (before the app exits).
    fn flush(&mut self) {}
}

/// What the ringer hears.
#[derive(Debug)]
pub enum RingInput {
    /// The meet task's state changed.
    Meets(MeetUiState),
    /// The main window was shown (true) or hidden or minimised (false).
    WindowOnScreen(bool),
    /// The app quits: everything off, then the answer.
    Quit(tokio::sync::oneshot::Sender<()>),
}

pub struct Ringer {
    /// The rings in the meet state, each with when it began here.
    rings: Vec<(RingUi, Instant)>,
    on_screen: bool,
    in_meet: bool,
    /// What is out now.
    notices: Vec<String>,
    sound: bool,
    tray: bool,
}

impl Ringer {
    pub fn new(on_screen: bool) -> Ringer {
        Ringer {
            rings: Vec::new(),
            on_screen,
            in_meet: false,
            notices: Vec::new(),
            sound: false,
            tray: false,
        }
    }

    pub fn input(&mut self, input: RingInput, now: Instant, out: &mut dyn RingOutput) {
        match input {
            RingInput::Meets(state) => {
                let mut rings = Vec::with_capacity(state.ringing.len());
                for ring in state.ringing {
                    let began =
                        self.rings.iter().find(|(r, _)| r.meet_id == ring.meet_id).map_or(now, |(_, at)| *at);
                    rings.push((ring, began));
                }
                self.rings = rings;
                self.in_meet = state.call.is_some_and(|c| c.phase != CallPhase::Ended);
            }
            RingInput::WindowOnScreen(on) => self.on_screen = on,
            RingInput::Quit(done) => {
                self.stop(out);
                out.flush();
                let _ = done.send(());
                return;
            }
        }
        self.apply(now, out);
    }

    /// Call at [`Ringer::next_deadline`].
    pub fn tick(&mut self, now: Instant, out: &mut dyn RingOutput) {
        self.apply(now, out);
    }

    /// When the next ring still active at `now` reaches its cap.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.rings.iter().map(|(_, began)| *began + RING_CAP).filter(|at| *at > now).min()
    }

    /// Everything off (the app quits or the session ends).
    pub fn stop(&mut self, out: &mut dyn RingOutput) {
        self.rings.clear();
        self.in_meet = false;
        self.notices.drain(..).for_each(|id| out.close_notice(&id));
        self.set(out, false, false);
    }

    fn apply(&mut self, now: Instant, out: &mut dyn RingOutput) {
        let active: Vec<&RingUi> =
            self.rings.iter().filter(|(_, began)| now < *began + RING_CAP).map(|(r, _)| r).collect();
        let wanted: Vec<&RingUi> = if self.on_screen { Vec::new() } else { active.clone() };
        let (keep, gone): (Vec<String>, Vec<String>) =
            self.notices.drain(..).partition(|id| wanted.iter().any(|r| &r.meet_id == id));
        gone.iter().for_each(|id| out.close_notice(id));
        self.notices = keep;
        for ring in wanted {
            if !self.notices.contains(&ring.meet_id) {
                out.show_notice(ring);
                self.notices.push(ring.meet_id.clone());
            }
        }
        let ringing = !active.is_empty();
        let sound = ringing && !self.in_meet;
        self.set(out, sound, ringing);
    }

    fn set(&mut self, out: &mut dyn RingOutput, sound: bool, tray: bool) {
        if sound != self.sound {
            self.sound = sound;
            out.sound(sound);
        }
        if tray != self.tray {
            self.tray = tray;
            out.tray_ringing(tray);
        }
    }
}

/// The ringer's task: its inputs in order, and a wake-up at the next ring's cap. Ends (with
/// everything off) when every sender is gone.
pub async fn run(mut rx: mpsc::UnboundedReceiver<RingInput>, mut out: impl RingOutput, on_screen: bool) {
    let mut ringer = Ringer::new(on_screen);
    loop {
        let next = ringer.next_deadline(Instant::now());
        tokio::select! {
            input = rx.recv() => match input {
                Some(input) => ringer.input(input, Instant::now(), &mut out),
                None => break,
            },
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                ringer.tick(Instant::now(), &mut out);
            }
        }
    }
    ringer.stop(&mut out);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use meetdesk_protocol::ScopeKind;

    use super::*;
    use crate::types::CallUi;

    /// What the ringer did, as words.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl RingOutput for Recorder {
        fn show_notice(&mut self, ring: &RingUi) {
            self.0.lock().unwrap().push(format!("notify {} {}", ring.meet_id, ring.caller_name));
        }
        fn close_notice(&mut self, meet_id: &str) {
            self.0.lock().unwrap().push(format!("close {meet_id}"));
        }
        fn sound(&mut self, on: bool) {
            self.0.lock().unwrap().push(format!("sound {}", if on { "on" } else { "off" }));
        }
        fn tray_ringing(&mut self, ringing: bool) {
            self.0.lock().unwrap().push(format!("tray {}", if ringing { "ringing" } else { "normal" }));
        }
        fn flush(&mut self) {
            self.0.lock().unwrap().push("flush".into());
        }
    }

    fn ring(id: &str) -> RingUi {
        RingUi {
            meet_id: id.into(),
            caller_name: "Mina Park".into(),
            scope: ScopeKind::UserChat,
            chat_id: Some("chat_mina".into()),
            deadline: 0,
        }
    }

    fn ringing(ids: &[&str]) -> RingInput {
        RingInput::Meets(MeetUiState { ringing: ids.iter().map(|id| ring(id)).collect(), call: None })
    }

    fn in_meet(phase: CallPhase, ids: &[&str]) -> RingInput {
        let call = CallUi {
            meet_id: "meet_now".into(),
            phase,
            muted: false,
            started_at: None,
            participants: Vec::new(),
            internal: false,
            scope: ScopeKind::UserChat,
            chat_id: None,
            input_level: 0.0,
            notice: None,
        };
        RingInput::Meets(MeetUiState { ringing: ids.iter().map(|id| ring(id)).collect(), call: Some(call) })
    }

    /// The ringer's task with its input and what it did.
    fn task(on_screen: bool) -> (mpsc::UnboundedSender<RingInput>, Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let rec = Recorder::default();
        let handle = tokio::spawn(run(rx, rec.clone(), on_screen));
        (tx, rec, handle)
    }

    /// Lets the task handle what was sent (the paused clock does not move while it runs).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn hidden_window_a_ring_notifies_rings_and_stops_when_answered_elsewhere() {
        let (tx, rec, _task) = task(false);
        tx.send(ringing(&["meet_1"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["notify meet_1 Mina Park", "sound on", "tray ringing"]);

        // Still ringing (another state change, e.g. a second ring's arrival and departure).
        tx.send(ringing(&["meet_1", "meet_2"])).unwrap();
        tx.send(ringing(&["meet_1"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["notify meet_2 Mina Park", "close meet_2"]);

        // Accepted on another device: the meet task drops the ring.
        tx.send(ringing(&[])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["close meet_1", "sound off", "tray normal"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_ring_stops_here_after_120_seconds_at_most() {
        let (tx, rec, _task) = task(false);
        tx.send(ringing(&["meet_1"])).unwrap();
        settle().await;
        rec.take();
        tokio::time::advance(Duration::from_secs(60)).await;
        tx.send(ringing(&["meet_1", "meet_2"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["notify meet_2 Mina Park"]);

        tokio::time::advance(Duration::from_secs(59)).await;
        settle().await;
        assert!(rec.take().is_empty(), "119 s: still ringing");
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
        assert_eq!(rec.take(), ["close meet_1"], "meet_1 reached its cap; meet_2 rings on");

        // The server's state still lists meet_1 (a missed ring_stopped): it stays quiet.
        tx.send(ringing(&["meet_2", "meet_1"])).unwrap();
        settle().await;
        assert!(rec.take().is_empty());
        tokio::time::advance(Duration::from_secs(60)).await;
        settle().await;
        assert_eq!(rec.take(), ["close meet_2", "sound off", "tray normal"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_on_screen_shows_the_card_instead_of_a_notification() {
        let (tx, rec, _task) = task(true);
        tx.send(ringing(&["meet_1"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["sound on", "tray ringing"], "no notification over the ring card");
        tx.send(RingInput::WindowOnScreen(false)).unwrap(); // closed to the tray while ringing
        settle().await;
        assert_eq!(rec.take(), ["notify meet_1 Mina Park"]);
        tx.send(RingInput::WindowOnScreen(true)).unwrap(); // the notification was clicked
        settle().await;
        assert_eq!(rec.take(), ["close meet_1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn no_ring_sound_during_a_meet() {
        let (tx, rec, task) = task(false);
        tx.send(in_meet(CallPhase::Connected, &["meet_2"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["notify meet_2 Mina Park", "tray ringing"]);
        tx.send(in_meet(CallPhase::Ended, &["meet_2"])).unwrap();
        settle().await;
        assert_eq!(rec.take(), ["sound on"], "the meet is over: the ring is heard");
        drop(tx); // signed out / quitting: all off
        task.await.unwrap();
        assert_eq!(rec.take(), ["close meet_2", "sound off", "tray normal"]);
    }

    #[tokio::test(start_paused = true)]
    async fn quitting_closes_everything_first() {
        let (tx, rec, _task) = task(false);
        tx.send(ringing(&["meet_1"])).unwrap();
        settle().await;
        rec.take();
        let (done, wait) = tokio::sync::oneshot::channel();
        tx.send(RingInput::Quit(done)).unwrap();
        wait.await.unwrap();
        assert_eq!(rec.take(), ["close meet_1", "sound off", "tray normal", "flush"]);
    }

    #[test]
    fn accepting_here_stops_everything() {
        let mut out = Recorder::default();
        let mut ringer = Ringer::new(false);
        let now = Instant::now();
        ringer.input(ringing(&["meet_1"]), now, &mut out);
        out.take();
        // Accepted here: the ring leaves and the meet begins.
        ringer.input(in_meet(CallPhase::Connecting, &[]), now, &mut out);
        assert_eq!(out.take(), ["close meet_1", "sound off", "tray normal"]);
        assert_eq!(ringer.next_deadline(now), None);
    }
}
