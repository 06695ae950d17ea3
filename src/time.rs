//! Time as an input.
//!
//! sockwire never reads a clock. Every call that may depend on time takes a
//! [`Instant`]: a count of milliseconds since an epoch the caller chooses (boot,
//! process start, a fuzzer's counter). Only differences between instants matter,
//! so any monotonic millisecond source works.

use core::ops::{Add, Sub};

/// A point in time: milliseconds since a caller-chosen epoch.
///
/// ```
/// use sockwire::time::{Duration, Instant};
/// let t = Instant::from_millis(1_000);
/// assert_eq!((t + Duration::from_secs(2)).as_millis(), 3_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

/// A span of time in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s.saturating_mul(1000))
    }

    /// The duration in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the largest representable instant instead of overflowing.
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero when `rhs` is later than `self`.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }
}

#[cfg(feature = "std")]
impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        std::time::Duration::from_millis(d.0)
    }
}

#[cfg(feature = "std")]
impl From<std::time::Duration> for Duration {
    /// Truncates to whole milliseconds; saturates at `u64::MAX` milliseconds.
    fn from(d: std::time::Duration) -> Self {
        Duration(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A bridge from `std::time::Instant`: instants measured from a fixed start.
///
/// ```
/// let clock = sockwire::time::StdClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct StdClock {
    start: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        StdClock {
            start: std::time::Instant::now(),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        self.at(std::time::Instant::now())
    }

    /// Converts a `std` instant (instants before the epoch map to the epoch).
    pub fn at(&self, t: std::time::Instant) -> Instant {
        let ms = t.saturating_duration_since(self.start).as_millis();
        Instant(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}
