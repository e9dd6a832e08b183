//! Time as the meet logic sees it: plain numbers handed in by the caller.
//!
//! Wall-clock milliseconds (not `Instant`) because ring deadlines are stored in the database
//! and must survive a server restart.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Millis(pub i64);

impl Millis {
    pub const fn plus(self, ms: i64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

/// How long a ring lasts before the meet (or that invitation) counts as unanswered (P2, P3).
pub const RING_TIMEOUT_MS: i64 = 120_000;

/// How long the follow-up link sent to an offline customer stays valid (P3). The meet waits
/// for the customer this long, then ends as missed with [`crate::MissedReason::OfflineLinkUnused`].
pub const LINK_TTL_MS: i64 = 10 * 60_000;
