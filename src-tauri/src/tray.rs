//! The tray icon (P9: the app lives in the tray) and the main window's life around it:
//! closing the window hides it to the tray (the app keeps running and ringing); the tray's
//! menu has "Open meetdesk" and "Quit" (which leaves a meet first). The icon turns to its
//! ringing variant (`icons/tray-ringing-64x64.png`, committed) while something rings.
//!
//! Linux: the tray is an AppIndicator (StatusNotifierItem) where the desktop has a host for
//! it, clicks on the icon itself are not reported there, so the menu is how to open the app.

use std::sync::Arc;
use std::time::Duration;

use tauri::image::Image;
use tauri::menu::{MenuBuilder, MenuItemBuilder};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, WebviewWindow};

use crate::desktop::Desktop;
use crate::meet::Request;

const TRAY_ID: &str = "meetdesk";
const MAIN_WINDOW: &str = "main";
/// Decoded at compile time (raw RGBA, 16 KiB each): no PNG decoder in the app.
const NORMAL_ICON: Image<'static> = tauri::include_image!("../icons/tray-64x64.png");
const RINGING_ICON: Image<'static> = tauri::include_image!("../icons/tray-ringing-64x64.png");
/// Quitting waits this long at most for the server to hear that this device left its meet.
const QUIT_HANG_UP: Duration = Duration::from_secs(5);

/// Builds the tray icon and its menu.
pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItemBuilder::with_id("open", "Open meetdesk").build(app)?;
    let quit_item = MenuItemBuilder::with_id("quit", "Quit").build(app)?;
    let menu = MenuBuilder::new(app).items(&[&open, &quit_item]).build()?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(NORMAL_ICON)
        .tooltip("meetdesk")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "quit" => quit(app.clone()),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

/// The normal or the ringing icon.
pub fn set_ringing(app: &AppHandle, ringing: bool) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let (icon, tooltip) =
        if ringing { (RINGING_ICON, "meetdesk — ringing") } else { (NORMAL_ICON, "meetdesk") };
    let result = tray.set_icon(Some(icon));
    if let Err(e) = result.and_then(|()| tray.set_tooltip(Some(tooltip))) {
        tracing::warn!(error = %e, "could not change the tray icon");
    }
    tracing::info!(ringing, "tray icon");
}

pub fn main_window(app: &AppHandle) -> Option<WebviewWindow> {
    app.get_webview_window(MAIN_WINDOW)
}

/// Shows, unminimises and focuses the main window (the ring card is in it).
pub fn show_main(app: &AppHandle) {
    let Some(window) = main_window(app) else { return };
    let result = window.show().and_then(|()| window.unminimize()).and_then(|()| window.set_focus());
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not show the window");
    }
    crate::ring_os::set_on_screen(app, true);
}

/// Leaves a meet (bounded), closes the ring notifications, then quits.
pub fn quit(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        if let Some(desktop) = app.try_state::<Arc<Desktop>>() {
            let desktop = desktop.inner().clone();
            if desktop.meet_state().await.call.is_some() {
                let left = tokio::time::timeout(QUIT_HANG_UP, desktop.meet_request(Request::HangUp)).await;
                tracing::info!(left = left.is_ok(), "left the meet before quitting");
            }
        }
        if let Some(inbox) = app.try_state::<crate::ring_os::RingInbox>() {
            inbox.quit().await;
        }
        app.exit(0);
    });
}
