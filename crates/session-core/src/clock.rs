//! Wall-clock time in milliseconds, injectable so expiry can be tested without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
#[cfg(not(unix))]
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC). Persisted expiry times use this unit everywhere.
pub type Millis = i64;

/// A source of the current time. Core reads the clock for every expiry decision.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> Millis;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        wall_millis()
    }
}

// Why the wall clock below is read with `clock_gettime` through rustix on Unix rather than
// through `SystemTime`: core reads it once or twice per request, and std turns each reading
// into a `Duration` through checked, normalising arithmetic (`duration_since`) that costs
// two to three times the read itself; a millisecond count needs one multiply-add.
// Elsewhere std's clock serves, with the same results. Store calls are timed on
// `timing_clock` instead (below).

/// The wall clock in milliseconds since the Unix epoch; 0 before it.
#[cfg(unix)]
fn wall_millis() -> Millis {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    t.tv_sec
        .saturating_mul(1000)
        .saturating_add(t.tv_nsec / 1_000_000)
        .max(0)
}

/// The wall clock in milliseconds since the Unix epoch; 0 before it.
#[cfg(not(unix))]
fn wall_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(duration_millis)
        .unwrap_or(0)
}

/// The clock store operations are timed with ([`crate::metrics`]): quanta's, which reads the
/// CPU's time-stamp counter where it is invariant and the OS clock elsewhere. A reading
/// ([`quanta::Clock::raw`]) costs about half of `clock_gettime`, and every store call takes
/// two, with or without a recorder. It is calibrated once, on first use (under a
/// millisecond); [`crate::Backend`] makes that use when a manager is built, so no request
/// pays for it.
#[cfg(feature = "metrics")]
pub(crate) fn timing_clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A clock that only moves when told to; clones share one time. For tests.
#[derive(Debug, Clone)]
pub struct MockClock(Arc<AtomicI64>);

impl MockClock {
    /// A mock clock starting at `start` milliseconds since the epoch.
    pub fn new(start: Millis) -> Self {
        MockClock(Arc::new(AtomicI64::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(duration_millis(by), Ordering::SeqCst);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Millis) {
        self.0.store(to, Ordering::SeqCst);
    }
}

impl Default for MockClock {
    fn default() -> Self {
        // A recent, fixed instant, so persisted times look like real ones.
        MockClock::new(1_790_000_000_000)
    }
}

impl Clock for MockClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub fn duration_millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn the_wall_clock_agrees_with_std() {
        let std_millis = |t: SystemTime| duration_millis(t.duration_since(UNIX_EPOCH).unwrap());
        let before = std_millis(SystemTime::now());
        let ours = SystemClock.now();
        let after = std_millis(SystemTime::now());
        assert!(
            before <= ours && ours <= after,
            "{before} <= {ours} <= {after}"
        );
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn the_timing_clock_measures_a_sleep() {
        let clock = timing_clock();
        let start = clock.raw();
        std::thread::sleep(Duration::from_millis(20));
        let took = clock.delta_as_nanos(start, clock.raw());
        assert!(took >= 20_000_000, "{took} ns");
    }
}
