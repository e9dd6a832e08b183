//! P7: may this app use the microphone? Asked before a meet opens its devices ([`check_os`]:
//! the OS's answer only — the meet then opens the devices once, and a microphone that does not
//! open is said there), and by the Settings screen ([`check`]: the OS's answer, then the
//! device opened and closed). The OS side is behind [`MicPermission`] (a fake one in tests);
//! what to tell the agent — the platform's steps, whether "Try again" works without a restart —
//! is decided here, in [`MicCheck`], as plain logic.
//!
//! The real [`SystemMic`]:
//! - macOS: AVFoundation's authorisation for audio capture (after a denial CoreAudio still
//!   opens the input and delivers silence, so the stream opening proves nothing there);
//!   "not determined" asks, which shows the system prompt once.
//! - Windows: the privacy switch, read from the capability access consent store
//!   (`…\CapabilityAccessManager\ConsentStore\microphone`, value `Value` = `Allow`/`Deny`)
//!   under HKLM (the whole computer), HKCU (this user) and HKCU's `NonPackaged` subkey
//!   ("Let desktop apps access your microphone").
//! - Everywhere, once the OS allows, the Settings check builds and starts a capture stream on
//!   the chosen (else the default) microphone, then closes it — Linux has no permission of its
//!   own, so there this is the whole check.

use crate::types::{CommandError, MicCheck, MicStatus};

/// The OS's answer about the microphone.
pub trait MicPermission: Send + Sync {
    /// The OS's answer, without prompting and without opening anything.
    fn status(&self) -> MicStatus;
    /// Asks the OS when it has not decided yet (the macOS prompt), then the status.
    fn request(&self) -> MicStatus {
        self.status()
    }
    /// Whether `device` (the microphone the agent picked; none: the default) opens: the
    /// Settings check. A meet opens its devices itself and skips this, so the capture device is
    /// opened once per meet.
    fn device_opens(&self, device: Option<&str>) -> MicStatus;
}

/// The platform the app runs on, for the steps it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    pub const fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    /// The steps that give the app the microphone back (PRODUCT.md P7's text).
    pub fn steps(self) -> &'static str {
        match self {
            Platform::Windows => {
                "Settings → Privacy & security → Microphone: allow microphone access and allow \
                 this app; then quit the app from the tray and open it again."
            }
            Platform::MacOs => "System Settings → Privacy & Security → Microphone: allow this app.",
            Platform::Linux => {
                "Check that a microphone is connected, and that it is not disabled in the \
                 system's sound settings."
            }
        }
    }

    /// The new permission reaches the running app only after a restart (the Windows app).
    pub fn denial_needs_restart(self) -> bool {
        self == Platform::Windows
    }
}

/// The check before a meet: the OS's answer, asking once when it has not decided yet, and what
/// to tell the agent. Opens no device (the meet opens it next, and says so if it cannot).
pub fn check_os(permission: &dyn MicPermission, platform: Platform) -> MicCheck {
    MicCheck::new(os_status(permission), platform)
}

/// The check on the Settings screen: [`check_os`], then whether the device opens.
pub fn check(permission: &dyn MicPermission, platform: Platform, device: Option<&str>) -> MicCheck {
    let status = match os_status(permission) {
        MicStatus::Granted => permission.device_opens(device),
        other => other,
    };
    MicCheck::new(status, platform)
}

fn os_status(permission: &dyn MicPermission) -> MicStatus {
    match permission.status() {
        MicStatus::NotDetermined => permission.request(),
        status => status,
    }
}

impl MicCheck {
    pub fn new(status: MicStatus, platform: Platform) -> MicCheck {
        let message = match status {
            MicStatus::Granted => None,
            MicStatus::Denied | MicStatus::NotDetermined => {
                Some("meetdesk may not use the microphone.".to_owned())
            }
            MicStatus::NoDevice => Some("No microphone could be opened.".to_owned()),
        };
        let denied = matches!(status, MicStatus::Denied | MicStatus::NotDetermined);
        MicCheck {
            status,
            message,
            steps: (status != MicStatus::Granted).then(|| platform.steps().to_owned()),
            // With no device there is nothing to restart for: plug one in and try again.
            restart_needed: denied && platform.denial_needs_restart(),
        }
    }

    /// The meet's error when the microphone may not be used: `microphone_denied` (the OS says
    /// no) or `microphone` (no device), with the steps and how to retry.
    pub fn to_error(&self) -> Option<CommandError> {
        let message = self.message.as_deref()?;
        let steps = self.steps.as_deref().unwrap_or_default();
        let retry = if self.restart_needed { "" } else { " Then try again." };
        let code = if self.status == MicStatus::NoDevice { "microphone" } else { "microphone_denied" };
        Some(CommandError::new(code, format!("{message} {steps}{retry}")))
    }
}

/// An OS whose answer never changes (tests; no device is opened).
#[derive(Debug, Clone, Copy)]
pub struct FixedMic(pub MicStatus);

impl MicPermission for FixedMic {
    fn status(&self) -> MicStatus {
        self.0
    }
    fn device_opens(&self, _: Option<&str>) -> MicStatus {
        self.0
    }
}

/// The real OS (see the module's doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemMic;

impl MicPermission for SystemMic {
    fn status(&self) -> MicStatus {
        os::status()
    }

    fn request(&self) -> MicStatus {
        os::request()
    }

    fn device_opens(&self, device: Option<&str>) -> MicStatus {
        capture_opens(device)
    }
}

/// Builds and starts a capture stream on the device (the default when it is gone), then
/// closes it. Blocking (up to the device layer's open timeout).
pub fn capture_opens(device: Option<&str>) -> MicStatus {
    let (writer, _reader) = meetdesk_media::pipeline::audio_ring(meetdesk_media::FRAME_SAMPLES * 10);
    match meetdesk_media::device::open_capture(device, writer) {
        Ok(stream) => {
            tracing::debug!(device = stream.device_name(), "the microphone opens");
            MicStatus::Granted
        }
        Err(e) => {
            tracing::info!(error = %e, "the microphone does not open");
            MicStatus::NoDevice
        }
    }
}

#[cfg(not(any(target_os = "macos", windows)))]
mod os {
    use crate::types::MicStatus;

    /// No OS permission for the microphone (sandboxes aside): opening it is the check.
    pub fn status() -> MicStatus {
        MicStatus::Granted
    }

    pub fn request() -> MicStatus {
        MicStatus::Granted
    }
}

#[cfg(target_os = "macos")]
#[allow(unsafe_code)] // AVFoundation's class methods and constants (objc2 marks them unsafe)
mod os {
    use std::time::Duration;

    use block2::RcBlock;
    use objc2::runtime::Bool;
    use objc2_av_foundation::{AVAuthorizationStatus, AVCaptureDevice, AVMediaTypeAudio};

    use crate::types::MicStatus;

    /// How long a request waits for the agent to answer the system prompt.
    const PROMPT_WAIT: Duration = Duration::from_secs(120);

    pub fn status() -> MicStatus {
        // SAFETY: a constant AVFoundation exports; read-only.
        let Some(audio) = (unsafe { AVMediaTypeAudio }) else { return MicStatus::Granted };
        // SAFETY: a class method taking AVMediaTypeAudio, one of the two types it accepts.
        let status = unsafe { AVCaptureDevice::authorizationStatusForMediaType(audio) };
        match status {
            AVAuthorizationStatus::Authorized => MicStatus::Granted,
            AVAuthorizationStatus::NotDetermined => MicStatus::NotDetermined,
            // Restricted: parental controls or a device profile; the agent cannot grant it.
            _ => MicStatus::Denied,
        }
    }

    pub fn request() -> MicStatus {
        if status() != MicStatus::NotDetermined {
            return status();
        }
        let Some(audio) = (unsafe { AVMediaTypeAudio }) else { return MicStatus::Granted };
        let (tx, rx) = std::sync::mpsc::channel::<bool>();
        // Called once, on a dispatch queue of the system's choosing, when the agent answers.
        let handler = RcBlock::new(move |granted: Bool| {
            let _ = tx.send(granted.as_bool());
        });
        // SAFETY: AVMediaTypeAudio and a block that only sends on a channel.
        unsafe { AVCaptureDevice::requestAccessForMediaType_completionHandler(audio, &handler) };
        match rx.recv_timeout(PROMPT_WAIT) {
            Ok(true) => MicStatus::Granted,
            Ok(false) => MicStatus::Denied,
            Err(_) => status(),
        }
    }
}

#[cfg(windows)]
mod os {
    use windows_registry::{Key, CURRENT_USER, LOCAL_MACHINE};

    use crate::types::MicStatus;

    const STORE: &str =
        r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\microphone";

    /// `Value` under the key, when it is there ("Allow" / "Deny").
    fn consent(root: &Key, path: &str) -> Option<String> {
        root.open(path).ok()?.get_string("Value").ok()
    }

    pub fn status() -> MicStatus {
        let non_packaged = format!(r"{STORE}\NonPackaged");
        let switches = [(LOCAL_MACHINE, STORE), (CURRENT_USER, STORE), (CURRENT_USER, non_packaged.as_str())];
        // An absent value is Windows' default: allowed.
        if switches
            .iter()
            .any(|(root, path)| consent(root, path).is_some_and(|v| v.eq_ignore_ascii_case("Deny")))
        {
            MicStatus::Denied
        } else {
            MicStatus::Granted
        }
    }

    /// Windows never prompts a desktop app: the switch is the agent's to flip.
    pub fn request() -> MicStatus {
        status()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;

    /// The OS as a script: the status it reports, what a request turns it into, and what was
    /// asked.
    struct FakeMic {
        status: Mutex<MicStatus>,
        after_request: MicStatus,
        requests: Mutex<u32>,
        /// What opening the device gives, and how often it was opened.
        device: MicStatus,
        opened: Mutex<u32>,
    }

    impl FakeMic {
        fn new(status: MicStatus, after_request: MicStatus) -> FakeMic {
            FakeMic {
                status: Mutex::new(status),
                after_request,
                requests: Mutex::new(0),
                device: MicStatus::Granted,
                opened: Mutex::new(0),
            }
        }
    }

    impl MicPermission for FakeMic {
        fn status(&self) -> MicStatus {
            *self.status.lock().unwrap()
        }
        fn request(&self) -> MicStatus {
            *self.requests.lock().unwrap() += 1;
            *self.status.lock().unwrap() = self.after_request;
            self.after_request
        }
        fn device_opens(&self, _: Option<&str>) -> MicStatus {
            *self.opened.lock().unwrap() += 1;
            self.device
        }
    }

    #[test]
    fn before_a_meet_no_device_is_opened_and_settings_opens_it_once() {
        let mut mic = FakeMic::new(MicStatus::Granted, MicStatus::Granted);
        mic.device = MicStatus::NoDevice;
        assert_eq!(check_os(&mic, Platform::Linux).status, MicStatus::Granted);
        assert_eq!(*mic.opened.lock().unwrap(), 0, "the meet opens the device itself, once");
        let c = check(&mic, Platform::Linux, Some("USB mic"));
        assert_eq!((c.status, *mic.opened.lock().unwrap()), (MicStatus::NoDevice, 1));
        let denied = FakeMic::new(MicStatus::Denied, MicStatus::Denied);
        assert_eq!(check(&denied, Platform::MacOs, None).status, MicStatus::Denied);
        assert_eq!(*denied.opened.lock().unwrap(), 0, "refused by the OS: nothing to open");
    }

    #[test]
    fn granted_needs_nothing() {
        let mic = FakeMic::new(MicStatus::Granted, MicStatus::Denied);
        let c = check(&mic, Platform::MacOs, None);
        assert_eq!((c.status, c.message, c.steps, c.restart_needed), (MicStatus::Granted, None, None, false));
        assert_eq!(*mic.requests.lock().unwrap(), 0, "no prompt when already allowed");
        assert!(check(&mic, Platform::Windows, None).to_error().is_none());
    }

    #[test]
    fn undecided_asks_once_and_follows_the_answer() {
        let mic = FakeMic::new(MicStatus::NotDetermined, MicStatus::Granted);
        assert_eq!(check(&mic, Platform::MacOs, None).status, MicStatus::Granted);
        assert_eq!(*mic.requests.lock().unwrap(), 1);

        let mic = FakeMic::new(MicStatus::NotDetermined, MicStatus::Denied);
        let c = check(&mic, Platform::MacOs, None);
        assert_eq!(c.status, MicStatus::Denied);
        // Denied now: the next check does not ask again (macOS shows its prompt only once).
        check(&mic, Platform::MacOs, None);
        assert_eq!(*mic.requests.lock().unwrap(), 1);
    }

    #[test]
    fn denied_on_macos_shows_the_steps_and_retries_in_place() {
        let c = check(&FakeMic::new(MicStatus::Denied, MicStatus::Denied), Platform::MacOs, None);
        assert!(!c.restart_needed);
        let e = c.to_error().unwrap();
        assert_eq!(e.code, "microphone_denied");
        assert_eq!(
            e.message,
            "meetdesk may not use the microphone. System Settings → Privacy & Security → \
             Microphone: allow this app. Then try again."
        );
    }

    #[test]
    fn denied_on_windows_says_to_restart_from_the_tray() {
        let c = check(&FakeMic::new(MicStatus::Denied, MicStatus::Denied), Platform::Windows, None);
        assert!(c.restart_needed);
        let e = c.to_error().unwrap();
        assert_eq!(e.code, "microphone_denied");
        assert!(e.message.contains("Privacy & security → Microphone"), "{}", e.message);
        assert!(e.message.ends_with("quit the app from the tray and open it again."), "{}", e.message);
    }

    #[test]
    fn no_device_is_its_own_error() {
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            let c = check(&FakeMic::new(MicStatus::NoDevice, MicStatus::NoDevice), platform, Some("USB"));
            assert!(!c.restart_needed, "plugging one in needs no restart");
            let e = c.to_error().unwrap();
            assert_eq!(e.code, "microphone");
            assert!(e.message.starts_with("No microphone could be opened."), "{}", e.message);
            assert!(e.message.ends_with("Then try again."), "{}", e.message);
        }
    }
}
