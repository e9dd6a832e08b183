//! meetdesk-desktop: the agent's desktop app. A Tauri 2 shell around the inbox UI (`ui/`):
//! Rust holds the session (token in the OS keychain), the server's event socket and every
//! request; the UI invokes the commands of `commands.rs` and follows the events of `types.rs`.
//! The HTTP API and the event socket are `meetdesk-client`'s, as the CLI's are.

mod commands;
pub mod desktop;
pub mod keychain;
pub mod meet;
pub mod types;

use std::sync::Arc;

use meetdesk_protocol::Event;
use tauri::{AppHandle, Emitter, Manager};

use crate::desktop::{Desktop, Emit};
use crate::types::{AppEvent, MeetChanged, MeetUiState, ServerEvent, SessionChanged, SessionState};

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
        if let Err(e) = self.0.emit(MeetChanged::NAME, state) {
            tracing::warn!(error = %e, "could not emit {}", MeetChanged::NAME);
        }
    }
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,meetdesk_desktop=info".into()),
        )
        .init();
    let result = tauri::Builder::default()
        .setup(|app| {
            let desktop =
                Desktop::new(Arc::new(keychain::Keychain), Arc::new(TauriEmit(app.handle().clone())));
            app.manage(desktop.clone());
            tauri::async_runtime::spawn(desktop.restore());
            Ok(())
        })
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
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app stopped with an error");
        std::process::exit(1);
    }
}
