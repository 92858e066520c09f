//! [`Racer`]: one provider attempt until its first useful item, on its own first-byte
//! deadline, so that a hedge can race the attempt it backs up.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::{ChainInner, ItemStream, Opening};
use crate::breaker::Permit;
use crate::call::ProviderCall;
use crate::class::ErrorClass;

/// The most items held back waiting for a useful one
/// ([`first_byte_when`](crate::FallbackChainBuilder::first_byte_when)).
const MAX_HELD: usize = 1024;

/// One request to one provider.
pub(super) struct Attempt {
    pub(super) index: usize,
    pub(super) call: ProviderCall,
    pub(super) permit: Option<Permit>,
    /// A place under the provider's concurrency limit, held until the attempt ends.
    pub(super) _slot: Option<OwnedSemaphorePermit>,
    pub(super) started: Instant,
}

/// Why an attempt failed.
pub(super) enum Failure<E> {
    Error(ErrorClass, E),
    Empty,
    FirstByteTimeout(Duration),
    Timeout(Duration),
}

/// An attempt before its first useful item.
pub(super) struct Racer<T, E> {
    pub(super) attempt: Attempt,
    phase: Phase<T, E>,
    /// Items before the first useful one.
    pub(super) held: VecDeque<T>,
    deadline: Option<Pin<Box<Sleep>>>,
}

enum Phase<T, E> {
    Opening(Opening<T, E>),
    First(ItemStream<T, E>),
    Won,
}

/// What a poll of a [`Racer`] found.
pub(super) enum Raced<T, E> {
    Pending,
    /// The first useful item, and the stream it came from.
    Won(T, ItemStream<T, E>),
    Failed(Failure<E>),
    /// The first-byte (or total) deadline passed first.
    TimedOut,
}

impl<T, E> Racer<T, E> {
    pub(super) fn new(attempt: Attempt, opening: Opening<T, E>, deadline: Option<Instant>) -> Self {
        Self {
            attempt,
            phase: Phase::Opening(opening),
            held: VecDeque::new(),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
        }
    }

    pub(super) fn poll<Req>(
        &mut self,
        chain: &ChainInner<Req, T, E>,
        cx: &mut Context<'_>,
    ) -> Raced<T, E> {
        loop {
            let call = &mut self.attempt.call;
            let polled = match &mut self.phase {
                Phase::Opening(opening) => match call.poll_in(|| opening.poll_unpin(cx)) {
                    Poll::Ready(Ok(stream)) => {
                        self.phase = Phase::First(stream);
                        continue;
                    }
                    Poll::Ready(Err(error)) => {
                        return Raced::Failed(Failure::Error((chain.classify)(&error), error));
                    }
                    Poll::Pending => Poll::Pending,
                },
                Phase::First(stream) => match call.poll_in(|| stream.poll_next_unpin(cx)) {
                    Poll::Ready(Some(Ok(item))) => Poll::Ready(item),
                    Poll::Ready(Some(Err(error))) => {
                        return Raced::Failed(Failure::Error((chain.classify)(&error), error));
                    }
                    Poll::Ready(None) => return Raced::Failed(Failure::Empty),
                    Poll::Pending => Poll::Pending,
                },
                Phase::Won => return Raced::Pending,
            };
            let Poll::Ready(item) = polled else {
                let passed = self.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                return if passed { Raced::TimedOut } else { Raced::Pending };
            };
            if let Some(usage) = &chain.usage {
                let usage = usage(&item);
                if !usage.is_empty() {
                    self.attempt.call.add_usage(usage);
                }
            }
            if chain.useful.as_ref().is_none_or(|useful| useful(&item)) {
                let Phase::First(stream) = std::mem::replace(&mut self.phase, Phase::Won) else {
                    return Raced::Pending;
                };
                return Raced::Won(item, stream);
            }
            if self.held.len() >= MAX_HELD {
                return Raced::Failed(Failure::Empty);
            }
            self.held.push_back(item);
        }
    }
}
