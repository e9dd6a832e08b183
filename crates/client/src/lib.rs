//! A meetdesk client's core, shared by the desktop app (`src-tauri/`) and the headless client
//! (`meetdesk-cli`): what talks to the server and carries a meet's sound, without any user
//! interface.
//!
//! - [`api`]: the typed HTTP client over `meetdesk-protocol` types; errors keep the server's
//!   `{"error": {"code", "message"}}` and the status ([`api::ApiError`]).
//! - [`events`]: the event socket, resumed with `?after=<seq>` and reconnected with backoff.
//! - [`audio`]: the sound path's ends — cpal devices, or WAV files standing in for them.
//! - [`call`]: one device's media in one meet — offer/answer, the `meetdesk-rtc` peer, ICE
//!   restarts and fresh offers (`meetdesk_rtc::reconnect`), mute, input level, first audio.
//!
//! Front-ends keep the meet's life (sign-in, rings, accept, hang-up) and their own output: the
//! CLI prints JSON lines, the desktop emits Tauri events.
//!
//! **Architecture Invariant:** IO at the edges, and the sound never waits: device callbacks
//! only touch `meetdesk-media`'s lock-free rings, a call's media task does no HTTP, and
//! signalling runs in the call's own task.
//!
//! **API Boundary:** no printing, no UI types, no process concerns (signals, exit codes); no
//! codec or WebRTC internals (those are `meetdesk-media` and `meetdesk-rtc`).

#![warn(missing_docs)]

pub mod api;
pub mod audio;
pub mod call;
pub mod events;
