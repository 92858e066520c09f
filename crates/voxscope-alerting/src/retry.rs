//! When a failed send is tried again: only failures another attempt may fix, at most
//! `max_attempts` in all, after tower's exponential backoff with jitter, or after the
//! receiver's `Retry-After` (bounded by the longest backoff) when it sent one.

use std::sync::Arc;
use std::time::Duration;

use tower::retry::Policy;
use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

use crate::channel::SendError;
use crate::delivery::count;
use crate::notification::Notification;

/// The retry policy of one send.
#[derive(Clone)]
pub(crate) struct RetryPolicy {
    /// Attempts still allowed after the current one.
    remaining: u32,
    backoff: Option<ExponentialBackoff<HasherRng>>,
    max: Duration,
    channel: &'static str,
}

impl RetryPolicy {
    /// `max_attempts` in all, waits from `initial` doubling up to `max`, each plus a
    /// random jitter of up to as much again (never past `max`).
    pub(crate) fn new(
        max_attempts: u32,
        initial: Duration,
        max: Duration,
        channel: &'static str,
    ) -> Self {
        let max = max.max(initial).max(Duration::from_millis(1));
        // Refused only for min > max, a zero max or a jitter outside 0..=100, which the
        // clamps above rule out; without one, every wait is the longest.
        let backoff = ExponentialBackoffMaker::new(initial, max, 1.0, HasherRng::default())
            .ok()
            .map(|mut maker| maker.make_backoff());
        Self { remaining: max_attempts.saturating_sub(1), backoff, max, channel }
    }
}

impl Policy<Arc<Notification>, (), SendError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Arc<Notification>,
        result: &mut Result<(), SendError>,
    ) -> Option<Self::Future> {
        let Err(error) = result else { return None };
        if !error.is_retryable() || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        count(self.channel, "retried");
        let backoff = self.backoff.as_mut().map(|b| b.next_backoff().deadline());
        let wait = match (error.retry_after(), backoff) {
            (Some(asked), _) => asked.min(self.max),
            (None, Some(deadline)) => deadline.duration_since(tokio::time::Instant::now()),
            (None, None) => self.max,
        };
        tracing::warn!(
            target: "voxscope::alert",
            receiver = %request.receiver,
            channel = self.channel,
            retry_in = ?wait,
            "notification not delivered, will retry: {error}"
        );
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &Arc<Notification>) -> Option<Arc<Notification>> {
        Some(request.clone())
    }
}
