//! The app's place on the computer: the official Tauri plugins (one instance, the window's
//! size and position kept, start at sign-in, `meetdesk://` links), the Settings screen's
//! commands (devices, start at sign-in, the microphone permission), and the links.
//!
//! Links (`meetdesk://`, registered by the installed bundle from tauri.conf.json's
//! `plugins.deep-link.desktop.schemes`): `meetdesk://chat/{chat_id}` shows that user chat,
//! `meetdesk://meet/{meet_id}` joins that meet. A link opened while the app runs reaches the
//! running instance (single-instance forwards it), which comes to the front.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_window_state::StateFlags;

use crate::desktop::Desktop;
use crate::meet::Request;
use crate::permission::{self, Platform};
use crate::settings::{self, MeetMedia, SettingsStore};
use crate::types::*;

type Out<C> = Result<<C as Command>::Output, CommandError>;

/// The link scheme (tauri.conf.json `plugins.deep-link.desktop.schemes`).
pub const SCHEME: &str = "meetdesk";

/// The plugins, single-instance first (it must be registered before the others).
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // A second launch: it exits, this one comes to the front (its links arrive
            // through the deep-link plugin).
            tracing::info!(?argv, "a second launch: showing this window");
            show_main(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // Size, place and maximised; whether it is shown is the tray's business.
                .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(MacosLauncher::LaunchAgent, None))
}

/// At start, before the session is restored: the settings file, the links.
pub fn setup<R: Runtime>(app: &tauri::App<R>, desktop: &Arc<Desktop>) {
    let settings = match app.path().app_config_dir() {
        Ok(dir) => SettingsStore::load(dir.join("settings.json")),
        Err(e) => {
            tracing::warn!(error = %e, "no config directory: settings are not saved");
            SettingsStore::in_memory()
        }
    };
    desktop
        .set_media(MeetMedia { permission: Arc::new(permission::SystemMic), settings: Arc::new(settings) });

    let links = app.deep_link();
    // A development build is not installed: register the scheme for this binary (Linux: a
    // .desktop file in ~/.local/share/applications; Windows: HKCU\Software\Classes).
    #[cfg(all(debug_assertions, any(target_os = "linux", windows)))]
    if let Err(e) = links.register_all() {
        tracing::info!(error = %e, "the meetdesk:// scheme is not registered for this build");
    }
    let handle = app.handle().clone();
    links.on_open_url(move |event| {
        for url in event.urls() {
            open_link(&handle, url.as_str());
        }
    });
    // Started by a link.
    if let Ok(Some(urls)) = links.get_current() {
        for url in urls {
            open_link(app.handle(), url.as_str());
        }
    }
}

/// Shows, un-minimises and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Reads a `meetdesk://` link: `chat/{id}` or `meet/{id}` (a trailing slash, a query or a
/// fragment are ignored).
pub fn parse_link(url: &str) -> Option<AppLink> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    let (kind, id) = rest.split_once('/')?;
    let valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return None;
    }
    match kind {
        "chat" => Some(AppLink::Chat { chat_id: id.to_owned() }),
        "meet" => Some(AppLink::Meet { meet_id: id.to_owned() }),
        _ => None,
    }
}

fn open_link<R: Runtime>(app: &AppHandle<R>, url: &str) {
    let Some(link) = parse_link(url) else {
        tracing::warn!(url, "not a meetdesk link");
        return;
    };
    tracing::info!(?link, "opening a link");
    show_main(app);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let error = match &link {
            AppLink::Chat { .. } => None,
            AppLink::Meet { meet_id } => {
                let desktop = app.state::<Arc<Desktop>>().inner().clone();
                desktop.meet_request(Request::Join(meet_id.clone())).await.err().map(|e| e.message)
            }
        };
        if let Err(e) = app.emit(LinkOpenedEvent::NAME, LinkOpened { link, error }) {
            tracing::warn!(error = %e, "could not emit {}", LinkOpenedEvent::NAME);
        }
    });
}

// ---- the Settings screen's commands ---------------------------------------------------------

fn settings_view<R: Runtime>(app: &AppHandle<R>, desktop: &Desktop) -> SettingsView {
    let autostart = app.autolaunch().is_enabled().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading the start-at-sign-in setting");
        false
    });
    SettingsView { devices: desktop.media().choice(), autostart }
}

#[tauri::command]
pub async fn get_settings(app: AppHandle, desktop: State<'_, Arc<Desktop>>) -> Out<GetSettings> {
    Ok(settings_view(&app, &desktop))
}

#[tauri::command]
pub async fn set_devices(
    app: AppHandle,
    desktop: State<'_, Arc<Desktop>>,
    args: <SetDevices as Command>::Args,
) -> Out<SetDevices> {
    let choice = args.cleaned();
    desktop
        .media()
        .settings
        .update(|s| s.devices = choice)
        .map_err(|e| CommandError::new("settings", e.to_string()))?;
    Ok(settings_view(&app, &desktop))
}

#[tauri::command]
pub async fn set_autostart(
    app: AppHandle,
    desktop: State<'_, Arc<Desktop>>,
    args: <SetAutostart as Command>::Args,
) -> Out<SetAutostart> {
    let autolaunch = app.autolaunch();
    let result = if args.enabled { autolaunch.enable() } else { autolaunch.disable() };
    result
        .map_err(|e| CommandError::new("autostart", format!("Could not change starting at sign-in: {e}")))?;
    Ok(settings_view(&app, &desktop))
}

#[tauri::command]
pub async fn list_devices() -> Out<ListDevices> {
    tauri::async_runtime::spawn_blocking(settings::list_devices)
        .await
        .map_err(|e| CommandError::new("devices", format!("listing the devices: {e}")))
}

#[tauri::command]
pub async fn check_microphone(desktop: State<'_, Arc<Desktop>>) -> Out<CheckMicrophone> {
    let media = desktop.media();
    let device = media.choice().microphone;
    tauri::async_runtime::spawn_blocking(move || {
        permission::check(&*media.permission, Platform::current(), device.as_deref())
    })
    .await
    .map_err(|e| CommandError::new("microphone", format!("checking the microphone: {e}")))
}

#[tauri::command]
pub async fn test_microphone(desktop: State<'_, Arc<Desktop>>) -> Out<TestMicrophone> {
    let device = desktop.media().choice().microphone;
    tauri::async_runtime::spawn_blocking(move || {
        settings::test_microphone(device.as_deref(), std::time::Duration::from_secs(2))
    })
    .await
    .map_err(|e| CommandError::new("microphone", format!("testing the microphone: {e}")))?
    .map_err(|e| CommandError::new("microphone", format!("The microphone could not be opened: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_a_chat_or_a_meet() {
        assert_eq!(parse_link("meetdesk://chat/chat_42"), Some(AppLink::Chat { chat_id: "chat_42".into() }));
        assert_eq!(
            parse_link("MEETDESK://meet/meet-7/?from=mail#x"),
            Some(AppLink::Meet { meet_id: "meet-7".into() })
        );
        for bad in [
            "meetdesk://chat/",
            "meetdesk://chat",
            "meetdesk://room/r1",
            "meetdesk://chat/../etc",
            "meetdesk://chat/a/b",
            "https://chat/c1",
            "chat/c1",
        ] {
            assert_eq!(parse_link(bad), None, "{bad}");
        }
    }
}
