//! Ring notifications through the OS (notify-rust). On Linux (the freedesktop notification
//! server over D-Bus) they carry Accept and Decline buttons and a default action (clicking
//! the notification), reported through the server's `ActionInvoked` signal; elsewhere they are
//! plain notifications.
//!
//! Every D-Bus call blocks, so the notifications live on a thread of their own ([`Notifier`]),
//! and each shown notification has one more thread that waits for its action, until the
//! notification is acted on or closed. No notification server (a bare X session, a CI box): the
//! error is logged and the ring goes on with the tray and the sound.

use std::collections::HashMap;
use std::sync::mpsc;

use meetdesk_protocol::ScopeKind;
use notify_rust::Notification;

use crate::types::RingUi;

/// What the agent did with a ring's notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeAction {
    /// Clicked the notification itself: open the ring.
    Open,
    Accept,
    Decline,
}

/// The action keys on the wire (`default` is the freedesktop spec's click on the body).
const OPEN: &str = "default";
const ACCEPT: &str = "accept";
const DECLINE: &str = "decline";

impl NoticeAction {
    fn from_key(key: &str) -> Option<NoticeAction> {
        match key {
            OPEN => Some(NoticeAction::Open),
            ACCEPT => Some(NoticeAction::Accept),
            DECLINE => Some(NoticeAction::Decline),
            _ => None,
        }
    }
}

/// The notification's words for a ring.
pub fn notice_text(ring: &RingUi) -> (String, &'static str) {
    let body = match ring.scope {
        ScopeKind::UserChat => "Meet from a customer chat",
        ScopeKind::Internal => "Internal meet",
        ScopeKind::TeamGroup => "Team meet",
        ScopeKind::TeamDm => "Meet",
    };
    (format!("{} is calling", ring.caller_name), body)
}

type OnAction = std::sync::Arc<dyn Fn(String, NoticeAction) + Send + Sync>;

enum Command {
    Show(RingUi),
    Close(String),
    /// Answers once every command before it is done.
    Flush(mpsc::Sender<()>),
}

/// The notification thread's handle. Dropping it closes whatever is still shown.
pub struct Notifier {
    tx: mpsc::Sender<Command>,
}

impl Notifier {
    /// Starts the thread; `on_action(meet_id, action)` runs on a listener thread.
    pub fn start(
        on_action: impl Fn(String, NoticeAction) + Send + Sync + 'static,
    ) -> std::io::Result<Notifier> {
        let (tx, rx) = mpsc::channel();
        let on_action: OnAction = std::sync::Arc::new(on_action);
        std::thread::Builder::new().name("meetdesk-notify".into()).spawn(move || {
            let mut shown: HashMap<String, Shown> = HashMap::new();
            for command in rx {
                match command {
                    Command::Show(ring) => {
                        if let Some(old) = shown.remove(&ring.meet_id) {
                            old.close();
                        }
                        match show(&ring, on_action.clone()) {
                            Ok(notice) => {
                                shown.insert(ring.meet_id, notice);
                            }
                            Err(e) => tracing::warn!(error = %e, "no ring notification (is a notification server running?)"),
                        }
                    }
                    Command::Close(meet_id) => {
                        if let Some(notice) = shown.remove(&meet_id) {
                            notice.close();
                        }
                    }
                    Command::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
            shown.into_values().for_each(Shown::close);
        })?;
        Ok(Notifier { tx })
    }

    pub fn show(&self, ring: &RingUi) {
        let _ = self.tx.send(Command::Show(ring.clone()));
    }

    pub fn close(&self, meet_id: &str) {
        let _ = self.tx.send(Command::Close(meet_id.to_owned()));
    }

    /// Waits (bounded) until the notifications asked for are shown or closed.
    pub fn flush(&self, timeout: std::time::Duration) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(timeout);
        }
    }
}

/// A shown notification: its id on the notification server.
#[cfg(all(unix, not(target_os = "macos")))]
struct Shown(u32);

#[cfg(all(unix, not(target_os = "macos")))]
impl Shown {
    /// `CloseNotification` on a connection of the notifier's own: the notification's handle
    /// is with its listener, and the server then tells that listener it closed.
    fn close(self) {
        let closed = zbus::block_on(async {
            let bus = zbus::Connection::session().await?;
            bus.call_method(
                Some("org.freedesktop.Notifications"),
                "/org/freedesktop/Notifications",
                Some("org.freedesktop.Notifications"),
                "CloseNotification",
                &(self.0,),
            )
            .await
        });
        match closed {
            Ok(_) => tracing::info!(id = self.0, "ring notification closed"),
            Err(e) => tracing::warn!(id = self.0, error = %e, "could not close the ring notification"),
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn show(ring: &RingUi, on_action: OnAction) -> Result<Shown, notify_rust::error::Error> {
    let (summary, body) = notice_text(ring);
    let handle = Notification::new()
        .appname("meetdesk")
        .summary(&summary)
        .body(body)
        .icon("call-start")
        .action(OPEN, "Open")
        .action(ACCEPT, "Accept")
        .action(DECLINE, "Decline")
        .urgency(notify_rust::Urgency::Critical)
        .hint(notify_rust::Hint::Category("call.incoming".into()))
        .hint(notify_rust::Hint::Resident(true))
        .timeout(notify_rust::Timeout::Never)
        .show()?;
    let id = handle.id();
    tracing::info!(id, meet = %ring.meet_id, "ring notification shown");
    let meet_id = ring.meet_id.clone();
    // The listener, on the handle's own connection (the server sends `ActionInvoked` to the
    // connection that showed the notification): returns on the first action or the close.
    let spawned = std::thread::Builder::new().name("meetdesk-notify-action".into()).spawn(move || {
        handle.wait_for_action(|key| match NoticeAction::from_key(key) {
            Some(action) => {
                tracing::info!(id, ?action, "ring notification acted on");
                on_action(meet_id, action);
            }
            None => tracing::debug!(id, key, "ring notification gone"),
        });
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the ring notification's buttons will not work");
    }
    Ok(Shown(id))
}

/// Other platforms: a plain notification (no buttons; the tray and the window answer).
#[cfg(not(all(unix, not(target_os = "macos"))))]
struct Shown;

#[cfg(not(all(unix, not(target_os = "macos"))))]
impl Shown {
    fn close(self) {}
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show(ring: &RingUi, _on_action: OnAction) -> Result<Shown, notify_rust::error::Error> {
    let (summary, body) = notice_text(ring);
    Notification::new().appname("meetdesk").summary(&summary).body(body).show()?;
    Ok(Shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_words() {
        assert_eq!(NoticeAction::from_key("default"), Some(NoticeAction::Open));
        assert_eq!(NoticeAction::from_key("accept"), Some(NoticeAction::Accept));
        assert_eq!(NoticeAction::from_key("decline"), Some(NoticeAction::Decline));
        assert_eq!(NoticeAction::from_key("__closed"), None);
        let ring = RingUi {
            meet_id: "m".into(),
            caller_name: "Mina Park".into(),
            scope: ScopeKind::UserChat,
            chat_id: None,
            deadline: 0,
        };
        assert_eq!(notice_text(&ring), ("Mina Park is calling".to_owned(), "Meet from a customer chat"));
    }
}
