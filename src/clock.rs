//! The one source of "now": real time in production, settable in tests, so that a test moves
//! time forward instead of sleeping until a deadline passes. Everything below the process
//! entry points takes the moment as a value; only this type reads the system clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// A clock that reads the system time plus an offset; cheap to clone, clones share the
/// offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; 0 for a real clock.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The moment of this call, as the process sees it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and its clones) forward by `by`; time goes on running from there.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_and_time_keeps_running() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        let after = other.now();
        assert!(after - before >= Duration::hours(2));
        assert!(after - before < Duration::hours(2) + Duration::seconds(5));
        assert!(other.now() >= after);
    }
}
