//! Audio media for the desktop app and the headless client.
//!
//! The sound path, from microphone to network and from network to speaker:
//!
//! ```text
//!  mic callback ──ring──▶ Capture: mute → AEC/NS/AGC → 20 ms frames → Opus ──▶ EncodedFrame ──▶ peer
//!  peer ──▶ (seq, ts, payload) ──▶ Playout: jitter buffer → Opus (FEC/PLC) ──ring──▶ speaker callback
//!                                                  └──ring (far-end reference)──▶ Capture's AEC
//! ```
//!
//! **Architecture Invariant:** the real-time audio callbacks ([`device`]) only push to and pop
//! from the lock-free SPSC rings in [`pipeline`]: no locks, no allocation, no network, no codec.
//! Everything else runs on an ordinary thread or task.
//!
//! **API Boundary:** no WebRTC transport here. A peer feeds RTP payloads into
//! [`pipeline::Playback::push_packet`] and takes [`pipeline::EncodedFrame`]s out of
//! [`pipeline::Capture::poll_frame`]; sequence numbers and SSRCs are the peer's business.
//!
//! [`jitter`], [`level`], [`tone`] and [`codec`] do no IO and never read a clock: time is a
//! parameter.

#![warn(missing_docs)]

pub mod codec;
pub mod device;
pub mod jitter;
pub mod level;
pub mod pipeline;
pub mod processing;
pub mod tone;
pub mod wav;

/// Every stream in this crate runs at 48 kHz (Opus' native rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// One frame is 20 ms.
pub const FRAME_MS: u32 = 20;
/// Samples in one 20 ms mono frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
