//! The ringer's way out to the OS ([`RingOutput`] for the app): notifications (`notify.rs`),
//! the tray icon (`tray.rs`) and the ring sound (`ring_tone.rs`); and what comes back from a
//! notification's buttons. The ringer task itself is started here, fed by `meet_changed` and
//! by the main window being shown or hidden.

use std::sync::Arc;

use tauri::{AppHandle, Manager, WebviewWindow, Window, WindowEvent};
use tokio::sync::mpsc;

use crate::desktop::Desktop;
use crate::meet::Request;
use crate::notify::{NoticeAction, Notifier};
use crate::ring_tone::RingSound;
use crate::ringer::{self, RingInput, RingOutput};
use crate::tray;
use crate::types::{MeetUiState, RingUi};

/// How long quitting waits for the notifications to close.
const QUIT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Where the ringer's inputs go (kept as Tauri state, so window events reach it).
#[derive(Clone)]
pub struct RingInbox(mpsc::UnboundedSender<RingInput>);

impl RingInbox {
    pub fn meets_changed(&self, state: &MeetUiState) {
        let _ = self.0.send(RingInput::Meets(state.clone()));
    }

    pub fn window_on_screen(&self, on: bool) {
        let _ = self.0.send(RingInput::WindowOnScreen(on));
    }

    /// Everything off (notifications closed, sound stopped), waited for: the app quits next.
    pub async fn quit(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.0.send(RingInput::Quit(done)).is_ok() {
            let _ = tokio::time::timeout(QUIT_WAIT, wait).await;
        }
    }
}

/// Starts the ringer task; returns its inbox.
pub fn start(app: &AppHandle) -> RingInbox {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = app.clone();
    let notifier = Notifier::start(move |meet_id, action| on_notice_action(&handle, meet_id, action))
        .map_err(|e| tracing::warn!(error = %e, "no ring notifications: the thread did not start"))
        .ok();
    let on_screen = tray::main_window(app).is_some_and(|w| on_screen(&w));
    let out = OsRing { app: app.clone(), notifier, sound: None };
    tauri::async_runtime::spawn(ringer::run(rx, out, on_screen));
    RingInbox(tx)
}

/// Whether the window is where the agent sees its ring card.
pub fn on_screen(window: &WebviewWindow) -> bool {
    window.is_visible().unwrap_or(false) && !window.is_minimized().unwrap_or(false)
}

/// Tells the ringer that the main window was just shown or hidden.
pub fn set_on_screen(app: &AppHandle, on: bool) {
    if let Some(inbox) = app.try_state::<RingInbox>() {
        inbox.window_on_screen(on);
    }
}

/// The meet task's state, as `meet_changed` publishes it.
pub fn meets_changed(app: &AppHandle, state: &MeetUiState) {
    if let Some(inbox) = app.try_state::<RingInbox>() {
        inbox.meets_changed(state);
    }
}

/// The main window's close button hides it to the tray (the app keeps running and ringing);
/// minimising it counts as off screen.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    let Some(main) = tray::main_window(window.app_handle()) else { return };
    if window.label() != main.label() {
        return;
    }
    match event {
        WindowEvent::CloseRequested { api, .. } => {
            api.prevent_close();
            if let Err(e) = main.hide() {
                tracing::warn!(error = %e, "could not hide the window");
            }
            tracing::info!("the window was closed to the tray");
            set_on_screen(window.app_handle(), false);
        }
        // Minimised or restored; shown again by someone else than `tray::show_main` (a second
        // launch, a link): it gets the focus.
        WindowEvent::Resized(_) | WindowEvent::Focused(_) => {
            set_on_screen(window.app_handle(), on_screen(&main))
        }
        _ => {}
    }
}

struct OsRing {
    app: AppHandle,
    notifier: Option<Notifier>,
    sound: Option<RingSound>,
}

impl RingOutput for OsRing {
    fn show_notice(&mut self, ring: &RingUi) {
        if let Some(notifier) = &self.notifier {
            notifier.show(ring);
        }
    }

    fn close_notice(&mut self, meet_id: &str) {
        if let Some(notifier) = &self.notifier {
            notifier.close(meet_id);
        }
    }

    fn sound(&mut self, on: bool) {
        self.sound = None; // a running sound stops first
        if on {
            match RingSound::start() {
                Ok(sound) => self.sound = Some(sound),
                Err(e) => tracing::warn!(error = %e, "no ring sound: its thread did not start"),
            }
        }
    }

    fn tray_ringing(&mut self, ringing: bool) {
        tray::set_ringing(&self.app, ringing);
    }

    fn flush(&mut self) {
        if let Some(notifier) = &self.notifier {
            notifier.flush(QUIT_WAIT);
        }
    }
}

/// A notification's button: open the window at the ring card, or answer from there (the
/// window opens too on Accept, for the meet's panel: mute, hang up).
fn on_notice_action(app: &AppHandle, meet_id: String, action: NoticeAction) {
    let request = match action {
        NoticeAction::Open => None,
        NoticeAction::Accept => Some(Request::Accept(meet_id)),
        NoticeAction::Decline => Some(Request::Decline(meet_id)),
    };
    if action != NoticeAction::Decline {
        let handle = app.clone();
        let shown = app.run_on_main_thread(move || {
            tray::show_main(&handle);
        });
        if let Err(e) = shown {
            tracing::warn!(error = %e, "could not open the window");
        }
    }
    if let Some(request) = request {
        let Some(desktop) = app.try_state::<Arc<Desktop>>().map(|d| d.inner().clone()) else { return };
        tauri::async_runtime::spawn(async move {
            if let Err(e) = desktop.meet_request(request).await {
                tracing::warn!(error = %e.message, "the ring notification's answer failed");
            }
        });
    }
}
