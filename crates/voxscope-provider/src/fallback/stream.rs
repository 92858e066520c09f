//! [`FallbackStream`]: one request walking down a chain.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{FutureExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::{ChainInner, FallbackReason, ItemStream, Opening};
use crate::breaker::Permit;
use crate::call::ProviderCall;
use crate::class::ErrorClass;
use crate::error::FallbackError;

/// The answer of a [`FallbackChain`](crate::FallbackChain) request, from
/// [`FallbackChain::stream`](crate::FallbackChain::stream).
///
/// Providers are tried as it is polled, inside the span current at that moment, so a
/// request or call span becomes the parent of each provider's span. Dropped, it ends the
/// attempt in progress as `cancelled`.
pub struct FallbackStream<Req, T, E> {
    chain: Arc<ChainInner<Req, T, E>>,
    request: Req,
    next: usize,
    /// A switch to count once the next provider is actually tried: (from, reason).
    pending: Option<(usize, FallbackReason)>,
    last_error: Option<FallbackError<E>>,
    state: State<T, E>,
    /// One timer per request, re-armed for each attempt and phase.
    deadline: Option<Pin<Box<Sleep>>>,
    deadline_armed: bool,
}

enum State<T, E> {
    Start,
    Opening(Attempt, Opening<T, E>),
    First(Attempt, ItemStream<T, E>),
    Streaming(Attempt, ItemStream<T, E>),
    Done,
}

struct Attempt {
    index: usize,
    call: ProviderCall,
    permit: Option<Permit>,
    started: Instant,
}

enum Failure<E> {
    Error(ErrorClass, E),
    FirstByteTimeout(Duration),
    Timeout(Duration),
}

impl<Req, T, E> fmt::Debug for FallbackStream<Req, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "start",
            State::Opening(..) => "opening",
            State::First(..) => "awaiting first item",
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
        Self {
            chain,
            request,
            next: 0,
            pending: None,
            last_error: None,
            state: State::Start,
            deadline: None,
            deadline_armed: false,
        }
    }

    /// Tries the next provider whose breaker admits a request.
    fn begin_next(&mut self) -> Option<State<T, E>> {
        while let Some(member) = self.chain.members.get(self.next) {
            let index = self.next;
            self.next += 1;
            let Some(permit) = member.breaker.try_acquire() else {
                tracing::debug!("skipping {}: circuit open", member.metrics.provider());
                self.pending.get_or_insert((index, FallbackReason::CircuitOpen));
                continue;
            };
            if let Some((from, reason)) = self.pending.take() {
                self.chain.count_fallback(from, index, reason);
            }
            let mut call = member.metrics.start();
            let opening = call.poll_in(|| (member.open)(self.request.clone()));
            let started = Instant::now();
            let first_deadline = match (member.first_byte_timeout, member.timeout) {
                (Some(first), Some(total)) => Some(first.min(total)),
                (first, total) => first.or(total),
            };
            self.arm(first_deadline.map(|d| started + d));
            let attempt = Attempt { index, call, permit: Some(permit), started };
            return Some(State::Opening(attempt, opening));
        }
        None
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
    fn fail(
        &mut self,
        mut attempt: Attempt,
        failure: Failure<E>,
        after_first: bool,
    ) -> Option<FallbackError<E>> {
        let member = &self.chain.members[attempt.index];
        let kind = self.chain.kind;
        let provider = member.metrics.instruments().provider().clone();
        let (class, error) = match failure {
            Failure::Error(class, source) => {
                (class, FallbackError::Provider { kind, provider, class, source })
            }
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
            None if class != ErrorClass::BadRequest => member.breaker.record_failure(),
            None => {}
        }
        let index = attempt.index;
        drop(attempt);
        let moves_on = self.chain.fallback_on[class.index()] || class == ErrorClass::Timeout;
        if moves_on && (!after_first || self.chain.retry_after_first_item) {
            self.pending = Some((index, FallbackReason::Error(class)));
            self.last_error = Some(error);
            None
        } else {
            Some(error)
        }
    }

    fn exhausted(&mut self) -> FallbackError<E> {
        self.last_error.take().unwrap_or(FallbackError::AllCircuitsOpen { kind: self.chain.kind })
    }

    fn first_item(&mut self, mut attempt: Attempt, item: &T) -> Attempt {
        let member = &self.chain.members[attempt.index];
        attempt.call.first_byte();
        if let Some(permit) = attempt.permit.take() {
            permit.succeed();
        }
        let total = member.timeout.map(|t| attempt.started + t);
        self.arm(total);
        self.add_usage(&mut attempt, item);
        attempt
    }

    fn add_usage(&self, attempt: &mut Attempt, item: &T) {
        if let Some(usage) = &self.chain.usage {
            let usage = usage(item);
            if !usage.is_empty() {
                attempt.call.add_usage(usage);
            }
        }
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
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Start => match this.begin_next() {
                    Some(state) => this.state = state,
                    None => return Poll::Ready(Some(Err(this.exhausted()))),
                },
                State::Opening(mut attempt, mut opening) => {
                    let polled = attempt.call.poll_in(|| opening.poll_unpin(cx));
                    match polled {
                        Poll::Ready(Ok(stream)) => this.state = State::First(attempt, stream),
                        Poll::Ready(Err(error)) => {
                            let class = (this.chain.classify)(&error);
                            if let Some(error) =
                                this.fail(attempt, Failure::Error(class, error), false)
                            {
                                return Poll::Ready(Some(Err(error)));
                            }
                            this.state = State::Start;
                        }
                        Poll::Pending if this.deadline_passed(cx) => {
                            let failure = this.timeout_failure(&attempt, true);
                            if let Some(error) = this.fail(attempt, failure, false) {
                                return Poll::Ready(Some(Err(error)));
                            }
                            this.state = State::Start;
                        }
                        Poll::Pending => {
                            this.state = State::Opening(attempt, opening);
                            return Poll::Pending;
                        }
                    }
                }
                State::First(mut attempt, mut stream)
                | State::Streaming(mut attempt, mut stream) => {
                    let first = !attempt.call.saw_first_byte();
                    let polled = attempt.call.poll_in(|| stream.poll_next_unpin(cx));
                    match polled {
                        Poll::Ready(Some(Ok(item))) => {
                            let attempt = if first {
                                this.first_item(attempt, &item)
                            } else {
                                this.add_usage(&mut attempt, &item);
                                attempt
                            };
                            this.state = State::Streaming(attempt, stream);
                            return Poll::Ready(Some(Ok(item)));
                        }
                        Poll::Ready(Some(Err(error))) => {
                            let class = (this.chain.classify)(&error);
                            if let Some(error) =
                                this.fail(attempt, Failure::Error(class, error), !first)
                            {
                                return Poll::Ready(Some(Err(error)));
                            }
                            this.state = State::Start;
                        }
                        Poll::Ready(None) => {
                            attempt.call.end_ok();
                            if let Some(permit) = attempt.permit.take() {
                                permit.succeed();
                            }
                            return Poll::Ready(None);
                        }
                        Poll::Pending if this.deadline_passed(cx) => {
                            let failure = this.timeout_failure(&attempt, first);
                            if let Some(error) = this.fail(attempt, failure, !first) {
                                return Poll::Ready(Some(Err(error)));
                            }
                            this.state = State::Start;
                        }
                        Poll::Pending => {
                            this.state = if first {
                                State::First(attempt, stream)
                            } else {
                                State::Streaming(attempt, stream)
                            };
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
    }
}

impl<Req, T, E> FallbackStream<Req, T, E> {
    /// The provider currently answering (or being tried), if any.
    pub fn serving(&self) -> Option<&str> {
        let index = match &self.state {
            State::Opening(a, _) | State::First(a, _) | State::Streaming(a, _) => a.index,
            State::Start | State::Done => return None,
        };
        Some(self.chain.members[index].metrics.provider())
    }

    /// Which timeout fired: the first-byte one while it is the earlier deadline.
    fn timeout_failure(&self, attempt: &Attempt, before_first: bool) -> Failure<E> {
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
