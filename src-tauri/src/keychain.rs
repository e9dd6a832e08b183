//! Where the session lives between runs: the OS keychain (Keychain Services on macOS, the
//! Credential Manager on Windows, the Secret Service on Linux, through `keyring`), never a file.
//!
//! One entry (service `app.meetdesk.desktop`, user `session`) holds the server URL, the token
//! and the device id as JSON: the server URL is not secret, but keeping it beside the token
//! means the app writes nothing else to disk to start signed in.

use serde::{Deserialize, Serialize};

pub const SERVICE: &str = "app.meetdesk.desktop";
pub const USER: &str = "session";

/// A saved session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub token: String,
    pub device_id: String,
}

impl std::fmt::Debug for Saved {
    // Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved").field("server", &self.server).field("device_id", &self.device_id).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the system keychain is not available: {0}")]
pub struct KeychainError(String);

impl KeychainError {
    pub fn new(why: String) -> KeychainError {
        KeychainError(why)
    }
}

/// The session store, behind a trait so the controller can be tested without a keychain.
pub trait SessionStore: Send + Sync + 'static {
    fn load(&self) -> Result<Option<Saved>, KeychainError>;
    fn save(&self, saved: &Saved) -> Result<(), KeychainError>;
    fn clear(&self) -> Result<(), KeychainError>;
}

/// The OS keychain. Its calls block (D-Bus on Linux): call them off the async threads.
pub struct Keychain;

impl Keychain {
    fn entry() -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(SERVICE, USER).map_err(|e| KeychainError(e.to_string()))
    }
}

impl SessionStore for Keychain {
    fn load(&self) -> Result<Option<Saved>, KeychainError> {
        match Self::entry()?.get_password() {
            Ok(json) => match serde_json::from_str(&json) {
                Ok(saved) => Ok(Some(saved)),
                Err(e) => {
                    // Written by another version: as good as none.
                    tracing::warn!(error = %e, "unreadable session in the keychain; ignored");
                    Ok(None)
                }
            },
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(KeychainError(e.to_string())),
        }
    }

    fn save(&self, saved: &Saved) -> Result<(), KeychainError> {
        let json = serde_json::to_string(saved).map_err(|e| KeychainError(e.to_string()))?;
        Self::entry()?.set_password(&json).map_err(|e| KeychainError(e.to_string()))
    }

    fn clear(&self) -> Result<(), KeychainError> {
        match Self::entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError(e.to_string())),
        }
    }
}
