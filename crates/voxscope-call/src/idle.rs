//! The idle watch of a tracked socket: a peer that sends nothing for too long is gone,
//! even when no FIN or RST ever arrives (a phone that lost its network, a NAT that
//! forgot the flow).

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Watches the time since the last inbound frame. The timer is set once per timeout
/// period, not per frame: when it fires early (frames came since), it moves to the
/// last frame plus the timeout.
#[derive(Debug)]
pub(crate) struct IdleWatch {
    timeout: Duration,
    last_inbound: Option<Instant>,
    /// Created at the first wait, inside the runtime; `None` outside a tokio runtime,
    /// where the watch is off.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl IdleWatch {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self { timeout, last_inbound: None, sleep: None, expired: false }
    }

    /// Whether the watch has ended the stream.
    pub(crate) fn is_expired(&self) -> bool {
        self.expired
    }

    /// An inbound frame arrived.
    pub(crate) fn inbound(&mut self) {
        self.last_inbound = Some(Instant::now());
    }

    /// Whether the peer has been silent for the whole timeout; registers `cx` to be
    /// woken when it will have been. Called while the socket has nothing to read.
    pub(crate) fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.expired {
            return true;
        }
        let last = *self.last_inbound.get_or_insert_with(Instant::now);
        let deadline = last + self.timeout;
        let sleep = match &mut self.sleep {
            Some(sleep) => sleep,
            None if tokio::runtime::Handle::try_current().is_ok() => {
                self.sleep.insert(Box::pin(tokio::time::sleep_until(deadline)))
            }
            None => return false,
        };
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= deadline {
                self.expired = true;
                return true;
            }
            // Frames came since the timer was set: wait from the last one.
            sleep.as_mut().reset(deadline);
        }
    }
}
