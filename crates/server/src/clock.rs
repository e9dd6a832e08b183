//! The one place wall-clock time enters the server.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use meetdesk_meet::Millis;

/// System time plus an offset. The offset is 0 in production; tests move it forward to reach
/// a deadline without waiting (`MEETDESK_TEST_TIME_OFFSET_MS` for a whole process).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn with_offset(offset_ms: i64) -> Clock {
        Clock { offset_ms: Arc::new(AtomicI64::new(offset_ms)) }
    }

    pub fn now(&self) -> Millis {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Millis(wall + self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn now_ms(&self) -> i64 {
        self.now().0
    }

    /// Moves this clock forward (tests).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
