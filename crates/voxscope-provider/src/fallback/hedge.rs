//! Hedging: a second attempt racing the one that is slow to send its first useful item
//! ([`hedge_after`](crate::FallbackChainBuilder::hedge_after)).

use std::task::{Context, Poll};

use super::FallbackReason;
use super::racer::{Raced, Racer};
use super::stream::{FallbackStream, Next, State};

impl<Req: Clone, T, E> FallbackStream<Req, T, E> {
    /// While `trying` waits for its first useful item: starts the hedge when it is due,
    /// and polls it. `Some` to return, `None` to go round again (the state changed).
    pub(super) fn poll_hedge(
        &mut self,
        trying: Racer<T, E>,
        cx: &mut Context<'_>,
    ) -> Option<Next<T, E>> {
        let due = self.hedge_at.as_mut().is_some_and(|at| at.as_mut().poll(cx).is_ready());
        if due {
            self.start_hedge(trying.attempt.index);
        }
        let Some(hedge) = self.hedge.as_mut() else {
            self.state = State::Trying(trying);
            return Some(Poll::Pending);
        };
        let failed = match hedge.poll(&self.chain, cx) {
            Raced::Pending => {
                self.state = State::Trying(trying);
                return Some(Poll::Pending);
            }
            Raced::Won(item, stream) => {
                // The hedge answered first: the provider it backed up is cancelled.
                match self.hedge.take() {
                    Some(hedge) => {
                        drop(trying);
                        self.won(hedge, item, stream);
                    }
                    None => self.state = State::Trying(trying),
                }
                return None;
            }
            Raced::Failed(failure) => Some(failure),
            Raced::TimedOut => None,
        };
        // The hedge failed: the provider it backed up goes on alone.
        if let Some(hedge) = self.hedge.take() {
            let failure = failed.unwrap_or_else(|| self.timeout_failure(&hedge.attempt, true));
            // Neither a retry nor a switch: the provider trying is still on.
            let _ = self.fail(hedge.attempt, failure, false);
            self.pending = None;
            self.retry = None;
        }
        self.state = State::Trying(trying);
        None
    }

    /// Starts the hedge: the next provider that admits a request races the one trying.
    fn start_hedge(&mut self, trying: usize) {
        self.hedge_at = None;
        if let Some(hedge) = self.begin_next() {
            let (from, to) = (trying, hedge.attempt.index);
            self.chain.count_fallback(from, to, FallbackReason::Hedged);
            self.hedge = Some(hedge);
        }
    }

    /// The racer trying failed: the hedge, if one races, takes its place.
    pub(super) fn take_over(&mut self) -> bool {
        let Some(hedge) = self.hedge.take() else { return false };
        self.pending = None;
        self.retry = None;
        self.state = State::Trying(hedge);
        true
    }
}
