//! The time approval timers and links read. Production uses the system clock; tests inject
//! a manual one and move it forward instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now", in ms since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// A clock that follows the system clock plus an offset that only moves forward when told
/// to (`lever serve --manual-clock`, for tests of SLAs and link expiry).
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_ms: AtomicI64,
}

impl ManualClock {
    /// Moves the clock forward by `ms` and returns the new time.
    pub fn advance(&self, ms: i64) -> i64 {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
        self.now_ms()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}
