//! meetdesk-desktop: the agent's desktop app. A Tauri 2 shell around the inbox UI (`ui/`):
//! Rust holds the session (token in the OS keychain), the server's event socket and every
//! request; the UI invokes the commands of `commands.rs` and follows the events of `types.rs`.
//! The HTTP API and the event socket are `meetdesk-client`'s, as the CLI's are.

mod commands;
pub mod desktop;
pub mod history;
pub mod inbox;
pub mod keychain;
pub mod meet;
pub mod notify;
pub mod permission;
pub mod platform;
mod ring_os;
pub mod ring_tone;
pub mod ringer;
pub mod settings;
mod tray;
pub mod types;

use std::sync::Arc;

use meetdesk_protocol::Event;
use tauri::{AppHandle, Emitter, Manager};

use crate::desktop::{Desktop, Emit};
use crate::types::{
    AppEvent, CallHistoryChanged, HistoryStatus, MeetChanged, MeetUiState, ServerEvent, SessionChanged,
    SessionState,
};

/// Tauri's event system as the controller's way out.
struct TauriEmit(AppHandle);

impl Emit for TauriEmit {
    fn session_changed(&self, state: &SessionState) {
        if let Err(e) = self.0.emit(SessionChanged::NAME, state) {
            tracing::warn!(error = %e, "could not emit {}", SessionChanged::NAME);
        }
    }

    fn server_event(&self, event: &Event) {
        if let Err(e) = self.0.emit(ServerEvent::NAME, event) {
            tracing::warn!(error = %e, "could not emit {}", ServerEvent::NAME);
        }
    }

    fn meet_changed(&self, state: &MeetUiState) {
        ring_os::meets_changed(&self.0, state); // rings outside the window (P9)
        if let Err(e) = self.0.emit(MeetChanged::NAME, state) {
            tracing::warn!(error = %e, "could not emit {}", MeetChanged::NAME);
        }
    }

    fn history_changed(&self, status: &HistoryStatus) {
        if let Err(e) = self.0.emit(CallHistoryChanged::NAME, status) {
            tracing::warn!(error = %e, "could not emit {}", CallHistoryChanged::NAME);
        }
    }
}

/// Linux: the inbox UI's JavaScript runs in JavaScriptCore's interpreter, without its JIT
/// compilers. The UI is a small Preact app (lists, forms, a level meter) that the interpreter
/// runs with room to spare; the JIT's code and compiled-code memory are 7.5 MiB of the WebKit
/// web process (docs/benchmarks.md: footprint), and no JIT is a smaller attack surface for a
/// page that shows what customers type. WebKitGTK has no setting for it: JavaScriptCore reads
/// its options from the environment, which the web process inherits from this one. Set at
/// the very start, before any thread exists; a `JSC_useJIT` already in the environment wins.
fn webkit_without_jit() {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("JSC_useJIT").is_none() {
        std::env::set_var("JSC_useJIT", "false");
    }
}

pub fn run() {
    webkit_without_jit();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,meetdesk_desktop=info".into()),
        )
        .init();
    // The plugins first: single-instance must come before anything else.
    let result = platform::plugins(tauri::Builder::default())
        .setup(|app| {
            // The call-history caches: the app's data directory (MEETDESK_DATA_DIR overrides it).
            let data_dir = std::env::var_os("MEETDESK_DATA_DIR")
                .map(std::path::PathBuf::from)
                .or_else(|| app.path().app_data_dir().ok());
            let desktop = Desktop::new(
                Arc::new(keychain::Keychain),
                Arc::new(TauriEmit(app.handle().clone())),
                data_dir,
            );
            app.manage(desktop.clone());
            // The settings file and `meetdesk://` links (before the session is restored).
            platform::setup(app, &desktop);
            // Ringing outside the window (P9): the ringer, then the tray (none where the
            // desktop has no tray: the app still runs).
            app.manage(ring_os::start(app.handle()));
            if let Err(e) = tray::build(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            tauri::async_runtime::spawn(desktop.restore());
            Ok(())
        })
        .on_window_event(ring_os::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::get_session,
            commands::sign_in,
            commands::sign_out,
            commands::list_chats,
            commands::chat_messages,
            commands::accept_ring,
            commands::decline_ring,
            commands::hang_up,
            commands::set_muted,
            commands::start_meet,
            commands::call_back,
            commands::join_meet,
            commands::meet_state,
            commands::list_history,
            commands::delete_history_record,
            commands::delete_all_history,
            commands::history_suggestions,
            commands::team_search,
            commands::open_dm,
            commands::get_room,
            commands::send_message,
            commands::internal_messages,
            commands::send_internal_message,
            commands::customer_profile,
            commands::list_rooms,
            commands::room_messages,
            commands::send_room_message,
            commands::list_agents,
            commands::invite_agent,
            platform::get_settings,
            platform::set_devices,
            platform::set_autostart,
            platform::list_devices,
            platform::check_microphone,
            platform::test_microphone,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}
