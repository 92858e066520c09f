//! Wall-clock milliseconds that follow tokio's clock, so the engine runs, and is tested,
//! on tokio's paused clock.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let clock = voxscope_alerting::Clock::starting_at(1_000);
//! tokio::time::sleep(std::time::Duration::from_secs(2)).await;
//! assert_eq!(clock.now_ms(), 3_000);
//! # }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Unix milliseconds read as a start time plus tokio's elapsed time, optionally scaled.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall_at_start_ms: i64,
    start: Instant,
    /// Clock milliseconds per elapsed millisecond.
    scale: u32,
}

impl Clock {
    /// The system's wall clock now, advancing with tokio's clock from here on.
    pub fn system() -> Self {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::starting_at(i64::try_from(wall.as_millis()).unwrap_or(i64::MAX))
    }

    /// A clock that reads `wall_ms` now.
    pub fn starting_at(wall_ms: i64) -> Self {
        Self { wall_at_start_ms: wall_ms, start: Instant::now(), scale: 1 }
    }

    /// This clock, from now on running `factor` times faster than tokio's (a factor of
    /// 0 counts as 1). An engine on it evaluates `factor` times as often and sees every
    /// duration of its rules (`for`, rate windows, `group_wait`, cooldowns) pass that
    /// much sooner; its rates are per scaled second, so a counter's `rate()` reads
    /// `1/factor` of the events per wall second, while ratios and latencies read the
    /// same. Demos use it to play minutes of an incident in seconds. Its readings run
    /// ahead of the system clock, and so do the times of any state it saves.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let clock = voxscope_alerting::Clock::starting_at(0).scaled(10);
    /// tokio::time::sleep(Duration::from_secs(6)).await;
    /// assert_eq!(clock.now_ms(), 60_000);
    /// assert_eq!(clock.wall(Duration::from_secs(5)), Duration::from_millis(500));
    /// # }
    /// ```
    #[must_use]
    pub fn scaled(self, factor: u32) -> Self {
        Self { wall_at_start_ms: self.now_ms(), start: Instant::now(), scale: factor.max(1) }
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        let elapsed = Instant::now().duration_since(self.start).as_millis();
        let elapsed = elapsed.saturating_mul(u128::from(self.scale));
        self.wall_at_start_ms.saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    /// The tokio instant at which this clock reads `wall_ms` (now, if that has passed).
    pub fn instant_at(&self, wall_ms: i64) -> Instant {
        let after = wall_ms.saturating_sub(self.wall_at_start_ms).max(0);
        let target = self.start + self.wall(Duration::from_millis(after.unsigned_abs()));
        target.max(Instant::now())
    }

    /// How long on tokio's clock this clock takes to advance by `span`.
    pub fn wall(&self, span: Duration) -> Duration {
        span / self.scale
    }
}
