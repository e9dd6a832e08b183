//! The app's own settings, kept as a small JSON file in the app's config directory
//! (`settings.json`; nothing secret — the session token lives in the keychain): the microphone
//! and speaker picked for meets. Plus what a meet needs from the platform side
//! ([`MeetMedia`]): those picks, checked against the devices present now, and the microphone
//! permission (P7).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use meetdesk_media::device::{self, DeviceInfo};
use meetdesk_media::level::LevelMeter;
use meetdesk_media::pipeline::audio_ring;
use meetdesk_media::{FRAME_SAMPLES, SAMPLE_RATE};
use serde::{Deserialize, Serialize};

use crate::permission::{self, MicPermission, Platform};
use crate::types::{AudioDeviceUi, AudioDevices, CommandError, DeviceChoice, MicTest};

/// Saving the settings failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("saving the settings to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What `settings.json` holds. Unknown fields are ignored and missing ones take their
/// defaults, so older and newer app versions read each other's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub devices: DeviceChoice,
}

/// The settings file and its current contents.
pub struct SettingsStore {
    /// None: kept in memory only (tests, or no config directory).
    path: Option<PathBuf>,
    current: Mutex<Settings>,
}

impl SettingsStore {
    /// Reads `path` (missing or unreadable: the defaults, with a warning for the latter).
    pub fn load(path: PathBuf) -> SettingsStore {
        let current = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "unreadable settings: using the defaults");
                Settings::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "reading the settings");
                Settings::default()
            }
        };
        SettingsStore { path: Some(path), current: Mutex::new(current) }
    }

    pub fn in_memory() -> SettingsStore {
        SettingsStore { path: None, current: Mutex::new(Settings::default()) }
    }

    pub fn get(&self) -> Settings {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes and saves the settings (written to a temporary file, then renamed over).
    pub fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<Settings, SettingsError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = current.clone();
        change(&mut next);
        if let Some(path) = &self.path {
            write(path, &next).map_err(|source| SettingsError::Write { path: path.clone(), source })?;
        }
        *current = next.clone();
        Ok(next)
    }
}

fn write(path: &Path, settings: &Settings) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// "" and whitespace mean "the system default".
fn clean(name: Option<String>) -> Option<String> {
    name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

impl DeviceChoice {
    pub fn cleaned(self) -> DeviceChoice {
        DeviceChoice { microphone: clean(self.microphone), speaker: clean(self.speaker) }
    }
}

/// The microphones and speakers present now, default first.
pub fn list_devices() -> AudioDevices {
    fn ui(list: Vec<DeviceInfo>) -> Vec<AudioDeviceUi> {
        list.into_iter().map(|d| AudioDeviceUi { name: d.name, is_default: d.is_default }).collect()
    }
    let mut errors = Vec::new();
    let mut read = |list: Result<Vec<DeviceInfo>, device::DeviceError>| {
        list.map(ui).unwrap_or_else(|e| {
            errors.push(e.to_string());
            Vec::new()
        })
    };
    let microphones = read(device::input_devices());
    let speakers = read(device::output_devices());
    AudioDevices { microphones, speakers, error: (!errors.is_empty()).then(|| errors.join("; ")) }
}

/// Listens to the microphone (`None`: the default) for `listen` worth of captured sound: the
/// device's name and the loudest moment as a meter bar (0..1). The window counts the samples
/// that came, not the wall clock from opening, so a device (or sound server) slow to deliver
/// its first samples does not eat it; it gives up `START_GRACE` after `listen`. Blocking.
pub fn test_microphone(device: Option<&str>, listen: std::time::Duration) -> Result<MicTest, String> {
    /// How much longer than `listen` a slow device may take before the test ends with what came.
    const START_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
    let (writer, mut reader) = audio_ring(SAMPLE_RATE as usize * (2 * listen.as_secs() as usize).max(1));
    let stream = device::open_capture(device, writer).map_err(|e| e.to_string())?;
    let want = (f64::from(SAMPLE_RATE) * listen.as_secs_f64()) as usize;
    let give_up = std::time::Instant::now() + listen + START_GRACE;
    let mut meter = LevelMeter::default();
    let mut loudest = 0.0f32;
    let mut heard = 0usize;
    let mut block = vec![0.0f32; FRAME_SAMPLES];
    while heard < want && std::time::Instant::now() < give_up {
        if reader.pop_exact(&mut block) {
            heard += block.len();
            loudest = loudest.max(meter.update(&block).bar());
        } else {
            // The device delivers a period every 10–20 ms: look again after half of one.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    Ok(MicTest { device: stream.device_name().to_owned(), level: loudest })
}

/// The devices to open for a meet: the picked ones that are present now, the default for the
/// others — with a notice for each pick that is gone (unplugged since it was picked).
pub fn devices_for_meet(choice: &DeviceChoice, present: &AudioDevices) -> (DeviceChoice, Option<String>) {
    let mut notices = Vec::new();
    let mut keep = |picked: &Option<String>, list: &[AudioDeviceUi], what: &str| {
        let name = picked.as_ref()?;
        if list.iter().any(|d| &d.name == name) {
            Some(name.clone())
        } else {
            notices.push(format!("The {what} “{name}” is not connected: using the default."));
            None
        }
    };
    let chosen = DeviceChoice {
        microphone: keep(&choice.microphone, &present.microphones, "microphone"),
        speaker: keep(&choice.speaker, &present.speakers, "speaker"),
    };
    (chosen, (!notices.is_empty()).then(|| notices.join(" ")))
}

/// What a meet needs from the platform side: may it use the microphone, and which devices.
#[derive(Clone)]
pub struct MeetMedia {
    pub permission: Arc<dyn MicPermission>,
    pub settings: Arc<SettingsStore>,
}

impl MeetMedia {
    /// The system's microphone permission, nothing picked, nothing saved.
    pub fn system_defaults() -> MeetMedia {
        MeetMedia {
            permission: Arc::new(crate::permission::SystemMic),
            settings: Arc::new(SettingsStore::in_memory()),
        }
    }

    /// The devices picked in Settings (checked against those present only when a meet opens).
    pub fn choice(&self) -> DeviceChoice {
        self.settings.get().devices
    }

    /// Before a meet opens its devices: the microphone check (P7; its error carries the
    /// platform's steps) and the devices to open, with a notice when a pick is gone.
    pub async fn before_meet(&self) -> Result<(DeviceChoice, Option<String>), CommandError> {
        let choice = self.choice();
        let permission = Arc::clone(&self.permission);
        let blocking = tauri::async_runtime::spawn_blocking(move || {
            // Listing devices takes a while on some hosts: only when something was picked.
            let (open, notice) = if choice == DeviceChoice::default() {
                (choice, None)
            } else {
                devices_for_meet(&choice, &list_devices())
            };
            let check = permission::check_os(&*permission, Platform::current());
            (open, notice, check)
        });
        let (open, notice, check) = blocking
            .await
            .map_err(|e| CommandError::new("microphone", format!("checking the microphone: {e}")))?;
        match check.to_error() {
            Some(e) => Err(e),
            None => Ok((open, notice)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn dev(name: &str, is_default: bool) -> AudioDeviceUi {
        AudioDeviceUi { name: name.into(), is_default }
    }

    #[test]
    fn settings_survive_a_restart_and_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.json");
        let store = SettingsStore::load(path.clone());
        assert_eq!(store.get(), Settings::default(), "no file yet");
        store
            .update(|s| s.devices = DeviceChoice { microphone: Some("USB Headset".into()), speaker: None })
            .unwrap();
        let again = SettingsStore::load(path.clone());
        assert_eq!(again.get().devices.microphone.as_deref(), Some("USB Headset"));

        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(SettingsStore::load(path.clone()).get(), Settings::default(), "a bad file is not fatal");
        std::fs::write(&path, br#"{"devices":{"speaker":"HDMI"},"later":1}"#).unwrap();
        let newer = SettingsStore::load(path).get();
        assert_eq!((newer.devices.microphone, newer.devices.speaker.as_deref()), (None, Some("HDMI")));
    }

    #[test]
    fn a_missing_pick_falls_back_to_the_default_with_a_notice() {
        let present = AudioDevices {
            microphones: vec![dev("default", true), dev("USB Headset", false)],
            speakers: vec![dev("default", true)],
            error: None,
        };
        let choice = DeviceChoice { microphone: Some("USB Headset".into()), speaker: Some("HDMI".into()) };
        let (open, notice) = devices_for_meet(&choice, &present);
        assert_eq!(open, DeviceChoice { microphone: Some("USB Headset".into()), speaker: None });
        assert_eq!(notice.as_deref(), Some("The speaker “HDMI” is not connected: using the default."));

        let (open, notice) = devices_for_meet(&DeviceChoice::default(), &present);
        assert_eq!((open, notice), (DeviceChoice::default(), None));
    }

    #[test]
    fn blank_names_mean_the_default() {
        let c = DeviceChoice { microphone: Some("  ".into()), speaker: Some(" Speakers ".into()) }.cleaned();
        assert_eq!(c, DeviceChoice { microphone: None, speaker: Some("Speakers".into()) });
    }
}
