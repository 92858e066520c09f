//! [`FallbackStream`]: one request walking down a chain.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};
use tower::retry::backoff::ExponentialBackoff;

use super::racer::{Attempt, Failure, Raced, Racer};
use super::{ChainInner, FallbackReason, ItemStream};
use crate::class::ErrorClass;
use crate::duration;
use crate::error::FallbackError;

/// The answer of a [`FallbackChain`](crate::FallbackChain) request, from
/// [`FallbackChain::stream`](crate::FallbackChain::stream).
///
/// Providers are tried as it is polled, inside the span current at that moment, so a
/// request or call span becomes the parent of each provider's span. Dropped, it ends the
/// attempt in progress as `cancelled`.
///
/// The chain's own timing runs from its creation: TTFB when the first useful item is
/// handed to the caller, duration when the stream ends, fails or is dropped.
pub struct FallbackStream<Req, T, E> {
    pub(super) chain: Arc<ChainInner<Req, T, E>>,
    request: Req,
    next: usize,
    /// A switch to count once the next provider is actually tried: (from, reason).
    pub(super) pending: Option<(usize, FallbackReason)>,
    /// Why the last provider passed over was skipped.
    skipped: Option<FallbackReason>,
    /// A retry on the same provider, due at this instant.
    pub(super) retry: Option<(usize, Instant)>,
    /// Retries so far on the current provider, and their backoff session.
    retried: u32,
    backoff: Option<ExponentialBackoff>,
    last_error: Option<FallbackError<E>>,
    pub(super) state: State<T, E>,
    /// A second attempt racing the first one ([`hedge_after`](crate::FallbackChainBuilder::hedge_after)).
    pub(super) hedge: Option<Racer<T, E>>,
    /// When to start the hedge; `None` once started, or without hedging.
    pub(super) hedge_at: Option<Pin<Box<Sleep>>>,
    /// Items of the serving provider not yet handed out (those before its first useful
    /// one, then that one).
    held: VecDeque<T>,
    /// The request's timer for retry backoffs and the serving provider's total timeout.
    deadline: Option<Pin<Box<Sleep>>>,
    deadline_armed: bool,
    created: Instant,
    first_byte_sent: bool,
    ended: bool,
    /// Live STT ([`FallbackChain::live`](crate::FallbackChain::live)): falls back after
    /// the first item too, and TTFB runs from the end of speech.
    live: bool,
}

pub(super) enum State<T, E> {
    Start,
    /// Waiting for the first useful item.
    Trying(Racer<T, E>),
    Streaming(Attempt, ItemStream<T, E>),
    Done,
}

impl<Req, T, E> fmt::Debug for FallbackStream<Req, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "start",
            State::Trying(..) => "awaiting first item",
            State::Streaming(..) => "streaming",
            State::Done => "done",
        };
        f.debug_struct("FallbackStream")
            .field("kind", &self.chain.kind)
            .field("serving", &self.serving())
            .field("state", &state)
            .finish()
    }
}

impl<Req, T, E> FallbackStream<Req, T, E>
where
    Req: Clone,
{
    pub(crate) fn new(chain: Arc<ChainInner<Req, T, E>>, request: Req) -> Self {
        let created = Instant::now();
        let hedge_at = chain
            .hedge_after
            .map(|after| Box::pin(tokio::time::sleep_until(duration::deadline(created, after))));
        Self {
            chain,
            request,
            next: 0,
            pending: None,
            skipped: None,
            retry: None,
            retried: 0,
            backoff: None,
            last_error: None,
            state: State::Start,
            hedge: None,
            hedge_at,
            held: VecDeque::new(),
            deadline: None,
            deadline_armed: false,
            created,
            first_byte_sent: false,
            ended: false,
            live: false,
        }
    }

    /// Tries the next provider below its concurrency limit whose breaker admits a
    /// request.
    pub(super) fn begin_next(&mut self) -> Option<Racer<T, E>> {
        let retrying = self.retry.take().map(|(index, _)| index);
        if let Some(index) = retrying {
            self.next = index;
        }
        while let Some(member) = self.chain.members.get(self.next) {
            let index = self.next;
            self.next += 1;
            if retrying != Some(index) {
                self.retried = 0;
                self.backoff = None;
                if let Some(retries) = &member.retries {
                    retries.deposit();
                }
            }
            let slot = match &member.shared.limit {
                None => None,
                Some((_, semaphore)) => match Arc::clone(semaphore).try_acquire_owned() {
                    Ok(slot) => Some(slot),
                    Err(_) => {
                        self.skip(index, FallbackReason::ConcurrencyLimited);
                        continue;
                    }
                },
            };
            let Some(permit) = member.shared.breaker.try_acquire() else {
                self.skip(index, FallbackReason::CircuitOpen);
                continue;
            };
            if let Some((from, reason)) = self.pending.take() {
                self.chain.count_fallback(from, index, reason);
            }
            let mut call = member.metrics.start();
            if self.live {
                call.time_from_speech_end();
            }
            let opening = call.poll_in(|| (member.open)(self.request.clone()));
            let started = Instant::now();
            let first_deadline = match (member.first_byte_timeout, member.timeout) {
                (Some(first), Some(total)) => Some(first.min(total)),
                (first, total) => first.or(total),
            };
            let first_deadline = first_deadline.map(|d| duration::deadline(started, d));
            let attempt = Attempt { index, call, permit: Some(permit), _slot: slot, started };
            return Some(Racer::new(attempt, opening, first_deadline));
        }
        None
    }

    fn skip(&mut self, index: usize, reason: FallbackReason) {
        tracing::debug!("skipping {}: {reason}", self.chain.members[index].metrics.provider());
        self.pending.get_or_insert((index, reason));
        self.skipped = Some(reason);
    }

    /// The request is over: records what the caller waited, once.
    fn end(&mut self) {
        if !std::mem::replace(&mut self.ended, true) {
            let waited = self.created.elapsed().as_secs_f64();
            self.chain.timing().duration.record(waited);
        }
    }

    /// Ends the request with `error`.
    fn give_up(&mut self, error: FallbackError<E>) -> Next<T, E> {
        self.end();
        Poll::Ready(Some(Err(error)))
    }

    fn arm(&mut self, deadline: Option<Instant>) {
        self.deadline_armed = deadline.is_some();
        if let Some(deadline) = deadline {
            match self.deadline.as_mut() {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.deadline = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
    }

    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline_armed
            && self.deadline.as_mut().is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }

    /// Ends a failed attempt; returns what to yield, or `None` to try the next provider.
    pub(super) fn fail(
        &mut self,
        mut attempt: Attempt,
        failure: Failure<E>,
        after_first: bool,
    ) -> Option<FallbackError<E>> {
        let member = &self.chain.members[attempt.index];
        let kind = self.chain.kind;
        let retry_after = match &failure {
            Failure::Error(_, source) => (self.chain.retry_after)(source),
            _ => None,
        };
        let provider = member.metrics.instruments().provider().clone();
        let (class, error) = match failure {
            Failure::Error(class, source) => {
                (class, FallbackError::Provider { kind, provider, class, source })
            }
            Failure::Empty => (ErrorClass::Empty, FallbackError::Empty { kind, provider }),
            Failure::FirstByteTimeout(after) => {
                (ErrorClass::Timeout, FallbackError::FirstByteTimeout { kind, provider, after })
            }
            Failure::Timeout(after) => {
                (ErrorClass::Timeout, FallbackError::Timeout { kind, provider, after })
            }
        };
        attempt.call.end_failed(class);
        match attempt.permit.take() {
            Some(permit) if class == ErrorClass::BadRequest => permit.neutral(),
            Some(permit) => permit.fail(),
            None if class != ErrorClass::BadRequest => member.shared.breaker.record_failure(),
            None => {}
        }
        let index = attempt.index;
        drop(attempt);
        // A racing hedge takes over instead of a retry.
        let may_retry = !after_first && self.hedge.is_none();
        let retry_at = member.retries.as_ref().filter(|_| may_retry).and_then(|retries| {
            let instruments = member.metrics.instruments();
            retries.next(instruments, &mut self.backoff, self.retried, class, retry_after)
        });
        if let Some(at) = retry_at {
            self.retried += 1;
            self.retry = Some((index, at));
            self.last_error = Some(error);
            return None;
        }
        let moves_on = self.chain.fallback_on[class.index()] || class == ErrorClass::Timeout;
        if moves_on && (!after_first || self.chain.retry_after_first_item || self.live) {
            self.pending = Some((index, FallbackReason::Error(class)));
            self.last_error = Some(error);
            None
        } else {
            Some(error)
        }
    }

    fn exhausted(&mut self) -> FallbackError<E> {
        let kind = self.chain.kind;
        self.last_error.take().unwrap_or(match self.skipped {
            Some(FallbackReason::ConcurrencyLimited) => FallbackError::Saturated { kind },
            _ => FallbackError::AllCircuitsOpen { kind },
        })
    }

    /// The first useful item arrived: TTFB for the provider and the chain, the breaker's
    /// verdict, and the total timeout from now on.
    fn first_item(&mut self, mut attempt: Attempt) -> Attempt {
        let member = &self.chain.members[attempt.index];
        attempt.call.first_byte();
        if let Some(permit) = attempt.permit.take() {
            permit.succeed();
        }
        let total = member.timeout.map(|t| duration::deadline(attempt.started, t));
        self.arm(total);
        if !std::mem::replace(&mut self.first_byte_sent, true) && !self.live {
            let waited = self.created.elapsed().as_secs_f64();
            self.chain.timing().ttfb.record(waited);
        }
        attempt
    }

    /// `racer` won: its items go to the caller, and a rival still racing is cancelled.
    pub(super) fn won(&mut self, racer: Racer<T, E>, item: T, stream: ItemStream<T, E>) {
        let Racer { attempt, held, .. } = racer;
        self.hedge = None;
        self.hedge_at = None;
        let attempt = self.first_item(attempt);
        self.held = held;
        self.held.push_back(item);
        self.state = State::Streaming(attempt, stream);
    }
}

// Nothing is structurally pinned: the provider futures and streams are boxed.
impl<Req, T, E> Unpin for FallbackStream<Req, T, E> {}

impl<Req, T, E> Stream for FallbackStream<Req, T, E>
where
    Req: Clone,
{
    type Item = Result<T, FallbackError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // The per-item path, without moving the attempt in and out of the state.
            if let Some(next) = this.poll_streaming(cx) {
                return next;
            }
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Start if this.retry.is_some() => {
                    let due = this.retry.map(|(_, at)| at);
                    let armed = this.deadline.as_ref().map(|d| d.deadline());
                    if !this.deadline_armed || armed != due {
                        this.arm(due);
                    }
                    if !this.deadline_passed(cx) {
                        this.state = State::Start;
                        return Poll::Pending;
                    }
                    match this.begin_next() {
                        Some(racer) => this.state = State::Trying(racer),
                        None => {
                            let error = this.exhausted();
                            return this.give_up(error);
                        }
                    }
                }
                State::Start => match this.begin_next() {
                    Some(racer) => this.state = State::Trying(racer),
                    None => {
                        let error = this.exhausted();
                        return this.give_up(error);
                    }
                },
                State::Trying(mut racer) => {
                    let failure = match racer.poll(&this.chain, cx) {
                        Raced::Won(item, stream) => {
                            this.won(racer, item, stream);
                            continue;
                        }
                        Raced::Failed(failure) => failure,
                        Raced::TimedOut => this.timeout_failure(&racer.attempt, true),
                        Raced::Pending => {
                            if let Some(next) = this.poll_hedge(racer, cx) {
                                return next;
                            }
                            continue;
                        }
                    };
                    match this.fail(racer.attempt, failure, false) {
                        Some(error) => {
                            this.hedge = None;
                            return this.give_up(error);
                        }
                        None if this.take_over() => {}
                        None => this.state = State::Start,
                    }
                }
                // Served in place at the top of the loop.
                streaming @ State::Streaming(..) => this.state = streaming,
            }
        }
    }
}

/// What the stream's `poll_next` returns.
pub(super) type Next<T, E> = Poll<Option<Result<T, FallbackError<E>>>>;

/// What a poll of the serving provider's stream asks of the chain.
enum Served<E> {
    Failed(Failure<E>),
    TimedOut,
}

impl<Req: Clone, T, E> FallbackStream<Req, T, E> {
    /// Polls the serving provider in place, the per-item path: `Some` to return, `None`
    /// when the attempt failed and the chain moved on (or the state is not streaming).
    fn poll_streaming(&mut self, cx: &mut Context<'_>) -> Option<Next<T, E>> {
        let State::Streaming(attempt, stream) = &mut self.state else { return None };
        if let Some(item) = self.held.pop_front() {
            attempt.call.count_item();
            return Some(Poll::Ready(Some(Ok(item))));
        }
        let served = match attempt.call.poll_in(|| stream.poll_next_unpin(cx)) {
            Poll::Ready(Some(Ok(item))) => {
                attempt.call.count_item();
                if let Some(usage) = &self.chain.usage {
                    let usage = usage(&item);
                    if !usage.is_empty() {
                        attempt.call.add_usage(usage);
                    }
                }
                return Some(Poll::Ready(Some(Ok(item))));
            }
            Poll::Ready(Some(Err(error))) => {
                Served::Failed(Failure::Error((self.chain.classify)(&error), error))
            }
            Poll::Ready(None) => {
                attempt.call.end_ok();
                self.state = State::Done;
                self.end();
                return Some(Poll::Ready(None));
            }
            Poll::Pending => {
                let passed = self.deadline_armed
                    && self.deadline.as_mut().is_some_and(|s| s.as_mut().poll(cx).is_ready());
                if !passed {
                    return Some(Poll::Pending);
                }
                Served::TimedOut
            }
        };
        let State::Streaming(attempt, _) = std::mem::replace(&mut self.state, State::Done) else {
            return None;
        };
        let failure = match served {
            Served::Failed(failure) => failure,
            Served::TimedOut => self.timeout_failure(&attempt, false),
        };
        match self.fail(attempt, failure, true) {
            Some(error) => Some(self.give_up(error)),
            None => {
                self.state = State::Start;
                None
            }
        }
    }
}

impl<Req, T, E> Drop for FallbackStream<Req, T, E> {
    /// A request dropped before its end (the caller hung up or barged in) still took the
    /// caller's time until then.
    fn drop(&mut self) {
        if !self.ended && self.next > 0 {
            let waited = self.created.elapsed().as_secs_f64();
            self.chain.timing().duration.record(waited);
        }
    }
}

impl<Req, T, E> FallbackStream<Req, T, E> {
    /// Hands `item` out again first: the service's response future took it to learn
    /// that the answer has begun.
    pub(crate) fn unread(&mut self, item: T) {
        self.held.push_front(item);
    }

    /// Makes this a live STT request: see [`FallbackChain::live`](crate::FallbackChain::live).
    pub(crate) fn set_live(&mut self) {
        self.live = true;
    }

    /// A final transcript arrived `waited` after the end of speech: STT TTFB for the
    /// serving provider and the chain.
    pub(crate) fn final_transcript(&mut self, waited: std::time::Duration) {
        if let State::Streaming(attempt, _) = &mut self.state {
            attempt.call.record_ttfb(waited);
        }
        self.chain.timing().ttfb.record(waited.as_secs_f64());
    }

    pub(crate) fn kind(&self) -> crate::ProviderKind {
        self.chain.kind
    }

    /// The provider currently answering (or being tried), if any.
    pub fn serving(&self) -> Option<&str> {
        let index = match &self.state {
            State::Trying(racer) => racer.attempt.index,
            State::Streaming(a, _) => a.index,
            State::Start | State::Done => return None,
        };
        Some(self.chain.members[index].metrics.provider())
    }

    /// Which timeout fired: the first-byte one while it is the earlier deadline.
    pub(super) fn timeout_failure(&self, attempt: &Attempt, before_first: bool) -> Failure<E> {
        let member = &self.chain.members[attempt.index];
        match (before_first, member.first_byte_timeout, member.timeout) {
            (true, Some(first), total) if total.is_none_or(|t| first <= t) => {
                Failure::FirstByteTimeout(first)
            }
            (_, _, Some(total)) => Failure::Timeout(total),
            (_, first, None) => Failure::FirstByteTimeout(first.unwrap_or_default()),
        }
    }
}
