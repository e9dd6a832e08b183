//! P7 on Linux with no capture device: ALSA is pointed at an empty configuration (no
//! `default` PCM, no cards), so the real check finds nothing to open — it must say so, with
//! the steps, and never panic (the Settings check; a meet says so when it opens the device). One test in its own binary: the environment is the process's.

use meetdesk_desktop::permission::{self, MicPermission, Platform, SystemMic};
use meetdesk_desktop::types::MicStatus;

#[test]
fn no_capture_device_is_said_not_panicked() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let empty = dir.path().join("asound.conf");
    std::fs::write(&empty, "# nothing: no default device\n").expect("writing the ALSA config");
    // Before anything in this process touches ALSA (it reads its configuration once).
    std::env::set_var("ALSA_CONFIG_PATH", &empty);
    std::env::remove_var("PULSE_SERVER");

    assert_eq!(SystemMic.status(), MicStatus::Granted, "Linux has no microphone permission of its own");
    assert_eq!(SystemMic.device_opens(None), MicStatus::NoDevice);
    assert_eq!(
        SystemMic.device_opens(Some("USB Headset")),
        MicStatus::NoDevice,
        "a picked name changes nothing"
    );
    let check = permission::check(&SystemMic, Platform::current(), None);
    let error = check.to_error().expect("an error for the meet");
    assert_eq!(error.code, "microphone");
    assert!(error.message.starts_with("No microphone could be opened."), "{}", error.message);
    assert!(error.message.contains(Platform::current().steps()), "{}", error.message);
}
